"""``livechat serve``, ``livechat demo`` and ``livechat doctor``: running the server, trying it,
checking it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

from server import logs
from server.auth import hash_password
from server.cli import articles
from server.cli.base import Command, open_store, upgrade_database
from server.config import Settings, check_serving, from_env, valid_port
from server.listener import raise_fd_limit
from server.progress import Progress

log = logging.getLogger("livechat")

DEMO_SITE = "Demo shop"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
PLACEHOLDER_URL = "https://YOUR-CHAT-SERVER"


def snippet(public_url: str, site_id: str) -> str:
    return f'<script async src="{public_url}/widget.js" data-site="{site_id}"></script>'


def _public_url(settings: Settings, host: str, port: int) -> str:
    if settings.public_url:
        return settings.public_url
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}"


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """uvicorn's settings and our protocols (server/listener.py)."""
    from server import listener

    return listener.uvicorn_options(settings)


def _configure_logging(args: argparse.Namespace) -> dict[str, Any]:
    import logging.config

    os.environ["LIVECHAT_LOG_FORMAT"] = args.log_format
    os.environ["LIVECHAT_LOG_LEVEL"] = args.log_level
    config = logs.config(args.log_format, args.log_level)
    logging.config.dictConfig(config)
    return config


def _effective(args: argparse.Namespace) -> dict[str, str]:
    """The serving settings as the command will use them: a flag given wins over (and makes
    irrelevant) its variable; without it the variable is the flag's default, read by argparse
    (a bad PORT or LIVECHAT_WORKERS is refused there, a log setting by check_serving)."""
    return {"LIVECHAT_LOG_FORMAT": args.log_format, "LIVECHAT_LOG_LEVEL": args.log_level,
            "PORT": str(args.port)}


def _given_db(args: argparse.Namespace) -> None:
    """A ``--db`` given is the database of this process and its workers (which read the
    environment), over any LIVECHAT_DATABASE_URL."""
    if args.db is not None:
        os.environ["LIVECHAT_DB"] = str(args.db)
        os.environ.pop("LIVECHAT_DATABASE_URL", None)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import make_folders

    check_serving(_effective(args))
    _given_db(args)
    os.environ["LIVECHAT_WORKERS"] = str(args.workers)
    settings = from_env()  # validated here, so a bad setting fails before uvicorn starts
    make_folders(settings)  # (said in a line here: in a worker it would be uvicorn's traceback)
    config = _configure_logging(args)
    if not settings.postgres:
        upgrade_database(settings.db_path)
    else:  # (said in a line here: at the app's start-up it is uvicorn's traceback)
        import psycopg

        from server.store.pg_connection import cannot_connect
        try:
            psycopg.connect(settings.database_url, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            print(f"livechat: {cannot_connect(exc)}", file=sys.stderr)
            return 1
    soft = raise_fd_limit()  # (before the workers start: they inherit it)
    log.info("open files: up to %d", soft, extra={"fields": {"nofile": soft}})
    options: dict[str, Any] = dict(
        factory=True, host=args.host, port=args.port,
        log_level=logs.uvicorn_level(args.log_level), log_config=config, access_log=False,
        **uvicorn_options(settings))
    if args.workers == 1:
        uvicorn.run("server.app:factory", **options)  # (a failed start: sys.exit(3))
        return 0
    return _supervise(uvicorn.Config("server.app:factory", workers=args.workers, **options))


def _supervise(config: Any) -> int:
    """uvicorn.run's several workers, but a worker that failed to start (uvicorn then stops
    them all) is the parent's exit status too: uvicorn's own parent exits 0, and systemd's
    Restart=on-failure would not fire."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        return STARTUP_FAILURE
    return 0


async def _ensure_demo(settings: Settings, demo_origins: list[str]) -> str:
    async with open_store(settings) as store:
        site = next((s for s in await store.sites() if s.name == DEMO_SITE), None)
        if site is None:
            site = await store.create_site(DEMO_SITE, demo_origins)
        if await store.agent_by_email(DEMO_EMAIL) is None:
            await store.create_agent(DEMO_EMAIL, "Demo Agent", hash_password(DEMO_PASSWORD),
                                     "admin", [site.id])
        await articles.ensure_demo_articles(store, site.id)
        return site.id


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app, make_folders
    from server.demo import demo_app

    check_serving(_effective(args))
    _given_db(args)
    settings = from_env()
    make_folders(settings)  # (as serve: a folder it cannot make is said before anything starts)
    config = _configure_logging(args)
    raise_fd_limit()
    public = _public_url(settings, args.host, args.port)
    demo_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    demo_origins = [f"http://{demo_host}:{args.demo_port}", f"http://localhost:{args.demo_port}",
                    f"http://127.0.0.1:{args.demo_port}"]
    site_id = asyncio.run(_ensure_demo(settings, sorted(set(demo_origins))))
    print(f"""
  Live chat demo
  --------------
  Agent panel : {public}/agent
      login   : {DEMO_EMAIL}
      password: {DEMO_PASSWORD}
  Demo page   : http://{demo_host}:{args.demo_port}/   (a "customer site" on another origin)
  Site key    : {site_id}

  Open the demo page in one window and the panel in another, then chat. Ctrl-C stops both.
""", flush=True)
    chat = uvicorn.Server(uvicorn.Config(create_app(settings), host=args.host, port=args.port,
                                         log_level=logs.uvicorn_level(args.log_level),
                                         log_config=config,
                                         access_log=False,
                                         **uvicorn_options(settings)))  # type: ignore[arg-type]
    page = uvicorn.Server(uvicorn.Config(demo_app(snippet(public, site_id)), host=args.host,
                                         port=args.demo_port, log_level="warning",
                                         log_config=config, access_log=False))
    return asyncio.run(_serve_both(chat, page))


async def _serve_both(*servers: Any) -> int:
    """The demo's uvicorn servers (the chat's and the page's), each stopped when another ends:
    one that failed to start (said in uvicorn's log, as ``serve`` says it) does not leave the
    other running. The exit status is uvicorn's for a failed start (3), else 0."""

    async def serving(server: Any) -> int:
        try:
            await server.serve()
        except SystemExit as exc:  # (uvicorn's sys.exit for a start that failed)
            return exc.code if isinstance(exc.code, int) else 1
        return 0

    running = [asyncio.create_task(serving(server)) for server in servers]
    await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    return max(await asyncio.gather(*running))


def cmd_doctor(args: argparse.Namespace) -> int:
    from server import doctor

    progress = Progress()
    env = doctor.load(os.environ, args.db)
    env.progress = lambda what: progress.step(what)
    findings = asyncio.run(doctor.run(env))
    if args.json:
        print(json.dumps([f.json() for f in findings], indent=2))
        return doctor.exit_status(findings)
    settings = env.settings
    print("livechat doctor: " + (doctor.redact_url(settings.database_url)
                                 if settings is not None and settings.postgres
                                 else str(env.db_path)))
    for f in findings:
        print(f"{f.level:<6}{f.topic:<14}{f.message}")
        if f.fix:
            print(f"{'':<20}fix: {f.fix}")
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    if errors or warnings:
        print(f"\n{errors} error{'s' if errors != 1 else ''}, {warnings} warning"
              f"{'s' if warnings != 1 else ''}"
              + (": fix the errors before going live." if errors else "."))
    else:
        print("\nnothing to fix.")
    return doctor.exit_status(findings)


def _port(value: str) -> int:
    if not valid_port(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number, 1 to 65535 "
                                         "(--port, or PORT)")
    return int(value)


def _workers(value: str) -> int:
    if not (value.isdigit() and int(value) > 0):
        raise argparse.ArgumentTypeError(f"{value!r}: the workers must be an integer of at "
                                         "least 1 (--workers, or LIVECHAT_WORKERS)")
    return int(value)


def add_commands(sub: Any, command: Command) -> None:
    env = os.environ

    def server_args(sp: argparse.ArgumentParser, port: int) -> None:
        sp.add_argument("--host", default=env.get("LIVECHAT_HOST", "127.0.0.1"))
        # (String defaults: argparse converts them when the command is this one, so a bad
        # PORT is that command's error, not every command's traceback.)
        sp.add_argument("--port", type=_port, default=env.get("PORT", str(port)),
                        help=f"PORT (default {port})")
        sp.add_argument("--log-level", default=env.get("LIVECHAT_LOG_LEVEL", "info"),
                        choices=logs.LEVELS, help="LIVECHAT_LOG_LEVEL (default info)")
        sp.add_argument("--log-format", default=env.get("LIVECHAT_LOG_FORMAT", "text"),
                        choices=logs.FORMATS,
                        help="json: one JSON object per line (LIVECHAT_LOG_FORMAT)")

    serve = command(sub, "serve", cmd_serve, "run the server")
    server_args(serve, 8000)
    serve.add_argument("--workers", type=_workers, default=env.get("LIVECHAT_WORKERS", "1"),
                       help="LIVECHAT_WORKERS (default 1)")

    demo = command(sub, "demo", cmd_demo, "run the server with a demo site, agent and page")
    server_args(demo, 8000)
    demo.add_argument("--demo-port", type=int, default=8001)

    doctor = command(sub, "doctor", cmd_doctor,
                     "check the configuration, files and limits, and say what to fix "
                     "(exit 0: nothing, 1: warnings, 2: errors)")
    doctor.add_argument("--json", action="store_true", help="the findings as JSON")

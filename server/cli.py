"""The ``livechat`` command: serve, demo, and site/agent management."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from server.auth import hash_password, normalize_origin
from server.config import ConfigError, Settings, from_env
from server.store import Site, SQLiteStore

DEMO_SITE = "Demo shop"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"


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


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(settings.db_path, clock=time.time,
                        synchronous=settings.sqlite_synchronous)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


# --- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    os.environ["LIVECHAT_DB"] = str(args.db)
    os.environ["LIVECHAT_WORKERS"] = str(args.workers)
    settings = from_env()  # validated here, so a bad setting fails before uvicorn starts
    from server.listener import raise_fd_limit

    raise_fd_limit()  # (before the workers start: they inherit it)
    uvicorn.run(
        "server.app:factory", factory=True, host=args.host, port=args.port,
        workers=args.workers if args.workers > 1 else None, log_level=args.log_level,
        **uvicorn_options(settings),  # type: ignore[arg-type]
    )
    return 0


# --- demo ------------------------------------------------------------------------------------


async def _ensure_demo(settings: Settings, demo_origins: list[str]) -> str:
    async with _store(settings) as store:
        site = next((s for s in await store.sites() if s.name == DEMO_SITE), None)
        if site is None:
            site = await store.create_site(DEMO_SITE, demo_origins)
        if await store.agent_by_email(DEMO_EMAIL) is None:
            await store.create_agent(DEMO_EMAIL, "Demo Agent", hash_password(DEMO_PASSWORD),
                                     "admin", [site.id])
        return site.id


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.demo import demo_app

    os.environ["LIVECHAT_DB"] = str(args.db)
    settings = from_env()
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
                                         log_level=args.log_level,
                                         **uvicorn_options(settings)))  # type: ignore[arg-type]
    page = uvicorn.Server(uvicorn.Config(demo_app(snippet(public, site_id)), host=args.host,
                                         port=args.demo_port, log_level="warning"))

    async def both() -> None:
        await asyncio.gather(chat.serve(), page.serve())

    asyncio.run(both())
    return 0


# --- sites and agents ------------------------------------------------------------------------


def cmd_site_create(args: argparse.Namespace) -> int:
    origins = []
    for origin in args.origin:
        normalized = normalize_origin(origin)
        if normalized is None:
            print(f"not an origin (scheme://host[:port]): {origin}", file=sys.stderr)
            return 2
        origins.append(normalized)
    settings = from_env(db_path=args.db)

    async def run() -> str:
        async with _store(settings) as store:
            site = await store.create_site(args.name, origins)
            if args.auto_assign:
                await store.set_site_options(site.id, auto_assign=True)
            return site.id

    site_id = asyncio.run(run())
    print(f"site key: {site_id}")
    print("embed this before </body> on every page of the site:")
    print("  " + snippet(settings.public_url or "https://YOUR-CHAT-SERVER", site_id))
    return 0


_PROFILE_OPTIONS = ("greeting", "color", "logo", "hours", "timezone", "prechat", "offline",
                    "typing_preview")


def cmd_site_set(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    profile = {name: getattr(args, name) for name in _PROFILE_OPTIONS
               if getattr(args, name) is not None}
    if (args.auto_assign is None and args.identity_secret is None and args.identity_mode is None
            and not args.origin and not profile):
        print("nothing to change (see livechat site set --help)", file=sys.stderr)
        return 2
    secret = {None: None, "none": "", "new": secrets.token_urlsafe(32)}[args.identity_secret]
    auto = None if args.auto_assign is None else args.auto_assign == "on"
    if "prechat" in profile:
        profile["prechat"] = [f for f in profile["prechat"].split(",") if f and f != "none"]
    if "typing_preview" in profile:
        profile["typing_preview"] = profile["typing_preview"] == "on"
    if "timezone" in profile:
        profile["tz"] = profile.pop("timezone")

    async def run() -> int:
        async with _store(settings) as store:
            try:
                site = await store.set_site_options(
                    args.site, auto_assign=auto, identity_secret=secret,
                    identity_mode=args.identity_mode, allowed_origins=args.origin or None)
                if profile:
                    site = await store.set_site_profile(args.site, **profile)
            except ValueError as exc:
                print(f"livechat: {exc}", file=sys.stderr)
                return 2
            _print_site(site)
            if secret:
                print(f"identity secret (keep it on your backend only; shown once): {secret}")
            return 0

    return asyncio.run(run())


def _print_site(site: Site) -> None:
    p = site.profile
    print(f"{site.id}\t{site.name}\n"
          f"  origins:      {' '.join(site.allowed_origins) or '-'}\n"
          f"  auto-assign:  {'on' if site.auto_assign else 'off'}\n"
          f"  identity:     {site.identity_mode}"
          f"{'' if site.identity_secret else ' (no secret)'}\n"
          f"  greeting:     {p.greeting or '(the widget default)'}\n"
          f"  colour:       {p.color}\n"
          f"  logo:         {p.logo or '-'}\n"
          f"  hours:        {f'{p.hours.text()} ({p.hours.tz})' if p.hours else 'always open'}\n"
          f"  pre-chat:     {', '.join(p.prechat) or 'none'}\n"
          f"  when offline: {'leave-a-message form' if p.offline == 'form' else 'chat and wait'}\n"
          f"  typing preview: {'on' if p.typing_preview else 'off'}")


def cmd_site_list(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)

    async def run() -> None:
        async with _store(settings) as store:
            for site in await store.sites():
                print(f"{site.id}\t{site.name}\t{' '.join(site.allowed_origins) or '-'}\t"
                      f"auto-assign {'on' if site.auto_assign else 'off'}")

    asyncio.run(run())
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the passwords differ")
    return first


def cmd_agent_create(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    password = _read_password(args.password_stdin)
    if len(password) < 8:
        print("the password needs at least 8 characters", file=sys.stderr)
        return 2

    async def run() -> str:
        async with _store(settings) as store:
            known = {s.id for s in await store.sites()}
            missing = [s for s in args.site if s not in known]
            if missing:
                raise ConfigError(f"no such site: {', '.join(missing)}")
            hashed = await asyncio.to_thread(hash_password, password)
            agent = await store.create_agent(args.email, args.name, hashed, args.role, args.site)
            await store.set_agent_capacity(agent.id, args.capacity)
            return agent.id

    print(f"agent: {asyncio.run(run())}")
    return 0


def cmd_agent_list(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)

    async def run() -> None:
        async with _store(settings) as store:
            for agent in await store.agents():
                sites = await store.agent_site_ids(agent)
                state = "active" if agent.active else "inactive"
                print(f"{agent.id}\t{agent.email}\t{agent.name}\t{agent.role}\t{state}\t"
                      f"{','.join(sites) or '-'}\tcapacity {agent.capacity}")

    asyncio.run(run())
    return 0


# --- the parser ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(prog="livechat", description=__doc__)
    p.add_argument("--db", type=Path, default=Path(env.get("LIVECHAT_DB", "livechat.db")),
                   help="SQLite database file (LIVECHAT_DB; default livechat.db)")
    sub = p.add_subparsers(dest="command", required=True)

    def server_args(sp: argparse.ArgumentParser, port: int) -> None:
        sp.add_argument("--host", default=env.get("LIVECHAT_HOST", "127.0.0.1"))
        sp.add_argument("--port", type=int, default=int(env.get("PORT", port)))
        sp.add_argument("--log-level", default=env.get("LIVECHAT_LOG_LEVEL", "info"))

    serve = sub.add_parser("serve", help="run the server")
    server_args(serve, 8000)
    serve.add_argument("--workers", type=int, default=int(env.get("LIVECHAT_WORKERS", "1")))
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="run the server with a demo site, agent and page")
    server_args(demo, 8000)
    demo.add_argument("--demo-port", type=int, default=8001)
    demo.set_defaults(func=cmd_demo)

    site = sub.add_parser("site", help="manage sites").add_subparsers(dest="action", required=True)
    create = site.add_parser("create", help="create a site and print its embed snippet")
    create.add_argument("name")
    create.add_argument("--origin", action="append", default=[],
                        help="an origin allowed to embed the widget (repeatable)")
    create.add_argument("--auto-assign", action="store_true",
                        help="assign waiting conversations to the least busy online agent")
    create.set_defaults(func=cmd_site_create)
    change = site.add_parser("set", help="change a site's settings")
    change.add_argument("site", help="the site key")
    change.add_argument("--auto-assign", choices=["on", "off"])
    change.add_argument("--identity-secret", choices=["new", "none"],
                        help="new: make the secret your backend signs users with; none: drop it")
    change.add_argument("--identity-mode", choices=["optional", "mandatory"],
                        help="mandatory: only visitors with a valid signed identity may chat")
    change.add_argument("--origin", action="append",
                        help="an origin allowed to embed the widget (repeatable; replaces all)")
    change.add_argument("--greeting", help="the first words visitors read")
    change.add_argument("--color", help="the widget's accent colour, #rrggbb")
    change.add_argument("--logo", help="an https:// image URL for the chat header ('' removes it)")
    change.add_argument("--hours", help="business hours, e.g. 'mon-fri 09:00-18:00; "
                        "sat 10:00-13:00' ('' means always open)")
    change.add_argument("--timezone", help="the IANA time zone of the hours (Europe/Lisbon)")
    change.add_argument("--prechat", help="fields asked before a chat: name,email | name | none")
    change.add_argument("--offline", choices=["form", "chat"],
                        help="nobody online or outside hours: a leave-a-message form, or chat")
    change.add_argument("--typing-preview", choices=["on", "off"],
                        help="agents see what visitors type before sending (the widget says so)")
    change.set_defaults(func=cmd_site_set)
    site.add_parser("list").set_defaults(func=cmd_site_list)

    agent = sub.add_parser("agent", help="manage agents").add_subparsers(dest="action",
                                                                          required=True)
    acreate = agent.add_parser("create", help="create an agent (password from a prompt or stdin)")
    acreate.add_argument("--email", required=True)
    acreate.add_argument("--name", required=True)
    acreate.add_argument("--role", choices=["admin", "agent"], default="agent")
    acreate.add_argument("--site", action="append", default=[], help="a site key (repeatable)")
    acreate.add_argument("--password-stdin", action="store_true")
    acreate.add_argument("--capacity", type=int, default=5,
                         help="most conversations auto-assigned at once (default 5)")
    acreate.set_defaults(func=cmd_agent_create)
    agent.add_parser("list").set_defaults(func=cmd_agent_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

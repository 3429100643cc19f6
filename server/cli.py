"""The ``livechat`` command: serve, demo, and site/agent management."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from server import cli_articles, logs
from server.auth import hash_password, normalize_origin
from server.config import ConfigError, Settings, from_env
from server.doctor import redact_url
from server.listener import raise_fd_limit
from server.progress import Progress
from server.store import Agent, Site, SQLiteStore, backup
from server.store.factory import create_files, create_store
from server.store.migrations import MIGRATIONS
from server.store.postgres import PostgresStore
from server.store.sqlite import SchemaTooNew, check_schema, migrate

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


def upgrade_database(path: Path, progress: Progress | None = None) -> None:
    """Apply pending migrations with progress shown (on a large database they take a while);
    the store's own open() then finds nothing to do."""
    if not path.exists():
        return  # a new database: created in an instant
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        check_schema(version, len(MIGRATIONS))
        if version >= len(MIGRATIONS):
            return
        shown = progress or Progress()
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db, on_step=lambda number, total: shown.step(
            f"upgrading the database to schema version {number} of {total}"))
        shown.finish(f"database upgraded to schema version {len(MIGRATIONS)}")
    finally:
        db.close()


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[SQLiteStore | PostgresStore]:
    if not settings.postgres:  # (PostgreSQL's migrations run in open(), under an advisory lock)
        upgrade_database(settings.db_path)
    store = create_store(settings, time.time)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _configure_logging(args: argparse.Namespace) -> dict[str, Any]:
    import logging.config

    os.environ["LIVECHAT_LOG_FORMAT"] = args.log_format
    os.environ["LIVECHAT_LOG_LEVEL"] = args.log_level
    config = logs.config(args.log_format, args.log_level)
    logging.config.dictConfig(config)
    return config


# --- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    os.environ["LIVECHAT_DB"] = str(args.db)
    os.environ["LIVECHAT_WORKERS"] = str(args.workers)
    settings = from_env()  # validated here, so a bad setting fails before uvicorn starts
    config = _configure_logging(args)
    if not settings.postgres:
        upgrade_database(settings.db_path)
    soft = raise_fd_limit()  # (before the workers start: they inherit it)
    log.info("open files: up to %d", soft, extra={"fields": {"nofile": soft}})
    uvicorn.run(
        "server.app:factory", factory=True, host=args.host, port=args.port,
        workers=args.workers if args.workers > 1 else None,
        log_level=logs.uvicorn_level(args.log_level), log_config=config, access_log=False,
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
        await cli_articles.ensure_demo_articles(store, site.id)
        return site.id


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.demo import demo_app

    os.environ["LIVECHAT_DB"] = str(args.db)
    settings = from_env()
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
    print("  " + snippet(settings.public_url or PLACEHOLDER_URL, site_id))
    if not settings.public_url:
        print(f"note: LIVECHAT_PUBLIC_URL is not set, so the snippet says {PLACEHOLDER_URL}: "
              "replace that with the address visitors reach this server at (e.g. "
              "https://chat.example.com), or set LIVECHAT_PUBLIC_URL where you run livechat "
              "and the snippets it prints will have it.", file=sys.stderr)
    return 0


_PROFILE_OPTIONS = ("greeting", "color", "logo", "hours", "timezone", "prechat", "offline",
                    "typing_preview", "theme", "email_from", "email_transcript")


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
    if "email_transcript" in profile:
        profile["email_transcript"] = profile["email_transcript"] == "on"
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
          f"  typing preview: {'on' if p.typing_preview else 'off'}\n"
          f"  theme:        {p.theme}\n"
          f"  email from:   {p.email_from or '(LIVECHAT_EMAIL_FROM)'}\n"
          f"  transcript on resolve: {'on' if p.email_transcript else 'off'}")


#: sysexits.h, as MTAs read a pipe's exit status: bounce, bounce, try again later.
EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 65, 67, 75


def cmd_inbound_email(args: argparse.Namespace) -> int:
    """Queue one reply for the server's worker (it reads it into the conversation and tells
    the agents); exit 0 when queued (or already received), 67 when the address is refused, 65
    when the email is unreadable, 75 when the store cannot take it now."""
    from server.errors import Unavailable
    from server.mail import addresses, inbound
    from server.mail.service import Mail

    settings = from_env(db_path=args.db)
    raw = sys.stdin.buffer.read(inbound.MAX_BYTES + 1)

    async def run() -> int:
        async with _store(settings) as store:
            mail = Mail(settings, store, time.time, files=create_files(settings, store))
            try:
                accepted = await mail.accept(raw, "pipe", args.recipient)
            except addresses.Refused as exc:
                print(f"livechat: refused: {exc}", file=sys.stderr)
                return EX_NOUSER
            except inbound.Unreadable as exc:
                print(f"livechat: unreadable: {exc}", file=sys.stderr)
                return EX_DATAERR
            except Unavailable as exc:
                print(f"livechat: try again later: {exc.reason}", file=sys.stderr)
                return EX_TEMPFAIL
            print("queued" if accepted.queued else "duplicate (received before)")
            return 0

    return asyncio.run(run())


def cmd_site_list(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)

    async def run() -> list[Site]:
        async with _store(settings) as store:
            return await store.sites()

    sites = asyncio.run(run())
    if args.json:
        print(json.dumps([site.settings() for site in sites], indent=2, ensure_ascii=False))
        return 0
    for site in sites:
        print(f"{site.id}\t{site.name}\t{' '.join(site.allowed_origins) or '-'}\t"
              f"auto-assign {'on' if site.auto_assign else 'off'}")
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

    async def run() -> list[tuple[Agent, list[str]]]:
        async with _store(settings) as store:
            return [(agent, await store.agent_site_ids(agent)) for agent in await store.agents()]

    agents = asyncio.run(run())
    if args.json:
        print(json.dumps([agent.account(sites) for agent, sites in agents], indent=2,
                         ensure_ascii=False))
        return 0
    for agent, sites in agents:
        state = "active" if agent.active else "inactive"
        print(f"{agent.id}\t{agent.email}\t{agent.name}\t{agent.role}\t{state}\t"
              f"{','.join(sites) or '-'}\tcapacity {agent.capacity}")
    return 0


# --- tokens ----------------------------------------------------------------------------------


def cmd_token_create(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens

    settings = from_env(db_path=args.db)
    scopes = [s for given in args.scope for s in given.replace(",", " ").split()]

    async def run() -> tuple[Any, str]:
        async with _store(settings) as store:
            return await ApiTokens(store).create(args.site, args.name, scopes)

    made, secret = asyncio.run(run())
    if args.json:
        print(json.dumps({**made.public(), "token": secret}, indent=2))
        return 0
    print(f"token {made.id} ({', '.join(sorted(made.scopes))}; "
          f"{'site ' + made.site_id if made.site_id else 'every site'}):")
    print(secret)
    print("It is shown once: keep it now (only its hash is stored).", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens

    settings = from_env(db_path=args.db)

    async def run() -> list[Any]:
        async with _store(settings) as store:
            return await ApiTokens(store).list([args.site] if args.site else None)

    tokens = asyncio.run(run())
    if args.json:
        print(json.dumps([t.public() for t in tokens], indent=2, ensure_ascii=False))
        return 0

    def when(ms: int | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if ms else "never"

    for t in tokens:
        state = f"revoked {when(t.revoked_at)}" if t.revoked_at else "active"
        print(f"{t.id}\t{t.name}\t{t.site_id or '*'}\t{','.join(sorted(t.scopes))}\t"
              f"last used {when(t.last_used_at)}\t{state}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens

    settings = from_env(db_path=args.db)

    async def run() -> None:
        async with _store(settings) as store:
            await ApiTokens(store).revoke(args.token_id)

    asyncio.run(run())
    print(f"revoked {args.token_id}")
    return 0


# --- bots ------------------------------------------------------------------------------------


def cmd_bot_create(args: argparse.Namespace) -> int:
    from server.store.api_tokens import ApiTokens
    from server.store.bots import Bots
    from server.store.webhooks import Webhooks
    from server.webhooks import Refused, guard

    settings = from_env(db_path=args.db)

    async def run() -> dict[str, Any]:
        if args.webhook:
            try:
                await guard(args.webhook, settings.webhook_allow_private)
            except Refused as exc:
                raise ConfigError(f"--webhook: {exc}") from None
        async with _store(settings) as store:
            bot = await Bots(store).create(args.site, args.name)
            _, token = await ApiTokens(store).create(
                args.site, f"bot {args.name}", ["conversations:read", "conversations:write"])
            made: dict[str, Any] = {"bot": {"id": bot.id, "name": bot.name,
                                            "site_id": args.site}, "token": token}
            if args.webhook:
                endpoint, secret = await Webhooks(store).create(
                    args.site, args.webhook, ["conversation.created", "message.created"])
                made["webhook"] = {**endpoint.public(), "secret": secret}
            return made

    made = asyncio.run(run())
    if args.json:
        print(json.dumps(made, indent=2, ensure_ascii=False))
        return 0
    print(f"bot {made['bot']['id']} ({args.name}) answers new conversations of {args.site} first")
    print(f"API token (conversations): {made['token']}")
    if "webhook" in made:
        print(f"webhook {made['webhook']['id']} -> {args.webhook}, secret: "
              f"{made['webhook']['secret']}")
    print("The token and the secret are shown once.", file=sys.stderr)
    return 0


def cmd_bot_list(args: argparse.Namespace) -> int:
    from server.store.bots import Bots

    settings = from_env(db_path=args.db)

    async def run() -> list[tuple[str, Agent]]:
        async with _store(settings) as store:
            return await Bots(store).all()

    for site_id, bot in asyncio.run(run()):
        print(f"{site_id}\t{bot.id}\t{bot.name}")
    return 0


def cmd_bot_remove(args: argparse.Namespace) -> int:
    from server.store.bots import Bots

    settings = from_env(db_path=args.db)

    async def run() -> None:
        async with _store(settings) as store:
            await Bots(store).remove(args.site)

    asyncio.run(run())
    print(f"no bot answers {args.site} first any more")
    return 0


# --- data rights -----------------------------------------------------------------------------


def cmd_visitor_export(args: argparse.Namespace) -> int:
    from server.privacy import export_zip
    from server.store.privacy import Privacy

    settings = from_env(db_path=args.db)

    async def run() -> bytes:
        async with _store(settings) as store:
            held = await Privacy(store).held(args.visitor_id)
            if held is None:
                raise ConfigError(f"no such visitor: {args.visitor_id}")
            return await export_zip(held, create_files(settings, store), time.time())

    data = asyncio.run(run())
    Path(args.out).write_bytes(data)
    print(f"exported {args.visitor_id} to {args.out} ({len(data)} bytes)")
    return 0


def cmd_visitor_erase(args: argparse.Namespace) -> int:
    from server.privacy import erase
    from server.store.privacy import Privacy

    settings = from_env(db_path=args.db)

    async def run() -> dict[str, Any]:
        async with _store(settings) as store:
            sites = [site.id for site in await store.sites()]
            try:
                erased = await erase(Privacy(store), create_files(settings, store), sites,
                                     args.visitor_id, f"cli {getpass.getuser()}")
            except LookupError:
                raise ConfigError(f"no such visitor: {args.visitor_id}") from None
            return erased.public()

    erased = asyncio.run(run())
    print(f"erased {args.visitor_id}: {erased['conversations']} conversations, "
          f"{erased['messages']} messages emptied, {erased['files']} files "
          f"(record {erased['erasure_id']})")
    return 0


def cmd_site_retention(args: argparse.Namespace) -> int:
    from server.store.privacy import Privacy

    settings = from_env(db_path=args.db)
    days = None if args.days in ("off", "none") else int(args.days)

    async def run() -> None:
        async with _store(settings) as store:
            try:
                await Privacy(store).set_retention(args.site, days)
            except LookupError as exc:
                raise ConfigError(str(exc)) from None

    asyncio.run(run())
    print(f"{args.site}: resolved conversations are kept "
          f"{'for ever' if days is None else f'{days} days'}")
    return 0


# --- doctor ----------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from server import doctor

    progress = Progress()
    env = doctor.load(os.environ, args.db)
    env.progress = lambda what: progress.step(what)
    findings = asyncio.run(doctor.run(env))
    if args.json:
        print(json.dumps([f.json() for f in findings], indent=2))
        return doctor.exit_status(findings)
    print(f"livechat doctor: {args.db}")
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


# --- backup and restore ----------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    progress = Progress()
    try:
        if settings.postgres:
            from server.store import pg_backup

            files = pg_backup.backup(settings.database_url, Path(args.path), progress.step)
            source = redact_url(settings.database_url)
        else:
            files = backup.backup(settings.db_path, Path(args.path), settings.uploads_path(),
                                  lambda done, total: progress.step("backing up (pages)", done,
                                                                    total))
            source = str(settings.db_path)
    except backup.BackupError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"backed up {source} to {args.path}")
    if files:
        print(f"and {files} attachment files to {backup.files_beside(Path(args.path))}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = from_env(db_path=args.db)
    progress = Progress()
    try:
        if settings.postgres:
            from server.store import pg_backup

            epoch = pg_backup.restore(Path(args.path), settings.database_url, args.replace,
                                      progress.step)
            target = redact_url(settings.database_url)
        else:
            epoch = backup.restore(Path(args.path), settings.db_path, settings.uploads_path(),
                                   lambda done, total: progress.step("restoring (pages)", done,
                                                                     total))
            target = str(settings.db_path)
    except backup.BackupError as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"restored {args.path} into {target}")
    print(f"new epoch {epoch}: every widget and panel starts over from the restored record when "
          "it reconnects")
    return 0


# --- migrate-store ---------------------------------------------------------------------------


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from server.store.copy import CopyError, copy_store

    source = args.source or f"sqlite:///{args.db}"
    target = args.target or os.environ.get("LIVECHAT_DATABASE_URL", "")
    if not source.startswith("sqlite:///"):
        print("livechat migrate-store: --from is sqlite:///path (the SQLite store to copy)",
              file=sys.stderr)
        return 2
    if not target.startswith(("postgresql://", "postgres://")):
        print("livechat migrate-store: --to is postgresql://user@host:5432/dbname (or set "
              "LIVECHAT_DATABASE_URL)", file=sys.stderr)
        return 2
    path = Path(source.removeprefix("sqlite:///"))
    settings = from_env(db_path=path)
    if settings.postgres:  # (LIVECHAT_DATABASE_URL is the target here, not the source)
        settings = replace(settings, database_url="")
    upgrade_database(path)
    progress = Progress()
    try:
        copied = copy_store(path, target, settings.uploads_path(),
                            lambda what, done, total: progress.step(what, done, total))
    except CopyError as exc:
        print(f"livechat migrate-store: {exc}", file=sys.stderr)
        return 1
    progress.finish(f"copied {path} into {redact_url(target)} and verified every table")
    print(", ".join(f"{n} {name}" for name, n in copied.items()))
    return 0


# --- the parser ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """Every command. Options shared by all (``--db``) are accepted before and after the
    subcommand: ``livechat --db X serve`` and ``livechat serve --db X`` mean the same (the later
    one wins). A new subcommand is one ``command(...)`` call and its own options."""
    env = os.environ
    p = argparse.ArgumentParser(prog="livechat", description=__doc__)
    p.add_argument("--db", type=Path, default=Path(env.get("LIVECHAT_DB", "livechat.db")),
                   help="SQLite database file (LIVECHAT_DB; default livechat.db)")
    # The same options after a subcommand; SUPPRESS keeps the value given before it otherwise.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, default=argparse.SUPPRESS,
                        help="SQLite database file (LIVECHAT_DB; default livechat.db)")
    sub = p.add_subparsers(dest="command", required=True)

    def command(group: Any, name: str, func: Callable[[argparse.Namespace], int] | None,
                help: str) -> argparse.ArgumentParser:
        parser_: argparse.ArgumentParser = group.add_parser(name, help=help, description=help,
                                                            parents=[common])
        if func is not None:
            parser_.set_defaults(func=func)
        return parser_

    def server_args(sp: argparse.ArgumentParser, port: int) -> None:
        sp.add_argument("--host", default=env.get("LIVECHAT_HOST", "127.0.0.1"))
        sp.add_argument("--port", type=int, default=int(env.get("PORT", port)))
        sp.add_argument("--log-level", default=env.get("LIVECHAT_LOG_LEVEL", "info"),
                        choices=logs.LEVELS, help="LIVECHAT_LOG_LEVEL (default info)")
        sp.add_argument("--log-format", default=env.get("LIVECHAT_LOG_FORMAT", "text"),
                        choices=logs.FORMATS,
                        help="json: one JSON object per line (LIVECHAT_LOG_FORMAT)")

    serve = command(sub, "serve", cmd_serve, "run the server")
    server_args(serve, 8000)
    serve.add_argument("--workers", type=int, default=int(env.get("LIVECHAT_WORKERS", "1")))

    demo = command(sub, "demo", cmd_demo, "run the server with a demo site, agent and page")
    server_args(demo, 8000)
    demo.add_argument("--demo-port", type=int, default=8001)

    doctor = command(sub, "doctor", cmd_doctor,
                     "check the configuration, files and limits, and say what to fix "
                     "(exit 0: nothing, 1: warnings, 2: errors)")
    doctor.add_argument("--json", action="store_true", help="the findings as JSON")

    site = command(sub, "site", None, "manage sites").add_subparsers(dest="action",
                                                                      required=True)
    create = command(site, "create", cmd_site_create, "create a site and print its embed snippet")
    create.add_argument("name")
    create.add_argument("--origin", action="append", default=[],
                        help="an origin allowed to embed the widget (repeatable)")
    create.add_argument("--auto-assign", action="store_true",
                        help="assign waiting conversations to the least busy online agent")
    change = command(site, "set", cmd_site_set, "change a site's settings")
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
    change.add_argument("--theme", choices=["auto", "light", "dark"],
                        help="the widget's colours: auto follows each visitor's system setting")
    keep = command(site, "retention", cmd_site_retention,
                   "how long a site keeps resolved conversations (then deleted, with files)")
    keep.add_argument("site", help="the site key")
    keep.add_argument("--days", required=True, help="a number of days, or off (keep for ever)")
    change.add_argument("--email-from", help="the sender of the site's emails: "
                        "'Acme Support <support@acme.example>' ('' uses LIVECHAT_EMAIL_FROM)")
    change.add_argument("--email-transcript", choices=["on", "off"],
                        help="email visitors the conversation when it is resolved")
    listing = command(site, "list", cmd_site_list, "list the sites")
    listing.add_argument("--json", action="store_true", help="as a JSON array")

    cli_articles.add_commands(sub, site, command)

    agent = command(sub, "agent", None, "manage agents").add_subparsers(dest="action",
                                                                         required=True)
    acreate = command(agent, "create", cmd_agent_create,
                      "create an agent (password from a prompt or stdin)")
    acreate.add_argument("--email", required=True)
    acreate.add_argument("--name", required=True)
    acreate.add_argument("--role", choices=["admin", "agent"], default="agent")
    acreate.add_argument("--site", action="append", default=[], help="a site key (repeatable)")
    acreate.add_argument("--password-stdin", action="store_true")
    acreate.add_argument("--capacity", type=int, default=5,
                         help="most conversations auto-assigned at once (default 5)")
    alist = command(agent, "list", cmd_agent_list, "list the agents")
    alist.add_argument("--json", action="store_true", help="as a JSON array")

    token = command(sub, "token", None, "manage REST API tokens (docs/api.md)").add_subparsers(
        dest="action", required=True)
    tcreate = command(token, "create", cmd_token_create,
                      "make a token and print it (once: only its hash is kept)")
    tcreate.add_argument("--site", help="the site key (without it: every site, for admins)")
    tcreate.add_argument("--scope", action="append", required=True,
                         help="conversations:read, conversations:write, visitors:read, "
                              "visitors:write, reports:read or admin (repeatable)")
    tcreate.add_argument("--name", default="API token", help="what it is for (shown in lists)")
    tcreate.add_argument("--json", action="store_true", help="as a JSON object")
    tlist = command(token, "list", cmd_token_list, "list the tokens (never their secrets)")
    tlist.add_argument("--site", help="only this site's")
    tlist.add_argument("--json", action="store_true", help="as a JSON array")
    trevoke = command(token, "revoke", cmd_token_revoke, "revoke a token, at once")
    trevoke.add_argument("token_id", help="the token's id (tok_…)")

    bot = command(sub, "bot", None, "a bot that answers a site's new conversations first "
                  "(docs/api.md#bots)").add_subparsers(dest="action", required=True)
    bcreate = command(bot, "create", cmd_bot_create,
                      "make the site's bot, its API token and (with --webhook) its webhook")
    bcreate.add_argument("--site", required=True, help="the site key")
    bcreate.add_argument("--name", required=True, help="what visitors see (e.g. 'Ava')")
    bcreate.add_argument("--webhook", help="the bot's URL: it is sent conversation.created and "
                                           "message.created")
    bcreate.add_argument("--json", action="store_true", help="as a JSON object")
    command(bot, "list", cmd_bot_list, "list the sites' bots")
    bremove = command(bot, "remove", cmd_bot_remove,
                      "stop the site's bot answering first (what it has, it keeps)")
    bremove.add_argument("--site", required=True, help="the site key")

    person = command(sub, "visitor", None, "a visitor's data rights (docs/api.md#data-rights)"
                     ).add_subparsers(dest="action", required=True)
    vexport = command(person, "export", cmd_visitor_export,
                      "everything held about a visitor, as a zip (visitor.json and files)")
    vexport.add_argument("visitor_id")
    vexport.add_argument("--out", required=True, help="the zip file to write")
    verase = command(person, "erase", cmd_visitor_erase,
                     "erase a visitor (reports keep counting their conversations anonymously)")
    verase.add_argument("visitor_id")

    mail_in = command(sub, "inbound-email", cmd_inbound_email,
                      "take one reply email on stdin (an MTA's pipe transport; docs/email.md)")
    mail_in.add_argument("--recipient", help="the envelope recipient (Postfix: ${recipient}); "
                         "default: the first reply address among the headers")
    save = command(sub, "backup", cmd_backup,
                   "copy the database (and attachments) while serving")
    save.add_argument("path", help="the backup file to write (attachments go to PATH-files/)")
    put = command(sub, "restore", cmd_restore,
                  "put a backup back (with every server stopped); clients start over")
    put.add_argument("path", help="a file written by `livechat backup`")
    put.add_argument("--replace", action="store_true",
                     help="PostgreSQL: replace the record the database holds (without it, "
                          "only an empty database is restored into)")
    move = command(sub, "migrate-store", cmd_migrate_store,
                   "copy the SQLite store and its uploads into PostgreSQL, then verify it "
                   "(servers stopped; safe to run again)")
    move.add_argument("--from", dest="source", default="",
                      help="sqlite:///path (default: the --db file)")
    move.add_argument("--to", dest="target", default="",
                      help="postgresql://user@host:5432/dbname (default: LIVECHAT_DATABASE_URL)")
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
    except SchemaTooNew as exc:
        print(f"livechat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

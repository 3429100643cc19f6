"""``livechat doctor``'s look at the database: SQLite's file, its folder and schema step, or
PostgreSQL reached, its version, step and extensions, and its user's rights for the steps still
to apply (server/doctor/pg_rights.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.doctor.findings import Env, FileFacts, Finding, redact_url
from server.doctor.pg_rights import Rights, StepNeeds, look_at_rights, rights_findings, step_needs
from server.store.migrations import MIGRATIONS

MIN_FREE_BYTES = 1 << 30
#: The extensions the store's schema needs (its first step creates them: pg_schema.BASELINE).
EXTENSIONS = ("citext", "unaccent")


def database_findings(db: FileFacts, directory: FileFacts, version: int | None, latest: int,
                      free_bytes: int | None, uid: int,
                      unreadable: str | None = None) -> list[Finding]:
    """``unreadable``: why SQLite could not read the file's schema step (not a database)."""
    found: list[Finding] = []
    if not directory.exists:
        found.append(Finding("ok", "database",
                             f"{db.path} will be created at the first start (with its folder)"))
    elif not directory.writable:
        found.append(Finding("error", "database",
                             f"the server cannot write in {directory.path} (SQLite keeps its WAL "
                             "and lock files beside the database)",
                             f"give the server's user write access to {directory.path}"))
    elif not db.exists:
        found.append(Finding("ok", "database", f"{db.path} will be created at the first start"))
    else:
        if not db.writable:
            found.append(Finding("error", "database", f"{db.path} is read-only for this user",
                                 f"chown $(id -un) {db.path}; chmod 600 {db.path}"))
        if db.mode & 0o077:
            found.append(Finding("warn", "database",
                                 f"{db.path} can be read by other users (mode {db.mode:o}); it "
                                 "holds every conversation and the agents' password hashes",
                                 f"chmod 600 {db.path}"))
        elif db.owner != uid:
            found.append(Finding("warn", "database", f"{db.path} belongs to another user",
                                 f"run the server as its owner, or chown $(id -un) {db.path}"))
        if unreadable is not None:
            found.append(Finding("error", "database",
                                 f"{db.path} is not an SQLite database the server can open "
                                 f"({unreadable})",
                                 "point --db (LIVECHAT_DB) at the store's database, or move "
                                 "this file away to start a new one"))
        elif version is not None and version < latest:
            found.append(Finding("ok", "database",
                                 f"{db.path} is at schema version {version}; the next start "
                                 f"upgrades it to {latest} (back it up first)"))
        elif version is not None and version > latest:
            found.append(Finding("error", "database",
                                 f"{db.path} is at schema version {version}, newer than this "
                                 f"livechat ({latest})", "upgrade livechat"))
        if not any(f.level != "ok" for f in found):
            found.append(Finding("ok", "database", f"{db.path} (schema version {version})"))
    if free_bytes is not None and free_bytes < MIN_FREE_BYTES:
        found.append(Finding("warn", "disk",
                             f"only {free_bytes // (1 << 20)} MiB free beside the database",
                             "free some space: a full disk stops every write (and every chat)"))
    return found


def postgres_findings(url: str, error: str | None, version: str | None, step: int | None,
                      latest: int, missing: Sequence[str], rights: Rights | None = None,
                      pending: Sequence[StepNeeds] = ()) -> list[Finding]:
    """What PostgreSQL (``LIVECHAT_DATABASE_URL``) looked like: reachable, its version, the
    schema step it is at, the extensions the store needs (``missing``: PostgreSQL has not got
    them), and what its user lacks for the ``pending`` steps (``server.doctor.pg_rights``)."""
    shown = redact_url(url)
    if error is not None:
        return [Finding("error", "database", f"cannot reach PostgreSQL at {shown}: {error}",
                        "start PostgreSQL, or correct LIVECHAT_DATABASE_URL "
                        "(postgresql://user:password@host:5432/dbname)")]
    found = []
    if missing:
        found.append(Finding("error", "database",
                             f"PostgreSQL lacks the extension(s) {', '.join(missing)}",
                             "install PostgreSQL's contrib package (Debian: postgresql-contrib)"))
    if rights is not None:
        found.extend(rights_findings(rights, pending, first_start=step is None))
    state = ("will be created at the first start" if step is None
             else f"schema step {step}" + (f", {latest} after the next start" if step < latest
                                           else ""))
    if not any(f.level == "error" for f in found):
        found.insert(0, Finding("ok", "database",
                                f"PostgreSQL {version or '?'} at {shown} ({state})"))
    return found


def schema_version(path: Path) -> int | str:
    """The file's schema step, or why SQLite cannot read it (``file is not a database``)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        db.close()


async def look_at_postgres(url: str,
                           schema_steps: Sequence[tuple[int, str]] | None = None) -> list[Finding]:
    """``schema_steps``: the store's (``pg_schema.steps()``) unless given."""
    import psycopg

    from server.store.pg_schema import steps

    all_steps = steps() if schema_steps is None else schema_steps
    latest = max(n for n, _ in all_steps)
    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=5,
                                                         autocommit=True) as conn:

            async def one(sql: str) -> Any:
                row = await (await conn.execute(sql)).fetchone()
                return row[0] if row else None

            version = await one("SHOW server_version")
            step = None
            if await one("SELECT to_regclass('meta') IS NOT NULL"):
                step = await one("SELECT value FROM meta WHERE key = 'schema_version'")
            at = int(step) if step else None
            pending = [step_needs(n, script) for n, script in all_steps if n > (at or 0)]
            rights = await look_at_rights(conn, [name for s in pending for name in s.owns])
    except psycopg.Error as exc:
        return postgres_findings(url, str(exc).strip() or type(exc).__name__, None, None,
                                 latest, [])
    missing = [name for name in EXTENSIONS if name not in rights.available]
    return postgres_findings(url, None, str(version), at, latest, missing, rights, pending)


async def check_database(env: Env) -> list[Finding]:
    if env.settings is not None and env.settings.postgres:
        env.progress(f"checking PostgreSQL at {redact_url(env.settings.database_url)}")
        return await look_at_postgres(env.settings.database_url)
    db = FileFacts.of(env.db_path)
    directory = FileFacts.of(env.db_path.resolve().parent)
    seen = await asyncio.to_thread(schema_version, env.db_path) if db.exists else None
    free = shutil.disk_usage(directory.path).free if directory.exists else None
    return database_findings(db, directory, seen if isinstance(seen, int) else None,
                             len(MIGRATIONS), free, os.getuid(),
                             seen if isinstance(seen, str) else None)

"""What the commands share: the store opened for one command (``open_store``, ``with_store``),
its schema upgraded first with progress shown (``upgrade_database``), and the shape of the
parser's ``command(...)`` that each module adds its commands with."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from server.config import Settings, from_env
from server.progress import Progress
from server.store import SQLiteStore
from server.store.factory import CannotOpen, cannot_open, create_store
from server.store.migrations import MIGRATIONS
from server.store.postgres import PostgresStore
from server.store.sqlite import check_schema, migrate

T = TypeVar("T")
Store = SQLiteStore | PostgresStore
Handler = Callable[[argparse.Namespace], int]
#: ``command(group, name, handler, help)``: a subcommand of ``group`` (a subparsers action),
#: with the options every command accepts (``--db``); returns its parser.
Command = Callable[[Any, str, Handler | None, str], argparse.ArgumentParser]


def upgrade_database(path: Path, progress: Progress | None = None) -> None:
    """Apply pending migrations with progress shown (on a large database they take a while);
    the store's own open() then finds nothing to do. A file that is not a database (or cannot
    be opened) is a ``CannotOpen``."""
    try:
        _upgrade(path, progress)
    except sqlite3.DatabaseError as exc:
        raise CannotOpen(f"cannot open the database {path}: {exc}") from None


def _upgrade(path: Path, progress: Progress | None) -> None:
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
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    if not settings.postgres:  # (PostgreSQL's migrations run in open(), under an advisory lock)
        upgrade_database(settings.db_path)
    store = create_store(settings, time.time)
    try:
        await store.open()
    except Exception as exc:
        if (said := cannot_open(exc, settings)) is None:
            raise
        raise said from None
    try:
        yield store
    finally:
        await store.close()


def with_store(where: Settings | Path | None, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store (of these settings, or of the environment and the ``--db`` file if one
    was given), run ``work`` with it, close it: what most commands are."""
    settings = where if isinstance(where, Settings) else from_env(db_path=where)

    async def run() -> T:
        async with open_store(settings) as store:
            return await work(store)

    return asyncio.run(run())

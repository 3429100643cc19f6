"""The store (and file store) the settings ask for: PostgreSQL for ``LIVECHAT_DATABASE_URL=postgresql://…``,
else SQLite at ``LIVECHAT_DB`` (or ``sqlite:///path``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import psycopg

from server.config import Settings
from server.store.filestore import DatabaseFiles, FileStore, LocalFiles
from server.store.postgres import PostgresStore
from server.store.sqlite import SQLiteStore


def create_store(settings: Settings, clock: Callable[[], float]) -> SQLiteStore | PostgresStore:
    if settings.postgres:
        return PostgresStore(settings.database_url, clock=clock, pool_min=settings.pg_pool_min,
                             pool_max=settings.pg_pool_max,
                             pool_timeout=settings.pg_pool_timeout)
    return SQLiteStore(settings.db_path, clock=clock, synchronous=settings.sqlite_synchronous,
                       wal_limit=settings.wal_limit, busy_timeout=settings.sqlite_busy_timeout)


class CannotOpen(Exception):
    """The store could not be opened, said in one line (the server's and the commands' exit
    status 1)."""


def cannot_open(exc: BaseException, settings: Settings) -> CannotOpen | None:
    """What failed while opening the store (a database that is not one, cannot be reached, or
    refuses what the store needs), as a ``CannotOpen`` to say in one line; None for anything
    else (a bug: its traceback is wanted)."""
    from server.store.pg_connection import cannot_connect

    if isinstance(exc, psycopg.OperationalError):
        return CannotOpen(cannot_connect(exc))
    if isinstance(exc, psycopg.Error):
        text = str(exc).strip().splitlines()
        return CannotOpen(f"PostgreSQL refused what the store needs: "
                          f"{text[0] if text else type(exc).__name__}")
    if isinstance(exc, sqlite3.DatabaseError):
        return CannotOpen(f"cannot open the database {settings.db_path}: {exc}")
    return None


def create_files(settings: Settings, store: SQLiteStore | PostgresStore) -> FileStore:
    """Where uploads are kept: in PostgreSQL with it, else the local folder."""
    if isinstance(store, PostgresStore):
        return DatabaseFiles(store)
    return LocalFiles(settings.uploads_path())

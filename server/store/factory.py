"""The store (and file store) the settings ask for: PostgreSQL for ``LIVECHAT_DATABASE_URL=postgresql://…``,
else SQLite at ``LIVECHAT_DB`` (or ``sqlite:///path``)."""

from __future__ import annotations

from collections.abc import Callable

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


def create_files(settings: Settings, store: SQLiteStore | PostgresStore) -> FileStore:
    """Where uploads are kept: in PostgreSQL with it, else the local folder."""
    if isinstance(store, PostgresStore):
        return DatabaseFiles(store)
    return LocalFiles(settings.uploads_path())

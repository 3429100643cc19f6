"""PostgreSQL for the tests: a database of the test's own on the server at
``LIVECHAT_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust
auth), created with a unique name and dropped at the end. A server that cannot be reached fails
the test loudly (scripts/test makes sure one is running): nothing is skipped."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

ADMIN_URL = os.environ.get("LIVECHAT_TEST_POSTGRES",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


def _admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is needed by this test and cannot be reached at {ADMIN_URL} "
                    f"({exc}). Start it (scripts/test does), or set LIVECHAT_TEST_POSTGRES.",
                    pytrace=False)


def url_of(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@contextlib.contextmanager
def database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    name = f"livechat_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_of(name)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def weak_user() -> Iterator[str]:
    """The URL of a new, empty database for a user who may log in and nothing more (no CREATE
    on its schema, PostgreSQL 15's default for others than the owner); both dropped after."""
    with database() as url:
        role = f"lc_weak_{url.rsplit('_', 1)[-1]}"
        with _admin() as admin:
            admin.execute(f'CREATE ROLE "{role}" LOGIN')
        try:
            yield url.replace("postgres@", f"{role}@")
        finally:
            # (What a test let it make or be granted in the database goes first.)
            as_admin(url, f'DROP OWNED BY "{role}"')
            with _admin() as admin:
                admin.execute(f'DROP ROLE "{role}"')


def as_admin(url: str, *statements: str) -> None:
    """Run statements as the tests' administrator in the database of ``url`` (any user's)."""
    with psycopg.connect(url_of(url.rsplit("/", 1)[1]), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def store_url(backend: str, tmp_path: Path, stack: contextlib.ExitStack,
              name: str = "store.db") -> str:
    """Where a store of ``backend`` lives for this test: a file, or a database of its own."""
    if backend == "sqlite":
        return str(tmp_path / name)
    return stack.enter_context(database())




def same_store(store: Any, **kwargs: Any) -> Any:
    """Another store on the same file or database as ``store`` (another process, or a
    different clock)."""
    from server.store.postgres import PostgresStore
    from server.store.sqlite import SQLiteStore

    if isinstance(store, PostgresStore):
        return PostgresStore(store.url, **kwargs)
    return SQLiteStore(store.path, **kwargs)


def rows(db: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of one query of the shared SQL (``?`` placeholders) on a store's SQLite file or
    PostgreSQL database, as the tests read it behind the servers' backs."""
    import sqlite3

    from server.store.pg_connection import translate

    if isinstance(db, str) and db.startswith("postgresql://"):
        with psycopg.connect(db) as conn:
            return [tuple(r) for r in conn.execute(translate(sql), params).fetchall()]
    with sqlite3.connect(db) as lite:
        return [tuple(r) for r in lite.execute(sql, params).fetchall()]


@dataclass
class Record:
    """Where a test's servers keep the record: ``db`` is the SQLite file or the PostgreSQL
    URL, ``home`` the path a server process is given (its working folder and ``LIVECHAT_DB``),
    ``env`` what selects the store."""

    db: Path | str
    home: Path
    env: dict[str, str]


def record(backend: str, tmp_path: Path, stack: contextlib.ExitStack) -> Record:
    home = tmp_path / "chat.db"
    if backend == "sqlite":
        return Record(home, home, {})
    url = stack.enter_context(database())
    return Record(url, home, {"LIVECHAT_DATABASE_URL": url})

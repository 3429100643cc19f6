"""The PostgreSQL writer's connection as the store's ops see it (``server.store.base.DB``): the
shared SQL in psycopg's words, and pipelined statements whose results are waited for only when
read."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg


@functools.lru_cache(maxsize=4096)
def cannot_connect(exc: psycopg.OperationalError) -> str:
    """A failed connection as one line (psycopg's message ends with the server's reason: no
    such database, refused, wrong password)."""
    text = str(exc).strip()
    return f"cannot connect to PostgreSQL: {text.splitlines()[-1] if text else type(exc).__name__}"


def translate(sql: str) -> str:
    """The store's shared SQL in psycopg's words: ``?`` placeholders become ``%s`` (a literal
    ``%`` is doubled), and SQLite's ``group_concat`` is PostgreSQL's ``string_agg``."""
    return sql.replace("%", "%%").replace("?", "%s").replace("group_concat(", "string_agg(")


class Connection:
    """The writer's connection, as the ops see it (``server.store.base.DB``).

    In pipeline mode (``pipeline`` given) a statement is sent without waiting for its result;
    the round trip is paid when a result is read (``fetchone``, ``rowcount``), for every
    statement queued before it at once."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any],
                 pipeline: psycopg.Pipeline | None = None) -> None:
        self.conn = conn
        self.pipeline = pipeline

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        cur = self.conn.execute(translate(sql), parameters)
        return cur if self.pipeline is None else _Pending(cur, self.pipeline)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cur = self.conn.cursor()
        cur.executemany(translate(sql), list(parameters))
        return cur


class _Pending:
    """A pipelined statement's cursor: reading its result waits for it."""

    def __init__(self, cur: psycopg.Cursor[Any], pipeline: psycopg.Pipeline) -> None:
        self._cur = cur
        self._pipeline = pipeline

    @property
    def rowcount(self) -> int:
        self._pipeline.sync()  # (fetch* waits by itself; rowcount is only known after a sync)
        return self._cur.rowcount

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur.fetchall())

"""``livechat migrate-store``: copy an SQLite store (and its uploads folder) into PostgreSQL.

Every table the two databases share is copied, in an order that keeps foreign keys whole,
a thousand rows per transaction; a row already there is replaced by the source's (``ON CONFLICT
… DO UPDATE``), and one the source no longer has is deleted (children first), so a copy can be
run again — after an interruption, or to catch up before the switch — and ends equal to the
source. The search indexes are not copied (PostgreSQL's are built from the messages and the
articles). Attachments and agents' pictures go from the folder
into the database's ``files`` table. The store's epoch is copied too: widgets and panels carry
on without starting over.

Then each table is verified: the same number of rows, and the same SHA-256 over every row in
primary-key order, read from both databases; and each file copied, by the SHA-256 of its
bytes. (``server.store.pg_backup`` runs the same copy and checks for ``livechat restore``, and
the other way round for ``livechat backup``.)

Copy with every server stopped (or the copy misses what is written meanwhile: run it again
with them stopped before switching).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from server.store.article_search import index_all_sql
from server.store.pg_connection import cannot_connect
from server.store.pg_schema import migrate

#: Parents before children; a table not named here (another feature's) comes after these.
ORDER = ("sites", "agents", "agent_sites", "visitors", "teams", "team_members", "conversations",
         "messages", "attachments", "conversation_tags", "canned", "visitor_pages",
         "agent_sessions", "blocks", "webhook_endpoints")
#: SQLite's own: the search index's queues, the schema's bookkeeping.
SKIPPED = ("meta", "fts_pending", "fts_forget", "sqlite_sequence", "files")
CHUNK = 1000

Step = Callable[[str, int, int], None]


class CopyError(Exception):
    """The copy cannot be done, or did not come out equal (said in the message)."""


@dataclass
class Table:
    name: str
    columns: list[str]
    key: list[str]
    #: False: a log without a primary key (kb_events), copied again whole each time.
    keyed: bool = True


def tables_of(lite: sqlite3.Connection, pg: psycopg.Connection[Any]) -> list[Table]:
    names = [r[0] for r in lite.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE 'messages_fts%' AND name NOT LIKE 'articles_fts%'")]
    theirs = {r[0] for r in pg.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    tables = []
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        if name in SKIPPED:
            continue
        if name not in theirs:
            raise CopyError(f"PostgreSQL has no table {name}: is it at the same schema step?")
        info = lite.execute(f'PRAGMA table_info("{name}")').fetchall()
        columns = [r[1] for r in info]
        key = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        tables.append(Table(name, columns, key or columns, keyed=bool(key)))
    return tables


def _rows(lite: sqlite3.Connection, table: Table) -> Iterator[list[tuple[Any, ...]]]:
    cols = ", ".join(f'"{c}"' for c in table.columns)
    order = ", ".join(f'"{c}"' for c in table.key)
    cur = lite.execute(f'SELECT {cols} FROM "{table.name}" ORDER BY {order}')
    while chunk := cur.fetchmany(CHUNK):
        yield [tuple(r) for r in chunk]


def _digest(rows: Iterator[Any]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(None if v is None else str(v) for v in row)).encode())
    return h.hexdigest()


def copy_store(sqlite_path: Path, url: str, uploads: Path | None,
               step: Step = lambda what, done, total: None) -> dict[str, int]:
    """Copy ``sqlite_path`` (at the latest schema step already) into the PostgreSQL database
    at ``url`` (migrated here), then verify it. Returns the rows copied per table, and the
    files as ``files``."""
    if not sqlite_path.exists():
        raise CopyError(f"{sqlite_path} does not exist")
    lite = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        try:
            pg = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:  # (no such database, refused, wrong password)
            raise CopyError(cannot_connect(exc)) from None
        with pg:
            migrate(pg)
            return copy_into(lite, pg, uploads, step)
    finally:
        lite.close()


def copy_into(lite: sqlite3.Connection, pg: psycopg.Connection[Any], uploads: Path | None,
              step: Step) -> dict[str, int]:
    """Copy and verify, on open connections (``pg`` migrated already). Each chunk is its own
    transaction, or a savepoint of the caller's (``livechat restore``: one transaction)."""
    tables = tables_of(lite, pg)
    copied = {t.name: _copy_table(lite, pg, t, step) for t in tables}
    # What the source no longer has (a sign-out, an erasure, a retention sweep since an earlier
    # run), children before parents: the copy ends equal to the source.
    for table in reversed(tables):
        if table.keyed:
            _drop_gone(lite, pg, table, step)
    epoch = lite.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    if epoch is not None:
        pg.execute("UPDATE meta SET value = %s WHERE key = 'epoch'", (epoch[0],))
    # The knowledge base's search column (SQLite's index is a table of its own).
    pg.execute(index_all_sql())
    files = _copy_files(lite, pg, uploads, step)
    copied["files"] = len(files)
    for number, table in enumerate(tables, start=1):
        step("verifying", number, len(tables))
        verify_table(lite, pg, table)
    verify_files(pg, files)
    return copied


def _copy_table(lite: sqlite3.Connection, pg: psycopg.Connection[Any], table: Table,
                step: Step) -> int:
    total = lite.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
    cols = ", ".join(f'"{c}"' for c in table.columns)
    others = [c for c in table.columns if c not in table.key]
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in others)
    keys = ", ".join(f'"{k}"' for k in table.key)
    values = ", ".join(["%s"] * len(table.columns))
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({values})'
    if table.keyed:
        sql += f" ON CONFLICT ({keys}) " + (f"DO UPDATE SET {updates}" if others
                                            else "DO NOTHING")
    else:  # nothing to match a row by: the table is copied again whole
        pg.execute(f'DELETE FROM "{table.name}"')
    done = 0
    step(f"copying {table.name}", done, total)
    for chunk in _rows(lite, table):
        with pg.transaction(), pg.cursor() as cur:
            cur.executemany(sql, chunk)
        done += len(chunk)
        step(f"copying {table.name}", done, total)
    return done


def _drop_gone(lite: sqlite3.Connection, pg: psycopg.Connection[Any], table: Table,
               step: Step) -> None:
    """Delete the rows of ``table`` in PostgreSQL whose key the source does not have: the
    source's keys go into a temporary table (COPY), then one ``DELETE … NOT EXISTS``."""
    keys = ", ".join(f'"{k}"' for k in table.key)
    match = " AND ".join(f'k."{c}" = t."{c}"' for c in table.key)
    step(f"removing from {table.name} what is gone", 0, 1)
    with pg.transaction():
        pg.execute("DROP TABLE IF EXISTS pg_temp.livechat_keys")
        pg.execute(f'CREATE TEMP TABLE livechat_keys AS SELECT {keys} FROM "{table.name}" '
                   "WITH NO DATA")
        with pg.cursor() as cur, cur.copy(f"COPY livechat_keys ({keys}) FROM STDIN") as copy:
            cur_lite = lite.execute(f'SELECT {keys} FROM "{table.name}"')
            while chunk := cur_lite.fetchmany(CHUNK):
                for row in chunk:
                    copy.write_row(row)
        pg.execute(f'DELETE FROM "{table.name}" t WHERE NOT EXISTS '
                   f"(SELECT 1 FROM livechat_keys k WHERE {match})")
        pg.execute("DROP TABLE livechat_keys")
    step(f"removing from {table.name} what is gone", 1, 1)


def _uploaded(lite: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in lite.execute("SELECT id FROM attachments ORDER BY id")]
    names += [r[0] for r in lite.execute(
        "SELECT avatar_file FROM agents WHERE avatar_file IS NOT NULL ORDER BY avatar_file")]
    return names


def _copy_files(lite: sqlite3.Connection, pg: psycopg.Connection[Any], uploads: Path | None,
                step: Step) -> dict[str, str]:
    """The files copied, with the SHA-256 of what was read. A file no row of the source names
    any more (an erased visitor's, a swept upload) is deleted from the copy."""
    names = _uploaded(lite)
    pg.execute("DELETE FROM files WHERE NOT (name = ANY(%s))", (names,))
    done: dict[str, str] = {}
    for number, name in enumerate(names, start=1):
        path = uploads / name if uploads is not None else None
        if path is None or not path.is_file():
            continue  # an upload its sweep had already deleted, or a lost file: nothing to copy
        content = path.read_bytes()
        pg.execute("INSERT INTO files(name, content, created_at) VALUES (%s, %s, "
                   "(extract(epoch FROM now()) * 1000)::bigint) ON CONFLICT (name) DO UPDATE "
                   "SET content = excluded.content", (name, content))
        done[name] = hashlib.sha256(content).hexdigest()
        step("copying files", number, len(names))
    return done


def verify_files(pg: psycopg.Connection[Any], files: dict[str, str]) -> None:
    """Each file in PostgreSQL has the SHA-256 it was copied with."""
    stored = dict(pg.execute("SELECT name, encode(sha256(content), 'hex') FROM files "
                             "WHERE name = ANY(%s)", (list(files),)).fetchall())
    for name, digest in files.items():
        if stored.get(name) != digest:
            raise CopyError(f"the file {name} differs in PostgreSQL from its copy")


def verify_table(lite: sqlite3.Connection, pg: psycopg.Connection[Any], table: Table) -> None:
    cols = ", ".join(f'"{c}"' for c in table.columns)
    # (NULLS FIRST: SQLite's order; a keyless table orders by columns that may be NULL.)
    order = ", ".join((f'"{c}" COLLATE "C"' if _is_text(lite, table, c) else f'"{c}"')
                      + " NULLS FIRST" for c in table.key)
    mine = lite.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
    row = pg.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()
    theirs = row[0] if row else 0
    if mine != theirs:
        raise CopyError(f"{table.name}: {mine} rows in SQLite, {theirs} in PostgreSQL")
    source = _digest(r for chunk in _rows(lite, table) for r in chunk)
    with pg.transaction(), pg.cursor(name=f"verify_{table.name}") as cur:
        cur.itersize = CHUNK
        cur.execute(f'SELECT {cols} FROM "{table.name}" ORDER BY {order}')
        target = _digest(iter(cur))
    if source != target:
        raise CopyError(f"{table.name}: the rows differ (SHA-256 {source[:12]}… in SQLite, "
                        f"{target[:12]}… in PostgreSQL)")


def _is_text(lite: sqlite3.Connection, table: Table, column: str) -> bool:
    info = lite.execute(f'PRAGMA table_info("{table.name}")').fetchall()
    return any(r[1] == column and "TEXT" in str(r[2]).upper() for r in info)

"""The SQLite store's search index over messages and notes, in a database file of its own
(``<db>-search``, beside the database), written by a thread of its own.

Why a file of its own: FTS5 writes a new segment of its index when a transaction commits. In
the messages' file, each indexing step held the one writer for that commit, 1–5 ms about
twelve times a second at 1,000 msg/s, and the messages arriving meanwhile waited: most of the
p99 over the committed relay's (docs/benchmarks.md). Here the index has its own write lock; the
message path only records ``(conversation, seq)`` in ``fts_pending`` in its own transaction,
and takes them off again in one quick write per indexing step.

What the file holds:

- ``messages_fts``: the FTS5 index (``unicode61 remove_diacritics 2``), rows in the order the
  messages were written, which the search reads backwards (``server.store.search``);
- ``indexed``: every ``(conversation, seq)`` in it and its row there. Indexing again what is
  already there adds nothing (a crash between the index's commit and the quick write that takes
  the rows off ``fts_pending`` repeats a step), and a conversation's rows are found by it;
- ``temp.batch`` (the connection's own, in memory): one step's messages, read from the
  messages' database (attached read-only as ``msgs``) and written into ``indexed`` and
  ``messages_fts`` by SQL alone. A step is a handful of statements whatever its size: the
  index's thread takes Python's GIL, which the event loop needs, a few times per step instead
  of about three times per message, and the step costs a quarter less CPU
  (``python -m bench.index_step``, docs/benchmarks.md);
- ``meta``: the epoch of the store it indexes. A file that does not have the store's epoch
  (new, a store restored from a backup, a database that went backwards, or one upgraded from
  the time the index was in its own file) is made again from the messages at open.

Erasure: the transaction that erases or deletes conversations takes their rows off
``fts_pending`` and records them in ``fts_forget``; ``forget`` then deletes their rows here and
takes them off ``fts_forget`` (what a crash leaves there is done by the next indexer round).
An indexing step takes this file's write lock *before* it reads what is pending, so a step that
read a message before its erasure committed has committed before the erasure's ``forget`` can
take the lock, and deletes nothing it has not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from server.private import private_file
from server.store.base import StoreClosed, marks
from server.store.sqlite_db import _in_thread, configure

log = logging.getLogger("livechat.store")
T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS indexed (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "fts_rowid INTEGER NOT NULL, PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID",
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(body, conversation_id UNINDEXED, "
    "seq UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')",
)
#: One step's messages, in the order they get their rows in the index.
_BATCH = ("CREATE TEMP TABLE IF NOT EXISTS batch (conversation_id TEXT NOT NULL, "
          "seq INTEGER NOT NULL, body TEXT NOT NULL)")
#: What is pending, oldest first: the index's rows then follow the messages' time.
_PENDING = ("INSERT INTO temp.batch(conversation_id, seq, body) "
            "SELECT p.conversation_id, p.seq, m.body FROM msgs.fts_pending p JOIN msgs.messages m "
            "ON m.conversation_id = p.conversation_id AND m.seq = p.seq "
            "ORDER BY m.created_at, p.conversation_id, p.seq LIMIT ?")
#: ``temp.batch``'s rowids are 1, 2, … (it is emptied first): a message's row in the index is
#: the last one's plus its rowid there, if it is not indexed already.
_ADD = ("INSERT OR IGNORE INTO indexed(conversation_id, seq, fts_rowid) "
        "SELECT conversation_id, seq, ? + rowid FROM temp.batch",
        "INSERT INTO messages_fts(rowid, body, conversation_id, seq) "
        "SELECT i.fts_rowid, b.body, b.conversation_id, b.seq FROM temp.batch b JOIN indexed i "
        "ON i.conversation_id = b.conversation_id AND i.seq = b.seq "
        "WHERE i.fts_rowid = ? + b.rowid ORDER BY b.rowid")
_TAKEN = "SELECT json_group_array(json_array(conversation_id, seq)) FROM temp.batch"
_REBUILD_CHUNK = 2000
#: Conversations forgotten per transaction.
FORGET_ROUND = 200


def search_path(db_path: str | Path) -> str:
    return str(db_path) + "-search"


def drop_search_file(db_path: str | Path) -> None:
    """Delete the search index beside ``db_path`` (and its WAL): a database put in its place
    (a restore, a backup written over an older one) is indexed again when it is opened."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(search_path(db_path) + suffix).unlink()


@contextlib.contextmanager
def _write(db: sqlite3.Connection) -> Iterator[None]:
    """One transaction of the index, its write lock taken at once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class SearchIndex:
    """The index file's two connections, on one thread (aiosqlite's, of the index's own
    connection): the index itself, and a read-only one to the messages' database."""

    def __init__(self, db_path: str, *, synchronous: str, busy_ms: int) -> None:
        self.db_path = db_path
        self.path = search_path(db_path)
        self._synchronous = synchronous
        self._busy_ms = busy_ms
        self._conn: aiosqlite.Connection | None = None
        #: One indexing round or forgetting at a time in this process (another process's
        #: are kept apart by the file's lock and ``indexed``).
        self.lock = asyncio.Lock()

    async def open(self, epoch: str) -> None:
        private_file(Path(self.path))
        self._conn = await aiosqlite.connect(self.path, isolation_level=None, uri=True)
        await _in_thread(self._conn, self._setup, epoch)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    def _setup(self, db: sqlite3.Connection, epoch: str) -> None:
        configure(db, self._synchronous, reader=False, busy_ms=self._busy_ms)
        # Nobody waits for this file's commits: let them checkpoint it (the messages' file is
        # checkpointed by the store's own task, server/store/sqlite_wal.py).
        db.execute("PRAGMA wal_autocheckpoint = 1000")
        db.execute("PRAGMA temp_store = MEMORY")  # (before the temp table: it drops them)
        # Read-only: ``BEGIN IMMEDIATE`` takes this file's write lock and only a snapshot of the
        # messages' database, never the lock of its writer.
        db.execute("ATTACH ? AS msgs", (Path(self.db_path).resolve().as_uri() + "?mode=ro",))
        for statement in (*_SCHEMA, _BATCH):
            db.execute(statement)
        with _write(db):
            row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if row is None or row[0] != epoch:
                self._rebuild(db)
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('epoch', ?)",
                           (epoch,))

    def _rebuild(self, db: sqlite3.Connection) -> None:
        """(Under the index's lock, so in one snapshot of the messages) the index made again
        from every message and note, oldest first. What is pending too is skipped by its step
        (``indexed``)."""
        db.execute("DROP TABLE messages_fts")
        db.execute(_SCHEMA[2])
        db.execute("DELETE FROM indexed")
        total = db.execute("SELECT count(*) FROM msgs.messages "
                           "WHERE kind IN ('text', 'note')").fetchone()[0]
        if total:
            log.info("indexing %d messages for search in %s", total, self.path)
        rows = db.execute(
            "SELECT conversation_id, seq, body FROM msgs.messages WHERE kind IN ('text', 'note') "
            "ORDER BY created_at, conversation_id, seq")
        while chunk := rows.fetchmany(_REBUILD_CHUNK):
            db.execute("DELETE FROM temp.batch")
            db.executemany("INSERT INTO temp.batch VALUES (?, ?, ?)", chunk)
            self._add(db)

    @staticmethod
    def _add(db: sqlite3.Connection) -> None:
        """(Inside the index's write) each message of ``temp.batch`` not indexed yet."""
        last = db.execute("SELECT coalesce(max(rowid), 0) FROM messages_fts").fetchone()[0]
        for statement in _ADD:
            db.execute(statement, (last,))

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(index connection, *args)`` on the index's thread."""
        if self._conn is None:
            raise StoreClosed("the store is closed")
        return await _in_thread(self._conn, fn, *args)

    async def step(self, limit: int) -> list[tuple[str, int]]:
        """Index up to ``limit`` pending messages, oldest first, in one transaction of the
        index: the ``(conversation, seq)`` it took, for the caller to take off
        ``fts_pending``."""
        return await self._run(self._step, limit)

    def _step(self, db: sqlite3.Connection, limit: int) -> list[tuple[str, int]]:
        with _write(db):  # the lock before the read: see the module's docstring
            db.execute("DELETE FROM temp.batch")
            db.execute(_PENDING, (limit,))
            self._add(db)
            taken = db.execute(_TAKEN).fetchone()[0]
        return [(conv, seq) for conv, seq in json.loads(taken)]

    async def forget(self) -> list[str]:
        """Delete from the index the rows of the conversations in ``fts_forget`` (up to
        ``FORGET_ROUND`` of them): those conversations, for the caller to take off it."""
        return await self._run(self._forget)

    def _forget(self, db: sqlite3.Connection) -> list[str]:
        ids = [r[0] for r in db.execute(
            "SELECT conversation_id FROM msgs.fts_forget LIMIT ?", (FORGET_ROUND,))]
        if ids:
            with _write(db):
                db.execute("DELETE FROM messages_fts WHERE rowid IN (SELECT fts_rowid FROM "
                           f"indexed WHERE conversation_id IN ({marks(ids)}))", ids)
                db.execute(f"DELETE FROM indexed WHERE conversation_id IN ({marks(ids)})", ids)
        return ids

    async def truncate_wal(self) -> bool:
        """Empty the index's write-ahead log: whether it could (a reader may keep it busy)."""
        def truncate(db: sqlite3.Connection) -> bool:
            return not db.execute("PRAGMA main.wal_checkpoint(TRUNCATE)").fetchone()[0]

        return await self._run(truncate)

    async def merge(self) -> None:
        """Merge the index's segments: FTS5 keeps a deleted row's words in older segments
        until they are merged."""
        await self._run(lambda db: db.execute(
            "INSERT INTO messages_fts(messages_fts) VALUES ('optimize')"))

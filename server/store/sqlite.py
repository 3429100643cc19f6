"""The SQLite store: WAL, one writer task with group commit, a separate reader connection.

Writes are functions of a ``sqlite3.Connection`` queued to one writer task
(``server.store.writer``). The task takes whatever is queued (no fixed timer) and runs it inside
one ``BEGIN IMMEDIATE`` transaction — a refused write undoes only itself (the batch is run again
with a savepoint per write when one is refused: ``_run_batch``) — commits once, and only then
resolves the callers' futures. An ack therefore always follows a commit, and a burst of writes
costs one fsync, not one each. The message path's writes run on the event loop itself (a plain
``sqlite3`` connection with ``busy_timeout`` 0, at most ~2 ms per transaction; not with
``synchronous=FULL``, whose commits wait for an fsync); everything else,
and any batch that would wait (a lock held by another process, a WAL due for truncation), in one
hop to aiosqlite's thread (see ``_run_in_writer``).

Durability: ``journal_mode=WAL`` with ``synchronous=NORMAL`` (the default) survives a crash or
``kill -9`` of the server process with every committed write; a power loss or kernel crash may
lose the last transactions committed before it, never corrupt the file. ``FULL`` (set
``LIVECHAT_SQLITE_SYNCHRONOUS=FULL``) also survives power loss, for about 9% of write throughput
with batching on this kind of machine.

Several processes may share the file: SQLite serialises their writers with its own lock
(``busy_timeout``), and every invariant (one open conversation per visitor, gap-free ``seq``,
idempotent ``client_msg_id``, compare-and-set claims) is enforced inside the transaction, not by a
per-process cache.

The WAL is bounded (``wal_limit``): a checkpoint task copies it back every second without
blocking anyone (PASSIVE) and then restarts it, holding writers for the moment it takes (RESTART:
under sustained writes a PASSIVE checkpoint alone never lets the log restart, and it grew by
~20 KB per message); when the file passes half the limit anyway, the writer, between two
transactions, checkpoints and truncates it (TRUNCATE). See ``server.store.sqlite_wal``.

A write that fails because of where the store is — the disk is full, the database is locked past
``busy_timeout``, an I/O error, the store is closing or its queue is full — raises
``Unavailable`` (the client is told to retry after a delay), and the trouble is logged once when
it starts and once when it ends (``server.health.Episode``). Only a write that is wrong in itself
raises ``ChatError``.

A high-water mark (``generation``, bumped before each mark is written: ``_bump_generation``)
is kept in ``<db>.hwm`` beside the file: a database that was copied back by hand and so went
backwards is detected at open, said loudly, and given a new ``epoch`` so that every client
starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import sqlite3
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from server.auth import new_id
from server.errors import Unavailable
from server.health import Episode
from server.private import private_file
from server.store import watermark
from server.store.articles import Articles
from server.store.base import DB, RETRY_AFTER_MS, Base, Clock, Ids, Op, StoreClosed, T
from server.store.facade import Aggregates
from server.store.migrations import SchemaTooNew as SchemaTooNew
from server.store.migrations import check_schema as check_schema
from server.store.search import SQLiteSearch
from server.store.sqlite_db import LOCKED, _in_thread, begin_immediate, is_busy
from server.store.sqlite_db import configure as _configure
from server.store.sqlite_db import migrate as migrate
from server.store.sqlite_db import unavailable_reason as unavailable_reason
from server.store.sqlite_search import FORGET_ROUND, SearchIndex, search_path
from server.store.sqlite_wal import WalKeeper
from server.store.writer import GroupWriter, Outcomes
from server.tasks import report_death

log = logging.getLogger("livechat.store")
_INDEX_ROUND = 1000


def _take_pending(taken: list[Any], db: DB) -> None:
    db.executemany("DELETE FROM fts_pending WHERE conversation_id = ? AND seq = ?", taken)


def _forgotten(ids: list[Any], db: DB) -> None:
    db.executemany("DELETE FROM fts_forget WHERE conversation_id = ?", [(i,) for i in ids])


#: How long the checkpoint after an erasure waits for readers (it holds writers meanwhile);
#: busy, the log is left to the checkpoints that restart it every second.
_ERASED_WAIT_MS = 500


class _Replay(Exception):
    """An op was refused in a batch run without savepoints: run it again with them."""


class SQLiteEngine(WalKeeper, GroupWriter, Base):
    """SQLite under the store: see the module's docstring; ``server.store.Store`` for the
    contract."""

    _slow_reason = "the database is locked or the disk slow"
    _gather_first = True

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock,
        ids: Ids = new_id,
        synchronous: str = "NORMAL",
        max_batch: int = 512,
        wal_limit: int = 64 * 1024 * 1024,
        busy_timeout: float = 5.0,
        max_queue: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
        loop_batch: float = 0.002,
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._ids = ids
        self._synchronous = synchronous
        #: The WAL is checkpointed and truncated when it passes half of this (bytes).
        self.wal_limit = wal_limit
        self._wal_path = self.path + "-wal"
        self._truncate_after = 0.0
        self._busy_ms = int(busy_timeout * 1000)
        self._init_writer(max_batch=max_batch, max_queue=max_queue, monotonic=monotonic)
        self._wal_trouble = Episode(monotonic)
        self._checkpoint_trouble = Episode(monotonic)
        self._index_trouble = Episode(monotonic, settle=1.0)
        self._generation = 0
        #: ``commits`` when the generation was last bumped (``_bump_generation``).
        self._bumped_at = 0
        self._writer: aiosqlite.Connection | None = None
        #: The writer's connection on the event loop (plain sqlite3, ``busy_timeout`` 0).
        self._on_loop: sqlite3.Connection | None = None
        #: Quick writes run on the event loop, in transactions of at most this long (seconds);
        #: 0 runs every batch on the writer's thread.
        self.loop_batch = loop_batch
        #: Batches the event loop gave to the thread because the database was busy.
        self.busy_handoffs = 0
        #: Whether the running batch met another connection's write lock (``_waiting_reason``).
        self._lock_waiting = False
        #: Batches run again with a savepoint per op, because one of their ops was refused.
        self.replays = 0
        self._reader: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self.checkpoint_interval = 1.0
        self.epoch = ""
        #: Transactions committed (group commit shows as fewer commits than writes).
        self.commits = 0
        #: (conversation id, seq) of the texts and notes the running batch wrote, for search.
        self._fts_rows: list[tuple[str, int]] = []
        self._indexer: asyncio.Task[None] | None = None
        #: Seconds between indexing rounds. Rounds a tenth of a second apart, not half a second:
        #: at 5,000 msg/s a round of 2,500 messages kept the index's thread busy 150-220 ms, and
        #: the event loop, sharing the two cores with it, fell behind: p99 22 against 14 ms
        #: (docs/benchmarks.md). Smaller rounds, the same work.
        self.index_interval = 0.1
        #: The search index, in a file of its own (server/store/sqlite_search.py).
        self.search_index = SearchIndex(self.path, synchronous=synchronous,
                                        busy_ms=self._busy_ms)
        self._init_hooks()
        self.articles = Articles(self)

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        private_file(Path(self.path))  # 0600, so that its WAL and -shm files are too
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await _in_thread(self._writer, _configure, self._synchronous, reader=False,
                         busy_ms=self._busy_ms, wal_limit=self.wal_limit)
        await _in_thread(self._writer, migrate)
        self.epoch, self._generation = await _in_thread(self._writer, self._check_watermark)
        # Not with FULL (or EXTRA): every commit then waits for an fsync, which must not stop
        # the event loop (a slow disk would stall every socket); the thread writes then.
        if self.loop_batch and self._synchronous not in ("FULL", "EXTRA"):
            self._on_loop = sqlite3.connect(self.path, isolation_level=None)
            _configure(self._on_loop, self._synchronous, reader=False, busy_ms=0,
                       wal_limit=self.wal_limit)
        await self.search_index.open(self.epoch)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        await _in_thread(self._reader, _configure, self._synchronous, reader=True,
                         busy_ms=self._busy_ms, wal_limit=self.wal_limit)
        await self._reader.execute("ATTACH DATABASE ? AS search", (search_path(self.path),))
        self._task = asyncio.create_task(self._write_loop(), name="store-writer")
        # Opened here, not in the task: a task cancelled while connecting would leave
        # aiosqlite's thread behind.
        self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._checkpointer.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        self._checkpoints = asyncio.create_task(self._checkpoint_loop(self._checkpointer),
                                                name="store-checkpoint")
        self._checkpoints.add_done_callback(report_death)
        self._indexer = asyncio.create_task(self._index_loop(), name="store-indexer")
        self._indexer.add_done_callback(report_death)

    async def _index_loop(self) -> None:
        """Index pending messages for search every ``index_interval`` seconds: whichever process
        wrote them, or a crash left them (a read when there is nothing, no write); and forget
        what an erasure left to forget (a crash after its commit)."""
        while True:
            await asyncio.sleep(self.index_interval)
            try:
                await self.index_pending()
                await self.forget_indexed()
            except StoreClosed:
                return
            except (Unavailable, sqlite3.Error) as exc:  # (a full disk, a lock held too long)
                if self._index_trouble.fail(str(exc)):
                    log.warning("search indexing fails (%s); retrying every %g s", exc,
                                self.index_interval)
            else:
                ended = self._index_trouble.recover()
                if ended is not None:
                    log.warning("search indexing works again after %.1f s", ended.lasted)

    async def _indexing(self, call: Awaitable[T]) -> T:
        """``call`` on the index's thread; the store's trouble there (a full disk, its lock
        held past ``busy_timeout``) is ``Unavailable``, as it is for the writer."""
        try:
            return await call
        except sqlite3.Error as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            raise Unavailable(reason, RETRY_AFTER_MS) from None

    async def index_pending(self) -> int:
        """Move every pending message into the search index. A search calls it first, so it
        sees every acknowledged message. Each step indexes up to ``_INDEX_ROUND`` messages,
        oldest first, in the index's own file and on its own thread, and then takes them off
        ``fts_pending`` in one quick write of the message path's (server/store/sqlite_search.py,
        docs/benchmarks.md)."""
        return await self._drain(functools.partial(self.search_index.step, _INDEX_ROUND),
                                 _take_pending, _INDEX_ROUND)

    async def forget_indexed(self, merge: bool = False) -> None:
        """Delete from the search index what erasures and deletions recorded in ``fts_forget``;
        ``merge``: and leave no deleted word in the index's segments."""
        if not merge:
            await self._drain(self.search_index.forget, _forgotten, FORGET_ROUND)
            return
        # An erasure's: both files' write-ahead logs are truncated after it (old frames held
        # the words: a black-box tester read them there minutes later). Best effort: the
        # erasure is committed, and a busy log is written over by later frames.
        await self._drain(self.search_index.forget, _forgotten, FORGET_ROUND)
        async with self.search_index.lock:
            await self._indexing(self.search_index.merge())
        try:
            truncated = await self.search_index.truncate_wal()
            if self._checkpointer is not None:
                truncated = await _in_thread(self._checkpointer, self._truncate_now) and \
                    truncated
        except sqlite3.Error as exc:
            truncated = False
            log.warning("the logs were not truncated after an erasure (%s)", exc)
        if not truncated:
            log.info("a write-ahead log was busy after an erasure: its old frames go as "
                     "later ones are written over them")

    def _truncate_now(self, db: sqlite3.Connection) -> bool:
        with self._waiting_at_most(db, _ERASED_WAIT_MS):
            return not db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]

    async def _drain(self, step: Callable[[], Awaitable[list[Any]]],
                     done: Callable[[list[Any], DB], None], round_size: int) -> int:
        """``step`` on the index's thread until a round is not full, each round's rows then
        taken off their queue in the messages' database by ``done``, one quick write: how many
        were taken. One drain at a time in this process (``SearchIndex.lock``)."""
        total = 0
        async with self.search_index.lock:
            while True:
                rows = await self._indexing(step())
                if rows:
                    await self._submit(functools.partial(done, rows), quick=True)
                total += len(rows)
                if len(rows) < round_size:
                    return total

    def _check_watermark(self, db: sqlite3.Connection) -> tuple[str, int]:
        """The store's epoch and generation, after comparing them with ``<db>.hwm``: a file
        that went backwards (an older copy put back by hand) gets a new epoch, loudly."""
        epoch = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
        generation = int(db.execute(
            "SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        mark = watermark.read(self.path)
        behind = mark is not None and mark.epoch == epoch and generation < mark.generation
        replaced = mark is not None and epoch in mark.retired
        if mark is not None and (behind or replaced):
            was = (f"is at generation {generation}, but generation {mark.generation} was "
                   "written before" if behind else
                   f"has epoch {epoch}, which a restore (or a copy found earlier) replaced with "
                   f"{mark.epoch}")
            epoch = secrets.token_hex(8)
            db.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch,))
            log.critical(
                "THE DATABASE WENT BACKWARDS: %s %s (an older copy put back by hand?). Messages "
                "written since that copy are gone, and sequence numbers will be reused. It now "
                "has a new epoch, %s, so that every client starts over. Use `livechat restore` "
                "to restore a backup.", self.path, was, epoch)
        watermark.write(self.path, watermark.Mark(epoch, generation))
        return str(epoch), generation

    async def close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._indexer
            self._indexer = None
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        if self._marking is not None:
            with contextlib.suppress(Exception):  # (an OSError there was the mark's to suppress)
                await self._marking
            self._marking = None
        if self.epoch and self.healthy:
            with contextlib.suppress(Exception):  # (a best effort, as the mark itself)
                await self._bump_generation()
        await self._stop_writer()
        await self.search_index.close()
        for conn in (self._writer, self._reader, self._checkpointer):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = self._checkpointer = None
        if self._on_loop is not None:
            self._on_loop.close()
            self._on_loop = None
        if self.epoch:
            with contextlib.suppress(OSError):
                watermark.write(self.path, watermark.Mark(self.epoch, self._generation))

    async def _bump_generation(self) -> None:
        """When anything was committed since the last bump, one more commit that bumps the
        generation, before the mark is written (every second and at close). A database copied
        behind the server's back is then behind the mark exactly when it would have been with a
        bump in every commit: a commit after the copy is followed by a bump before the next
        mark. (A bump in every commit cost each commit a statement and a page of WAL.)"""
        if self.commits == self._bumped_at:
            return

        counted = 0

        def bump(db: DB) -> int:
            nonlocal counted
            counted = self.commits + 1  # this transaction's commit, and every one before it
            return int(db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation' "
                "RETURNING value").fetchone()[0])

        self._generation = await self._submit(bump, quick=True)
        self._bumped_at = counted  # (a commit after it, before this line, is not covered)

    # --- the writer (server.store.writer) ------------------------------------------------------

    async def _run_in_writer(self, ops: list[Op], quick: int) -> Outcomes:
        """Quick writes run on the event loop (no thread hop, no GIL hand-off), in
        transactions of at most ``loop_batch`` seconds, and never wait there: the loop's
        connection has ``busy_timeout`` 0, so when another process holds the lock, or the WAL is
        due for truncation (which waits for readers), the batch goes to the writer's thread,
        which may wait. Anything else runs on the thread too (an erasure, a retention sweep…)."""
        assert self._writer is not None
        self._lock_waiting = False
        if quick and self._on_loop is not None and not self._wal_due():
            try:
                return self._run_batch(self._on_loop, ops[:quick], bound_wal=False,
                                       limit=self.loop_batch)
            except sqlite3.Error as exc:
                if not is_busy(exc):
                    raise
                self.busy_handoffs += 1  # nothing was committed: the thread runs it, waiting
        return await _in_thread(self._writer, self._run_batch, ops)

    def _unavailable_reason(self, exc: BaseException) -> str | None:
        return unavailable_reason(exc)

    def _waiting_reason(self) -> str:
        # (Known when the running batch met another connection's write lock: SQLITE_BUSY's.)
        return LOCKED if self._lock_waiting else self._slow_reason

    def _met_a_lock(self) -> None:
        self._lock_waiting = True  # (on the writer's thread; read by the health check)

    def _lock_wait_ms(self) -> int:
        """What is left of ``busy_timeout`` for the running batch's oldest write, so that a write
        queued behind one that waited for the lock is refused within its own timeout, not after
        a whole second one (at least 1 ms: one attempt)."""
        if self._busy_ms <= 0 or self._batch_queued_at is None:
            return self._busy_ms
        waited_ms = (time.monotonic() - self._batch_queued_at) * 1000
        return max(1, int(self._busy_ms - waited_ms))

    def _run_batch(self, db: sqlite3.Connection, ops: list[Op], bound_wal: bool = True,
                   limit: float = 0.0) -> Outcomes:
        """The ops in one transaction; with a ``limit`` (seconds), those begun within it after
        the first (the outcomes are of a prefix of ``ops``). Optimistic, as on PostgreSQL: no
        savepoints; when an op is refused, the transaction is rolled back and run again with
        each op in its own savepoint, so that a refused write undoes only itself."""
        if bound_wal:
            self._bound_wal(db)
        try:
            return self._transaction(db, ops, limit, savepoints=False)
        except _Replay:
            self.replays += 1
            return self._transaction(db, ops, limit, savepoints=True)

    def _transaction(self, db: sqlite3.Connection, ops: list[Op], limit: float,
                     savepoints: bool) -> Outcomes:
        # The loop's connection never waits (``_run_in_writer``); the thread's does, finely, for
        # what is left of the busy timeout of the batch's oldest write.
        if db is self._on_loop:
            begin_immediate(db, 0)
        else:
            begin_immediate(db, self._lock_wait_ms(), on_busy=self._met_a_lock)
        outcomes: Outcomes = []
        until = time.perf_counter() + limit if limit else 0.0
        try:
            for op in ops:
                if until and outcomes and time.perf_counter() >= until:
                    break
                if savepoints:
                    db.execute("SAVEPOINT op")
                indexed = len(self._fts_rows)
                try:
                    outcomes.append((True, op(db)))
                    if savepoints:
                        db.execute("RELEASE op")
                except Exception as exc:
                    # The op's frames let go of its cursors, so that a statement it left
                    # unfinished is reset now: SQLite refuses a savepoint, and keeps a write
                    # open, while one is in progress (SQLITE_BUSY, taken for another's lock).
                    traceback.clear_frames(exc.__traceback__)
                    if unavailable_reason(exc) is not None:
                        raise  # the store's trouble, not this write's: the batch fails
                    if not savepoints:
                        raise _Replay from exc  # (rare) again, each op in its savepoint
                    db.execute("ROLLBACK TO op")
                    db.execute("RELEASE op")
                    del self._fts_rows[indexed:]  # what the refused op wrote is not indexed
                    outcomes.append((False, exc))
            # The batch's messages, for the indexer (in the same transaction: none is missed).
            if self._fts_rows:
                db.executemany("INSERT INTO fts_pending VALUES (?, ?)", self._fts_rows)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            self._fts_rows.clear()
        self.commits += 1
        return outcomes

    # --- reads -------------------------------------------------------------------------------

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._reader is None:
            raise StoreClosed("the store is closed")
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            raise Unavailable(reason, RETRY_AFTER_MS) from None


class SQLiteStore(Aggregates, SQLiteSearch, SQLiteEngine):
    """The embedded default: every aggregate of ``server.store.facade`` on SQLite."""

"""The SQLite store's group-commit writer (server/store/writer.py, sqlite.py): where writes run
and what a stop does to the batch being written."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import struct
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.store import SQLiteStore, StoreClosed
from server.store.sqlite_db import begin_immediate, is_busy
from tests.test_store import _setup


async def test_with_synchronous_full_no_write_runs_on_the_event_loop(tmp_path: Path) -> None:
    """FULL fsyncs at every commit: a slow disk must not stall every socket, so the writer's
    thread takes every write (NORMAL: quick writes run on the loop)."""
    full = SQLiteStore(tmp_path / "full.db", clock=time.time, synchronous="FULL")
    normal = SQLiteStore(tmp_path / "normal.db", clock=time.time)
    await full.open()
    await normal.open()
    try:
        assert full._on_loop is None and normal._on_loop is not None
        site, _, _ = await _setup(full)
        change = await full.append_visitor_message(site, "vis_f", "m1", "hello")
        assert [m.seq for m in change.messages] == [1]
    finally:
        await full.close()
        await normal.close()


async def test_a_write_in_flight_when_the_store_closes_is_answered(tmp_path: Path) -> None:
    """Before: the batch being written when the writer was stopped was held only by the writer
    task, so its callers waited forever (found by review)."""
    store = SQLiteStore(tmp_path / "c.db", clock=time.time)
    await store.open()
    started, release = threading.Event(), threading.Event()

    def slow(db: Any) -> None:  # a bulk write, on the writer's thread
        started.set()
        release.wait(30)

    write = asyncio.ensure_future(store._submit(slow))
    await asyncio.to_thread(started.wait, 30)
    closing = asyncio.ensure_future(store.close())
    try:
        with pytest.raises(StoreClosed):
            await asyncio.wait_for(write, 30)
    finally:
        release.set()
        await closing


def _frames(path: Path) -> int:
    """The frames in the log now: ``mxFrame`` of the WAL index's header (a u32 at byte 16 of
    the -shm file, in the machine's byte order: sqlite.org/walformat.html)."""
    with open(f"{path}-shm", "rb") as shm:
        return int(struct.unpack("=I", shm.read(20)[16:20])[0])


def _wal_size(path: Path) -> int:
    return os.stat(f"{path}-wal").st_size


class _CommitDuringPassive:
    """The checkpointer's connection, where another writer commits while the passive checkpoint
    copies (as every commit of a busy server does): what kept the log from ever restarting."""

    def __init__(self, db: sqlite3.Connection, other: sqlite3.Connection) -> None:
        self.db, self.other = db, other

    def execute(self, sql: str) -> Any:
        if "PASSIVE" not in sql:
            return self.db.execute(sql)
        self.other.execute("BEGIN IMMEDIATE")  # begun before the checkpoint ends…
        self.other.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                           "WHERE key = 'generation'")
        rows = self.db.execute(sql).fetchall()
        self.other.execute("COMMIT")  # …and committed after it
        return _Rows(rows)


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchall(self) -> list[Any]:
        return self.rows


@contextlib.asynccontextmanager
async def _checkpointed_by_hand(path: Path) -> AsyncIterator[
    tuple[SQLiteStore, sqlite3.Connection, sqlite3.Connection]
]:
    """An open store whose checkpoint task is stopped (the test runs ``_checkpoint`` itself),
    a connection to checkpoint on and another writer's connection."""
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    assert store._checkpoints is not None
    store._checkpoints.cancel()
    checkpointer = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        yield store, checkpointer, other
    finally:
        checkpointer.close()
        other.close()
        await store.close()


async def test_the_checkpoint_restarts_the_log_though_commits_land_while_it_copies(
        tmp_path: Path) -> None:
    """A passive checkpoint alone never restarts the log under steady writes: some commit
    always lands while it copies. The log then grew until the writer truncated it, holding
    every write ~22 ms every 1.4 s at 1,000 msg/s (the p99: docs/benchmarks.md). The store's
    checkpoint restarts it: the commit after it starts the log over."""
    path = tmp_path / "w.db"
    async with _checkpointed_by_hand(path) as (store, checkpointer, other):
        site, _, _ = await _setup(store)
        for n in range(40):
            await store.append_visitor_message(site, "vis_w", f"a{n}", "hello " * 40)
        # A passive checkpoint, a commit while it copies: the log goes on growing.
        _CommitDuringPassive(checkpointer, other).execute("PRAGMA wal_checkpoint(PASSIVE)")
        before = _frames(path)
        await store.append_visitor_message(site, "vis_w", "b", "one more")
        assert _frames(path) > before > 40
        # The store's checkpoint, the same commit while it copies: the next commit restarts.
        store._checkpoint(_CommitDuringPassive(checkpointer, other))  # type: ignore[arg-type]
        await store.append_visitor_message(site, "vis_w", "c", "and one more")
        assert _frames(path) < 10
        assert [m.seq for m in await store.messages_after(
            (await store.current_conversation("vis_w")).id, 0, 100)][-1] == 42  # type: ignore[union-attr]


def _left_to_copy(path: Path) -> int:
    """Frames in the log that no checkpoint has copied yet: ``mxFrame`` less ``nBackfill`` (a
    u32 at byte 96 of the -shm file, the checkpoint's info after two copies of the header)."""
    with open(f"{path}-shm", "rb") as shm:
        head = shm.read(100)
    return int(struct.unpack("=I", head[16:20])[0]) - int(struct.unpack("=I", head[96:100])[0])


class _BusyFirstPass(_CommitDuringPassive):
    """As ``_CommitDuringPassive``, with a burst of commits during the first passive pass (a
    busy second), and notes what the restart was left to copy while it held writers."""

    def __init__(self, db: sqlite3.Connection, other: sqlite3.Connection, path: Path) -> None:
        super().__init__(db, other)
        self.path, self.passes, self.left_for_restart = path, 0, -1

    def execute(self, sql: str) -> Any:
        if "RESTART" in sql:
            self.left_for_restart = _left_to_copy(self.path)
        if "PASSIVE" in sql:
            self.passes += 1
            if self.passes == 1:
                self.other.execute("BEGIN IMMEDIATE")
                for _ in range(40):  # a page each
                    self.other.execute("INSERT INTO burst VALUES (?)", (os.urandom(3000),))
                rows = self.db.execute(sql).fetchall()
                self.other.execute("COMMIT")
                return _Rows(rows)
        return super().execute(sql)


async def test_the_restart_is_left_only_the_last_passes_frames(tmp_path: Path) -> None:
    """The restarting checkpoint holds every writer while it copies what was committed since
    the passive one and syncs the database file: with one passive pass, it copied everything
    committed during that pass (a sync of 100 pages took 1.4 ms here) and the messages that
    came meanwhile were the p99 at 1,000 msg/s (docs/benchmarks.md). Passive passes now copy
    those first, holding nobody, until one finds few new frames."""
    path = tmp_path / "r.db"
    async with _checkpointed_by_hand(path) as (store, checkpointer, other):
        other.execute("CREATE TABLE burst (b BLOB)")
        site, _, _ = await _setup(store)
        await store.append_visitor_message(site, "vis_r", "a", "hello")
        busy = _BusyFirstPass(checkpointer, other, path)
        store._checkpoint(busy)  # type: ignore[arg-type]
        assert 0 <= busy.left_for_restart <= 8  # the one commit of the last pass, not 40 pages
        await store.append_visitor_message(site, "vis_r", "b", "and the log starts over")
        assert _frames(path) < 10


async def test_the_generation_is_bumped_once_per_mark_not_per_commit(tmp_path: Path) -> None:
    """A commit no longer bumps the generation (a statement and a WAL page each); the mark
    does, when anything was committed since: a copy taken before a commit is still behind the
    next mark, as the detection of a database copied back needs (tests/test_faults.py)."""
    from server.store import watermark

    path = tmp_path / "g.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    assert store._checkpoints is not None
    store._checkpoints.cancel()  # marks by hand here

    def generation() -> int:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    try:
        site, _, _ = await _setup(store)
        start = generation()
        for n in range(5):
            await store.append_visitor_message(site, "vis_g", f"m{n}", "hello")
        assert generation() == start  # five commits, no bump
        await store._bump_generation()
        assert generation() == start + 1 == store._generation
        await store._bump_generation()  # nothing committed since: no write
        assert generation() == start + 1
        await store.append_visitor_message(site, "vis_g", "m5", "one more")
    finally:
        await store.close()  # bumps, then writes the mark
    assert generation() == start + 2
    mark = watermark.read(path)
    assert mark is not None and mark.generation == start + 2


class _Watched(SQLiteStore):
    """Tells when its checkpoint task has checkpointed (the generation is bumped right after)."""

    checkpointed: asyncio.Event

    async def _bump_generation(self) -> None:
        await super()._bump_generation()
        self.checkpointed.set()


async def test_a_log_growing_fast_is_checkpointed_before_the_writer_must_truncate_it(
        tmp_path: Path) -> None:
    """At 5,000 msg/s the log grew 25-30 MB a second. With a checkpoint a second alone it
    passed half of the limit every second or two, and each time the writer's truncation held
    every write for about 50 ms: the p99 at that rate (docs/benchmarks.md). Past a quarter of
    the limit the writer asks for the checkpoint at once, and the restart cuts the file back."""
    path = tmp_path / "fast.db"
    limit = 8 * 1024 * 1024
    store = _Watched(path, clock=time.time, wal_limit=limit)
    store.checkpoint_interval = 3600.0  # the interval never comes: only the writer's request
    store.checkpointed = asyncio.Event()
    await store.open()
    try:
        site, _, _ = await _setup(store)
        n = 0
        while _wal_size(path) <= limit // 4:  # (a few of these pass it)
            await store.append_visitor_message(site, "vis_f", f"m{n}", "x" * 3000)
            n += 1
        for _ in range(20):  # (a reader's snapshot can keep one checkpoint from restarting)
            store.checkpointed.clear()
            frames = _frames(path)
            await store.append_visitor_message(site, "vis_f", f"m{n}", "x")  # sees it: asks
            await asyncio.wait_for(store.checkpointed.wait(), 30)
            await store.append_visitor_message(site, "vis_f", f"m{n + 1}", "x")
            n += 2
            if _frames(path) < frames:  # the log started over
                break
        else:
            raise AssertionError("the log never restarted")
        assert _wal_size(path) == limit // 4  # cut back (journal_size_limit)
    finally:
        await store.close()


class _Attempts(sqlite3.Connection):
    """A connection that says when a ``BEGIN IMMEDIATE`` of its own met a lock."""

    refused: threading.Event

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        try:
            return super().execute(sql, *args)
        except sqlite3.OperationalError:
            if sql == "BEGIN IMMEDIATE":
                self.refused.set()
            raise


def _pair(path: Path, busy_ms: int) -> tuple[sqlite3.Connection, _Attempts]:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("CREATE TABLE t(x)")
    waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                             factory=_Attempts)
    waiter.refused = threading.Event()
    waiter.execute(f"PRAGMA busy_timeout = {busy_ms}")
    return holder, waiter


async def test_the_writer_thread_waits_for_the_lock_itself_and_gets_it(tmp_path: Path) -> None:
    """``begin_immediate`` asks again and again (SQLite's busy handler slept 1, 2, 5, 10, 15 ms…
    between attempts, so that a lock held 12 ms cost 18.5: docs/benchmarks.md); the write lock
    is had once the holder lets go, and the connection's own busy timeout holds again."""
    holder, waiter = _pair(tmp_path / "b.db", 5000)
    holder.execute("BEGIN IMMEDIATE")
    begun = asyncio.ensure_future(asyncio.to_thread(begin_immediate, waiter, 5000))
    assert await asyncio.to_thread(waiter.refused.wait, 30)  # (SQLite's handler never says)
    assert not begun.done()
    holder.execute("COMMIT")
    await asyncio.wait_for(begun, 30)
    assert waiter.in_transaction
    waiter.execute("INSERT INTO t VALUES (1)")
    waiter.execute("COMMIT")
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    holder.close()
    waiter.close()


async def test_the_writer_thread_gives_up_after_its_busy_timeout(tmp_path: Path) -> None:
    """A lock held past the wait: SQLite's own BUSY error, as before (the store reports it as
    "the database is locked by another process"), no transaction left open."""
    holder, waiter = _pair(tmp_path / "g.db", 50)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as refused:
        await asyncio.to_thread(begin_immediate, waiter, 50)
    assert is_busy(refused.value) and not waiter.in_transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 50
    holder.execute("COMMIT")
    holder.close()
    waiter.close()


async def test_a_write_refused_mid_statement_refuses_itself_only(tmp_path: Path) -> None:
    """An op refused by a constraint while a statement of its own was still unfinished (the
    append's ``UPDATE … RETURNING`` before its ``INSERT``). Before, that statement, kept alive
    by the error's traceback, was still in progress when the batch was run again with
    savepoints: "cannot open savepoint - SQL statements in progress", which is SQLite's
    SQLITE_BUSY, so it was taken for a lock held by another process; the write was answered
    ``unavailable`` and the store counted an outage."""
    store = SQLiteStore(tmp_path / "w.db", clock=time.time)
    await store.open()
    try:
        site, _, _ = await _setup(store)

        def clashing(db: sqlite3.Connection) -> None:
            unfinished = db.execute(  # (read later, as the append's summary is)
                "UPDATE meta SET value = value WHERE key = 'epoch' RETURNING value")
            db.execute("INSERT INTO meta(key, value) VALUES ('epoch', 'again')")
            unfinished.fetchall()

        for quick in (True, False):  # on the event loop's connection, and on the thread's
            with pytest.raises(sqlite3.IntegrityError):
                await store._submit(clashing, quick=quick)
            change = await store.append_visitor_message(site, "vis_1", f"m{quick}", "hello")
            assert not change.duplicate
        assert store.trouble.refused == 0 and (await store.write_health(2.0)).ok
    finally:
        await store.close()

"""The SQLite store's write-ahead log, kept bounded and short: every second, on a connection of
its own, a passive checkpoint (no lock) and then a restarting one, so that the next commit
starts the log over; and a truncating one by the writer, between two transactions, once the
log passes half of ``wal_limit`` anyway (see the docstring of ``server.store.sqlite``).

Why the restart: under a steady load a passive checkpoint never lets the log restart. Frames are
committed while it copies, so it never ends with every frame copied, and the log grows until
the writer truncates it. At 1,000 msg/s that was ~23 MB a second: past half the default limit
every 1.4 s, and each truncation held the writer for ~22 ms, the p99 latency of the whole
server (docs/benchmarks.md). The restarting checkpoint right after the passive one has only the
frames of the last moment left to copy: it holds writers while it copies them and syncs the
database file, and waits for readers at most ``_RESTART_WAIT_MS``. Passive passes first copy
what was committed during the one before, until few frames are left for the restart: at 1,000
msg/s its hold fell from 1.9 to 0.8 ms on average, and the p99 by a fifth."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator

import aiosqlite

from server.health import Episode
from server.store import watermark
from server.store.sqlite_db import _in_thread, cut_back_size

log = logging.getLogger("livechat.store")
#: How long a checkpoint that truncates the WAL may wait for readers and other processes'
#: writers; when it cannot finish in time it is tried again a second later.
_TRUNCATE_WAIT_MS = 500
_TRUNCATE_RETRY = 1.0
#: How long the restarting checkpoint may wait for a reader (it holds writers meanwhile); a
#: reader that keeps a snapshot for longer only means the log is not restarted this second.
_RESTART_WAIT_MS = 10
#: The restart's hold grows with the frames it must copy and sync (a sync of 10 dirty pages took
#: 0.3 ms here, of 100 1.4 ms; the frames committed during one passive pass of 3-12 ms at 1,000
#: msg/s were 20-85). Passive passes, which hold nobody, copy those first, until one finds at
#: most ``_RESTART_LEFT`` new frames or ``_PASSES`` have run (docs/benchmarks.md).
_RESTART_LEFT = 8
_PASSES = 4
#: The least time between two checkpoints (one asked for by the writer comes no sooner).
_SOONEST = 0.1


class WalKeeper:
    """Part of ``SQLiteEngine``, which sets these attributes."""

    path: str
    epoch: str
    wal_limit: int
    checkpoint_interval: float
    _wal_path: str
    _truncate_after: float
    _busy_ms: int
    _generation: int
    _monotonic: Callable[[], float]
    _wal_trouble: Episode
    _checkpoint_trouble: Episode
    #: Set by the writer when the checkpoint should not wait for its interval (``_wal_due``).
    _checkpoint_soon: asyncio.Event | None = None
    #: The high-water mark's last write, on its thread (close waits for it).
    _marking: asyncio.Future[None] | None = None

    async def _checkpoint_loop(self, conn: aiosqlite.Connection) -> None:
        """Every ``checkpoint_interval`` seconds, on its own connection, ``_checkpoint``; sooner
        when the writer sees the log past a quarter of ``wal_limit`` (``_wal_due``), but not
        twice within ``_SOONEST``. (The writer truncates the WAL when it grows past
        half of ``wal_limit`` anyway: see ``_bound_wal``.) The high-water mark is kept here."""
        soon = self._checkpoint_soon = asyncio.Event()
        while True:
            # (Not ``asyncio.wait_for``: before Python 3.12 it can swallow the task's cancel
            # when the event is set at that moment, and close() then waited for this loop for
            # ever; a burst of commits in a test did it, setting the event every few writes.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.checkpoint_interval):
                    await soon.wait()
            soon.clear()
            with contextlib.suppress(OSError):
                if os.stat(self._wal_path).st_size >= self.wal_limit // 2:
                    continue  # the writer truncates it; a checkpoint here would be in its way
            try:
                await _in_thread(conn, self._checkpoint)
            except sqlite3.Error as exc:
                if self._checkpoint_trouble.fail(str(exc)):
                    log.warning("checkpoints fail (%s); retrying every second", exc)
            else:
                ended = self._checkpoint_trouble.recover()
                if ended is not None:
                    log.warning("checkpoints succeed again after %.1f s", ended.lasted)
            try:
                await self._bump_generation()
            except Exception:  # (the writer logs its own trouble: a full disk, a closed store)
                continue  # the mark waits for a generation it can trust
            with contextlib.suppress(OSError):
                # On a thread: reading, writing and renaming the file held the loop 0.6 ms
                # each second, and the slowest messages at 1,000 msg/s were waiting for it
                # (docs/benchmarks.md, 2026-12-07).
                # (Shielded, and awaited by close before its own last mark: a write cut off
                # by the task's cancelling would still run, and could land after that one.)
                self._marking = asyncio.ensure_future(asyncio.to_thread(
                    watermark.write, self.path, watermark.Mark(self.epoch, self._generation)))
                await asyncio.shield(self._marking)
            await asyncio.sleep(min(_SOONEST, self.checkpoint_interval))

    async def _bump_generation(self) -> None:
        """(``SQLiteEngine``) Bump the generation, before the mark is written."""
        raise NotImplementedError

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        """(On the checkpointer's thread.) A passive checkpoint: it copies the log back without
        blocking writers or readers. When it copied every frame it saw (no reader holds an
        older snapshot), a restarting one: it copies what was committed meanwhile and waits,
        holding writers, until no reader needs the log, so that the next commit starts it over.
        Passive passes go on while each finds more than ``_RESTART_LEFT`` frames committed
        during the one before, so that the restart has only the last few to copy (only the
        first pass's reader stops the restart: it would have with one pass).
        Each statement is fetched to the end: one left open would hold a read snapshot."""
        last: int | None = None
        for _ in range(_PASSES):
            _, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
            if copied < frames and last is None:
                return  # a reader holds an older snapshot: a restart would hold writers for it
            if copied < frames or (last is not None and frames - last <= _RESTART_LEFT):
                # (A reader met by a later pass only leaves the restart more to copy, as one
                # pass would have; a log another process restarted meanwhile counts as none.)
                break
            last = frames
        with self._waiting_at_most(db, _RESTART_WAIT_MS):
            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    def _bound_wal(self, db: sqlite3.Connection) -> None:
        """Between two transactions: once the WAL has passed half its limit, copy it back and
        truncate it (TRUNCATE waits for readers and other processes' writers, at most
        ``_TRUNCATE_WAIT_MS``). Past half the limit one attempt is made per batch (after one
        that had to wait, none for a second); past the whole limit the writer keeps trying for
        up to its busy timeout before it writes on, so that no load can outrun the checkpoint.
        Only a reader that holds an old snapshot for longer can keep the log growing (said in
        the log, once)."""
        size = self._wal_due()
        if not size:
            return
        hard = size >= self.wal_limit
        started = self._monotonic()
        deadline = started + (self._busy_ms / 1000 if hard else 0)
        while True:
            attempt = self._monotonic()
            busy, why = self._truncate(db)
            if not busy:
                ended = self._wal_trouble.recover()
                if ended is not None:
                    log.warning("the WAL was truncated again after %.1f s", ended.lasted)
                return
            now = self._monotonic()
            if now >= deadline:
                break
            if now - attempt < 0.005:  # another checkpoint held its lock: try again shortly
                time.sleep(0.005)
        waited = self._monotonic() - started > 0.005
        self._truncate_after = self._monotonic() + (_TRUNCATE_RETRY if waited else 0)
        # Under half-limit pressure a busy attempt is ordinary (several processes checkpoint);
        # only a WAL that stays past its whole limit is worth telling.
        if hard and self._wal_trouble.fail(why):
            log.warning("the WAL (%d MB) is past its limit and could not be truncated: %s; "
                        "retrying", size // 1_000_000, why)

    def _wal_due(self) -> int:
        """The WAL's size when ``_bound_wal`` would truncate it now, else 0. Past a quarter of
        ``wal_limit`` the checkpoint task is asked to run now: a file that size holds that much
        log (each restart cuts a larger file back to a quarter: ``journal_size_limit``), and at
        5,000 msg/s the log grows 25-30 MB a second, so that with a checkpoint a second alone it
        passed half the limit every second or two, and each truncation held the writer 50 ms
        (docs/benchmarks.md)."""
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return 0
        if size < self.wal_limit // 2:
            if size > cut_back_size(self.wal_limit) and self._checkpoint_soon is not None:
                self._checkpoint_soon.set()
            return 0
        if size < self.wal_limit and self._monotonic() < self._truncate_after:
            return 0
        return size

    def _truncate(self, db: sqlite3.Connection) -> tuple[bool, str]:
        try:
            with self._waiting_at_most(db, _TRUNCATE_WAIT_MS):
                busy = bool(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        except sqlite3.Error as exc:
            return True, f"the checkpoint failed ({exc})"
        return busy, "readers or another process kept it busy"

    @contextlib.contextmanager
    def _waiting_at_most(self, db: sqlite3.Connection, ms: int) -> Iterator[None]:
        """A checkpoint that holds others while it waits: ``busy_timeout`` ``ms`` for it,
        then the connection's own again."""
        db.execute(f"PRAGMA busy_timeout = {ms}")
        try:
            yield
        finally:
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

"""The SQLite store's write-ahead log, kept bounded: a passive checkpoint every second on a
connection of its own, and a truncating one by the writer, between two transactions, once the
log passes half of ``wal_limit`` (see the docstring of ``server.store.sqlite``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable

import aiosqlite

from server.health import Episode
from server.store import watermark

log = logging.getLogger("livechat.store")
#: How long a checkpoint that truncates the WAL may wait for readers and other processes'
#: writers; when it cannot finish in time it is tried again a second later.
_TRUNCATE_WAIT_MS = 500
_TRUNCATE_RETRY = 1.0


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

    async def _checkpoint_loop(self, conn: aiosqlite.Connection) -> None:
        """A passive checkpoint every ``checkpoint_interval`` seconds, on its own connection:
        it never blocks writers or readers. (The writer truncates the WAL when it grows past
        half of ``wal_limit`` anyway: see ``_bound_wal``.) The high-water mark is kept here."""
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            with contextlib.suppress(OSError):
                if os.stat(self._wal_path).st_size >= self.wal_limit // 2:
                    continue  # the writer truncates it; a checkpoint here would be in its way
            try:
                # Fetched to the end: a statement left open would hold a read snapshot, and no
                # checkpoint could then truncate the log.
                await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                if self._checkpoint_trouble.fail(str(exc)):
                    log.warning("checkpoints fail (%s); retrying every second", exc)
            else:
                ended = self._checkpoint_trouble.recover()
                if ended is not None:
                    log.warning("checkpoints succeed again after %.1f s", ended.lasted)
            with contextlib.suppress(OSError):
                watermark.write(self.path, watermark.Mark(self.epoch, self._generation))

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
        """The WAL's size when ``_bound_wal`` would truncate it now, else 0."""
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return 0
        if size < self.wal_limit // 2:
            return 0
        if size < self.wal_limit and self._monotonic() < self._truncate_after:
            return 0
        return size

    def _truncate(self, db: sqlite3.Connection) -> tuple[bool, str]:
        db.execute(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
        try:
            busy = bool(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        except sqlite3.Error as exc:
            return True, f"the checkpoint failed ({exc})"
        finally:
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        return busy, "readers or another process kept it busy"

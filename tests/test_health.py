"""server/health.py (pure) and the store's own account of its health, without a server."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from server.errors import Unavailable
from server.health import Episode, Health
from server.store import SQLiteStore, watermark
from server.store.sqlite import unavailable_reason
from tests.clock import FakeClock


def test_an_episode_is_told_when_it_starts_and_when_it_ends() -> None:
    clock = FakeClock(100.0)
    episode = Episode(clock, settle=1.0)
    assert episode.health().ok and episode.recover() is None
    assert episode.fail("the disk is full") is True  # log it
    clock.now += 2
    assert episode.fail("the disk is full", 5) is False  # the same outage: quiet
    assert episode.fail("a disk I/O error") is False  # still the same outage; the reason shown
    health = episode.health("store: ")
    assert not health.ok and health.reason == "store: a disk I/O error" and health.down_for == 2
    clock.now += 1
    assert episode.recover() is None  # up again at once, but not yet said to have ended
    assert episode.health().ok and not episode.down and episode.reason is None
    clock.now += 1
    ended = episode.recover()  # a second of successes: over
    assert ended is not None and (ended.reason, ended.lasted, ended.refused) == (
        "a disk I/O error", 3, 7)
    assert episode.health().ok and episode.recover() is None


def test_a_flickering_outage_is_one_episode() -> None:
    """A nearly full disk lets a small write through between refusals: before, each such write
    ended the episode and the next refusal started another (two log lines per flicker)."""
    clock = FakeClock(100.0)
    episode = Episode(clock, settle=1.0)
    assert episode.fail("the disk is full") is True
    for _ in range(50):
        clock.now += 0.3
        assert episode.recover() is None
        assert episode.health().ok  # the success is real: a load balancer may send traffic
        clock.now += 0.3
        assert episode.fail("the disk is full") is False  # the same episode, quietly
        assert not episode.health().ok
    clock.now += 0.5
    assert episode.recover() is None
    clock.now += 0.99
    assert episode.recover() is None
    clock.now += 0.01
    ended = episode.recover()
    assert ended is not None and ended.refused == 51 and round(ended.lasted, 6) == 30.5
    assert episode.fail("the disk is full") is True  # a later outage is a new episode


def test_without_settling_the_first_success_ends_the_episode() -> None:
    clock = FakeClock(100.0)
    episode = Episode(clock)  # Redis, the outboxes: a reconnect is one clear event
    assert episode.fail("connection refused") is True
    clock.now += 2
    ended = episode.recover()
    assert ended is not None and ended.lasted == 2 and episode.fail("again") is True


def test_store_trouble_is_told_from_other_mistakes() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL
    io = sqlite3.OperationalError("disk I/O error")
    io.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE
    unique = sqlite3.IntegrityError("UNIQUE constraint failed")
    unique.sqlite_errorcode = sqlite3.SQLITE_CONSTRAINT_UNIQUE
    assert unavailable_reason(full) == "the disk is full"
    assert unavailable_reason(io) == "a disk I/O error"
    assert unavailable_reason(unique) is None
    assert unavailable_reason(ValueError("x")) is None


def test_the_watermark_only_moves_forward_within_an_epoch(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert watermark.read(db) is None
    watermark.write(db, watermark.Mark("e1", 10))
    watermark.write(db, watermark.Mark("e1", 7))  # another process, behind: ignored
    assert watermark.read(db) == watermark.Mark("e1", 10)
    watermark.write(db, watermark.Mark("e2", 3))  # a new epoch (a restore) replaces it
    assert watermark.read(db) == watermark.Mark("e2", 3, ("e1",))  # e1 retired
    assert oct(watermark.path_for(db).stat().st_mode & 0o777) == "0o600"


HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE meta SET value = value WHERE key = 'epoch'")
print("locked", flush=True)
sys.stdin.readline()
"""


def hold_lock(db: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


async def test_write_health_is_a_real_write(tmp_path: Path) -> None:
    """A read would succeed beside a held write lock; the health check must not."""
    now = [1000.0]  # the writer's monotonic clock, moved by hand below
    store = SQLiteStore(tmp_path / "h.db", clock=time.time, busy_timeout=0.2,
                        monotonic=lambda: now[0])
    await store.open()
    try:
        assert (await store.write_health(1.0)).ok
        holder = hold_lock(tmp_path / "h.db")
        try:
            assert (await store.sites()) == []  # reads go on
            try:
                await store.create_site("x", [])
            except Unavailable as exc:
                assert exc.reason == "the database is locked by another process"
                assert exc.retry_after_ms > 0
            else:
                raise AssertionError("a write beside a held lock must be refused")
            health = await store.write_health(0.5)
            assert not health.ok and "locked" in (health.reason or ""), health
        finally:
            assert holder.stdin is not None and holder.stdout is not None
            holder.stdin.close()
            holder.stdout.close()
            holder.wait()
        # Released: the probe commits, but the outage ends only after a second of commits with
        # no refusal (server/health.py: a full disk lets small writes through between refusals,
        # and the probe's empty transaction said ok through most of such an outage).
        settling = await store.write_health(2.0)
        assert not settling.ok and "locked" in (settling.reason or ""), settling
        now[0] += 1.0
        assert (await store.write_health(2.0)).ok
        assert (await store.create_site("y", [])).name == "y"
    finally:
        await store.close()


async def test_a_check_whose_own_write_does_not_commit_in_time_says_so(tmp_path: Path) -> None:
    """/healthz's form for a check whose own write (no other waiting as long) did not commit
    within the bound, as docs/deployment.md shows it: "no write committed within T s: why",
    down for the bound."""
    store = SQLiteStore(tmp_path / "h.db", clock=time.time, busy_timeout=30.0)
    await store.open()
    try:
        holder = hold_lock(tmp_path / "h.db")
        try:
            health = await store.write_health(0.5)
            assert health == Health(False, "no write committed within 0.5 s: the database is "
                                    "locked by another process", 0.5)
            # Asked again while that write still waits (now past the bound): the other form.
            again = await store.write_health(0.5)
            assert not again.ok and re.fullmatch(
                r"a write has been waiting \d+\.\d s: the database is locked by another "
                r"process", again.reason or ""), again
        finally:
            assert holder.stdin is not None and holder.stdout is not None
            holder.stdin.close()
            holder.stdout.close()
            holder.wait()
    finally:
        await store.close()

"""The store shared by several processes and machines, for real: two processes on one SQLite
file, a lock held elsewhere that never makes the event loop wait, PostgreSQL connections cut
mid-write, and two machines racing on the same rows. Split from tests/test_store.py."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import psycopg

from server.store import SQLiteStore
from server.store.postgres import PostgresStore
from tests import pg
from tests.test_store import _setup


async def test_two_processes_share_the_file(tmp_path: Path) -> None:
    """Two stores on one file stand for two server processes: claims stay compare-and-set and
    seq stays gap-free, because the invariants live in the transaction."""
    path = tmp_path / "shared.db"
    a, b = SQLiteStore(path, clock=time.time), SQLiteStore(path, clock=time.time)
    await a.open()
    await b.open()
    try:
        site, ana, bo = await _setup(a)
        convs = [(await a.append_visitor_message(site, f"vis_{i}", "m", "hi")).conversation.id
                 for i in range(200)]
        outcomes = await asyncio.gather(*(
            asyncio.gather(a.claim(ana, [site], c), b.claim(bo, [site], c),
                           return_exceptions=True) for c in convs))
        for pair in outcomes:
            assert sorted(type(r).__name__ for r in pair) == ["Change", "ChatError"]
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM messages WHERE kind = 'joined'").fetchone()[
                0] == 200
        shared = (await a.append_visitor_message(site, "vis_shared", "0", "x")).conversation.id
        await asyncio.gather(*(
            (a if i % 2 else b).append_visitor_message(site, "vis_shared", f"m{i}", str(i))
            for i in range(1, 101)))
        seqs = [m.seq for m in await b.messages_after(shared, 0)]
        assert seqs == list(range(1, 102))
    finally:
        await a.close()
        await b.close()


async def test_a_lock_held_elsewhere_never_makes_the_event_loop_wait(tmp_path: Path) -> None:
    """Message writes run on the event loop, which must not wait for another process's lock
    (every socket would stop): the batch goes to the writer's thread, which waits for it, and
    the loop keeps running meanwhile."""
    path = tmp_path / "held.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    try:
        site, _, _ = await _setup(store)
        await store.append_visitor_message(site, "vis", "m1", "on the loop")
        assert store.busy_handoffs == 0
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(store.append_visitor_message(site, "vis", "m2", "waits"))
        turns = 0
        while store.busy_handoffs == 0:  # the loop goes on turning while the write waits
            await asyncio.sleep(0)
            turns += 1
        assert not write.done() and turns > 0
        holder.execute("COMMIT")
        holder.close()
        assert (await write).messages[0].seq == 2
        await store.append_visitor_message(site, "vis", "m3", "on the loop again")
        assert store.busy_handoffs == 1
    finally:
        await store.close()


async def test_postgresql_connections_cut_heal_without_losing_a_write(tmp_path: Path) -> None:
    """Every connection of the store is cut by the server (a restart, a failover): what was
    being done is refused with ``unavailable`` (retry), nothing half-done, and the next writes
    and reads work on new connections."""
    from server.errors import Unavailable

    with pg.database() as url:
        now = [1000.0]  # the writer's monotonic clock, moved by hand below
        store = PostgresStore(url, clock=time.time, pool_min=2, monotonic=lambda: now[0])
        await store.open()
        try:
            site = await store.create_site("Acme", [])
            first = await store.append_visitor_message(site.id, "vis_1", "m1", "before")
            # Several idle readers in the pool, as after any busy moment.
            await asyncio.gather(*(store._all("SELECT pg_sleep(0.05)") for _ in range(4)))
            with psycopg.connect(pg.ADMIN_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s AND pid != pg_backend_pid()",
                              (url.rpartition("/")[2],))
            outcomes: list[str] = []
            for _ in range(3):
                try:
                    await store.append_visitor_message(site.id, "vis_1", "m2", "after")
                    outcomes.append("ok")
                    break
                except Unavailable:
                    outcomes.append("unavailable")
            assert outcomes[-1] == "ok" and len(outcomes) <= 2, outcomes
            # Writes commit again, and the pool's idle readers were checked then: no read meets
            # a connection the outage broke (before, each of them failed a read once, seconds
            # after the store was healthy again).
            await store.readers_checked()
            for _ in range(6):
                read = await store.messages_after(first.conversation.id, 0)
                assert [m.body for m in read] == ["before", "after"], read
            # The outage ends after a second of commits with no refusal (server/health.py).
            assert not (await store.write_health(2.0)).ok
            now[0] += 1.0
            assert (await store.write_health(2.0)).ok
        finally:
            await store.close()


async def test_two_machines_racing_on_the_same_rows(store: SQLiteStore) -> None:
    """Two stores on one database (two machines, or two processes on one SQLite file) do the
    same thing at the same instant: capacity holds, a conversation is resolved once, requeued
    once."""
    from server.routing import choose

    other = pg.same_store(store, clock=time.time)
    await other.open()
    try:
        site, ana, bo = await _setup(store)
        await store.set_site_options(site, auto_assign=True)
        await store.set_agent_capacity(ana.id, 3)
        await store.set_agent_capacity(bo.id, 2)
        for i in range(12):
            await store.append_visitor_message(site, f"vis_{i}", "m", "hi")
        await asyncio.gather(*(s.assign_waiting(site, [ana.id, bo.id], choose)
                               for _ in range(3) for s in (store, other)))
        mine = [c for c in await store.open_conversations([site]) if c.assignee_id]
        assert sorted(c.assignee_name or "" for c in mine) == ["Ana", "Ana", "Ana", "Bo", "Bo"]
        target = next(c.id for c in mine if c.assignee_id == ana.id)
        both = await asyncio.gather(store.resolve(ana, [site], target),
                                    other.resolve(ana, [site], target))
        assert sorted(c.duplicate for c in both) == [False, True]
        kinds = [m.kind for m in await store.messages_after(target, 0)]
        assert kinds.count("resolved") == 1
        again = await asyncio.gather(store.requeue(site, [ana.id]), other.requeue(site, [ana.id]))
        assert sorted(len(changes) for changes in again) == [0, 2]
        requeued = [m for c in await store.open_conversations([site])
                    for m in await store.messages_after(c.id, 0) if m.kind == "requeued"]
        assert len(requeued) == 2
    finally:
        await other.close()

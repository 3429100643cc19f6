"""The widget's "typically replies in …" kept a minute per site (server/typical.py), on SQLite
and on PostgreSQL: read once for many hellos, at once again after a person's reply written
here, within the minute after one written by another process. The store's own reads are
counted by passing them through (nothing is made up)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from server.store import SQLiteStore
from server.typical import KEEP_FOR, TypicalReplies
from tests import pg


async def test_one_read_for_many_hellos_and_another_after_a_reply(store: SQLiteStore) -> None:
    site = await store.create_site("Acme", ["https://acme.test"])
    ana = await store.create_agent("ana@x.test", "Ana", "h", "agent", [site.id])
    reads: list[str] = []
    real = store.typical_reply

    async def counted(site_id: str, recent: int = 50) -> float | None:
        reads.append(site_id)
        return await real(site_id, recent)

    store.typical_reply = counted  # type: ignore[method-assign]
    now = [1000.0]
    typical = TypicalReplies(store, lambda: now[0])

    # A thousand hellos at once (a dropped network's visitors coming back): one read.
    assert await asyncio.gather(*(typical.get(site.id) for _ in range(1000))) == [None] * 1000
    assert len(reads) == 1
    first = (await store.append_visitor_message(site.id, "vis_1", "m1", "Hello?")).conversation
    assert await typical.get(site.id) is None and len(reads) == 1  # a visitor's message: kept

    # A person's reply written here: read again at the next hello.
    await store.append_agent_message(ana, [site.id], first.id, "r1", "Hi! How can I help?")
    value = await typical.get(site.id)
    assert value is not None and value >= 0 and len(reads) == 2
    assert await typical.get(site.id) == value and len(reads) == 2

    # One written by another process: told within the minute, not before.
    other: Any = pg.same_store(store, clock=time.time)
    await other.open()
    try:
        second = (await other.append_visitor_message(site.id, "vis_2", "m2", "Hi")).conversation
        await other.append_agent_message(ana, [site.id], second.id, "r2", "Hello!")
    finally:
        await other.close()
    assert await typical.get(site.id) == value and len(reads) == 2
    now[0] += KEEP_FOR
    assert await typical.get(site.id) is not None and len(reads) == 3

    # Another site is read on its own.
    beta = await store.create_site("Beta", ["https://beta.test"])
    assert await typical.get(beta.id) is None and reads == [site.id] * 3 + [beta.id]


async def test_a_failed_read_is_not_kept(store: SQLiteStore) -> None:
    site = await store.create_site("Acme", ["https://acme.test"])
    real, failures = store.typical_reply, [RuntimeError("the store is away")]

    async def flaky(site_id: str, recent: int = 50) -> float | None:
        if failures:
            raise failures.pop()
        return await real(site_id, recent)

    store.typical_reply = flaky  # type: ignore[method-assign]
    typical = TypicalReplies(store, lambda: 1000.0)
    results = await asyncio.gather(typical.get(site.id), typical.get(site.id),
                                   return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]  # both told, one read
    assert await typical.get(site.id) is None  # read again, not the failure kept


async def test_a_reply_counts_once_committed(store: SQLiteStore) -> None:
    """A read started while the reply's transaction is still open cannot see the reply: were
    the reply counted then, that read would be kept a minute with the old figure. So a hello
    during the transaction is told the figure kept, and the next one after the commit reads."""
    site = await store.create_site("Acme", ["https://acme.test"])
    ana = await store.create_agent("ana@x.test", "Ana", "h", "agent", [site.id])
    typical = TypicalReplies(store, lambda: 1000.0)
    assert await typical.get(site.id) is None
    conv = (await store.append_visitor_message(site.id, "vis_1", "m1", "Hello?")).conversation
    during: list[bool] = []
    # (After the figure's own hook: what a hello asking now would find, in the transaction.)
    store.append_hooks.append(lambda db, message: during.append(typical.fresh(site.id)))
    await store.append_agent_message(ana, [site.id], conv.id, "r1", "Hi! How can I help?")
    assert during == [True, True]  # the joined event and the reply: still the kept figure
    assert not typical.fresh(site.id)
    assert await typical.get(site.id) is not None

"""Follow-ups' delivery rule on both databases (the ``store`` fixture runs each test on SQLite
and on PostgreSQL): a check-in whose visitor has another conversation open at its time is not
sent (``skipped``), nor is one whose conversation an agent reopened and which is still open; one
whose visitor's later conversation is resolved again is. And the limit: at most 365 days ahead.
tests/test_follow_ups.py drives the same through a server."""

from __future__ import annotations

import secrets

import pytest

from server.errors import ChatError
from server.store import SQLiteStore
from server.store.followups import FollowUps
from server.store.outbox import Outbox

DAY_MS = 24 * 3600 * 1000


async def test_a_check_in_waits_for_no_other_open_conversation(store: SQLiteStore) -> None:
    site = await store.create_site("Acme", ["https://acme.test"])
    ana = await store.create_agent("ana@acme.test", "Ana", "h", "agent", [site.id])
    follow_ups = FollowUps(store, Outbox(store, delay_ms=0, new_key=lambda: secrets.token_hex(8)))
    now = store._now()
    store._clock = lambda: now / 1000  # type: ignore[method-assign]
    old = {}
    for visitor in ("vis_max", "vis_ida", "vis_eva"):
        conv = (await store.append_visitor_message(site.id, visitor, "m1", "hi")).conversation
        await store.resolve(ana, [site.id], conv.id)
        old[visitor] = conv.id
    # At most 365 days ahead.
    with pytest.raises(ChatError):
        await follow_ups.schedule(ana, [site.id], old["vis_max"], now + 365 * DAY_MS + 1, "x")
    await follow_ups.schedule(ana, [site.id], old["vis_max"], now + 365 * DAY_MS, "far")
    for visitor in old:  # moved to the next day
        await follow_ups.schedule(ana, [site.id], old[visitor], now + DAY_MS, "all good?")
    # Eva's: reopened by Ana, and open when it is due (before, the check-in went into it).
    await store.reopen(ana, [site.id], old["vis_eva"])
    # Both others write again: a new conversation each; Ida's is resolved again, Max's stays open.
    new = {}
    for visitor in ("vis_max", "vis_ida"):
        change = await store.append_visitor_message(site.id, visitor, "m2", "again")
        assert change.created and change.conversation.id != old[visitor]
        new[visitor] = change.conversation.id
    await store.resolve(ana, [site.id], new["vis_ida"])
    store._clock = lambda: (now + DAY_MS) / 1000  # type: ignore[method-assign]
    sent = {}
    for due, visitor in await follow_ups.due():
        change = await follow_ups.send(due, email=False)
        sent[visitor] = change and [(m.conversation_id, m.kind) for m in change.messages]
    assert sent == {"vis_max": None, "vis_ida": [(old["vis_ida"], "checkin")], "vis_eva": None}
    states = dict(await store.read_all("SELECT conversation_id, state FROM follow_ups", ()))
    assert states == {old["vis_max"]: "skipped", old["vis_ida"]: "sent",
                      old["vis_eva"]: "skipped"}
    assert (await store.conversation(old["vis_eva"])).last_seq == 3  # type: ignore[union-attr]
    assert (await store.conversation(old["vis_max"])).last_seq == 2  # type: ignore[union-attr]
    assert await follow_ups.due() == []

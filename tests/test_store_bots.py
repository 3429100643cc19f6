"""A bot's silence (server/bots.py ``hand_off_unanswered``; server/store/bots.py) on both
databases: the ``store`` fixture runs each test on SQLite and on PostgreSQL. tests/test_bots.py
drives bots end to end through a server."""

from __future__ import annotations

import asyncio

from server.store import SQLiteStore
from server.store.bots import UNANSWERED_HORIZON_MS, Bots
from tests import pg


async def test_a_bots_unanswered_conversations_go_to_people(store: SQLiteStore) -> None:
    """What ``FirstResponder.hand_off_unanswered`` finds and hands off: conversations a bot has
    whose latest text is the visitor's, older than the cut-off; checked again in the handoff's
    own transaction, so that an answer written meanwhile keeps the conversation with the bot."""
    site = await store.create_site("Acme", ["https://acme.test"])
    ana = await store.create_agent("ana@acme.test", "Ana", "h", "agent", [site.id])
    bots = Bots(store)
    bot = await bots.create(site.id, "Helper")
    first = (await store.append_visitor_message(site.id, "vis_1", "m1", "hi")).conversation
    await store.claim(bot, [site.id], first.id)
    person = (await store.append_visitor_message(site.id, "vis_2", "m1", "hi")).conversation
    await store.claim(ana, [site.id], person.id)  # a person's: never the bot's to hand off
    later = bots.now() + 1
    assert await bots.unanswered(later) == [(site.id, first.id)]
    assert await bots.unanswered(later - 60_000) == []  # not yet that old
    await store.append_agent_message(bot, [site.id], first.id, "b1", "Hello, I am a bot")
    assert await bots.unanswered(bots.now() + 1) == []
    asked = await store.append_visitor_message(site.id, "vis_1", "m2", "a person please")
    await store.add_note(ana, [site.id], first.id, "n1", "a note is not an answer")
    cut = bots.now() + 1
    assert await bots.unanswered(cut) == [(site.id, first.id)]
    # The bot answered between the sweep's read and its handoff: nothing happens.
    await store.append_agent_message(bot, [site.id], first.id, "b2", "One moment")
    unchanged = await bots.handoff([site.id], first.id, unanswered_before=bots.now() + 1)
    assert unchanged.duplicate and unchanged.messages == ()
    assert unchanged.conversation.assignee_id == bot.id
    assert (await bots.handoff([site.id], person.id, unanswered_before=cut)).duplicate
    await store.append_visitor_message(site.id, "vis_1", "m3", "hello?")
    # Written after the cut-off: too recent.
    assert (await bots.handoff([site.id], first.id, unanswered_before=asked.messages[-1].created_at)
            ).duplicate
    handed = await bots.handoff([site.id], first.id, unanswered_before=bots.now() + 1)
    assert not handed.duplicate and handed.conversation.status == "waiting"
    assert handed.conversation.assignee_id is None
    (event,) = handed.messages
    assert event.kind == "requeued" and event.author_id == bot.id
    assert event.data == {"handoff": True, "timeout": True}
    assert await bots.unanswered(bots.now() + 1) == []
    again = await bots.handoff([site.id], first.id, unanswered_before=bots.now() + 1)
    assert again.duplicate and again.messages == ()
    # The bot's time runs from when it was given a conversation: one a person transfers to it,
    # whose visitor wrote earlier, is the bot's to answer for the whole timeout.
    given = await store.transfer(ana, [site.id], person.id, bot.id)
    at = given.messages[-1].created_at
    assert await bots.unanswered(at) == []
    assert await bots.unanswered(at + 1) == [(site.id, person.id)]
    # A message older than the horizon before the cut-off is left as it is (one in a
    # conversation a bot held long before).
    assert await bots.unanswered(at + UNANSWERED_HORIZON_MS + 1) == []


async def test_two_processes_hand_off_an_unanswered_conversation_once(
        store: SQLiteStore) -> None:
    """Every process sweeps for unanswered conversations at once: the handoff holds the row
    (PostgreSQL) and decides from what it sees then, so one of two makes the ``requeued``."""
    site = await store.create_site("Acme", ["https://acme.test"])
    bot = await Bots(store).create(site.id, "Helper")
    other = pg.same_store(store, clock=store.clock)
    await other.open()
    try:
        for n in range(5):
            sent = await store.append_visitor_message(site.id, f"vis_{n}", "m", "hello?")
            conv = sent.conversation.id
            await store.claim(bot, [site.id], conv)
            cut = Bots(store).now() + 1
            both = await asyncio.gather(
                Bots(store).handoff([site.id], conv, unanswered_before=cut),
                Bots(other).handoff([site.id], conv, unanswered_before=cut))
            assert sorted(c.duplicate for c in both) == [False, True]
            kinds = [m.kind for m in await store.messages_after(conv, 0)]
            assert kinds == ["text", "joined", "requeued"]
    finally:
        await other.close()

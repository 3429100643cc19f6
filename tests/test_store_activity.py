"""Lists by latest activity on both databases (server/store/activity.py): since schema step 30
only resolved conversations are indexed by ``updated_at``, and open ones are sorted when a list
asks. These prove that every list still comes in one order, newest activity first (ties by
id), a page at a time, with open and resolved conversations mixed and tied, and that no index a
message moves is left."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.store.api_reads import ApiReads, ConversationFilter
from server.store.models import Conversation
from server.store.postgres import PostgresStore
from server.store.sqlite import SQLiteStore
from tests import pg
from tests.clock import FakeClock


class Clock(FakeClock):
    """The store's time, set by the test in milliseconds after a fixed start."""

    START_MS = 1_800_000_000_000

    def __init__(self) -> None:
        super().__init__(self.START_MS / 1000)

    @property
    def ms(self) -> int:
        return round(self.now * 1000)

    def at(self, ms: int) -> None:
        self.now = (self.START_MS + ms) / 1000


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed(tmp_path: Path, backend: str, clock: Clock) -> AsyncIterator[Any]:
    with contextlib.ExitStack() as stack:
        url = pg.store_url(backend, tmp_path, stack)
        s: Any = (SQLiteStore(url, clock=clock) if backend == "sqlite"
                  else PostgresStore(url, clock=clock))
        await s.open()
        try:
            yield s
        finally:
            await s.close()


async def mixed(store: Any, clock: Clock) -> tuple[str, list[Conversation]]:
    """Twelve conversations of one site (and one of another): resolved, waiting and assigned
    ones whose latest activity interleaves, two of them (one open, one resolved) at the same
    millisecond, and an older one resolved after newer ones were written to."""
    site = await store.create_site("Acme", ["https://acme.test"])
    other = await store.create_site("Other", ["https://other.test"])
    agent = await store.create_agent("ana@acme.test", "Ana", "x", "admin", [site.id])
    ids = []
    for n in range(12):
        clock.at(n * 10)
        sent = await store.append_visitor_message(site.id, f"vis_{n}", f"m{n}", f"hello {n}")
        ids.append(sent.conversation.id)
    clock.at(5)
    await store.append_visitor_message(other.id, "vis_other", "m", "elsewhere")
    for n in (1, 4, 7):  # assigned, and written to later
        clock.at(200 + n)
        await store.claim(agent, [site.id], ids[n])
        await store.append_agent_message(agent, [site.id], ids[n], f"a{n}", "Hi")
    for n in (0, 2, 5, 8, 10):  # resolved, in an order unlike their start
        clock.at(300 - n)
        await store.resolve(agent, [site.id], ids[n])
    clock.at(400)  # an open and a resolved conversation at the same millisecond
    await store.append_visitor_message(site.id, "vis_3", "later", "still there?")
    await store.resolve(agent, [site.id], ids[11])
    conversations = [await store.conversation(i) for i in ids]
    assert {c.status for c in conversations} == {"waiting", "assigned", "resolved"}
    return site.id, sorted(conversations, key=lambda c: (c.updated_at, c.id), reverse=True)


def key(c: Conversation) -> tuple[int, str]:
    return c.updated_at, c.id


async def test_the_panels_list_pages_through_every_status_newest_first(
        timed: Any, clock: Clock) -> None:
    site_id, expected = await mixed(timed, clock)
    assert expected[0].updated_at == expected[1].updated_at  # the tie
    for status in (None, "waiting", "assigned", "resolved"):
        want = [c.id for c in expected if status in (None, c.status)]
        assert want
        for size in (1, 3, 50):
            got: list[str] = []
            before = None
            while True:
                page = await timed.conversation_list([site_id], status=status, before=before,
                                                     limit=size)
                got += [c.id for c in page]
                if len(page) < size:
                    break
                before = key(page[-1])
            assert got == want, (status, size)
    # A tag narrows both arms alike.
    await timed.set_tag([site_id], expected[0].id, "vip", True)
    await timed.set_tag([site_id], expected[-1].id, "vip", True)
    now = sorted([await timed.conversation(expected[0].id),
                  await timed.conversation(expected[-1].id)], key=key, reverse=True)
    tagged = await timed.conversation_list([site_id], tag="vip")
    assert [c.id for c in tagged] == [c.id for c in now]


async def test_the_apis_list_pages_with_its_filters_newest_first(
        timed: Any, clock: Clock) -> None:
    site_id, expected = await mixed(timed, clock)
    reads = ApiReads(timed)
    since = expected[6].updated_at
    for where, keep in (
            (ConversationFilter(), lambda c: True),
            (ConversationFilter(status="resolved"), lambda c: c.status == "resolved"),
            (ConversationFilter(status="waiting"), lambda c: c.status == "waiting"),
            (ConversationFilter(assignee="none"), lambda c: c.assignee_id is None),
            (ConversationFilter(updated_since=since), lambda c: c.updated_at >= since)):
        want = [c.id for c in expected if keep(c)]
        got: list[str] = []
        after = None
        while True:
            page = await reads.conversations([site_id], where, after, 2)
            got += [c.id for c in page]
            if len(page) < 2:
                break
            after = key(page[-1])
        assert got == want, where
        # The rows are whole conversations, as before (names, tags and all).
        assert {c.id: c for c in await reads.conversations([site_id], where, None, 50)} == {
            c.id: c for c in expected if keep(c)}


async def test_a_search_finds_people_newest_activity_first(timed: Any, clock: Clock) -> None:
    site_id, expected = await mixed(timed, clock)
    for c in expected:
        await timed.set_visitor_profile(site_id, c.visitor_id, f"Lea {c.visitor_id}", None)
    hits = await timed.search([site_id], "lea")
    assert [h.conversation.id for h in hits] == [c.id for c in expected]
    assert [h.conversation.id for h in await timed.search([site_id], "lea", limit=4)] == [
        c.id for c in expected[:4]]
    # What matched is the snippet: the name, or the email (a black-box tester was shown the
    # name for a search of the email's domain).
    assert {h.snippet for h in hits} == {f"Lea {c.visitor_id}" for c in expected}
    first = expected[0]
    await timed.set_visitor_profile(site_id, first.visitor_id, None, "lea@acme-corp.example")
    [by_email] = await timed.search([site_id], "acme-corp")
    assert (by_email.seq, by_email.snippet) == (0, "lea@acme-corp.example")


async def test_the_inbox_has_every_open_conversation_assigned_first(
        timed: Any, clock: Clock) -> None:
    site_id, expected = await mixed(timed, clock)
    open_ones = [c for c in expected if c.status != "resolved"]
    assigned = sorted((c for c in open_ones if c.status == "assigned"), key=lambda c: c.created_at)
    waiting = sorted((c for c in open_ones if c.status == "waiting"), key=lambda c: c.created_at)
    got = await timed.open_conversations([site_id])
    assert [c.id for c in got] == [c.id for c in assigned + waiting]


def test_the_lists_read_the_partial_indexes() -> None:
    """A partial index is used only by a query that states its condition word for word
    (``activity.OPEN``, ``activity.RESOLVED``): a rewording (``<>`` for ``!=``) would scan."""
    import sqlite3

    from server.store.activity import newest_first
    from server.store.migrations import MIGRATIONS

    db = sqlite3.connect(":memory:")
    for step in MIGRATIONS:
        db.executescript(step)

    def plan(status: str | None) -> list[str]:
        sql, params = newest_first(["c.site_id IN (?)"], ["site"], status, 50)
        return [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params)]

    every = plan(None)
    assert any("INDEX conversations_open " in step for step in every), every
    assert any("INDEX conversations_resolved_updated " in step for step in every), every
    assert any("INDEX conversations_resolved_updated " in step for step in plan("resolved"))
    for steps in (every, plan("resolved"), plan("waiting")):
        assert not any(step.split(" USING")[0] == "SCAN c" for step in steps), steps


def updated_at_indexes(definitions: Iterator[str]) -> list[str]:
    return [d for d in definitions if "updated_at" in d]


async def test_no_index_of_the_conversations_moves_with_each_message(timed: Any) -> None:
    """Each message changes its conversation's ``updated_at``: an index keyed by it would move
    at every message (two such were 41 % of a message's pages). Only resolved conversations,
    which take no messages, are indexed by it."""
    if isinstance(timed, PostgresStore):
        rows = await timed.read_all(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'conversations'")
    else:
        rows = await timed.read_all(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations' "
            "AND sql IS NOT NULL")
    keyed = updated_at_indexes(r[0] for r in rows)
    assert len(keyed) == 1, keyed
    assert "WHERE" in keyed[0] and "resolved" in keyed[0], keyed


async def handed_off_after_a_wait(timed: Any, clock: Clock, waiting_from: int,
                                  handoff_at: int) -> tuple[str, str, str, Any]:
    """A site whose bot took a conversation at 0 and hands it off at ``handoff_at``, and a
    visitor waiting for people since ``waiting_from``: (site id, the bot's conversation, the
    waiting one, the handoff's change)."""
    from server.store.bots import Bots

    site = await timed.create_site("Acme", ["https://acme.test"])
    bots = Bots(timed)
    bot = await bots.create(site.id, "Ava")
    clock.at(0)
    handed = (await timed.append_visitor_message(site.id, "vis_bot", "m", "hi")).conversation
    await timed.claim(bot, [site.id], handed.id)
    clock.at(waiting_from)
    waiting = (await timed.append_visitor_message(site.id, "vis_b", "m", "hi")).conversation
    clock.at(handoff_at)
    change = await bots.handoff([site.id], handed.id)
    return site.id, handed.id, waiting.id, change


async def test_the_queue_goes_by_when_each_conversation_reached_people(
        timed: Any, clock: Clock) -> None:
    """The queue's order is when a conversation reached people (``queued_at``), not when it
    started: a conversation the bot had for a while went ahead of every visitor who had been
    waiting for a person meanwhile (a black-box tester). An agent who leaves gives their
    conversations back with their place kept."""
    from server.routing import choose

    site_id, first, second, handed = await handed_off_after_a_wait(timed, clock, 10_000, 30_000)
    ana = await timed.create_agent("ana@acme.test", "Ana", "x", "agent", [site_id])
    await timed.set_agent_capacity(ana.id, 1)
    await timed.set_site_options(site_id, auto_assign=True)
    assert handed.conversation.queued_at == clock.ms > handed.conversation.created_at
    assert handed.conversation.summary()["queued_at"] == clock.ms

    async def queue() -> list[str]:
        return [c.id for c in await timed.waiting(site_id)]

    assert await queue() == [second, first]
    assert [await timed.queue_position(site_id, c) for c in (second, first)] == [1, 2]
    assert [c.id for c in await timed.open_conversations([site_id])] == [second, first]
    clock.at(40_000)
    (assigned,) = await timed.assign_waiting(site_id, [ana.id], choose)
    assert assigned.conversation.id == second  # waiting longer for a person
    clock.at(50_000)
    (back,) = await timed.requeue(site_id, [ana.id])
    assert back.conversation.queued_at == 1_800_000_010_000  # its start: its place kept
    assert await queue() == [second, first]


async def test_an_upgraded_store_queues_handed_off_conversations_from_their_handoff(
        timed: Any, clock: Clock) -> None:
    """Schema step 30 finds when each open conversation reached people in its events: a bot's
    handoff (a ``requeued`` by an agent, the bot) or a reopening; else its start."""
    import sqlite3

    import psycopg

    site_id, handed, plain, _ = await handed_off_after_a_wait(timed, clock, 5_000, 9_000)
    await timed.close()
    # As step 29 left it: no queued_at (nor step 31's column).
    if isinstance(timed, PostgresStore):
        with psycopg.connect(timed.url) as conn:
            conn.execute("ALTER TABLE conversations DROP COLUMN queued_at")
            conn.execute("ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
            conn.execute("UPDATE meta SET value = '29' WHERE key = 'schema_version'")
        again: Any = PostgresStore(timed.url, clock=clock)
    else:
        with sqlite3.connect(timed.path) as db:
            db.execute("DROP INDEX conversations_site_status")
            db.execute("ALTER TABLE conversations DROP COLUMN queued_at")
            db.execute("ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
            db.execute("PRAGMA user_version = 29")
        again = SQLiteStore(timed.path, clock=clock)
    await again.open()
    try:
        got = {c.id: c.queued_at for c in await again.waiting(site_id)}
        assert got == {plain: 1_800_000_005_000, handed: 1_800_000_009_000}
        assert [c.id for c in await again.waiting(site_id)] == [plain, handed]
    finally:
        await again.close()


async def test_visitors_a_silent_bot_hands_off_together_keep_the_order_they_wrote_in(
        timed: Any, clock: Clock) -> None:
    """One sweep hands off every visitor the bot left unanswered, one after the other: each
    had the handoff's own moment in ``queued_at``, so a later writer could go first (ties by
    id; a black-box tester). Each is queued from when its message had waited the timeout."""
    from server.store.bots import Bots

    site = await timed.create_site("Acme", ["https://acme.test"])
    bots = Bots(timed)
    bot = await bots.create(site.id, "Ava")
    wrote = []
    for n, at in enumerate((1_000, 1_500, 2_000)):
        clock.at(at)
        sent = await timed.append_visitor_message(site.id, f"vis_{n}", "m", "hello?")
        await timed.claim(bot, [site.id], sent.conversation.id)
        wrote.append(sent.conversation.id)
    clock.at(70_000)
    before = bots.now() - 60_000  # a 60 s timeout
    for conversation in reversed(wrote):  # handed off latest first
        assert not (await bots.handoff([site.id], conversation,
                                       unanswered_before=before)).duplicate
    queue = await timed.waiting(site.id)
    assert [c.id for c in queue] == wrote
    assert [c.queued_at - 1_800_000_000_000 for c in queue] == [61_000, 61_500, 62_000]

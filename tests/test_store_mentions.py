"""The notes that mention an agent (the panel's Mentions view), on both stores: listed newest
first with their conversations, only of the agent's sites; found again by the schema step that
brought them in, in the notes written before it; gone with their conversation's erasure."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from server.auth import hash_password
from server.store import SQLiteStore
from server.store.postgres import PostgresStore
from server.store.privacy import Privacy


async def test_the_notes_that_mention_an_agent(store: SQLiteStore) -> None:
    # Each write a millisecond after the last: "newest first" is of distinct times (two notes
    # of the same millisecond came in either order on a fast machine).
    ticks = iter(range(1_800_000_000_000, 1_900_000_000_000))
    store._clock = lambda: next(ticks) / 1000  # type: ignore[method-assign]
    site = await store.create_site("Acme", ["https://acme.test"])
    other = await store.create_site("Other", ["https://other.test"])
    ana = await store.create_agent("ana@acme.test", "Ana", hash_password("x" * 12), "agent",
                                   [site.id, other.id])
    bo = await store.create_agent("bo@acme.test", "Bo", hash_password("x" * 12), "agent",
                                  [site.id, other.id])
    first = (await store.append_visitor_message(site.id, "vis_1", "m1", "Hello")).conversation
    second = (await store.append_visitor_message(other.id, "vis_2", "m1", "Hi")).conversation
    both = [site.id, other.id]
    one = await store.add_note(ana, both, first.id, "n1", "@Bo look", [bo.id])
    two = await store.add_note(ana, both, second.id, "n2", "@Bo and here", [bo.id])
    await store.add_note(ana, both, first.id, "n3", "for nobody")
    await store.add_note(ana, both, first.id, "n1", "@Bo look", [bo.id])  # a resend

    def listed(found: list[Any]) -> list[tuple[str, int, str]]:
        return [(c.id, m.seq, m.body) for m, c, _ in found]

    assert listed(await store.mentions_of(bo.id, both)) == [
        (second.id, two.messages[0].seq, "@Bo and here"), (first.id, one.messages[0].seq,
                                                           "@Bo look")]
    assert listed(await store.mentions_of(bo.id, [site.id])) == [
        (first.id, one.messages[0].seq, "@Bo look")]
    assert await store.mentions_of(ana.id, both) == []
    assert await store.mentions_of(bo.id, []) == []
    [(note, conversation, seen)] = await store.mentions_of(bo.id, both, limit=1)
    assert note.author_id == ana.id and conversation.last_message == "Hi" and not seen
    # Bo opens the first conversation: its note for him is seen, the other not.
    await store.mentions_seen(bo.id, first.id)
    await store.mentions_seen(ana.id, second.id)  # (nothing for her there: nothing written)
    assert [(c.id, seen) for _, c, seen in await store.mentions_of(bo.id, both)] == [
        (second.id, False), (first.id, True)]
    assert await store.mention_seen(bo.id, first.id, one.messages[0].seq)
    assert not await store.mention_seen(bo.id, second.id, two.messages[0].seq)
    # Bo reads the second conversation with it open: its notes up to what he read are seen.
    await store.mentions_seen(bo.id, second.id, up_to=two.messages[0].seq - 1)
    assert not await store.mention_seen(bo.id, second.id, two.messages[0].seq)
    await store.mentions_seen(bo.id, second.id, up_to=two.messages[0].seq)
    assert await store.mention_seen(bo.id, second.id, two.messages[0].seq)

    # Before the schema step, the notes kept their mentions in their data only: the step finds
    # them there.
    await store.close()
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.url) as conn:
            conn.execute("DROP TABLE note_mentions")
            conn.execute("ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
            conn.execute("UPDATE meta SET value = '30' WHERE key = 'schema_version'")
        again: Any = PostgresStore(store.url, clock=store.clock)
    else:
        with sqlite3.connect(store.path) as db:
            db.execute("DROP TABLE note_mentions")
            db.execute("ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
            db.execute("PRAGMA user_version = 30")
        again = SQLiteStore(store.path, clock=store.clock)
    await again.open()
    try:
        # (Found again, and taken as seen: their panels told them then.)
        assert [(c.id, m.seq, seen) for m, c, seen in await again.mentions_of(bo.id, both)] == [
            (second.id, two.messages[0].seq, True), (first.id, one.messages[0].seq, True)]
        # The visitor erased: their conversation's mentions go with it.
        await Privacy(again).erase([other.id], "vis_2", "admin")
        assert [c.id for _, c, _ in await again.mentions_of(bo.id, both)] == [first.id]
        assert await again.read_all("SELECT conversation_id FROM note_mentions") == [
            (first.id,)]
    finally:
        await again.close()

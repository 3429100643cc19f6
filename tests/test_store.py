"""The store's contract (see server/store/__init__.py), on SQLite and on PostgreSQL: every test
that takes the `store` fixture runs on both (tests/conftest.py). Several processes and machines
on one store are in tests/test_store_processes.py."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from server.errors import ChatError, Code
from server.store import Agent, SQLiteStore, StoreClosed
from server.store.migrations import MIGRATIONS
from server.store.postgres import PostgresStore
from server.store.sqlite import migrate
from tests import pg


async def _setup(store: SQLiteStore) -> tuple[str, Agent, Agent]:
    site = await store.create_site("Acme", ["https://acme.test"])
    ana = await store.create_agent("ana@x.test", "Ana", "h", "agent", [site.id])
    bo = await store.create_agent("bo@x.test", "Bo", "h", "agent", [site.id])
    return site.id, ana, bo


async def test_migrations_and_epoch_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = SQLiteStore(path, clock=time.time)
    await first.open()
    epoch = first.epoch
    await first.close()
    again = SQLiteStore(path, clock=time.time)
    await again.open()
    assert again.epoch == epoch and len(epoch) == 16
    await again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_database_of_the_last_release_upgrades_with_its_messages(tmp_path: Path) -> None:
    """Migration 4 rebuilds the messages table: what was there survives, in order."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path, isolation_level=None) as db:
        migrate(db, MIGRATIONS[:3])
        db.execute("INSERT INTO sites(id, name, created_at) VALUES ('s', 'Old', 1)")
        db.execute("INSERT INTO visitors(id, site_id, created_at) VALUES ('v', 's', 1)")
        db.execute("INSERT INTO conversations(id, site_id, visitor_id, status, last_seq, "
                   "created_at, updated_at) VALUES ('c', 's', 'v', 'waiting', 2, 1, 1)")
        db.executemany(
            "INSERT INTO messages VALUES ('c', ?, ?, 'text', 'visitor', 'v', NULL, ?, 1)",
            [(1, "m1", "first"), (2, "m2", "second")])
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    try:
        messages = await store.messages_after("c", 0)
        assert [(m.seq, m.body, m.data) for m in messages] == [(1, "first", None),
                                                               (2, "second", None)]
        site = await store.site("s")
        assert site is not None and site.profile.offline == "form"
        resend = await store.append_visitor_message("s", "v", "m1", "first")
        assert resend.duplicate  # the idempotency index came through the rebuild
    finally:
        await store.close()


async def test_first_message_opens_one_conversation_idempotently(store: SQLiteStore) -> None:
    site, _, _ = await _setup(store)
    first = await store.append_visitor_message(site, "vis_1", "a", "hello")
    assert first.created and first.messages[0].seq == 1
    again = await store.append_visitor_message(site, "vis_1", "a", "hello")
    assert again.duplicate and again.messages[0].seq == 1 and not again.created
    with pytest.raises(ChatError) as info:
        await store.append_visitor_message(site, "vis_1", "a", "hello?")
    assert info.value.code == Code.ID_CONFLICT
    assert len(await store.messages_after(first.conversation.id, 0)) == 1


async def test_a_resend_finds_its_message_in_a_resolved_conversation(store: SQLiteStore) -> None:
    """A widget that resends after a lost ack, once its conversation was resolved (and another
    opened meanwhile), is answered with the message as stored: no second copy in a new
    conversation, nothing added to the open one."""
    site, ana, _ = await _setup(store)
    first = await store.append_visitor_message(site, "vis_1", "m1", "where is my order?")
    old = first.conversation.id
    await store.resolve(ana, [site], old)
    again = await store.append_visitor_message(site, "vis_1", "m1", "where is my order?")
    assert again.duplicate and not again.created
    assert (again.conversation.id, again.messages[0].seq) == (old, 1)
    opened = await store.append_visitor_message(site, "vis_1", "m2", "one more thing")
    assert opened.created and opened.conversation.id != old
    later = await store.append_visitor_message(site, "vis_1", "m1", "where is my order?")
    assert later.duplicate and later.conversation.id == old
    with pytest.raises(ChatError) as info:
        await store.append_visitor_message(site, "vis_1", "m1", "another question")
    assert info.value.code == Code.ID_CONFLICT
    assert [m.client_msg_id for m in await store.messages_after(opened.conversation.id, 0)] == [
        "m2"]
    # The same id is the visitor's again in the conversation it was sent to: a resend.
    assert (await store.append_visitor_message(site, "vis_1", "m2", "one more thing")).duplicate


async def test_a_file_sent_alone_is_resent_harmlessly(store: SQLiteStore) -> None:
    """Before: a message that is only a file was stored with the file's name as its body, and
    its resend (no body) was refused as ``id_conflict``: a widget resending after a lost ack got
    an error for a message that was delivered. The visitor's and the agent's alike."""
    site, ana, _ = await _setup(store)
    for n, uploader in enumerate(("vis_1", ana.id)):
        await store.add_attachment(site, uploader, "tent.png", "image/png", 64, f"file_{n}")
        await store.add_attachment(site, uploader, "pole.png", "image/png", 64, f"other_{n}")
    sent = await store.append_visitor_message(site, "vis_1", "a", "", attachment_id="file_0")
    conv = sent.conversation.id
    again = await store.append_visitor_message(site, "vis_1", "a", "", attachment_id="file_0")
    assert again.duplicate and again.messages[0].seq == sent.messages[0].seq
    replied = await store.append_agent_message(ana, [site], conv, "r", "", attachment_id="file_1")
    resent = await store.append_agent_message(ana, [site], conv, "r", "", attachment_id="file_1")
    assert resent.duplicate and resent.messages[-1].seq == replied.messages[-1].seq
    # The same id with another file, or with a caption the first did not have, is another
    # message.
    for retry in (store.append_visitor_message(site, "vis_1", "a", "", attachment_id="other_0"),
                  store.append_visitor_message(site, "vis_1", "a", "look", attachment_id="file_0"),
                  store.append_visitor_message(site, "vis_1", "a", "tent.png"),  # no file
                  store.append_agent_message(ana, [site], conv, "r", "", attachment_id="other_1")):
        with pytest.raises(ChatError) as info:
            await retry
        assert info.value.code == Code.ID_CONFLICT
    assert [m.seq for m in await store.messages_after(conv, 0)] == [1, 2, 3]  # + joined


async def test_a_visitor_reusing_an_agents_id_in_the_conversation_is_id_conflict(
        store: SQLiteStore) -> None:
    """The visitor is shown the agents' message ids. Before, reusing one in the same
    conversation passed the resend check (the visitor's own messages only), hit the unique
    index, and wedged the writer (``unavailable`` for everyone, test_store_writer.py)."""
    site, ana, _ = await _setup(store)
    conv = (await store.append_visitor_message(site, "vis_1", "m1", "hi")).conversation.id
    await store.append_agent_message(ana, [site], conv, "reply-1", "hello")
    await store.add_note(ana, [site], conv, "note-1", "vip")
    for taken, body in (("reply-1", "hello"), ("reply-1", "other"), ("note-1", "vip")):
        with pytest.raises(ChatError) as info:
            await store.append_visitor_message(site, "vis_1", taken, body)
        assert info.value.code == Code.ID_CONFLICT, taken
    # In another conversation of the visitor's the id is free (ids are per conversation).
    await store.resolve(ana, [site], conv)
    later = await store.append_visitor_message(site, "vis_1", "reply-1", "new question")
    assert later.created and later.conversation.id != conv
    assert [m.seq for m in await store.messages_after(conv, 0)] == [1, 2, 3, 4, 5]


async def test_two_tabs_at_once_open_one_conversation(store: SQLiteStore) -> None:
    site, _, _ = await _setup(store)
    changes = await asyncio.gather(*(store.append_visitor_message(site, "vis_t", f"m{i}", "hi")
                                     for i in range(20)))
    assert len({c.conversation.id for c in changes}) == 1
    assert sum(c.created for c in changes) == 1
    assert sorted(c.messages[0].seq for c in changes) == list(range(1, 21))


async def test_group_commit_shares_transactions(store: SQLiteStore) -> None:
    site, _, _ = await _setup(store)
    commits = store.commits
    await asyncio.gather(*(store.append_visitor_message(site, f"vis_{i % 7}", f"m{i}", "x")
                           for i in range(500)))
    assert store.commits - commits < 50  # 500 writes, a handful of transactions


async def test_a_refused_write_undoes_only_itself(store: SQLiteStore) -> None:
    site, ana, _ = await _setup(store)
    conv = (await store.append_visitor_message(site, "vis_1", "a", "hi")).conversation.id
    results = await asyncio.gather(
        store.append_visitor_message(site, "vis_1", "b", "one"),
        store.append_visitor_message(site, "vis_1", "a", "conflict"),
        store.append_agent_message(ana, ["other_site"], conv, "x", "nope"),
        store.append_visitor_message(site, "vis_1", "c", "two"),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["Change", "ChatError", "ChatError", "Change"]
    assert [m.body for m in await store.messages_after(conv, 0)] == ["hi", "one", "two"]


async def test_a_write_the_database_refuses_undoes_only_itself(store: SQLiteStore) -> None:
    """A unique index refuses one write of a batch (PostgreSQL learns it only when the
    pipelined batch reaches the server, and runs the batch again a statement at a time): that
    write fails with its own error, the others of its batch commit."""
    site, _, _ = await _setup(store)
    replays = getattr(store, "replays", 0)
    results = await asyncio.gather(
        store.append_visitor_message(site, "vis_1", "a", "before"),
        store.create_agent("ANA@x.test", "Ana again", "h", "agent", [site]),  # email taken
        store.create_site("Beta", []),
        store.append_visitor_message(site, "vis_1", "b", "after"),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["Change", "ValueError", "Site", "Change"]
    assert [m.body for m in await store.messages_after(results[0].conversation.id, 0)] == [
        "before", "after"]
    assert sorted(s.name for s in await store.sites()) == ["Acme", "Beta"]
    assert sorted(a.name for a in await store.agents()) == ["Ana", "Bo"]
    if isinstance(store, PostgresStore):
        assert store.replays == replays + 1


async def test_claim_reply_resolve(store: SQLiteStore) -> None:
    site, ana, bo = await _setup(store)
    sites = [site]
    conv = (await store.append_visitor_message(site, "vis_1", "a", "hi")).conversation.id
    claimed = await store.claim(ana, sites, conv)
    assert claimed.conversation.status == "assigned"
    assert claimed.conversation.assignee_name == "Ana"
    assert [m.kind for m in claimed.messages] == ["joined"]
    with pytest.raises(ChatError) as info:
        await store.claim(bo, sites, conv)
    assert info.value.code == Code.ALREADY_CLAIMED
    with pytest.raises(ChatError) as info:
        await store.append_agent_message(bo, sites, conv, "b1", "mine?")
    assert info.value.code == Code.NOT_ASSIGNEE
    assert (await store.claim(ana, sites, conv)).duplicate
    reply = await store.append_agent_message(ana, sites, conv, "a1", "hello")
    assert reply.messages[0].seq == 3
    assert (await store.append_agent_message(ana, sites, conv, "a1", "hello")).duplicate
    with pytest.raises(ChatError):
        await store.append_agent_message(bo, sites, conv, "a1", "hello")  # another's id
    resolved = await store.resolve(ana, sites, conv)
    assert resolved.conversation.status == "resolved" and resolved.messages[0].seq == 4
    assert (await store.resolve(ana, sites, conv)).duplicate
    with pytest.raises(ChatError) as info:
        await store.append_agent_message(ana, sites, conv, "a2", "late")
    assert info.value.code == Code.RESOLVED
    nxt = await store.append_visitor_message(site, "vis_1", "z", "back again")
    assert nxt.created and nxt.conversation.id != conv
    current = await store.current_conversation("vis_1")
    assert current is not None and current.id == nxt.conversation.id


async def test_reply_to_a_waiting_conversation_claims_it(store: SQLiteStore) -> None:
    site, ana, _ = await _setup(store)
    conv = (await store.append_visitor_message(site, "vis_1", "a", "hi")).conversation.id
    change = await store.append_agent_message(ana, [site], conv, "r", "on it")
    assert [m.kind for m in change.messages] == ["joined", "text"]
    assert change.conversation.assignee_id == ana.id


async def test_another_sites_conversation_is_not_found(store: SQLiteStore) -> None:
    site, ana, _ = await _setup(store)
    other = await store.create_site("Other", [])
    conv = (await store.append_visitor_message(other.id, "vis_o", "a", "hi")).conversation.id
    for op in (store.claim(ana, [site], conv), store.resolve(ana, [site], conv),
               store.append_agent_message(ana, [site], conv, "x", "hi")):
        with pytest.raises(ChatError) as info:
            await op
        assert info.value.code == Code.NOT_FOUND
    assert [m.seq for m in await store.messages_after(conv, 0)] == [1]


async def test_the_summary_a_message_returns_is_the_stored_one(store: SQLiteStore) -> None:
    """The append's own UPDATE returns the conversation's summary (no second read of the row):
    it must be what a read gives, names, tags, team, snooze and all."""
    site, ana, _ = await _setup(store)
    first = await store.append_visitor_message(site, "vis_s", "m1", "hello")
    conv = first.conversation.id
    assert first.conversation == await store.conversation(conv)
    await store.set_visitor_profile(site, "vis_s", "Zoe", "zoe@x.test")
    await store.set_tag([site], conv, "billing", True)
    await store.set_tag([site], conv, "alpha", True)
    team = await store.save_team(None, "Sales", [ana.id], site_id=site)
    await store.assign_team([site], conv, team.id)
    await store.snooze([site], conv, int(time.time() * 1000) + 60_000)
    reply = await store.append_agent_message(ana, [site], conv, "a1", "hi Zoe")
    assert reply.conversation == await store.conversation(conv)
    again = await store.append_visitor_message(site, "vis_s", "m2", "thanks")
    assert again.conversation == await store.conversation(conv)
    assert again.conversation.tags == ("alpha", "billing") and again.conversation.unread == 2


async def test_a_snooze_is_at_most_365_days_ahead(store: SQLiteStore) -> None:
    """As a follow-up (docs/protocol.md): before, a snooze took any time, years ahead, and the
    conversation was out of every inbox until then."""
    site, _, _ = await _setup(store)
    conv = (await store.append_visitor_message(site, "vis_z", "m1", "hello")).conversation.id
    now = 1_800_000_000_000
    store._clock = lambda: now / 1000  # type: ignore[method-assign]
    year = 365 * 24 * 3600 * 1000
    for until in (now, now + year + 1, 2**53):
        with pytest.raises(ChatError) as info:
            await store.snooze([site], conv, until)
        assert info.value.code == Code.BAD_FRAME and "365 days" in info.value.message
    assert (await store.conversation(conv)).snoozed_until is None  # type: ignore[union-attr]
    assert (await store.snooze([site], conv, now + year)).snoozed_until == now + year


async def test_tags_already_there_are_no_twenty_first_and_no_change(
        store: SQLiteStore) -> None:
    """Before: with 20 tags, adding one of them again was refused as ``too_many``; and adding
    a tag the conversation had, or removing one it had not, moved it to the top of the
    activity order as if it had changed."""
    site, _, _ = await _setup(store)
    conv = (await store.append_visitor_message(site, "vis_t", "m1", "hello")).conversation.id
    for n in range(20):
        tagged = await store.set_tag([site], conv, f"t{n}", True)
    assert len(tagged.tags) == 20
    with pytest.raises(ChatError) as info:
        await store.set_tag([site], conv, "t20", True)
    assert info.value.code == Code.TOO_MANY
    store._clock = lambda: time.time() + 60  # type: ignore[method-assign]
    for again in (store.set_tag([site], conv, "t5", True),
                  store.set_tag([site], conv, "never", False)):
        unchanged = await again
        assert (unchanged.tags, unchanged.updated_at) == (tagged.tags, tagged.updated_at)
    removed = await store.set_tag([site], conv, "t5", False)
    assert len(removed.tags) == 19 and removed.updated_at > tagged.updated_at


async def test_paging(store: SQLiteStore) -> None:
    site, _, _ = await _setup(store)
    for i in range(1, 11):
        conv = (await store.append_visitor_message(site, "vis", f"m{i}", str(i))).conversation.id
    assert [m.seq for m in await store.messages_after(conv, 3, limit=4)] == [4, 5, 6, 7]
    assert [m.seq for m in await store.messages_before(conv, 8, limit=3)] == [5, 6, 7]
    assert await store.messages_after(conv, 10) == []


async def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "c.db", clock=time.time)
    await s.open()
    await s.close()
    with pytest.raises(StoreClosed):
        await s.create_site("x", [])


async def test_a_site_has_a_name(store: SQLiteStore) -> None:
    """Before, ``create_site`` took an empty or blank name (``livechat site create ""``),
    which renaming refuses."""
    for name in ("", "   ", "\t\n", "x" * 101):
        with pytest.raises(ValueError, match="a site name is 1 to 100 characters"):
            await store.create_site(name, [])
    assert await store.sites() == []
    assert (await store.create_site("  Acme  ", [])).name == "Acme"
    assert [site.name for site in await store.sites()] == ["Acme"]


async def test_agent_site_scope(store: SQLiteStore) -> None:
    site, ana, _ = await _setup(store)
    other = await store.create_site("Other", [])
    admin = await store.create_agent("root@x.test", "Root", "h", "admin", [])
    assert await store.agent_site_ids(ana) == [site]
    assert await store.agent_site_ids(admin) == sorted([site, other.id])
    with pytest.raises(ValueError):
        await store.create_agent("ANA@x.test", "Dup", "h", "agent", [])  # emails ignore case


async def test_unread_counts_the_visitors_messages_no_agent_has_seen(store: SQLiteStore) -> None:
    site_id, ana, _ = await _setup(store)
    for i in range(3):
        change = await store.append_visitor_message(site_id, "vis_u", f"m{i}", f"hello {i}")
    conv = change.conversation
    assert conv.unread == 3
    await store.add_note(ana, [site_id], conv.id, "n1", "a note is not unread")
    reply = await store.append_agent_message(ana, [site_id], conv.id, "r1", "hi")
    assert reply.conversation.unread == 3  # (the claim and the reply are the agent's)
    assert await store.mark_read(conv.id, "agent", 2) == 2
    after = await store.conversation(conv.id)
    assert after is not None and after.unread == 1
    assert await store.mark_read(conv.id, "visitor", 99) == after.last_seq  # not the agents'
    assert (await store.conversation(conv.id)).unread == 1  # type: ignore[union-attr]
    await store.mark_read(conv.id, "agent", 99)
    assert (await store.conversation(conv.id)).unread == 0  # type: ignore[union-attr]


_OUTBOX = """
    CREATE TABLE outbox_test (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site_id TEXT NOT NULL REFERENCES sites(id),
        address TEXT NOT NULL COLLATE NOCASE,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX outbox_test_site ON outbox_test(site_id, created_at);
"""


async def test_a_new_step_is_written_once_for_both_stores(
        tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next step of MIGRATIONS (another feature's table, in the SQL both share) is applied
    on either store, by one of several stores opening at once, and its rows work."""
    monkeypatch.setattr("server.store.pg_schema.MIGRATIONS", (*MIGRATIONS, _OUTBOX))
    monkeypatch.setattr("server.store.sqlite.migrate",
                        lambda db: migrate(db, (*MIGRATIONS, _OUTBOX)))
    with contextlib.ExitStack() as stack:
        url = pg.store_url(backend, tmp_path, stack)
        stores: list[Any] = [
            SQLiteStore(url, clock=time.time) if backend == "sqlite"
            else PostgresStore(url, clock=time.time) for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            site = await stores[0].create_site("Acme", [])
            later = 2**41  # a time in milliseconds: more than 32 bits
            await stores[1]._submit(lambda db: db.execute(
                "INSERT INTO outbox_test(site_id, address, created_at) VALUES (?, ?, ?)",
                (site.id, "Ana@X.test", later)))
            rows = await stores[2]._all(
                "SELECT id, created_at FROM outbox_test WHERE address = ?", ("ana@x.test",))
            assert [tuple(r) for r in rows] == [(1, later)]
        finally:
            for s in stores:
                await s.close()
    if backend == "sqlite":
        with sqlite3.connect(url) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1


async def test_the_inbox_holds_every_open_conversation_assigned_first(
        store: SQLiteStore) -> None:
    """The panel's inbox stopped at 500 open conversations, the oldest: past that an agent's
    own newest conversation was missing after a reload and every count was wrong (a black-box
    test with 601 open). Every one now, up to 10,000; past a limit the assigned come first."""
    site, ana, _ = await _setup(store)
    for n in range(505):
        await store.append_visitor_message(site, f"vis_{n:04}", "m1", "hello")
    newest = (await store.append_visitor_message(site, "vis_new", "m1", "mine")).conversation
    await store.claim(ana, [site], newest.id)
    everything = await store.open_conversations([site])
    assert len(everything) == 506 and newest.id in {c.id for c in everything}
    first = await store.open_conversations([site], limit=3)
    assert first[0].id == newest.id and len(first) == 3
    assert [c.status for c in first] == ["assigned", "waiting", "waiting"]

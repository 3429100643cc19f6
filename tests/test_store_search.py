"""The store's search, on SQLite and on PostgreSQL where a test takes the `store` fixture
(tests/conftest.py): every acknowledged message found, in the widget's languages, newest first;
and SQLite's indexer, which moves the messages into its index after their commit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from server.errors import Unavailable
from server.store import SQLiteStore
from server.store.backup import backup, restore
from server.store.privacy import Privacy
from server.store.sqlite_search import drop_search_file
from tests.test_store import _setup


async def test_search_indexing_is_never_lost(tmp_path: Path) -> None:
    """Messages are indexed in bulk after their commit; what a crash left pending is indexed by
    the next store to open the file, and a search always sees every acknowledged message."""
    path = tmp_path / "s.db"
    first = SQLiteStore(path, clock=time.time)
    await first.open()
    first.index_interval = 3600  # the indexer never runs by itself here
    site = await first.create_site("Acme", [])
    change = await first.append_visitor_message(site.id, "vis_s", "m1", "tent pole snapped")
    await first.close()  # "crashed" with the message still pending
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM fts_pending").fetchone()[0] == 1
    again = SQLiteStore(path, clock=time.time)
    await again.open()
    try:
        assert await again.index_pending() == 1
        hits = await again.search([site.id], "pole")
        assert [(h.conversation.id, h.seq) for h in hits] == [(change.conversation.id, 1)]
        await again.append_visitor_message(site.id, "vis_s", "m2", "and the fly sheet")
        assert [h.seq for h in await again.search([site.id], "sheet")] == [2]  # at once
    finally:
        await again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM fts_pending").fetchone()[0] == 0


def _indexed(path: Path) -> list[tuple[str, int, int]]:
    """(conversation, seq, the message's time) of each row of the search index, in its order."""
    with sqlite3.connect(f"{path}-search") as db:
        db.execute("ATTACH DATABASE ? AS store", (str(path),))
        return db.execute("SELECT f.conversation_id, f.seq, m.created_at FROM messages_fts f "
                          "JOIN store.messages m ON m.conversation_id = f.conversation_id "
                          "AND m.seq = f.seq ORDER BY f.rowid").fetchall()


async def test_the_indexer_takes_each_pending_message_once_in_time_order(tmp_path: Path) -> None:
    """A message indexed by a step whose process died before it took the message off
    ``fts_pending`` is not indexed again; one taken off it by someone else (another process's
    indexer, or an erasure) before a step reads it is not indexed here; and the index's rowids
    follow the messages' time across steps (the search reads them newest first)."""
    path = tmp_path / "i.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    store.index_interval = 3600  # indexed by hand here
    try:
        site = await store.create_site("Acme", [])
        for n in range(2_100):  # more than one step of the indexer
            await store.append_visitor_message(site.id, f"vis_{n % 7}", f"m{n}", f"word{n}")
        # A step whose process died after the index's commit: indexed, still pending.
        assert len(await store.search_index.step(300)) == 300
        rows = await store._all("SELECT conversation_id, seq FROM fts_pending")
        assert len(rows) == 2_100
        gone = rows[::50]  # taken meanwhile by someone else
        with sqlite3.connect(path) as db:
            db.executemany("DELETE FROM fts_pending WHERE conversation_id = ? AND seq = ?", gone)
        await store.index_pending()
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM fts_pending").fetchone()[0] == 0
        indexed = _indexed(path)
        keys = {(c, q) for c, q, _ in indexed}
        assert len(indexed) == len(keys)  # each once
        first = {(c, q) for c, q, _ in indexed[:300]}
        assert keys == {tuple(r) for r in rows} - ({tuple(g) for g in gone} - first)
        # The order they were written in (within a millisecond, by conversation and seq).
        assert indexed == sorted(indexed, key=lambda r: (r[2], r[0], r[1]))
        assert [h.seq for h in await store.search([site.id], "word2099")] == [300]
    finally:
        await store.close()


async def test_two_processes_indexing_at_once_index_each_message_once(tmp_path: Path) -> None:
    """Two stores on one file (as two processes are) index the same pending messages at once:
    the index's lock takes their steps in turn, and ``indexed`` keeps the second from adding
    what the first did."""
    path = tmp_path / "two.db"
    first, second = SQLiteStore(path, clock=time.time), SQLiteStore(path, clock=time.time)
    await first.open()
    await second.open()
    try:
        first.index_interval = second.index_interval = 3600
        site = await first.create_site("Acme", [])
        await asyncio.gather(*(
            (first if n % 2 else second).append_visitor_message(
                site.id, f"vis_{n % 9}", f"m{n}", f"lantern{n}") for n in range(3_000)))
        await asyncio.gather(first.index_pending(), second.index_pending(),
                             first.index_pending())
        indexed = _indexed(path)
        assert len(indexed) == len({(c, q) for c, q, _ in indexed}) == 3_000
        assert len(await second.search([site.id], "lantern2999")) == 1
    finally:
        await first.close()
        await second.close()


async def test_the_search_index_is_made_again_when_lost_or_restored(tmp_path: Path) -> None:
    """The index is a file of its own beside the database: lost, it is made again from the
    messages when the store opens; after a restore (a new epoch) too, so that it holds exactly
    what the restored messages say."""
    path = tmp_path / "r.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    site = await store.create_site("Acme", [])
    change = await store.append_visitor_message(site.id, "vis_r", "m1", "my kayak leaks")
    assert len(await store.search([site.id], "kayak")) == 1
    await store.close()
    drop_search_file(path)
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    hits = await store.search([site.id], "kayak")
    assert [(h.conversation.id, h.seq) for h in hits] == [(change.conversation.id, 1)]
    await store.close()
    backup(path, tmp_path / "b.db", tmp_path / "uploads", lambda done, total: None)
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    await store.append_visitor_message(site.id, "vis_r", "m2", "and the paddle snapped")
    assert len(await store.search([site.id], "paddle")) == 1
    await store.close()
    restore(tmp_path / "b.db", path, tmp_path / "uploads", lambda done, total: None)
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    try:
        assert await store.search([site.id], "paddle") == []  # not in the restored record
        assert [h.seq for h in await store.search([site.id], "kayak")] == [1]
        assert [(c, q) for c, q, _ in _indexed(path)] == [(change.conversation.id, 1)]
    finally:
        await store.close()


async def test_a_store_upgraded_to_the_index_file_finds_what_it_found_before(
        tmp_path: Path) -> None:
    """Schema step 26 moves the index out of the database: a store at step 25 (its index a
    table of the database) opens with every message found, what was pending still pending, and
    no index left in the database."""
    path = tmp_path / "old.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    site = await store.create_site("Acme", [])
    for n in range(5):
        await store.append_visitor_message(site.id, f"vis_{n % 2}", f"m{n}", f"harbour{n}")
    await store.close()
    drop_search_file(path)
    with sqlite3.connect(path) as db:  # as step 25 left it: three indexed, two pending
        db.executescript("""
            CREATE VIRTUAL TABLE messages_fts USING fts5(body, conversation_id UNINDEXED,
                seq UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
            DROP TABLE fts_forget;
            DELETE FROM fts_pending;
            ALTER TABLE conversations DROP COLUMN first_reply_at;
            DROP INDEX conversations_site_status;
            ALTER TABLE conversations DROP COLUMN queued_at;
            ALTER TABLE agent_email_prefs DROP COLUMN mentioned;
        """)
        written = db.execute("SELECT conversation_id, seq, body FROM messages "
                             "ORDER BY created_at, conversation_id, seq").fetchall()
        db.executemany("INSERT INTO messages_fts(body, conversation_id, seq) VALUES (?, ?, ?)",
                       [(b, c, q) for c, q, b in written[:3]])
        db.executemany("INSERT INTO fts_pending VALUES (?, ?)",
                       [(c, q) for c, q, _ in written[3:]])
        db.execute("PRAGMA user_version = 25")
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    try:
        store.index_interval = 3600
        assert sorted(await store._all("SELECT conversation_id, seq FROM fts_pending")) == sorted(
            (c, q) for c, q, _ in written[3:])
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM sqlite_master "
                              "WHERE name LIKE 'messages_fts%'").fetchone()[0] == 0
        for n in range(5):
            assert len(await store.search([site.id], f"harbour{n}")) == 1
        assert sorted((c, q) for c, q, _ in _indexed(path)) == sorted(
            (c, q) for c, q, _ in written)
    finally:
        await store.close()


async def test_an_erasure_cut_short_is_forgotten_by_the_next_indexer_round(
        tmp_path: Path) -> None:
    """An erasure records the conversations whose rows the index must lose (``fts_forget``)
    in its own transaction; when the process dies before they are deleted from the index's
    file, the next store's indexer deletes them."""
    path = tmp_path / "e.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    store.index_interval = 3600
    site = await store.create_site("Acme", [])
    gone = await store.append_visitor_message(site.id, "vis_gone", "m1", "zebra crossing 4411")
    kept = await store.append_visitor_message(site.id, "vis_kept", "m1", "zebra finch 4412")
    await store.index_pending()

    async def dies_first(merge: bool = False) -> None:
        raise asyncio.CancelledError  # (the process dies after the erasure's commit)

    store.forget_indexed = dies_first  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await Privacy(store).erase([site.id], "vis_gone", "test")
    await store.close()
    assert {c for c, _, _ in _indexed(path)} == {gone.conversation.id, kept.conversation.id}
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    try:
        await store.forget_indexed()  # what the indexer's next round does
        assert [c for c, _, _ in _indexed(path)] == [kept.conversation.id]
        assert await store._all("SELECT * FROM fts_forget") == []
        assert [h.conversation.id for h in await store.search([site.id], "zebra")] == [
            kept.conversation.id]
    finally:
        await store.close()


@pytest.mark.parametrize("said, query", [
    ("Je l'ai déjà payé", "deja paye"),                  # French, accents ignored
    ("¿Dónde está mi canción?", "cancion donde"),       # Spanish
    ("A ação foi concluída", "acao concl"),              # Portuguese, a prefix
    ("Herr Müller wartet", "muller"),                    # German
    # Greek: SQLite's FTS5 keeps the tonos (its remove_diacritics is for Latin letters), so
    # the query has it; PostgreSQL's unaccent would find "καλημερα" too.
    ("Καλημέρα, η παραγγελία μου", "καλημέρα παραγγ"),
    ("مرحبا، أين طلبي", "مرحبا طلب"),                    # Arabic
    ("שלום, איפה ההזמנה שלי", "שלום ההזמ"),              # Hebrew
])
async def test_search_in_the_widgets_languages(store: SQLiteStore, said: str, query: str) -> None:
    site, _, _ = await _setup(store)
    change = await store.append_visitor_message(site, "vis_l", "m", said)
    await store.append_visitor_message(site, "vis_other", "m", "nothing to see here")
    hits = await store.search([site], query)
    assert [(h.conversation.id, h.seq) for h in hits] == [(change.conversation.id, 1)]
    assert "[" in hits[0].snippet and "]" in hits[0].snippet


async def test_search_finds_the_newest_message_first(store: SQLiteStore) -> None:
    """Newest message first, across conversations: the search reads its index backwards and
    stops at the page (before, every match was sorted by its conversation's activity, which
    cost 534 ms at p99 with 1,000,000 messages stored; docs/benchmarks.md)."""
    site, _, _ = await _setup(store)
    now = [1_700_000_000.0]

    def clock() -> float:  # 10 ms between writes (1 ms could round to the same millisecond)
        now[0] += 0.01
        return now[0]

    store._clock = clock
    a = await store.append_visitor_message(site, "vis_a", "a1", "my parcel is late")
    b = await store.append_visitor_message(site, "vis_b", "b1", "parcel never came")
    await store.append_visitor_message(site, "vis_a", "a2", "any news about the parcel?")
    hits = await store.search([site], "parcel")
    a_id, b_id = a.conversation.id, b.conversation.id
    assert [(h.conversation.id, h.seq) for h in hits] == [(a_id, 2), (b_id, 1), (a_id, 1)]
    assert [(h.conversation.id, h.seq) for h in await store.search([site], "parcel", 2)] == [
        (a_id, 2), (b_id, 1)]


async def test_an_index_that_cannot_be_written_makes_a_search_unavailable_not_an_error(
        tmp_path: Path) -> None:
    """The index's file locked past ``busy_timeout`` (another process holding it; a full disk
    is the same kind of trouble): a search is answered ``Unavailable`` (the client retries), not
    with SQLite's exception, and works again once the file can be written."""
    path = tmp_path / "busy.db"
    store = SQLiteStore(path, clock=time.time, busy_timeout=0.05)
    await store.open()
    try:
        store.index_interval = 3600
        site = await store.create_site("Acme", [])
        await store.append_visitor_message(site.id, "vis_b", "m1", "quince jam")
        holder = sqlite3.connect(f"{path}-search", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable):
            await store.search([site.id], "quince")
        holder.execute("ROLLBACK")
        holder.close()
        assert len(await store.search([site.id], "quince")) == 1
    finally:
        await store.close()

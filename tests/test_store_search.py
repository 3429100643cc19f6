"""The store's search, on SQLite and on PostgreSQL where a test takes the `store` fixture
(tests/conftest.py): every acknowledged message found, in the widget's languages, newest first;
and SQLite's indexer, which moves the messages into its index after their commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from server.store import SQLiteStore
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


async def test_the_indexer_takes_each_pending_message_once_in_time_order(tmp_path: Path) -> None:
    """A message taken off ``fts_pending`` since the indexer's round read it (by another
    process's indexer, or an erasure) is not indexed again, and the index's rowids follow the
    messages' time across rounds (the search reads them newest first)."""
    path = tmp_path / "i.db"
    store = SQLiteStore(path, clock=time.time)
    await store.open()
    store.index_interval = 3600  # indexed by hand here
    try:
        site = await store.create_site("Acme", [])
        for n in range(2_100):  # more than one round of the indexer
            await store.append_visitor_message(site.id, f"vis_{n % 7}", f"m{n}", f"word{n}")
        rows = await store._all("SELECT conversation_id, seq FROM fts_pending")
        # Taken meanwhile by someone else: indexed by them, not here.
        gone = rows[::50]
        # The round read them all before they were taken: each is skipped by its step.
        read = store._all
        taken_meanwhile = False

        async def reads_then_taken(sql: str, params: Any = ()) -> list[Any]:
            nonlocal taken_meanwhile
            rows = await read(sql, params)
            if "fts_pending" in sql and not taken_meanwhile:
                taken_meanwhile = True
                with sqlite3.connect(path) as db:
                    db.executemany("DELETE FROM fts_pending WHERE conversation_id = ? "
                                   "AND seq = ?", gone)
            return rows

        store._all = reads_then_taken  # type: ignore[method-assign]
        await store.index_pending()
        assert taken_meanwhile
        with sqlite3.connect(path) as db:
            indexed = db.execute("SELECT f.conversation_id, f.seq, m.created_at FROM "
                                 "messages_fts f JOIN messages m ON m.conversation_id = "
                                 "f.conversation_id AND m.seq = f.seq ORDER BY f.rowid").fetchall()
            assert db.execute("SELECT count(*) FROM fts_pending").fetchone()[0] == 0
        assert len(indexed) == len({(c, q) for c, q, _ in indexed}) == 2_100 - len(gone)
        assert not {(c, q) for c, q, _ in indexed} & {tuple(g) for g in gone}
        # The order they were written in (within a millisecond, by conversation and seq).
        assert indexed == sorted(indexed, key=lambda r: (r[2], r[0], r[1]))
        assert [h.seq for h in await store.search([site.id], "word2099")] == [300]
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

"""Search over what people wrote: messages and notes matching every word of a query (prefixes
too, accents ignored), and visitors by name or email, newest first.

The index is each database's own: SQLite's FTS5 (``unicode61 remove_diacritics 2``, filled in
bulk after the commit by the store's indexer) and PostgreSQL's text search (the ``livechat``
configuration: ``simple`` words after ``unaccent``, a GIN index over messages and notes, kept by
the write itself). Neither stems: a chat mixes languages (the widget speaks English, French,
German, Spanish, Portuguese, Greek, Arabic and Hebrew), and a prefix match finds the other
forms of a word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from server.store.activity import newest_first
from server.store.base import CONV_COLS, Base, conv_row, marks
from server.store.models import Hit
from server.store.pg_schema import SEARCH_SPLIT, searchable

_MAX_WORDS = 8
#: What a word may not carry into a tsquery (its operators); the rest is quoted.
_TSQUERY_SPECIAL = re.compile(r"[&|!():*<>'\\]")
_SPLIT = str.maketrans(SEARCH_SPLIT, " " * len(SEARCH_SPLIT))
_JOINS = ("JOIN conversations c ON c.id = {m}.conversation_id "
          "LEFT JOIN agents a ON a.id = c.assignee_id "
          "LEFT JOIN visitors v ON v.id = c.visitor_id ")


class SearchStore(Protocol):
    """What ``Search`` offers (``server.store.Store`` is every such protocol)."""

    async def search(self, site_ids: Sequence[str], query: str, limit: int = 30) -> list[Hit]: ...


class Search(Base):
    """The shared half: words, the search for people, merging the two."""

    async def search(self, site_ids: Sequence[str], query: str, limit: int = 30) -> list[Hit]:
        """Messages and notes matching every word of ``query`` (prefixes too, accents
        ignored), newest message first, then visitors by name or email, in these sites'
        conversations (by their latest activity)."""
        words = [w for w in query.split() if w][:_MAX_WORDS]
        if not words or not site_ids:
            return []
        await self.index_pending()  # every acknowledged message is found
        hits = [Hit(conv_row(r), r[-2], r[-1])
                for r in await self._messages(site_ids, words, limit)]
        escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped.lower()}%"
        people = await self._all(*newest_first(
            [f"c.site_id IN ({marks(site_ids)})",
             "(lower(v.name) LIKE ? ESCAPE '\\' OR lower(v.email) LIKE ? ESCAPE '\\')"],
            (*site_ids, like, like), None, limit))
        seen = {h.conversation.id for h in hits}
        # (What matched: the email, when the name does not hold the words. A black-box tester
        # searching for a domain was shown the name.)
        wanted = query.strip().lower()
        hits += [Hit(conv_row(r), 0, r[10] if r[10] and wanted in r[10].lower()
                     else r[11] or r[10] or "") for r in people if r[0] not in seen]
        return hits[:limit]

    async def _messages(self, site_ids: Sequence[str], words: list[str],
                        limit: int) -> list[Any]:
        """Rows of ``CONV_COLS``, then the message's seq and its snippet."""
        raise NotImplementedError


class SQLiteSearch(Search):
    async def _messages(self, site_ids: Sequence[str], words: list[str],
                        limit: int) -> list[Any]:
        match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        return await self._all(
            # (The index is a database of its own, attached to the reader as ``search``:
            # server/store/sqlite_search.py.)
            f"SELECT {CONV_COLS}, messages_fts.seq, "
            "snippet(messages_fts, 0, '[', ']', '…', 12) FROM search.messages_fts "
            + _JOINS.format(m="messages_fts") +
            f"WHERE messages_fts MATCH ? AND c.site_id IN ({marks(site_ids)}) "
            # The index's own order (rowid: messages are indexed oldest first, sqlite_search.py),
            # which FTS5 reads backwards and stops at LIMIT: the cost follows the page, not the
            # number of matches (sorting every match by its conversation took 534 ms at p99 with
            # 1,000,000 messages stored, docs/benchmarks.md).
            "ORDER BY messages_fts.rowid DESC LIMIT ?",
            (match, *site_ids, limit))


class PostgresSearch(Search):
    async def _messages(self, site_ids: Sequence[str], words: list[str],
                        limit: int) -> list[Any]:
        # A word the index split ("A-17": searchable) is its parts, in their order.
        terms = [" ".join(_TSQUERY_SPECIAL.sub(" ", w.translate(_SPLIT)).split()) for w in words]
        terms = [t for t in terms if t]
        if not terms:
            return []
        query = " & ".join("'" + t.replace("'", "''") + "':*" for t in terms)
        return await self._all(
            f"SELECT {CONV_COLS}, m.seq, ts_headline('livechat', m.body, q.q, "
            "'StartSel=[, StopSel=], MaxWords=12, MinWords=4, ShortWord=1, MaxFragments=1, "
            "FragmentDelimiter=…') FROM messages m " + _JOINS.format(m="m") +
            "CROSS JOIN (SELECT to_tsquery('livechat', ?) AS q) q "
            f"WHERE m.kind IN ('text', 'note') AND to_tsvector('livechat', {searchable('m.body')}) "
            "@@ q.q "
            f"AND c.site_id IN ({marks(site_ids)}) "
            "ORDER BY m.created_at DESC, m.seq DESC LIMIT ?",
            (query, *site_ids, limit))

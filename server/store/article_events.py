"""What visitors did with the knowledge base's articles (searches, views, suggestions opened,
votes) and the report made of it: a part of ``Articles`` (server/store/articles.py), in SQL both
databases share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from server.store.article_models import EVENT_KINDS, EventKind
from server.store.base import DB

if TYPE_CHECKING:
    from server.store.base import Base


class ArticleEvents:
    """``ArticleStore``'s record of visitors' events and its report (a part of ``Articles``)."""

    _store: Base

    async def record(self, site_id: str, kind: EventKind, *, article_id: str | None = None,
                     visitor_id: str | None = None, query: str | None = None,
                     results: int | None = None, helpful: bool | None = None) -> None:
        """Remember a search, a view, a suggestion opened, or a vote. A vote is one
        per visitor and article (a second one replaces the first)."""
        if kind not in EVENT_KINDS:
            raise ValueError("unknown event")
        now = int(self._store._clock() * 1000)

        def op(db: DB) -> None:
            if kind == "vote" and visitor_id is not None:
                db.execute("DELETE FROM kb_events WHERE kind = 'vote' AND visitor_id = ? "
                           "AND article_id = ?", (visitor_id, article_id))
            db.execute(
                "INSERT INTO kb_events(site_id, kind, article_id, visitor_id, query, results, "
                "helpful, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (site_id, kind, article_id, visitor_id, query, results,
                 None if helpful is None else int(helpful), now))

        await self._store._submit(op)

    async def stats(self, site_ids: Sequence[str], start: int, end: int) -> dict[str, Any]:
        """The knowledge base's report for [start, end) (ms): searches, and those without a
        result (the 50 most asked, case ignored), views (in the widget and the help centre) per
        article (the 200 most viewed), suggestions opened and how many of them ended the matter
        (the visitor started no conversation afterwards), and the votes."""
        if not site_ids:
            return {"searches": 0, "searches_without_result": 0, "views": 0, "no_results": [],
                    "articles": [], "suggestions_opened": 0, "suggestions_accepted": 0,
                    "helpful": 0, "not_helpful": 0, "helpful_percent": None}
        marks = ",".join("?" * len(site_ids))
        where = f"e.site_id IN ({marks}) AND e.created_at >= ? AND e.created_at < ?"
        args = (*site_ids, start, end)
        searches = _count("e.kind = 'search'")
        missed = _count("e.kind = 'search' AND e.results = 0")
        views, opened_ = _count("e.kind = 'view'"), _count("e.kind = 'suggestion_opened'")
        yes, no = _count("e.helpful = 1"), _count("e.helpful = 0")
        voted_yes = _count("e.kind = 'vote' AND e.helpful = 1")
        voted_no = _count("e.kind = 'vote' AND e.helpful = 0")
        counts = (await self._store._all(
            f"SELECT {searches}, {missed}, {views} FROM kb_events e WHERE {where}", args))[0]
        misses = await self._store._all(
            f"SELECT lower(e.query), count(*), max(e.created_at) FROM kb_events e WHERE {where} "
            "AND e.kind = 'search' AND e.results = 0 AND e.query IS NOT NULL "
            "GROUP BY lower(e.query) "
            "ORDER BY count(*) DESC, max(e.created_at) DESC LIMIT 50", args)
        articles = await self._store._all(
            f"SELECT e.article_id, a.title, a.lang, {views}, {opened_}, "
            f"{voted_yes}, {voted_no} "
            f"FROM kb_events e JOIN articles a ON a.id = e.article_id WHERE {where} "
            f"GROUP BY e.article_id, a.title, a.lang ORDER BY {views} DESC, a.title LIMIT 200",
            args)
        # Accepted: the visitor who opened a suggestion started no conversation after it.
        accepted = _count("NOT EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = "
                          "e.visitor_id AND c.created_at >= e.created_at)")
        opened = await self._store._all(
            f"SELECT count(*), {accepted} FROM kb_events e WHERE {where} "
            "AND e.kind = 'suggestion_opened'", args)
        votes = await self._store._all(
            f"SELECT {yes}, {no} FROM kb_events e WHERE {where} AND e.kind = 'vote'", args)
        helpful, not_helpful = votes[0][0] or 0, votes[0][1] or 0
        return {
            "searches": counts[0] or 0,
            "searches_without_result": counts[1] or 0,
            "views": counts[2] or 0,
            "no_results": [{"query": q, "count": n, "last": last} for q, n, last in misses],
            "articles": [{"id": i, "title": t, "lang": la, "views": v or 0,
                          "suggestions_opened": s or 0, "helpful": y or 0, "not_helpful": n or 0}
                         for i, t, la, v, s, y, n in articles],
            "suggestions_opened": opened[0][0] or 0,
            "suggestions_accepted": opened[0][1] or 0,
            "helpful": helpful,
            "not_helpful": not_helpful,
            "helpful_percent": (round(100 * helpful / (helpful + not_helpful), 1)
                                if helpful + not_helpful else None),
        }


def _count(condition: str) -> str:
    """How many rows of the group meet ``condition`` (in SQL both databases share)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"

"""The knowledge base's records: articles (with their translations), the help centre's address
per site, and what visitors did with articles (for reports).

Built on the store's one writer (group commit: every write here is one function of a
``DB`` run inside the batch's transaction, refused writes undo only themselves)
and its reader connection. The SQL is plain standard SQL but for the search index, which is
SQLite's FTS5 (``articles_fts``: title and body, ``unicode61 remove_diacritics 2`` with the
``porter`` stemmer, ranked by ``bm25`` with the title weighing ten times the body). A PostgreSQL
store needs instead a ``tsvector`` column (``setweight(to_tsvector('simple',
unaccent(title)), 'A') || setweight(…body…, 'B')``) with a GIN index, ``websearch_to_tsquery``
with ``:*`` on the last word, ``ts_rank`` for the order, and ``unaccent`` for accents.

Contract:

* ``save`` renders and sanitises the Markdown (server/kb.py) in the same write as the row and
  its index entry: a saved article is found by the next search, and its HTML is always the
  sanitised rendering of its body.
* Translations share a ``group_id``; a group has at most one article per language.
* A slug is unique per site and language, chosen from the title when the article is first
  saved and kept afterwards (links keep working when a title changes).
* Searches see published articles only (``drafts=True`` for the panel), of one site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from server import kb
from server.errors import ChatError, Code
from server.store.base import DB

if TYPE_CHECKING:
    from server.store.base import Base

ArticleStatus = Literal["draft", "published"]
EventKind = Literal["search", "view", "suggestion_opened", "vote"]
EVENT_KINDS = ("search", "view", "suggestion_opened", "vote")
#: Search weights: a word in the title counts ten times one in the body.
TITLE_WEIGHT = 10.0

_COLS = ("a.id, a.site_id, a.group_id, a.lang, a.slug, a.title, a.body, a.html, a.text, "
         "a.category, a.status, a.author_id, ag.name, a.created_at, a.updated_at")
_FROM = "articles a LEFT JOIN agents ag ON ag.id = a.author_id"


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    site_id: str
    #: Translations of one another share it.
    group_id: str
    lang: str
    slug: str
    title: str
    #: Markdown, as written.
    body: str
    #: The body rendered and sanitised (server/kb.py): safe to put in a page.
    html: str
    #: The body's words (search, descriptions).
    text: str
    category: str
    status: ArticleStatus
    author_id: str | None
    author_name: str | None
    created_at: int
    updated_at: int

    def summary(self) -> dict[str, Any]:
        """What lists and search results show (no body)."""
        return {"id": self.id, "site_id": self.site_id, "group_id": self.group_id,
                "lang": self.lang, "slug": self.slug, "title": self.title,
                "category": self.category, "status": self.status,
                "excerpt": kb.summary(self.text), "author": self.author_name,
                "updated_at": self.updated_at}

    def public(self) -> dict[str, Any]:
        """An article as visitors get it: sanitised HTML, never the Markdown."""
        shown = self.summary()
        del shown["status"]
        return {**shown, "html": self.html}

    def full(self) -> dict[str, Any]:
        """An article as its editors get it (the panel, the CLI's --json)."""
        return {**self.summary(), "body": self.body, "html": self.html,
                "author_id": self.author_id, "created_at": self.created_at}


@dataclass(frozen=True, slots=True)
class Found:
    article: Article
    #: Words around the match, plain text.
    snippet: str


@dataclass(frozen=True, slots=True)
class Event:
    site_id: str
    kind: EventKind
    article_id: str | None
    query: str | None
    results: int | None
    helpful: bool | None
    created_at: int


def _article(row: Sequence[Any]) -> Article:
    return Article(*row)


class ArticleStore(Protocol):
    """What every store's knowledge base offers (``Store.articles``); the contract is the
    module's docstring. ``Articles`` is SQLite's; a PostgreSQL store brings its own."""

    async def save(self, site_id: str, *, article_id: str | None = None,
                   translation_of: str | None = None, lang: str, title: str, body: str,
                   category: str = "", status: ArticleStatus = "draft",
                   author_id: str | None = None, slug: str | None = None) -> Article: ...
    async def delete(self, site_ids: Sequence[str], article_id: str) -> None: ...
    async def get(self, article_id: str) -> Article | None: ...
    async def by_slug(self, site_id: str, lang: str, slug: str) -> Article | None: ...
    async def listed(self, site_ids: Sequence[str], *, lang: str | None = None,
                     published: bool = False, category: str | None = None,
                     limit: int = 1000) -> list[Article]: ...
    async def translations(self, group_id: str, published: bool = False) -> list[Article]: ...
    async def languages(self, site_id: str) -> list[str]: ...
    async def search(self, site_id: str, query: str, lang: str | None, *, limit: int = 10,
                     drafts: bool = False) -> list[Found]: ...
    async def help_slug(self, site_id: str) -> str | None: ...
    async def site_for_slug(self, slug: str) -> str | None: ...
    async def set_help_slug(self, site_id: str, slug: str) -> str: ...
    async def record(self, site_id: str, kind: EventKind, *, article_id: str | None = None,
                     visitor_id: str | None = None, query: str | None = None,
                     results: int | None = None, helpful: bool | None = None) -> None: ...
    async def stats(self, site_ids: Sequence[str], start: int, end: int) -> dict[str, Any]: ...


class Articles:
    """SQLite's ``ArticleStore``; see the module's docstring for the contract."""

    def __init__(self, store: Base) -> None:
        self._store = store

    def _submit(self, op: Callable[[DB], Any]) -> Awaitable[Any]:
        return self._store._submit(op)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._store._all(sql, params)

    # --- articles ------------------------------------------------------------------------------

    async def save(self, site_id: str, *, article_id: str | None = None,
                   translation_of: str | None = None, lang: str, title: str, body: str,
                   category: str = "", status: ArticleStatus = "draft",
                   author_id: str | None = None, slug: str | None = None) -> Article:
        """Create (``article_id`` None) or replace an article of ``site_id``. ``translation_of``
        (on creation) puts it in that article's group. ValueError for bad input; ChatError
        ``not_found`` for an article, translation or site that is not this site's."""
        lang = kb.check_lang(lang)
        title = kb.check_text("title", title, kb.MAX_TITLE)
        if len(body) > kb.MAX_BODY or "\x00" in body:
            raise ValueError(f"the body is at most {kb.MAX_BODY} characters, without NUL")
        category = kb.check_text("category", category, kb.MAX_CATEGORY, required=False)
        if status not in ("draft", "published"):
            raise ValueError("status is draft or published")
        wanted = kb.slugify(slug) if slug else None
        rendered = kb.render(body)
        now = int(self._store._clock() * 1000)
        new_id = self._store._ids("art")

        def op(db: DB) -> Article:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ChatError(Code.NOT_FOUND, "no such site")
            if article_id is None:
                group = new_id
                if translation_of is not None:
                    row = db.execute("SELECT group_id FROM articles WHERE id = ? AND site_id = ?",
                                     (translation_of, site_id)).fetchone()
                    if row is None:
                        raise ChatError(Code.NOT_FOUND, "no such article to translate")
                    group = row[0]
                if db.execute("SELECT 1 FROM articles WHERE group_id = ? AND lang = ?",
                              (group, lang)).fetchone():
                    raise ValueError(f"this article already has a translation in {lang}")
                chosen = _free_slug(db, site_id, lang, wanted or kb.slugify(title), None)
                db.execute(
                    "INSERT INTO articles(id, site_id, group_id, lang, slug, title, body, html, "
                    "text, category, status, author_id, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new_id, site_id, group, lang, chosen, title, body, rendered.html,
                     rendered.text, category, status, author_id, now, now))
                key = new_id
            else:
                row = db.execute("SELECT group_id, lang, slug FROM articles "
                                 "WHERE id = ? AND site_id = ?", (article_id, site_id)).fetchone()
                if row is None:
                    raise ChatError(Code.NOT_FOUND, "no such article")
                if lang != row[1] and db.execute(
                        "SELECT 1 FROM articles WHERE group_id = ? AND lang = ?",
                        (row[0], lang)).fetchone():
                    raise ValueError(f"this article already has a translation in {lang}")
                chosen = row[2] if wanted is None and lang == row[1] else _free_slug(
                    db, site_id, lang, wanted or row[2], article_id)
                db.execute(
                    "UPDATE articles SET lang = ?, slug = ?, title = ?, body = ?, html = ?, "
                    "text = ?, category = ?, status = ?, author_id = coalesce(?, author_id), "
                    "updated_at = ? WHERE id = ?",
                    (lang, chosen, title, body, rendered.html, rendered.text, category, status,
                     author_id, now, article_id))
                key = article_id
            self._index(db, key, title, rendered.text)
            return _article(db.execute(f"SELECT {_COLS} FROM {_FROM} WHERE a.id = ?",
                                       (key,)).fetchone())

        result: Article = await self._submit(op)
        return result

    async def delete(self, site_ids: Sequence[str], article_id: str) -> None:
        def op(db: DB) -> None:
            marks = ",".join("?" * len(site_ids))
            row = db.execute(f"SELECT id FROM articles WHERE id = ? AND site_id IN ({marks})",
                             (article_id, *site_ids)).fetchone()
            if row is None:
                raise ChatError(Code.NOT_FOUND, "no such article")
            self._unindex(db, article_id)
            db.execute("DELETE FROM articles WHERE id = ?", (article_id,))

        await self._submit(op)

    async def get(self, article_id: str) -> Article | None:
        rows = await self._all(f"SELECT {_COLS} FROM {_FROM} WHERE a.id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    async def by_slug(self, site_id: str, lang: str, slug: str) -> Article | None:
        rows = await self._all(f"SELECT {_COLS} FROM {_FROM} WHERE a.site_id = ? AND a.lang = ? "
                               "AND a.slug = ?", (site_id, lang, slug))
        return _article(rows[0]) if rows else None

    async def listed(self, site_ids: Sequence[str], *, lang: str | None = None,
                   published: bool = False, category: str | None = None,
                   limit: int = 1000) -> list[Article]:
        """Articles of these sites, by category then title (drafts too unless ``published``)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {_COLS} FROM {_FROM} WHERE a.site_id IN ({marks}) "
            "AND (CAST(? AS TEXT) IS NULL OR a.lang = ?) AND (? = 0 OR a.status = 'published') "
            "AND (CAST(? AS TEXT) IS NULL OR a.category = ?) "
            "ORDER BY a.category, a.title, a.lang LIMIT ?",
            (*site_ids, lang, lang, int(published), category, category, limit))
        return [_article(r) for r in rows]

    async def translations(self, group_id: str, published: bool = False) -> list[Article]:
        rows = await self._all(
            f"SELECT {_COLS} FROM {_FROM} WHERE a.group_id = ? "
            "AND (? = 0 OR a.status = 'published') ORDER BY a.lang", (group_id, int(published)))
        return [_article(r) for r in rows]

    async def languages(self, site_id: str) -> list[str]:
        """The languages the site has published articles in."""
        rows = await self._all("SELECT DISTINCT lang FROM articles WHERE site_id = ? "
                               "AND status = 'published' ORDER BY lang", (site_id,))
        return [r[0] for r in rows]

    async def search(self, site_id: str, query: str, lang: str | None, *, limit: int = 10,
                     drafts: bool = False) -> list[Found]:
        """The site's articles matching ``query``, best first: all of its words if any article
        has them, else any of them (a question typed in full). Accents and case are ignored,
        the last word is also a prefix, a match in the title ranks far above one in the body.
        ``lang`` (``pt``, ``pt-br``): articles in that language; None: every language."""
        found: list[Found] = []
        for every in (True, False):
            match = self._match(query, every)
            if match is None:
                return []
            primary = kb.primary(lang) if lang else None
            rows = await self._all(
                self._search_sql(),
                (match, site_id, int(drafts), lang, lang, primary, primary, limit))
            found = [Found(_article(r[:-1]), r[-1]) for r in rows]
            if found:
                break
        return found

    # --- the search index: SQLite's FTS5 (PostgresArticles: a tsvector column) ----------------

    @staticmethod
    def _index(db: DB, article_id: str, title: str, text: str) -> None:
        """(In the write that saved it) the article's words in the index, in place of any."""
        rowid = db.execute("SELECT rowid FROM articles WHERE id = ?",
                           (article_id,)).fetchone()[0]
        db.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
        db.execute("INSERT INTO articles_fts(rowid, title, body) VALUES (?, ?, ?)",
                   (rowid, title, text))

    @staticmethod
    def _unindex(db: DB, article_id: str) -> None:
        """(In the write that deletes it, before the row goes) the article out of the index."""
        db.execute("DELETE FROM articles_fts WHERE rowid = (SELECT rowid FROM articles "
                   "WHERE id = ?)", (article_id,))

    @staticmethod
    def _match(query: str, every: bool) -> str | None:
        return kb.match_expression(query, every)

    @staticmethod
    def _search_sql() -> str:
        """Parameters: match, site, drafts, lang, lang, primary, primary, limit."""
        return (f"SELECT {_COLS}, snippet(articles_fts, 1, '', '', '…', 20) "
                "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
                "LEFT JOIN agents ag ON ag.id = a.author_id "
                "WHERE articles_fts MATCH ? AND a.site_id = ? "
                "AND (? = 1 OR a.status = 'published') "
                "AND (CAST(? AS TEXT) IS NULL OR a.lang = ? OR a.lang = ? "
                "OR a.lang LIKE ? || '-%') "
                f"ORDER BY bm25(articles_fts, {TITLE_WEIGHT}, 1.0), a.updated_at DESC LIMIT ?")

    # --- the help centre's address ----------------------------------------------------------

    async def help_slug(self, site_id: str) -> str | None:
        rows = await self._all("SELECT slug FROM help_centres WHERE site_id = ?", (site_id,))
        return str(rows[0][0]) if rows else None

    async def site_for_slug(self, slug: str) -> str | None:
        """The site whose help centre is at ``/help/<slug>`` (its own slug, or its id)."""
        rows = await self._all("SELECT site_id FROM help_centres WHERE slug = ? UNION ALL "
                               "SELECT id FROM sites WHERE id = ?", (slug, slug))
        return str(rows[0][0]) if rows else None

    async def set_help_slug(self, site_id: str, slug: str) -> str:
        chosen = kb.slugify(slug)
        if chosen != slug.strip().lower():
            raise ValueError("a help centre's address is lowercase letters, digits and dashes")

        def op(db: DB) -> str:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ChatError(Code.NOT_FOUND, "no such site")
            taken = db.execute("SELECT site_id FROM help_centres WHERE slug = ?",
                               (chosen,)).fetchone()
            if taken is not None and taken[0] != site_id:
                raise ValueError(f"/help/{chosen} is another site's")
            db.execute("INSERT INTO help_centres(site_id, slug) VALUES (?, ?) "
                       "ON CONFLICT (site_id) DO UPDATE SET slug = excluded.slug",
                       (site_id, chosen))
            return chosen

        result: str = await self._submit(op)
        return result

    # --- what visitors did --------------------------------------------------------------------

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

        await self._submit(op)

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
        counts = (await self._all(
            f"SELECT {searches}, {missed}, {views} FROM kb_events e WHERE {where}", args))[0]
        misses = await self._all(
            f"SELECT lower(e.query), count(*), max(e.created_at) FROM kb_events e WHERE {where} "
            "AND e.kind = 'search' AND e.results = 0 GROUP BY lower(e.query) "
            "ORDER BY count(*) DESC, max(e.created_at) DESC LIMIT 50", args)
        articles = await self._all(
            f"SELECT e.article_id, a.title, a.lang, {views}, {opened_}, "
            f"{voted_yes}, {voted_no} "
            f"FROM kb_events e JOIN articles a ON a.id = e.article_id WHERE {where} "
            f"GROUP BY e.article_id, a.title, a.lang ORDER BY {views} DESC, a.title LIMIT 200",
            args)
        # Accepted: the visitor who opened a suggestion started no conversation after it.
        accepted = _count("NOT EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = "
                          "e.visitor_id AND c.created_at >= e.created_at)")
        opened = await self._all(
            f"SELECT count(*), {accepted} FROM kb_events e WHERE {where} "
            "AND e.kind = 'suggestion_opened'", args)
        votes = await self._all(
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


def _free_slug(db: DB, site_id: str, lang: str, base: str,
               article_id: str | None) -> str:
    """``base``, or ``base-2``, ``base-3``… : the first no other article of the site and
    language has."""
    candidate, n = base, 1
    while db.execute("SELECT 1 FROM articles WHERE site_id = ? AND lang = ? AND slug = ? "
                     "AND (CAST(? AS TEXT) IS NULL OR id != ?)",
                     (site_id, lang, candidate, article_id, article_id)).fetchone():
        n += 1
        candidate = f"{base[:76]}-{n}"
    return candidate


def _count(condition: str) -> str:
    """How many rows of the group meet ``condition`` (in SQL both databases share)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


class PostgresArticles(Articles):
    """PostgreSQL's ``ArticleStore``: the same contract and SQL, but for the search index, a
    ``tsvector`` column of the articles (migration 23 in ``server.store.pg_schema``): the title
    weighted A and the text B, in the ``livechat`` text search configuration (``simple`` words
    without accents: ``unaccent``), with a GIN index; ``to_tsquery`` with ``&`` (then ``|``)
    between the quoted words and ``:*`` on prefixes, ranked by ``ts_rank`` with the title
    weighing ``TITLE_WEIGHT`` times the text."""

    @staticmethod
    def _index(db: DB, article_id: str, title: str, text: str) -> None:
        db.execute("UPDATE articles SET search = setweight(to_tsvector('livechat', ?), 'A') || "
                   "setweight(to_tsvector('livechat', ?), 'B') WHERE id = ?",
                   (title, text, article_id))

    @staticmethod
    def _unindex(db: DB, article_id: str) -> None:
        pass  # the index is a column of the row the write deletes

    @staticmethod
    def _match(query: str, every: bool) -> str | None:
        """``kb.match_expression``'s terms in ``to_tsquery``'s words (each quoted, ``:*`` for a
        prefix; every term a run of letters, digits and ``_``: nothing in it is syntax)."""
        expression = kb.match_expression(query, every)
        if expression is None:
            return None
        terms = expression.split(" AND " if every else " OR ")
        return (" & " if every else " | ").join(
            "'" + term.strip('"*') + "'" + (":*" if term.endswith("*") else "")
            for term in terms)

    @staticmethod
    def _search_sql() -> str:
        weights = "{0, 0, %g, 1}" % (1 / TITLE_WEIGHT)  # D, C, B (the text), A (the title)
        return (f"SELECT {_COLS}, ts_headline('livechat', a.text, q, 'StartSel=\"\", "
                "StopSel=\"\", MaxWords=20, MinWords=10, MaxFragments=1, "
                "FragmentDelimiter=\" … \"') "
                "FROM articles a LEFT JOIN agents ag ON ag.id = a.author_id, "
                "to_tsquery('livechat', ?) q "
                "WHERE a.search @@ q AND a.site_id = ? "
                "AND (? = 1 OR a.status = 'published') "
                "AND (CAST(? AS TEXT) IS NULL OR a.lang = ? OR a.lang = ? "
                "OR a.lang LIKE ? || '-%') "
                f"ORDER BY ts_rank('{weights}', a.search, q) DESC, a.updated_at DESC LIMIT ?")

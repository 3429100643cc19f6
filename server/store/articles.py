"""The knowledge base's records: articles (with their translations), the help centre's address
per site, and what visitors did with articles (for reports).

Built on the store's one writer (group commit: every write here is one function of a
``DB`` run inside the batch's transaction, refused writes undo only themselves)
and its reader connection. ``Articles`` (SQLite's) and ``PostgresArticles`` are made of parts:
the articles themselves (here), their search index and the search (article_search.py), the help
centres' addresses (help_centres.py) and visitors' events with their report
(article_events.py); the values are in article_models.py. The SQL is the same on both databases
but for the search index.

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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from server import kb
from server.errors import ChatError, Code
from server.store.article_events import ArticleEvents
from server.store.article_models import (
    COLS,
    FROM,
    Article,
    ArticleStatus,
    EventKind,
    Found,
    article,
)
from server.store.article_search import ArticleSearch, PostgresArticleSearch
from server.store.base import DB
from server.store.help_centres import HelpCentres

if TYPE_CHECKING:
    from server.store.base import Base


class ArticleStore(Protocol):
    """What every store's knowledge base offers (``Store.articles``); the contract is the
    module's docstring. ``Articles`` is SQLite's, ``PostgresArticles`` PostgreSQL's."""

    async def save(self, site_id: str, *, article_id: str | None = None,
                   translation_of: str | None = None, lang: str, title: str, body: str,
                   category: str = "", keywords: str = "", status: ArticleStatus = "draft",
                   author_id: str | None = None, slug: str | None = None) -> Article: ...
    async def delete(self, site_ids: Sequence[str], article_id: str) -> None: ...
    async def get(self, article_id: str) -> Article | None: ...
    async def by_slug(self, site_id: str, lang: str, slug: str) -> Article | None: ...
    async def listed(self, site_ids: Sequence[str], *, lang: str | None = None,
                     published: bool = False, category: str | None = None,
                     status: ArticleStatus | None = None, limit: int = 1000,
                     after: Sequence[str] | None = None) -> list[Article]: ...
    async def translations(self, group_id: str, published: bool = False) -> list[Article]: ...
    async def languages(self, site_id: str) -> list[str]: ...
    async def search(self, site_id: str, query: str, lang: str | None, *, limit: int = 10,
                     drafts: bool = False, status: ArticleStatus | None = None
                     ) -> list[Found]: ...
    async def help_slug(self, site_id: str) -> str | None: ...
    async def site_for_slug(self, slug: str) -> str | None: ...
    async def set_help_slug(self, site_id: str, slug: str) -> str: ...
    async def record(self, site_id: str, kind: EventKind, *, article_id: str | None = None,
                     visitor_id: str | None = None, query: str | None = None,
                     results: int | None = None, helpful: bool | None = None) -> None: ...
    async def stats(self, site_ids: Sequence[str], start: int, end: int) -> dict[str, Any]: ...


class Articles(ArticleSearch, HelpCentres, ArticleEvents):
    """SQLite's ``ArticleStore``; see the module's docstring for the contract."""

    def __init__(self, store: Base) -> None:
        self._store = store

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._store._all(sql, params)

    async def save(self, site_id: str, *, article_id: str | None = None,
                   translation_of: str | None = None, lang: str, title: str, body: str,
                   category: str = "", keywords: str = "", status: ArticleStatus = "draft",
                   author_id: str | None = None, slug: str | None = None) -> Article:
        """Create (``article_id`` None) or replace an article of ``site_id``. ``translation_of``
        (on creation) puts it in that article's group. ValueError for bad input; ChatError
        ``not_found`` for an article, translation or site that is not this site's."""
        lang = kb.check_lang(lang)
        title = kb.check_text("title", title, kb.MAX_TITLE)
        if len(body) > kb.MAX_BODY or "\x00" in body:
            raise ValueError(f"the body is at most {kb.MAX_BODY} characters, without NUL")
        category = kb.check_text("category", category, kb.MAX_CATEGORY, required=False)
        keywords = kb.check_keywords(keywords)
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
                    "text, category, keywords, status, author_id, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new_id, site_id, group, lang, chosen, title, body, rendered.html,
                     rendered.text, category, keywords, status, author_id, now, now))
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
                    "text = ?, category = ?, keywords = ?, status = ?, "
                    "author_id = coalesce(?, author_id), updated_at = ? WHERE id = ?",
                    (lang, chosen, title, body, rendered.html, rendered.text, category, keywords,
                     status, author_id, now, article_id))
                key = article_id
            self._index(db, key, lang, title, keywords, rendered.text)
            return article(db.execute(f"SELECT {COLS} FROM {FROM} WHERE a.id = ?",
                                      (key,)).fetchone())

        result: Article = await self._store._submit(op)
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

        await self._store._submit(op)

    async def get(self, article_id: str) -> Article | None:
        rows = await self._all(f"SELECT {COLS} FROM {FROM} WHERE a.id = ?", (article_id,))
        return article(rows[0]) if rows else None

    async def by_slug(self, site_id: str, lang: str, slug: str) -> Article | None:
        rows = await self._all(f"SELECT {COLS} FROM {FROM} WHERE a.site_id = ? AND a.lang = ? "
                               "AND a.slug = ?", (site_id, lang, slug))
        return article(rows[0]) if rows else None

    async def listed(self, site_ids: Sequence[str], *, lang: str | None = None,
                   published: bool = False, category: str | None = None,
                   status: ArticleStatus | None = None, limit: int = 1000,
                   after: Sequence[str] | None = None) -> list[Article]:
        """Articles of these sites, by category, title, language and id (drafts too unless
        ``published``; only those of ``status`` when given), from just ``after`` such a key
        (``Article.key``: a page's last)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        later = "AND (a.category, a.title, a.lang, a.id) > (?, ?, ?, ?) " if after else ""
        rows = await self._all(
            f"SELECT {COLS} FROM {FROM} WHERE a.site_id IN ({marks}) "
            "AND (CAST(? AS TEXT) IS NULL OR a.lang = ?) AND (? = 0 OR a.status = 'published') "
            "AND (CAST(? AS TEXT) IS NULL OR a.status = ?) "
            f"AND (CAST(? AS TEXT) IS NULL OR a.category = ?) {later}"
            "ORDER BY a.category, a.title, a.lang, a.id LIMIT ?",
            (*site_ids, lang, lang, int(published), status, status, category, category,
             *(after or ()), limit))
        return [article(r) for r in rows]

    async def translations(self, group_id: str, published: bool = False) -> list[Article]:
        rows = await self._all(
            f"SELECT {COLS} FROM {FROM} WHERE a.group_id = ? "
            "AND (? = 0 OR a.status = 'published') ORDER BY a.lang", (group_id, int(published)))
        return [article(r) for r in rows]

    async def languages(self, site_id: str) -> list[str]:
        """The languages the site has published articles in."""
        rows = await self._all("SELECT DISTINCT lang FROM articles WHERE site_id = ? "
                               "AND status = 'published' ORDER BY lang", (site_id,))
        return [r[0] for r in rows]


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


class PostgresArticles(PostgresArticleSearch, Articles):
    """PostgreSQL's ``ArticleStore``: the same contract and SQL but for the search index
    (``PostgresArticleSearch``)."""

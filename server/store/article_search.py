"""The knowledge base's search (a part of ``Articles``, server/store/articles.py): each
database's own full-text index over an article's title, keywords and text, kept in the write
that saves the article, and one search on top of it.

* SQLite: the FTS5 table ``articles_fts`` (title, keywords, body), ``unicode61
  remove_diacritics 2`` with the ``porter`` stemmer; its own rank is ``bm25`` with the title and
  the keywords weighing ``TITLE_WEIGHT`` times the body.
* PostgreSQL: a ``tsvector`` column of the articles (``search``): the title and the keywords
  weighted A, the text B, in the text search configuration of the article's language
  (``text_config``: the language's Snowball stemmer after ``unaccent``); its own rank is
  ``ts_rank`` with A weighing ``TITLE_WEIGHT`` times B.

The search itself is the same on both (``ArticleSearch.search``): all of the query's words,
then, if no article has them all, any of them; best first by ``ranked`` (the words' rarity,
the title over the body), then by the engine's own rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import log
from typing import TYPE_CHECKING, Any

from server import kb
from server.store.article_models import COLS, ArticleStatus, Found, article
from server.store.base import DB

if TYPE_CHECKING:
    from server.store.base import Base

#: Search weights: a word in the title (or the keywords) counts ten times one in the body.
TITLE_WEIGHT = 10.0
#: In the ranking, a word found in the title or the keywords counts this many times one found
#: in the body only.
TITLE_SCORE = 2.0
#: PostgreSQL's text search configuration per language (the primary subtag): the language's
#: Snowball stemmer and stop words, after ``unaccent`` (made by migration 25, ``livechat_<tag>``
#: copying ``<name>``); any other language: ``livechat`` (``simple`` words after ``unaccent``).
TEXT_CONFIGS = {"en": "english", "pt": "portuguese", "es": "spanish", "fr": "french",
                "de": "german", "el": "greek", "ar": "arabic"}


def text_config(lang: str) -> str:
    """The PostgreSQL text search configuration an article in ``lang`` is indexed with."""
    tag = kb.primary(lang)
    return f"livechat_{tag}" if tag in TEXT_CONFIGS else "livechat"


class ArticleSearch:
    """SQLite's index and the search both databases share."""

    _store: Base

    async def search(self, site_id: str, query: str, lang: str | None, *, limit: int = 10,
                     drafts: bool = False, status: ArticleStatus | None = None) -> list[Found]:
        """The site's articles matching ``query``, best first: those with all of its words if
        any article has them all, else those with any of them (a question typed in full).
        Accents and case are ignored, the last word is also a prefix. ``lang`` (``pt``,
        ``pt-br``): articles in that language; None: every language. ``status``: only those.
        Best first: ``ranked``."""
        where = ("a.site_id = ? AND (? = 1 OR a.status = 'published') "
                 "AND (CAST(? AS TEXT) IS NULL OR a.status = ?) "
                 "AND (CAST(? AS TEXT) IS NULL OR a.lang = ? OR a.lang = ? "
                 "OR a.lang LIKE ? || '-%')")
        primary = kb.primary(lang) if lang else None
        params = (site_id, int(drafts), status, status, lang, lang, primary, primary)
        for every in (True, False):
            words = kb.search_words(query, every)
            if not words:
                return []
            matched = await self._store._all(self._matched_sql(len(words), where),
                                             (*self._matched_params(words, every), *params))
            if matched:
                break
        else:
            return []
        total = (await self._store._all(f"SELECT count(*) FROM articles a WHERE {where}",
                                        params))[0][0]
        best = ranked(matched, len(words), total)[:limit]
        rows = await self._store._all(self._found_sql(len(best)),
                                      (self._expression(words, every), *best))
        found = {r[0]: Found(article(r[:-1]), r[-1]) for r in rows}
        return [found[i] for i in best if i in found]

    # --- what each database does ---------------------------------------------------------------

    @staticmethod
    def _expression(words: list[kb.Word], every: bool, field: str = "") -> str:
        """An FTS5 query: the words (each quoted, ``*`` for a prefix), all or any of them;
        ``field``: in those columns only (``{title keywords}``, ``{body}``)."""
        alternatives = ["(" + " OR ".join('"' + w + '"' + ("*" if prefix else "")
                                          for w, prefix in word) + ")" for word in words]
        expression = (" AND " if every else " OR ").join(alternatives)
        return f"{field} : ({expression})" if field else expression

    def _matched_params(self, words: list[kb.Word], every: bool) -> list[str]:
        flags = [self._expression([word], True, field) for word in words
                 for field in ("{title keywords}", "{body}")]
        return [*flags, self._expression(words, every)]

    @staticmethod
    def _matched_sql(words: int, where: str) -> str:
        """The articles matching, each (id, the engine's rank: lower is better, then per word:
        in the title or keywords, in the body); parameters: ``_matched_params``, then
        ``where``'s."""
        flag = "(a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?))"
        flags = ", ".join([flag] * (2 * words))
        return (f"SELECT a.id, bm25(articles_fts, {TITLE_WEIGHT}, {TITLE_WEIGHT}, 1.0), {flags} "
                "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
                f"WHERE articles_fts MATCH ? AND {where}")

    @staticmethod
    def _found_sql(count: int) -> str:
        """These articles (``count`` ids) with an excerpt around the words; parameters: the
        search's expression, the ids."""
        return (f"SELECT {COLS}, snippet(articles_fts, 2, '', '', '…', 20) "
                "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
                "LEFT JOIN agents ag ON ag.id = a.author_id "
                f"WHERE articles_fts MATCH ? AND a.id IN ({', '.join('?' * count)})")

    @staticmethod
    def _index(db: DB, article_id: str, lang: str, title: str, keywords: str,
               text: str) -> None:
        """(In the write that saved it) the article's words in the index, in place of any."""
        rowid = db.execute("SELECT rowid FROM articles WHERE id = ?",
                           (article_id,)).fetchone()[0]
        db.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
        db.execute("INSERT INTO articles_fts(rowid, title, keywords, body) VALUES (?, ?, ?, ?)",
                   (rowid, title, keywords, text))

    @staticmethod
    def _unindex(db: DB, article_id: str) -> None:
        """(In the write that deletes it, before the row goes) the article out of the index."""
        db.execute("DELETE FROM articles_fts WHERE rowid = (SELECT rowid FROM articles "
                   "WHERE id = ?)", (article_id,))


def ranked(rows: Sequence[Sequence[Any]], words: int, total: int) -> list[str]:
    """The ids of the matched articles (``_matched_sql``'s rows; ``total`` articles searched),
    best first: by the sum, over the query's words each has, of the word's rarity (BM25's
    inverse document frequency: the fewer articles have it, the more it counts) times
    ``TITLE_SCORE`` when the word is in the title or the keywords; then by the engine's own
    rank (``bm25``, ``ts_rank``: how often, how densely)."""
    have = [sum(1 for r in rows if r[2 + 2 * n] or r[3 + 2 * n]) for n in range(words)]
    rarity = [log(1 + (total - k + 0.5) / (k + 0.5)) for k in have]

    def key(row: Sequence[Any]) -> tuple[float, float]:
        points = sum(rarity[n] * (TITLE_SCORE if row[2 + 2 * n] else 1 if row[3 + 2 * n] else 0)
                     for n in range(words))
        return -points, row[1]

    return [row[0] for row in sorted(rows, key=key)]


class PostgresArticleSearch(ArticleSearch):
    """PostgreSQL's index (a ``tsvector`` column) under the same search."""

    @staticmethod
    def _expression(words: list[kb.Word], every: bool, field: str = "") -> str:
        """A ``to_tsquery`` text: each word quoted (a run of letters, digits and ``_``: nothing
        in it is syntax), ``:*`` for a prefix, ``&`` or ``|`` between them; ``field``: of those
        weights only (``A``: title and keywords, ``B``: the text)."""
        alternatives = ["(" + " | ".join("'" + w + "'" + (":*" if prefix else ":" if field else "")
                                         + field for w, prefix in word) + ")" for word in words]
        return (" & " if every else " | ").join(alternatives)

    def _matched_params(self, words: list[kb.Word], every: bool) -> list[str]:
        flags = [self._expression([word], True, field) for word in words for field in "AB"]
        return [*flags, self._expression(words, every)]

    @staticmethod
    def _matched_sql(words: int, where: str) -> str:
        flags = ", ".join(["(a.search @@ to_tsquery(a.search_config, ?))"] * (2 * words))
        weights = "{0, 0, %g, 1}" % (1 / TITLE_WEIGHT)  # D, C, B (the text), A (title, keywords)
        return (f"SELECT a.id, -ts_rank('{weights}', a.search, q), {flags} FROM articles a "
                "CROSS JOIN LATERAL to_tsquery(a.search_config, ?) q "
                f"WHERE a.search @@ q AND {where}")

    @staticmethod
    def _found_sql(count: int) -> str:
        # Each article's query is made in its own language's configuration (its stemmer).
        return (f"SELECT {COLS}, ts_headline(a.search_config, a.text, q, 'StartSel=\"\", "
                "StopSel=\"\", MaxWords=20, MinWords=10, MaxFragments=1, "
                "FragmentDelimiter=\" … \"') "
                "FROM articles a LEFT JOIN agents ag ON ag.id = a.author_id "
                "CROSS JOIN LATERAL to_tsquery(a.search_config, ?) q "
                f"WHERE a.id IN ({', '.join('?' * count)})")

    @staticmethod
    def _index(db: DB, article_id: str, lang: str, title: str, keywords: str,
               text: str) -> None:
        config = text_config(lang)
        db.execute("UPDATE articles SET search_config = CAST(? AS regconfig), "
                   "search = setweight(to_tsvector(CAST(? AS regconfig), ?), 'A') || "
                   "setweight(to_tsvector(CAST(? AS regconfig), ?), 'B') WHERE id = ?",
                   (config, config, title + "\n" + keywords, config, text, article_id))

    @staticmethod
    def _unindex(db: DB, article_id: str) -> None:
        pass  # the index is a column of the row the write deletes


def index_all_sql() -> str:
    """PostgreSQL: every article's configuration and ``search`` column again, as ``_index``
    makes them (after a copy from SQLite, whose articles have neither)."""
    cases = " ".join(f"WHEN '{tag}' THEN 'livechat_{tag}'" for tag in TEXT_CONFIGS)
    config = f"CAST(CASE split_part(lang, '-', 1) {cases} ELSE 'livechat' END AS regconfig)"
    return (f"UPDATE articles SET search_config = {config}, "
            f"search = setweight(to_tsvector({config}, title || chr(10) || keywords), 'A') || "
            f"setweight(to_tsvector({config}, text), 'B')")

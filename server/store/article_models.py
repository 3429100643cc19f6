"""The knowledge base's values (server/store/articles.py): an article, a search result, a
visitor's event, and the columns an article is read with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from server import kb

ArticleStatus = Literal["draft", "published"]
EventKind = Literal["search", "view", "suggestion_opened", "vote"]
EVENT_KINDS = ("search", "view", "suggestion_opened", "vote")

#: An ``Article``'s columns, in its fields' order, and the tables they come from.
COLS = ("a.id, a.site_id, a.group_id, a.lang, a.slug, a.title, a.body, a.html, a.text, "
        "a.category, a.keywords, a.status, a.author_id, ag.name, a.created_at, a.updated_at")
FROM = "articles a LEFT JOIN agents ag ON ag.id = a.author_id"


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
    #: Other words the author expects readers to search with (``UK``, ``postage``), searched
    #: like the title; never shown to visitors.
    keywords: str
    status: ArticleStatus
    author_id: str | None
    author_name: str | None
    created_at: int
    updated_at: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Its place in lists (``listed``): by category, title, language, id."""
        return self.category, self.title, self.lang, self.id

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
                "keywords": self.keywords, "author_id": self.author_id,
                "created_at": self.created_at}


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


def article(row: Sequence[Any]) -> Article:
    """An ``Article`` from a row of ``COLS``."""
    return Article(*row)

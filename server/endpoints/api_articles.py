"""``/api/v1/articles``: a site's knowledge-base articles, for a docs pipeline or a CMS that
keeps them (scopes ``articles:read`` and ``articles:write``; docs/api.md). They are saved
through the same code as the panel's editor (``articles.save``): rendered and sanitised, indexed
for search, slugs kept. Whoever saves names the author with ``agent_id`` (an agent of the
article's site); without it the author stays as it was, as with the CLI."""

from __future__ import annotations

from typing import Any

from server import kb
from server.store.article_models import Article

from . import articles
from .api_base import (
    DEFAULT_LIMIT,
    ApiError,
    Call,
    Operation,
    Param,
    chosen_sites,
    decode_cursor,
    encode_cursor,
    not_found,
    site_agent,
)
from .articles import MAX_ARTICLE_BODY

#: The body's fields and their kinds (server/parsing.py checks them, server/openapi.py has
#: their schemas; the store checks the rest: a title not blank, no NUL).
_FIELDS = {"lang": "lang?", "title": "heading?", "body": "markdown?", "category": "category?",
           "keywords": "keywords?", "status": "publication?", "slug": "slug?",
           "agent_id": "id?"}
_NEW = {"site_id": "id?", "translation_of": "id?", **_FIELDS, "lang": "lang",
        "title": "heading", "body": "markdown"}


async def _article(call: Call) -> Article:
    found = await call.ctx.store.articles.get(call.path["article_id"])
    if found is None or found.site_id not in call.caller.site_ids:
        raise not_found("article")
    return found


async def _author(call: Call, site_id: str) -> str | None:
    agent_id = call.body.get("agent_id")
    return None if agent_id is None else (await site_agent(call, agent_id, site_id)).id


async def _save(call: Call, data: dict[str, Any], article_id: str | None,
                site_id: str) -> Article:
    try:
        saved = await articles.save(call.ctx, data, article_id=article_id,
                                    author_id=await _author(call, site_id))
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    if saved is None:  # deleted meanwhile
        raise not_found("article")
    return saved


async def list_articles(call: Call) -> tuple[int, Any]:
    q = call.query
    site_ids = chosen_sites(call)
    limit = q.get("limit", DEFAULT_LIMIT)
    status = q.get("status")
    lang = kb.check_lang(q["lang"]) if "lang" in q else None
    if "query" in q:
        if len(site_ids) != 1:
            raise ApiError(400, "bad_request", "a search is of one site: give site")
        if "cursor" in q:
            raise ApiError(400, "bad_request", "a search has one page, best first")
        found = await call.ctx.store.articles.search(site_ids[0], q["query"], lang,
                                                     limit=limit, drafts=True, status=status)
        return 200, {"data": [f.article.summary() for f in found], "next_cursor": None}
    after = decode_cursor(q["cursor"], [str] * 4) if "cursor" in q else None
    listed = await call.ctx.store.articles.listed(site_ids, lang=lang, status=status,
                                                  limit=limit, after=after)
    return 200, {"data": [a.summary() for a in listed],
                 "next_cursor": encode_cursor(*listed[-1].key) if len(listed) == limit else None}


async def get_article(call: Call) -> tuple[int, Any]:
    return 200, await articles.with_translations(call.ctx, await _article(call))


async def create_article(call: Call) -> tuple[int, Any]:
    site_id = call.body.get("site_id") or call.caller.token.site_id
    if site_id is None:
        raise ApiError(400, "bad_request", "site_id is required with an installation's token")
    if site_id not in call.caller.site_ids:
        raise not_found("site")
    data = {**call.body, "site_id": site_id}
    data.pop("agent_id", None)
    return 201, {"article": (await _save(call, data, None, site_id)).full()}


async def update_article(call: Call) -> tuple[int, Any]:
    found = await _article(call)
    data = dict(call.body)
    data.pop("agent_id", None)
    saved = await _save(call, data, found.id, found.site_id)
    return 200, {"article": saved.full()}


async def delete_article(call: Call) -> tuple[int, Any]:
    found = await _article(call)
    await call.ctx.store.articles.delete([found.site_id], found.id)
    return 200, {"deleted": True}


_A = "/api/v1/articles/{article_id}"
R, W = "articles:read", "articles:write"
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/api/v1/articles", list_articles, R,
              "List articles by category and title (drafts too), or search them", "ArticlePage",
              params=(Param("site", "id", "only this site (needed with query)"),
                      Param("lang", "lang", "only this language (en, pt-br); with query, its "
                                            "family too (pt-br: pt, pt-pt), as the widget "
                                            "searches"),
                      Param("status", "publication", "draft or published"),
                      Param("query", "search", "search, best first (one page)"),
                      Param("cursor", "cursor", "the `next_cursor` of the previous page"),
                      Param("limit", "limit",
                            f"at most this many (1-200, default {DEFAULT_LIMIT})")),
              tag="articles"),
    Operation("POST", "/api/v1/articles", create_article, W,
              "Write an article, or a translation of one (a draft unless status is published)",
              "ArticleSaved", 201, body=_NEW, max_body=MAX_ARTICLE_BODY, tag="articles"),
    Operation("GET", _A, get_article, R, "Get an article (its Markdown, HTML and translations)",
              "ArticleResult", tag="articles"),
    Operation("PATCH", _A, update_article, W, "Change an article (only the fields given)",
              "ArticleSaved", body=_FIELDS, max_body=MAX_ARTICLE_BODY, tag="articles"),
    Operation("DELETE", _A, delete_article, W, "Delete an article (its translations stay)",
              "Deleted", tag="articles"),
)

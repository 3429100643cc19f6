"""``/api/admin/articles…``: the knowledge base's articles, written on the panel's Manage page
(admins only, from the session cookie; changes only from this server's own pages), and
``/api/agent/articles``: the articles an agent may link in a reply (the composer's ``#``) and
the one a help-centre link names (the panel's cards under such a reply).

docs/knowledge-base.md documents every route, field and error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from server import kb
from server.errors import ChatError
from server.store import Agent
from server.store.article_models import Article

from . import bodies
from .admin import _error, _json, admin_only
from .agent import agent_from_cookie
from .context import AGENT_COOKIE, Context, context
from .knowledge import help_base, published_at

#: An article's body is up to 100,000 characters, each up to 12 bytes as JSON writes it
#: (``\ud83d\ude00``): 1.25 MiB, with room for the other fields.
MAX_ARTICLE_BODY = 1_310_720
_FIELDS = {"site_id", "lang", "title", "body", "category", "keywords", "status", "slug",
           "translation_of"}


def _text(data: dict[str, Any], name: str, default: str | None = None) -> Any:
    value = data.get(name, default)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


async def _article_body(request: Request) -> dict[str, Any]:
    data = await bodies.json_object(request, MAX_ARTICLE_BODY)
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"unknown field {sorted(unknown)[0]!r}")
    return data


async def _list(ctx: Context, request: Request, admin: Agent) -> Response:
    site_id = request.query_params.get("site")
    sites = [site_id] if site_id else await ctx.store.agent_site_ids(admin)
    q = request.query_params.get("q", "").strip()
    if q and site_id:
        found = await ctx.store.articles.search(site_id, q, request.query_params.get("lang"),
                                                limit=50, drafts=True)
        return _json({"articles": [f.article.summary() for f in found],
                      **await _address(ctx, request)})
    articles = await ctx.store.articles.listed(sites, lang=request.query_params.get("lang"))
    return _json({"articles": [a.summary() for a in articles], **await _address(ctx, request)})


async def _address(ctx: Context, request: Request) -> dict[str, Any]:
    """Where the chosen site's help centre is (its slug, or its key when it has none)."""
    site_id = request.query_params.get("site")
    if not site_id:
        return {}
    return {"help_slug": await ctx.store.articles.help_slug(site_id),
            "help_url": await help_base(ctx, request, site_id)}


async def with_translations(ctx: Context, article: Article) -> dict[str, Any]:
    """``{article: full, translations: [summary…]}``: an article as its editors open it."""
    translations = await ctx.store.articles.translations(article.group_id)
    return {"article": article.full(),
            "translations": [t.summary() for t in translations if t.id != article.id]}


async def _get(ctx: Context, request: Request, admin: Agent) -> Response:
    article = await ctx.store.articles.get(request.path_params["article_id"])
    if article is None:
        return _error(404, "not_found", "no such article")
    return _json(await with_translations(ctx, article))


async def save(ctx: Context, data: dict[str, Any], *, article_id: str | None,
               author_id: str | None) -> Article | None:
    """Create (``article_id`` None; ``data`` names its ``site_id``) or change an article: only
    the fields in ``data`` change. None: no such article. ValueError: a refused value;
    ChatError ``not_found``: no such site, or article to translate. The admin routes and
    ``/api/v1/articles`` both save through here."""
    site_id = _text(data, "site_id")
    before = None
    if article_id is not None:
        if {"site_id", "translation_of"} & set(data):
            raise ValueError("an article stays in its site and its translations' group")
        before = await ctx.store.articles.get(article_id)
        if before is None:
            return None
        site_id = before.site_id
    if not site_id:
        raise ValueError("site_id is required")

    def field(name: str) -> Any:
        return _text(data, name, getattr(before, name) if before else None)

    saved: Article = await ctx.store.articles.save(
        site_id, article_id=article_id, translation_of=_text(data, "translation_of"),
        lang=field("lang") or "", title=field("title") or "", body=field("body") or "",
        category=field("category") or "", keywords=field("keywords") or "",
        status=field("status") or "draft", author_id=author_id, slug=_text(data, "slug"))
    return saved


async def _save(ctx: Context, request: Request, admin: Agent) -> Response:
    article_id = request.path_params.get("article_id")
    try:
        article = await save(ctx, await _article_body(request), article_id=article_id,
                             author_id=admin.id)
    except ChatError as exc:
        return _error(404, "not_found", exc.message)
    if article is None:
        return _error(404, "not_found", "no such article")
    return _json({"article": article.full()}, 200 if article_id else 201)


async def _delete(ctx: Context, request: Request, admin: Agent) -> Response:
    try:
        await ctx.store.articles.delete(await ctx.store.agent_site_ids(admin),
                                        request.path_params["article_id"])
    except ChatError as exc:
        return _error(404, "not_found", exc.message)
    return _json({"ok": True})


async def _preview(ctx: Context, request: Request, admin: Agent) -> Response:
    """The editor's live preview: the body rendered exactly as visitors will get it."""
    data = await bodies.json_object(request, MAX_ARTICLE_BODY)
    body = _text(data, "body", "")
    if len(body) > kb.MAX_BODY:
        raise ValueError(f"the body is at most {kb.MAX_BODY} characters")
    return _json({"html": kb.render(body).html})


async def _help_centre(ctx: Context, request: Request, admin: Agent) -> Response:
    """``PUT /api/admin/sites/{site_id}/help`` {slug}: where the site's help centre lives."""
    data = await bodies.json_object(request)
    try:
        slug = await ctx.store.articles.set_help_slug(request.path_params["site_id"],
                                                      _text(data, "slug", ""))
    except ChatError as exc:
        return _error(404, "not_found", exc.message)
    return _json({"slug": slug, "url": f"{ctx.own_origin(request)}/help/{slug}"})


async def _agents_site(ctx: Context, request: Request) -> str | Response:
    """The ``site`` of an agent's request (from the session cookie): one of the agent's sites,
    or the refusal (``401`` without a session, ``403`` another site)."""
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None:
        return _error(401, "unauthorized", "log in first")
    site_id = request.query_params.get("site", "")
    if site_id not in await ctx.store.agent_site_ids(agent):
        return _error(403, "forbidden", "not one of your sites")
    return site_id


async def agent_search(request: Request) -> Response:
    """``GET /api/agent/articles?site=&q=&lang=``: published articles of one of the agent's
    sites, for a link in a reply."""
    ctx = context(request)
    site_id = await _agents_site(ctx, request)
    if isinstance(site_id, Response):
        return site_id
    q = request.query_params.get("q", "")[:kb.MAX_QUERY]
    if q.strip():
        found = [f.article for f in await ctx.store.articles.search(
            site_id, q, request.query_params.get("lang") or None, limit=8)]
    else:
        found = (await ctx.store.articles.listed([site_id], published=True))[:8]
    return _json({"articles": await _with_urls(ctx, request, site_id, found)})


async def _with_urls(ctx: Context, request: Request, site_id: str,
                     found: list[Article]) -> list[dict[str, Any]]:
    """Summaries of the site's articles with ``url``: each one's help-centre page."""
    at = await help_base(ctx, request, site_id)
    return [{**a.summary(), "url": f"{at}/{a.lang}/{a.slug}"} for a in found]


#: A help-centre address is short; anything longer is not one of ours.
MAX_URL = 2048


def _help_link(url: str, origin: str) -> tuple[str, str, str] | None:
    """(address, language, slug) of ``<origin>/help/<address>/<lang>/<slug>``, else None."""
    if len(url) > MAX_URL or not url.startswith(origin + "/help/"):
        return None
    words = url[len(origin):].split("/")
    if len(words) != 5 or not all(words[2:]) or any(c in url for c in "?#"):
        return None
    address, lang, slug = (unquote(w) for w in words[2:])
    if "\x00" in address + lang + slug:  # (an address's NUL is refused at the edge: server/app.py)
        return None
    return address, lang, slug


async def agent_by_url(request: Request) -> Response:
    """``GET /api/agent/articles/by-url?site=&url=``: the published article of one of the
    agent's sites that a help-centre link (``<origin>/help/<address>/<lang>/<slug>``) names."""
    ctx = context(request)
    site_id = await _agents_site(ctx, request)
    if isinstance(site_id, Response):
        return site_id
    named = _help_link(request.query_params.get("url", ""), ctx.own_origin(request))
    found = None if named is None else await published_at(ctx, site_id, *named)
    if found is None:
        return _error(404, "not_found", "not a published article of this site")
    return _json({"article": (await _with_urls(ctx, request, site_id, [found]))[0]})


list_articles = admin_only(_list)
get_article = admin_only(_get)
save_article = admin_only(_save)
delete_article = admin_only(_delete)
preview = admin_only(_preview)
help_centre = admin_only(_help_centre)

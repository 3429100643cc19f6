"""``/widget/kb/…``: the knowledge base as the chat frame reads it — published articles only,
search as the visitor types, one article as sanitised HTML (never the Markdown), and what the
visitor did with them (a search, a view, a suggestion opened, a vote) for the reports.

Reads are public (a published article is public in the help centre too); every route counts
against ``LIVECHAT_KB_REQUESTS_PER_IP`` (429 ``rate_limited`` with ``Retry-After``). Events
come only from this server's own pages (Origin) and carry the visitor's token, which says who
voted and whether a visitor who opened a suggestion started a conversation afterwards.
docs/knowledge-base.md documents every route, field and error.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import kb
from server.auth import TokenError, origin_allowed
from server.privacy import unerased
from server.store.article_models import Article

from . import bodies
from .context import Context, client_ip, context

_HEADERS = {"Cache-Control": "no-store", "Cross-Origin-Resource-Policy": "same-origin"}
MAX_RESULTS = 10


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={**_HEADERS, **(headers or {})})


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return _json({"error": code, "message": message}, status, headers)


def limited(ctx: Context, request: Request) -> JSONResponse | None:
    """429 when this address has used its knowledge-base requests for the minute."""
    key = client_ip(request)
    if ctx.limits.kb_requests_per_ip.take(key):
        return None
    seconds = ctx.limits.kb_requests_per_ip.retry_after(key)
    return _error(429, "rate_limited", "too many requests; try again in a moment",
                  {"Retry-After": str(seconds)})


async def help_base(ctx: Context, request: Request, site_id: str) -> str:
    """Where the site's help centre is: ``<origin>/help/<its address, or its key>``."""
    address = await ctx.store.articles.help_slug(site_id) or site_id
    return f"{ctx.own_origin(request)}/help/{address}"


async def published_at(ctx: Context, site_id: str, address: str | None, lang: str,
                       slug: str) -> Article | None:
    """The site's published article at ``/help/<address>/<lang>/<slug>`` (``address`` None:
    not checked), or None: another site's help centre, a draft, no such article."""
    if address is not None and await ctx.store.articles.site_for_slug(address) != site_id:
        return None
    found = await ctx.store.articles.by_slug(site_id, lang.lower(), slug)
    return found if found is not None and found.status == "published" else None


async def help_url(ctx: Context, request: Request, article: Article) -> str:
    return f"{await help_base(ctx, request, article.site_id)}/{article.lang}/{article.slug}"


def _lang(request: Request) -> str | None:
    try:
        return kb.check_lang(request.query_params.get("lang", ""))
    except ValueError:
        return None


async def search(request: Request) -> Response:
    """``GET /widget/kb/search?site=&q=&lang=&limit=``: published articles, best first; in
    the visitor's language when the site has any in it, else in every language."""
    ctx = context(request)
    refused = limited(ctx, request)
    if refused:
        return refused
    site_id = request.query_params.get("site", "")
    q = request.query_params.get("q", "")
    if len(q) > kb.MAX_QUERY:
        return _error(400, "too_long", f"a search is at most {kb.MAX_QUERY} characters")
    limit = request.query_params.get("limit", str(MAX_RESULTS))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_RESULTS:
        return _error(400, "bad_request", f"limit is 1 to {MAX_RESULTS}")
    if await ctx.store.site(site_id) is None:
        return _error(404, "not_found", "no such site")
    lang = _lang(request)
    if lang and kb.primary(lang) not in {kb.primary(x) for x in
                                         await ctx.store.articles.languages(site_id)}:
        lang = None
    found = await ctx.store.articles.search(site_id, q, lang, limit=int(limit))
    return _json({"articles": [{**f.article.summary(), "snippet": f.snippet} for f in found]})


async def article(request: Request) -> Response:
    """``GET /widget/kb/articles/{id}?site=``, or ``GET /widget/kb/article?site=&lang=&slug=``
    ``&address=`` (a help-centre link an agent sent; ``address``, when given, must be the
    site's help centre's): one published article of the site."""
    ctx = context(request)
    refused = limited(ctx, request)
    if refused:
        return refused
    params = request.query_params
    site_id = params.get("site", "")
    article_id = request.path_params.get("article_id")
    if article_id is not None:
        found = await ctx.store.articles.get(article_id)
    else:
        found = await published_at(ctx, site_id, params.get("address"), params.get("lang", ""),
                                   params.get("slug", ""))
    if found is None or found.status != "published" or found.site_id != site_id:
        return _error(404, "not_found", "no such article")
    return _json({"article": {**found.public(), "url": await help_url(ctx, request, found)}})


async def event(request: Request) -> Response:
    """``POST /widget/kb/events`` {token, type, q | article, helpful}: remember what the
    visitor did. ``search`` is counted by the server (how many articles it finds)."""
    ctx = context(request)
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed")
    refused = limited(ctx, request)
    if refused:
        return refused
    try:
        data = await bodies.json_object(request, 4096)
    except bodies.BodyError as exc:
        return _error(exc.status, exc.code, exc.message)
    if set(data) - {"token", "type", "q", "lang", "article", "helpful"}:
        return _error(400, "bad_request", "unknown field")
    token = data.get("token")
    try:
        who = await unerased(ctx.store, ctx.tokens.visitor(
            token if isinstance(token, str) else "", ctx.settings.visitor_token_max_age))
    except TokenError:
        return _error(401, "unauthorized", "a valid visitor token is required")
    kind = data.get("type")
    if kind == "search":
        q = data.get("q")
        if not isinstance(q, str) or not q.strip() or len(q) > kb.MAX_QUERY:
            return _error(400, "bad_request", f"q is 1 to {kb.MAX_QUERY} characters")
        lang = data.get("lang")
        try:
            lang = kb.check_lang(lang) if isinstance(lang, str) else None
        except ValueError:
            lang = None
        results = len(await ctx.store.articles.search(who.site_id, q, lang, limit=MAX_RESULTS))
        if results == 0 and lang:
            results = len(await ctx.store.articles.search(who.site_id, q, None, limit=1))
        await ctx.store.articles.record(who.site_id, "search", visitor_id=who.visitor_id,
                                        query=" ".join(q.split()), results=results)
        return _json({"ok": True})
    if kind not in ("view", "suggestion_opened", "vote"):
        return _error(400, "bad_request", "type is search, view, suggestion_opened or vote")
    found = await ctx.store.articles.get(str(data.get("article", "")))
    if found is None or found.site_id != who.site_id or found.status != "published":
        return _error(404, "not_found", "no such article")
    helpful = data.get("helpful")
    if (kind == "vote") != isinstance(helpful, bool):
        return _error(400, "bad_request", "a vote has helpful: true or false (and only a vote)")
    await ctx.store.articles.record(who.site_id, kind, article_id=found.id,
                                    visitor_id=who.visitor_id, helpful=helpful)
    return _json({"ok": True})

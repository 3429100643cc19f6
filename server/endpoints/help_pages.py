"""``/help/<slug>/…``: a site's public help centre, rendered on the server (server/help_centre.py)
— fast, indexable (titles, descriptions, canonical and alternate links, a sitemap), in the
site's colours, without a line of script (its policy allows none).

``<slug>`` is the address set with ``livechat site help-centre`` (or on the Manage page), or the
site's key; a page asked for by key when the site has an address is redirected to it (301).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import help_centre, kb
from server.auth import origin_allowed
from server.help_centre import Centre
from server.store.article_models import Article

from . import bodies
from .context import Context, context
from .knowledge import limited, published_at

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' https: data:; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "strict-origin-when-cross-origin",
            "Cache-Control": "public, max-age=60"}


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/html; charset=utf-8",
                    headers=_HEADERS)


async def _centre(ctx: Context, request: Request) -> Centre | Response:
    """The help centre the path names; a redirect to its own address; or 404."""
    refused = limited(ctx, request)
    if refused:
        return refused
    asked = request.path_params["slug"]
    site_id = await ctx.store.articles.site_for_slug(asked)
    site = await ctx.store.site(site_id) if site_id else None
    if site is None:
        return Response("no such help centre", status_code=404, headers=_HEADERS)
    slug = await ctx.store.articles.help_slug(site.id) or site.id
    if slug != asked:
        rest = request.url.path.split("/", 3)[3:]
        target = "/".join([f"/help/{slug}", *rest]) + (
            "?" + request.url.query if request.url.query else "")
        return RedirectResponse(target, status_code=301)
    languages = tuple(await ctx.store.articles.languages(site.id))
    return Centre(ctx.own_origin(request), slug, site.name, site.profile.color, languages)


_ROBOTS = ("bot", "crawl", "spider", "slurp", "preview")


def _robot(request: Request) -> bool:
    """A search engine's crawler or a link preview, by its own account: not a reader."""
    agent = request.headers.get("user-agent", "").lower()
    return not agent or any(word in agent for word in _ROBOTS)


def _best_language(request: Request, languages: tuple[str, ...]) -> str:
    """The visitor's most wanted language (Accept-Language) that the site has articles in."""
    wanted: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, weight = part.strip().partition(";q=")
        try:
            wanted.append((float(weight) if weight else 1.0, tag.strip().lower()))
        except ValueError:
            continue
    for _, tag in sorted(wanted, key=lambda w: -w[0]):
        for code in languages:
            if code == tag or kb.primary(code) == kb.primary(tag):
                return code
    return languages[0] if languages else "en"


async def home(request: Request) -> Response:
    """``/help/<slug>``: to the home page in the visitor's language (302)."""
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    return RedirectResponse(centre.url(_best_language(request, centre.languages)),
                            status_code=302, headers={"Vary": "Accept-Language"})


async def index(request: Request) -> Response:
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    lang = request.path_params["lang"]
    site_id = await ctx.store.articles.site_for_slug(centre.slug) or ""
    articles = await ctx.store.articles.listed([site_id], lang=lang, published=True)
    if not articles:
        return _html(help_centre.not_found_page(centre, _best_language(request,
                                                                       centre.languages)), 404)
    return _html(help_centre.index_page(centre, lang, articles))


async def category(request: Request) -> Response:
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    lang, wanted = request.path_params["lang"], request.path_params["category"]
    site_id = await ctx.store.articles.site_for_slug(centre.slug) or ""
    articles = [a for a in await ctx.store.articles.listed([site_id], lang=lang, published=True)
                if a.category and kb.slugify(a.category) == wanted]
    if not articles:
        return _html(help_centre.not_found_page(centre, lang), 404)
    return _html(help_centre.category_page(centre, lang, articles[0].category, articles))


async def _published(ctx: Context, centre: Centre,
                     request: Request) -> tuple[str, Article | None]:
    """The site and the published article the path names (None: no such page)."""
    site_id = await ctx.store.articles.site_for_slug(centre.slug) or ""
    return site_id, await published_at(ctx, site_id, None, request.path_params["lang"],
                                       request.path_params["article"])


async def article(request: Request) -> Response:
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    site_id, found = await _published(ctx, centre, request)
    if found is None:
        return _html(help_centre.not_found_page(centre, request.path_params["lang"]), 404)
    translations = await ctx.store.articles.translations(found.group_id, published=True)
    voted = request.query_params.get("voted") == "1"
    if not voted and not _robot(request):
        await ctx.store.articles.record(site_id, "view", article_id=found.id)
    return _html(help_centre.article_page(centre, found, translations, voted))


async def vote(request: Request) -> Response:
    """``POST /help/<slug>/<lang>/<article>/vote`` (a form: ``helpful=yes|no``) from this
    server's own page: the reader's answer to "Did this answer your question?", then back to
    the article (303)."""
    ctx = context(request)
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return Response("forbidden origin", status_code=403, headers=_HEADERS)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    site_id, found = await _published(ctx, centre, request)
    if found is None:
        return _html(help_centre.not_found_page(centre, request.path_params["lang"]), 404)
    try:
        form = parse_qs((await bodies.read(request, 1024)).decode("utf-8", "replace"))
    except bodies.BodyError as exc:
        return Response(exc.message, status_code=exc.status, headers=_HEADERS)
    answer = form.get("helpful", [""])[0]
    if answer not in ("yes", "no"):
        return Response("helpful is yes or no", status_code=400, headers=_HEADERS)
    await ctx.store.articles.record(site_id, "vote", article_id=found.id,
                                    helpful=answer == "yes")
    return RedirectResponse(centre.url(found.lang, found.slug) + "?voted=1", status_code=303)


async def search(request: Request) -> Response:
    """``/help/<slug>/<lang>/search?q=``: the same search as the widget's."""
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    lang = request.path_params["lang"]
    q = request.query_params.get("q", "")[:kb.MAX_QUERY].strip()
    site_id = await ctx.store.articles.site_for_slug(centre.slug) or ""
    found = [f.article for f in await ctx.store.articles.search(site_id, q, lang)] if q else []
    if q:
        await ctx.store.articles.record(site_id, "search", query=" ".join(q.split()),
                                        results=len(found))
    page = help_centre.search_page(centre, lang, q, found)
    return Response(page, media_type="text/html; charset=utf-8",
                    headers={**_HEADERS, "Cache-Control": "no-store"})


async def theme(request: Request) -> Response:
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    return Response(help_centre.theme_css(centre.color), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=300"})


async def sitemap(request: Request) -> Response:
    ctx = context(request)
    centre = await _centre(ctx, request)
    if isinstance(centre, Response):
        return centre
    site_id = await ctx.store.articles.site_for_slug(centre.slug) or ""
    articles = await ctx.store.articles.listed([site_id], published=True)
    return Response(help_centre.sitemap(centre, articles), media_type="application/xml",
                    headers={"Cache-Control": "public, max-age=300"})

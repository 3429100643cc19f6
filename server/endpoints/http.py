"""HTTP endpoints: the widget's files and frame page, the panel and its reset page, health.
(Signing in is server/endpoints/account.py.)"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from server.assets import asset_dir
from server.auth import normalize_origin
from server.errors import Unavailable
from server.lean import lean_response

from .context import Context, context

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page_csp(sockets: str, frame_ancestors: str, images: str = "") -> str:
    """The policy of our pages: scripts, styles and connections to this server only. ``sockets``
    is this server's own ws:/wss: origin ('self' covers it in CSP Level 3 browsers; it is named
    for older ones), so an injected script could not send anything to another host."""
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {images}; "
        f"connect-src 'self' {sockets}; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors}"
    )


def socket_origin(ctx: Context, request: Request) -> str:
    """``ws://host[:port]`` or ``wss://…``: this server's origin for WebSockets."""
    origin = ctx.own_origin(request)
    return ("wss" + origin[5:]) if origin.startswith("https:") else ("ws" + origin[4:])


def _file(path: str, content_type: str, headers: dict[str, str]) -> FileResponse:
    return FileResponse(path, media_type=content_type, headers={**SECURITY_HEADERS, **headers})


async def index(request: Request) -> Response:
    return RedirectResponse("/agent", status_code=302)


async def favicon(request: Request) -> Response:
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


async def health(request: Request) -> JSONResponse:
    """200 while this process can serve: a write commits within ``LIVECHAT_HEALTH_TIMEOUT``
    and Redis (when used) answers pings within it; else 503, with the reason and for how long
    (docs/deployment.md)."""
    ctx = context(request)
    checks = {"store": await ctx.store.write_health(ctx.settings.health_timeout),
              "broker": ctx.broker.health()}
    ok = all(check.ok for check in checks.values())
    body: dict[str, Any] = {"status": "ok" if ok else "degraded"}
    for name, check in checks.items():
        body[name] = "ok" if check.ok else "down"
    body["email"] = "on" if ctx.settings.email_on else "off"
    for name, check in checks.items():
        if not check.ok:
            body[f"{name}_reason"] = check.reason
            body[f"{name}_down_for"] = (round(check.down_for, 1) if check.down_for is not None
                                        else None)
    return JSONResponse(body, status_code=200 if ok else 503,
                        headers={"Cache-Control": "no-store"})


async def unavailable(request: Request, exc: Exception) -> Response:
    """A request the store cannot serve now (full disk, lock, closing): 503 with Retry-After,
    never a traceback (the store logs the outage once)."""
    assert isinstance(exc, Unavailable)
    seconds = max(1, -(-exc.retry_after_ms // 1000))
    return JSONResponse({"error": "unavailable", "message": exc.reason,
                         "retry_after": exc.retry_after_ms}, status_code=503,
                        headers={"Retry-After": str(seconds), "Cache-Control": "no-store"})


async def widget_loader(request: Request) -> Response:
    # Short cache: a site owner's pages pick up a new version within minutes.
    return lean_response(str(asset_dir("widget") / "widget.js"),
                         {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300",
                          "Cross-Origin-Resource-Policy": "cross-origin"}, request.scope)


def embeds(page: str | None, allowed: Sequence[str]) -> bool:
    """Whether a page of origin ``page`` may embed the chat frame, as the browser reads the
    frame's ``frame-ancestors`` (the site's origins): the same origin, or the https one of an
    http origin listed (CSP allows that upgrade); a listed ``*.`` host covers its subdomains."""
    parts = urlsplit(page or "")
    if normalize_origin(page or "") != page or not parts.hostname:
        return False
    for source in filter(None, map(normalize_origin, allowed)):
        listed = urlsplit(source)
        host = listed.hostname or ""
        if ((listed.scheme == parts.scheme or (listed.scheme, parts.scheme) == ("http", "https"))
                and listed.port == parts.port
                and (host == parts.hostname
                     or (host.startswith("*.") and parts.hostname.endswith(host[1:])))):
            return True
    return False


def _shown(value: str) -> str:
    """A site key or an origin as the console is told it: characters a CSS string keeps as they
    are (no quote, backslash or line break), at most 100."""
    return re.sub(r"[^A-Za-z0-9_.:/\[\]*-]", "", value)[:100] or "(none)"


async def widget_launcher_css(request: Request) -> Response:
    """The loader's stylesheet, asked for with the tag's site key and the page's origin
    (``?site=…&parent=…``): the one request a page view makes besides the loader. For a key that
    is no site, or a page whose origin the site does not allow (where the chat frame would be
    refused), it is a stylesheet that hides the widget and says why in ``--lc-why``, which the
    loader writes to the console: a misconfigured tag shows visitors nothing."""
    ctx = context(request)
    key, parent = request.query_params.get("site", ""), request.query_params.get("parent", "")
    headers = {**SECURITY_HEADERS, "Cross-Origin-Resource-Policy": "cross-origin"}
    try:
        site = await ctx.store.site(key)
    except Unavailable:
        # The store cannot tell now: the launcher is drawn, and the frame checks for itself.
        return lean_response(str(asset_dir("widget") / "static" / "launcher.css"),
                             {**headers, "Cache-Control": "no-cache"}, request.scope)
    why = None
    if site is None:
        why = (f"livechat: there is no site {_shown(key)} on {_shown(ctx.own_origin(request))}"
               " (the tag's data-site): the chat is hidden")
    elif not embeds(parent, site.allowed_origins):
        why = (f"livechat: this page's origin, {_shown(parent)}, is not allowed for site "
               f"{_shown(key)}: the chat is hidden (livechat site set {_shown(key)} "
               "--origin …, once for every origin the site allows)")
    if why is not None:
        # Not kept: the site owner who fixes it sees the chat on the next reload.
        return Response(f':host{{display:none!important;--lc-why:"{why}"}}\n',
                        media_type="text/css; charset=utf-8",
                        headers={**headers, "Cache-Control": "no-store"})
    # As the loader: a change of the site's origins is seen within minutes.
    return lean_response(str(asset_dir("widget") / "static" / "launcher.css"),
                         {**headers, "Cache-Control": "public, max-age=300"}, request.scope)


async def widget_frame(request: Request) -> Response:
    """The chat frame page. Only the site's allowed origins may embed it (frame-ancestors)."""
    ctx = context(request)
    keys = [key for key, _ in request.query_params.multi_items()]
    if len(keys) != len(set(keys)):
        # The policy below is the site's that the server reads, and the frame runs the chat of
        # the one its script reads: they must be the same (another site's origins, else).
        return Response("a parameter is given twice", status_code=400,
                        headers=SECURITY_HEADERS)
    site = await ctx.store.site(request.query_params.get("site", ""))
    if site is None:
        return Response("unknown site", status_code=404, headers=SECURITY_HEADERS)
    ancestors = " ".join(o for o in (normalize_origin(a) for a in site.allowed_origins) if o)
    return _file(str(asset_dir("widget") / "frame.html"), "text/html; charset=utf-8", {
        # Images may come from https hosts (the site's logo, the pictures in its help
        # articles); nothing else may load from elsewhere.
        "Content-Security-Policy": _page_csp(socket_origin(ctx, request), ancestors or "'none'",
                                             "https:"),
        "Cache-Control": "no-cache",
    })


async def panel(request: Request) -> Response:
    return _panel_page(request, "index.html")


async def reset_page(request: Request) -> Response:
    """The page a password-reset link opens (``/agent/reset#token=…``)."""
    return _panel_page(request, "reset.html")


def _panel_page(request: Request, name: str) -> Response:
    return _file(str(asset_dir("agent_ui") / name), "text/html; charset=utf-8", {
        # https images: the pictures of help articles in the editor's preview.
        "Content-Security-Policy": _page_csp(socket_origin(context(request), request), "'none'",
                                             "https:"),
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    })

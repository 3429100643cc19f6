"""HTTP endpoints: the widget's files and frame page, the panel, agent login, health."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from server.assets import asset_dir
from server.auth import DUMMY_HASH, AgentSession, normalize_origin, origin_allowed, verify_password
from server.errors import Unavailable

from .agent import agent_from_cookie
from .context import AGENT_COOKIE, Context, context

MAX_LOGIN_BODY = 4096

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _page_csp(frame_ancestors: str, images: str = "") -> str:
    # 'self' covers ws:/wss: to this host in CSP Level 3 browsers; both are named for older ones.
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {images}; "
        "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors}"
    )


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
    for name, check in checks.items():
        if not check.ok:
            body[f"{name}_reason"] = check.reason
            body[f"{name}_down_for"] = (round(check.down_for, 1) if check.down_for is not None
                                        else None)
    body["connections"] = len(ctx.hub.connections)
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
    return _file(str(asset_dir("widget") / "widget.js"), "text/javascript; charset=utf-8",
                 {"Cache-Control": "public, max-age=300",
                  "Cross-Origin-Resource-Policy": "cross-origin"})


async def widget_frame(request: Request) -> Response:
    """The chat frame page. Only the site's allowed origins may embed it (frame-ancestors)."""
    ctx = context(request)
    site = await ctx.store.site(request.query_params.get("site", ""))
    if site is None:
        return Response("unknown site", status_code=404, headers=SECURITY_HEADERS)
    ancestors = " ".join(o for o in (normalize_origin(a) for a in site.allowed_origins) if o)
    return _file(str(asset_dir("widget") / "frame.html"), "text/html; charset=utf-8", {
        # The site's logo may live on its own host; nothing else may load from elsewhere.
        "Content-Security-Policy": _page_csp(ancestors or "'none'",
                                             site.profile.logo_origin() or ""),
        "Cache-Control": "no-cache",
    })


async def panel(request: Request) -> Response:
    return _file(str(asset_dir("agent_ui") / "index.html"), "text/html; charset=utf-8", {
        "Content-Security-Policy": _page_csp("'none'"),
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    })


def _same_origin(ctx: Context, request: Request) -> bool:
    """State-changing requests must come from our own pages (CSRF), on top of SameSite."""
    return origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)])


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def login(request: Request) -> Response:
    ctx = context(request)
    if not _same_origin(ctx, request):
        return _error(403, "forbidden_origin", "origin not allowed")
    body = await request.body()
    if len(body) > MAX_LOGIN_BODY:
        return _error(413, "too_long", "request too large")
    try:
        data: Any = json.loads(body)
        email, password = data["email"], data["password"]
        if not isinstance(email, str) or not isinstance(password, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _error(400, "bad_request", "send JSON with email and password")
    agent = await ctx.store.agent_by_email(email)
    # The hash is checked even for an unknown email, so that timing does not reveal which exist.
    # (An invited agent who has not chosen a password yet has no scrypt hash: same timing.)
    stored = agent.password_hash if agent and agent.password_hash.startswith("scrypt$") else None
    valid = await asyncio.to_thread(verify_password, password, stored or DUMMY_HASH)
    valid = valid and stored is not None
    if agent is None or not valid or not agent.active:
        return _error(401, "bad_credentials", "wrong email or password")
    response = JSONResponse({"agent": agent.public()}, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        AGENT_COOKIE, ctx.tokens.agent_token(AgentSession(agent.id, agent.session_generation)),
        max_age=ctx.settings.agent_session_max_age, httponly=True, samesite="strict",
        secure=ctx.settings.cookie_secure, path="/",
    )
    return response


async def logout(request: Request) -> Response:
    ctx = context(request)
    if not _same_origin(ctx, request):
        return _error(403, "forbidden_origin", "origin not allowed")
    response = JSONResponse({"ok": True}, headers={"Cache-Control": "no-store"})
    response.delete_cookie(AGENT_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=ctx.settings.cookie_secure)
    return response


async def me(request: Request) -> Response:
    ctx = context(request)
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None:
        return _error(401, "unauthorized", "log in first")
    return JSONResponse({"agent": agent.public()}, headers={"Cache-Control": "no-store"})

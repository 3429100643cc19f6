"""Agents' pictures: ``POST``/``DELETE /api/agent/avatar`` (the signed-in agent's own, from our
own pages), and ``GET /avatars/<key>`` (anyone who was shown the URL: visitors see it beside the
agent's messages). See server/avatars.py for why every agent has one URL, uploaded or not.

An upload is judged by its bytes, like attachments (server/files.py), and only images are kept:
PNG, JPEG, GIF or WebP, at most ``MAX_AVATAR_BYTES``. The file lives in the uploads folder under
a random name; a new picture replaces it and the old file is removed.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.auth import origin_allowed
from server.avatars import avatar_key, initials_svg
from server.files import IMAGE_TYPES, sniff

from .agent import agent_from_cookie
from .context import AGENT_COOKIE, Context, context
from .files import _error

MAX_AVATAR_BYTES = 2 * 1024 * 1024
_HEADERS = {"Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-cache", "Cross-Origin-Resource-Policy": "same-origin",
            "Referrer-Policy": "no-referrer"}
#: Unknown keys make the index be read again, at most this often (seconds): a stream of made-up
#: keys costs one read of the agents per interval, not one per request.
_REINDEX_EVERY = 2.0


async def _signed_in(ctx: Context, request: Request) -> tuple[Response | None, str]:
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed"), ""
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None:
        return _error(401, "unauthorized", "log in first"), ""
    return None, agent.id


async def upload(request: Request) -> Response:
    ctx = context(request)
    refused, agent_id = await _signed_in(ctx, request)
    if refused is not None:
        return refused
    declared = request.headers.get("content-length", "")
    too_big = _error(413, "too_large", f"a picture may be at most "
                                       f"{MAX_AVATAR_BYTES // (1024 * 1024)} MB")
    if declared.isdigit() and int(declared) > MAX_AVATAR_BYTES:
        return too_big
    uploads = ctx.limits.uploads_per_uploader
    if not uploads.take(agent_id):
        return _error(429, "rate_limited", "too many files; wait a little",
                      {"Retry-After": str(uploads.retry_after(agent_id))})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_AVATAR_BYTES:
            return too_big
        chunks.append(chunk)
    content = b"".join(chunks)
    kind = sniff(content)
    if kind not in IMAGE_TYPES:
        return _error(415, "unsupported_type", "send a PNG, JPEG, GIF or WebP picture")
    name = "avatar_" + secrets.token_urlsafe(18)
    await ctx.files.put_bytes(name, content)
    agent, old = await ctx.store.set_agent_avatar(agent_id, name, kind)
    if old:
        await ctx.files.delete([old])
    return JSONResponse({"agent": agent.public()}, headers={"Cache-Control": "no-store"})


async def remove(request: Request) -> Response:
    ctx = context(request)
    refused, agent_id = await _signed_in(ctx, request)
    if refused is not None:
        return refused
    agent, old = await ctx.store.set_agent_avatar(agent_id, None, None)
    if old:
        await ctx.files.delete([old])
    return JSONResponse({"agent": agent.public()}, headers={"Cache-Control": "no-store"})


async def _agent_id(ctx: Context, key: str) -> str | None:
    known = ctx.avatar_index.get(key)
    if known is not None or ctx.clock() - ctx.avatar_indexed_at < _REINDEX_EVERY:
        return known
    # A key we do not know: a new agent, or nobody. Agents are few; look them all up again.
    ctx.avatar_indexed_at = ctx.clock()
    ctx.avatar_index = {avatar_key(a.id): a.id for a in await ctx.store.agents()}
    return ctx.avatar_index.get(key)


async def download(request: Request) -> Response:
    ctx = context(request)
    key = request.path_params["key"]
    agent_id = await _agent_id(ctx, key) if len(key) == 24 and key.isalnum() else None
    agent = await ctx.store.agent(agent_id) if agent_id else None
    if agent is None:
        return _error(404, "not_found", "no such picture")
    if agent.avatar_file and agent.avatar_type:
        kept = await ctx.files.get(agent.avatar_file)
        headers = {**_HEADERS, "ETag": f'"{agent.avatar_file}"'}
        if isinstance(kept, Path):
            return FileResponse(kept, media_type=agent.avatar_type, headers=headers)
        if kept is not None:
            return Response(kept, media_type=agent.avatar_type, headers=headers)
    svg = initials_svg(agent.name, key)
    etag = '"' + hashlib.sha256(svg.encode()).hexdigest()[:16] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={**_HEADERS, "ETag": etag})
    return Response(svg, media_type="image/svg+xml",
                    headers={**_HEADERS, "ETag": etag})

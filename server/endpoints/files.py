"""``POST /api/files`` (upload) and ``GET /files/<id>`` (download).

Who uploads: a visitor, by the same signed token their chat frame holds (``Authorization: Bearer``),
or an agent, by their session cookie; both only from this server's own pages (Origin). The body is
the file itself; its name comes in ``X-File-Name`` (percent-encoded UTF-8). What it is comes from
its bytes (server/files.py). Files are kept on disk under ``LIVECHAT_UPLOADS`` with random names.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.auth import TokenError, origin_allowed
from server.files import content_disposition, safe_name, sniff
from server.private import private_dir
from server.ratelimit import TokenBucket

from .agent import agent_from_cookie
from .context import AGENT_COOKIE, Context, context

#: Uploads per uploader: a burst of 10, then one every 6 seconds (per process).
_UPLOAD_RATE, _UPLOAD_BURST = 1 / 6, 10


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store"})


async def _uploader(ctx: Context, request: Request) -> tuple[str, str] | None:
    """(site id, uploader id) of a visitor by token, or of an agent by cookie (their first
    site; attachments are checked against the sender, not the site, when sent)."""
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        try:
            who = ctx.tokens.visitor(auth[7:].strip(), ctx.settings.visitor_token_max_age)
        except TokenError:
            return None
        return who.site_id, who.visitor_id
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None:
        return None
    sites = await ctx.store.agent_site_ids(agent)
    return (sites[0], agent.id) if sites else None


def _allowed(ctx: Context, uploader: str) -> bool:
    buckets = ctx.upload_buckets
    bucket = buckets.get(uploader)
    if bucket is None:
        if len(buckets) > 10_000:  # bounded: forgetting old uploaders only forgives them
            buckets.clear()
        bucket = buckets[uploader] = TokenBucket(_UPLOAD_RATE, _UPLOAD_BURST, ctx.clock)
    return bucket.take()


async def upload(request: Request) -> Response:
    ctx = context(request)
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed")
    who = await _uploader(ctx, request)
    if who is None:
        return _error(401, "unauthorized", "a visitor token or an agent session is needed")
    site_id, uploader_id = who
    limit = ctx.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _error(413, "too_large", f"files may be at most {limit // (1024 * 1024)} MB")
    if not _allowed(ctx, uploader_id):
        return _error(429, "rate_limited", "too many files; wait a little")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _error(413, "too_large", f"files may be at most {limit // (1024 * 1024)} MB")
        chunks.append(chunk)
    content = b"".join(chunks)
    kind = sniff(content)
    if kind is None:
        return _error(415, "unsupported_type",
                      "send an image (PNG, JPEG, GIF, WebP), a PDF or a text file")
    name = safe_name(unquote(request.headers.get("x-file-name", "")))
    file_id = "file_" + secrets.token_urlsafe(18)
    await asyncio.to_thread(_write, ctx.settings.uploads_path(), file_id, content)
    attachment = await ctx.store.add_attachment(site_id, uploader_id, name, kind, size, file_id)
    return JSONResponse(attachment.public(), status_code=201, headers={"Cache-Control": "no-store"})


def _write(directory: Path, file_id: str, content: bytes) -> None:
    """Atomically: a reader never sees half a file."""
    private_dir(directory)
    tmp = directory / f".{file_id}.tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / file_id)


async def download(request: Request) -> Response:
    ctx = context(request)
    file_id = request.path_params["file_id"]
    attachment = await ctx.store.attachment(file_id) if file_id.startswith("file_") else None
    path = ctx.settings.uploads_path() / file_id
    if attachment is None or not path.is_file():
        return _error(404, "not_found", "no such file")
    return FileResponse(path, media_type=attachment.content_type, headers={
        "Content-Disposition": content_disposition(attachment.content_type, attachment.name),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, max-age=86400, immutable",
        "Referrer-Policy": "no-referrer",
    })

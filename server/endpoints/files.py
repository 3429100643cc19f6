"""``POST /api/files`` (upload) and ``GET /files/<id>`` (download).

Who uploads: a visitor, by the same signed token their chat frame holds (``Authorization: Bearer``),
or an agent, by their session cookie; both only from this server's own pages (Origin). The body is
the file itself; its name comes in ``X-File-Name`` (percent-encoded UTF-8). What it is comes from
its bytes (server/files.py), as they stream in: the body is written to a private temporary file
a chunk at a time and never held whole, and the size limit and the visitor's quota are enforced
while it arrives. Whole, accepted files are kept by the file store (server/store/filestore.py: the
folder ``LIVECHAT_UPLOADS``, or the PostgreSQL database) under random names; one never sent in a
message is deleted after ``LIVECHAT_UPLOAD_GRACE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.auth import TokenError, origin_allowed
from server.files import Sniffer, content_disposition, safe_name, typed_name
from server.privacy import unerased
from server.private import private_dir
from server.store import StoreClosed

from .agent import agent_from_cookie
from .context import AGENT_COOKIE, Context, client_ip, context

log = logging.getLogger("livechat.files")


def _error(status: int, code: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


async def _uploader(ctx: Context, request: Request) -> tuple[str, str] | None:
    """(site id, uploader id) of a visitor by token, or of an agent by cookie (their first
    site; attachments are checked against the sender, not the site, when sent)."""
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        try:
            who = await unerased(ctx.store, ctx.tokens.visitor(
                auth[7:].strip(), ctx.settings.visitor_token_max_age))
        except TokenError:
            return None
        return who.site_id, who.visitor_id
    agent = await agent_from_cookie(ctx, request.cookies.get(AGENT_COOKIE))
    if agent is None:
        return None
    sites = await ctx.store.agent_site_ids(agent)
    return (sites[0], agent.id) if sites else None


async def upload(request: Request) -> Response:
    ctx = context(request)
    if not origin_allowed(request.headers.get("origin"), [ctx.own_origin(request)]):
        return _error(403, "forbidden_origin", "origin not allowed")
    who = await _uploader(ctx, request)
    if who is None:
        return _error(401, "unauthorized", "a visitor token or an agent session is needed")
    site_id, uploader_id = who
    settings, limits, ip = ctx.settings, ctx.limits, client_ip(request)
    if uploader_id.startswith(("vis_", "usr_")):
        if await ctx.store.blocked(site_id, uploader_id, ip):
            return _error(403, "blocked", "you cannot send files on this site")
        site = await ctx.store.site(site_id)
        if site is None:
            return _error(401, "unauthorized", "a visitor token or an agent session is needed")
        if site.identity_mode == "mandatory" and uploader_id.startswith("vis_"):
            # (A token minted before the site asked for verified visitors only.)
            return _error(403, "identity_required",
                          "this site asks you to sign in before sending files")
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    size_hint = int(declared) if declared.isdigit() else 1
    if size_hint > limit:
        return _error(413, "too_large", f"files may be at most {limit // (1024 * 1024)} MB")
    if not limits.uploads_per_uploader.take(uploader_id):
        return _error(429, "rate_limited", "too many files; wait a little",
                      {"Retry-After": str(limits.uploads_per_uploader.retry_after(uploader_id))})
    # Per client address: files and bytes a minute (the bytes are counted as they arrive).
    for bucket, amount in ((limits.uploads_per_ip, 1), (limits.upload_bytes_per_ip, size_hint)):
        if not bucket.take(ip, amount):
            return _error(429, "rate_limited", "too many files from your address; wait a little",
                          {"Retry-After": str(bucket.retry_after(ip, amount))})
    room = limit
    if uploader_id.startswith(("vis_", "usr_")):  # a visitor's files may take so much in all
        room = min(limit, settings.upload_quota_bytes
                   - await ctx.store.uploaded_bytes(uploader_id))
        if room <= 0 or size_hint > room:
            return _error(413, "quota_exceeded", "you have sent as many files as we can keep")
    if not ctx.uploads_in_flight.acquire(uploader_id):  # (so the quota cannot be raced)
        return _error(429, "rate_limited", "one file at a time, please", {"Retry-After": "1"})
    try:
        saved = await _receive(ctx, request, room)
    except ClientDisconnect:  # gone mid-upload: nothing kept, nobody to answer
        return Response(status_code=400)
    finally:
        ctx.uploads_in_flight.release(uploader_id)
    limits.upload_bytes_per_ip.spend(ip, max(0, saved.size - size_hint))
    if saved.error is not None:
        return saved.error
    name = typed_name(safe_name(unquote(request.headers.get("x-file-name", ""))), saved.kind)
    attachment = await ctx.store.add_attachment(site_id, uploader_id, name, saved.kind,
                                                saved.size, saved.file_id)
    await sweep(ctx)
    return JSONResponse(attachment.public(), status_code=201, headers={"Cache-Control": "no-store"})


@dataclass
class _Saved:
    file_id: str = ""
    kind: str = ""
    size: int = 0
    error: Response | None = None


async def _receive(ctx: Context, request: Request, room: int) -> _Saved:
    """Stream the body to a private temporary file, judging it as it comes: past ``room``
    bytes it stops at once (413); a type not accepted is refused (415). Only a whole, accepted
    file is renamed into place. Memory: one chunk at a time, whatever the size."""
    directory = ctx.settings.uploads_path()
    file_id = "file_" + secrets.token_urlsafe(18)
    tmp = directory / f".{file_id}.tmp"
    sniffer = Sniffer()
    saved = _Saved(file_id)
    limit = ctx.settings.max_upload_bytes
    f = await asyncio.to_thread(_open_private, directory, tmp)
    try:
        async for chunk in request.stream():
            sniffer.feed(chunk)
            if sniffer.size > room:
                saved.size = sniffer.size
                saved.error = (
                    _error(413, "quota_exceeded", "you have sent as many files as we can keep")
                    if room < limit else
                    _error(413, "too_large", f"files may be at most {limit // (1024 * 1024)} MB"))
                return saved
            await asyncio.to_thread(f.write, chunk)
        saved.size = sniffer.size
        kind = sniffer.result()
        if kind is None:
            saved.error = _error(415, "unsupported_type",
                                 "send an image (PNG, JPEG, GIF, WebP), a PDF or a text file")
            return saved
        saved.kind = kind
        await asyncio.to_thread(f.close)
        await ctx.files.put(file_id, tmp)  # whole and durable, or not there at all
        return saved
    finally:
        await asyncio.to_thread(_discard, f, tmp)


def _open_private(directory: Path, tmp: Path) -> BinaryIO:
    private_dir(directory)
    return os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _discard(f: BinaryIO, tmp: Path) -> None:
    f.close()
    tmp.unlink(missing_ok=True)


async def sweep(ctx: Context) -> int:
    """Delete uploads never sent in a message within LIVECHAT_UPLOAD_GRACE, and temporary files
    left that long (an upload cut off by a crash). Run after each upload and periodically."""
    grace = ctx.settings.upload_grace
    ids = await ctx.store.drop_unattached(int((ctx.clock() - grace) * 1000))
    await ctx.files.delete(ids)
    return await asyncio.to_thread(_delete_leftovers, ctx.settings.uploads_path(), ids,
                                   ctx.clock() - grace)


def _delete_leftovers(directory: Path, ids: list[str], before: float) -> int:
    with contextlib.suppress(OSError):
        for leftover in directory.glob(".file_*.tmp"):
            if leftover.stat().st_mtime < before:
                leftover.unlink(missing_ok=True)
    return len(ids)


async def run_sweeper(ctx: Context) -> None:
    """The periodic sweep, for servers where nobody uploads for a while."""
    while True:
        await asyncio.sleep(max(1.0, min(ctx.settings.upload_grace / 2, 300.0)))
        try:
            await sweep(ctx)
        except StoreClosed:
            return
        except Exception as exc:  # the next round retries
            log.warning("upload sweep failed (%s)", type(exc).__name__)


async def download(request: Request) -> Response:
    ctx = context(request)
    file_id = request.path_params["file_id"]
    attachment = await ctx.store.attachment(file_id) if file_id.startswith("file_") else None
    kept = await ctx.files.get(file_id) if attachment is not None else None
    if attachment is None or kept is None:
        return _error(404, "not_found", "no such file")
    headers = {
        "Content-Disposition": content_disposition(attachment.content_type, attachment.name),
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, max-age=86400, immutable",
        "Referrer-Policy": "no-referrer",
    }
    if isinstance(kept, Path):
        return FileResponse(kept, media_type=attachment.content_type, headers=headers)
    return Response(kept, media_type=attachment.content_type, headers=headers)

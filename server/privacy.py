"""Data rights around the store's part (server/store/privacy.py): a visitor's export as a zip
(``visitor.json`` and the files), the files an erasure or a retention sweep leaves to delete, and
the periodic retention sweep of each process. Files are the ``FileStore``'s (the uploads folder,
or PostgreSQL's ``files`` table: server/store/filestore.py)."""

from __future__ import annotations

import asyncio
import io
import logging
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from server.auth import TokenError, VisitorIdentity
from server.files import safe_name
from server.store.filestore import FileStore
from server.store.privacy import Erased, Held, Privacy

if TYPE_CHECKING:
    from server.chat import Chat
    from server.store import Store

log = logging.getLogger("livechat.privacy")


async def export_zip(held: Held, store: FileStore, now: float) -> bytes:
    """Everything held about the visitor: ``visitor.json`` (profile, attributes, browser, the
    pages visited, every conversation with all its messages, events, notes and rating, the
    files' details) and ``files/`` (the files themselves)."""
    contents = {a.id: await store.get(a.id) for a in held.attachments}
    return await asyncio.to_thread(_zip, held, contents, now)


def _zip(held: Held, contents: dict[str, Path | bytes | None], now: float) -> bytes:
    files: list[dict[str, Any]] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for attachment in held.attachments:
            entry = f"files/{attachment.id}-{safe_name(attachment.name)}"
            content = contents.get(attachment.id)
            present = content is not None
            if isinstance(content, Path):
                archive.write(content, entry)
            elif content is not None:
                archive.writestr(entry, content)
            files.append({**attachment.public(), "file": entry if present else None,
                          "uploaded_at": attachment.created_at})
        document = {
            "exported_at": datetime.fromtimestamp(now, UTC).isoformat(),
            "visitor": held.visitor.public() | {"site_id": held.visitor.site_id},
            "pages": [{"url": p.url, "title": p.title, "at": p.at} for p in held.pages],
            "conversations": [
                {**conversation.summary(),
                 "messages": [{k: v for k, v in m.frame().items() if k != "type"}
                              for m in messages]}
                for conversation, messages in held.conversations],
            "files": files,
            "knowledge_base": held.knowledge_base,
        }
        archive.writestr("visitor.json", orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return buffer.getvalue()


async def delete_files(store: FileStore, names: list[str]) -> None:
    await store.delete([name for name in names if name.startswith("file_") and "/" not in name])


async def erase(privacy: Privacy, store: FileStore, site_ids: list[str], visitor_id: str,
                erased_by: str, chat: Chat | None = None) -> Erased:
    """Erase the visitor, then their files; with the server's ``chat``, their open sockets
    end and the panels are told (the command line has none: docs/api.md)."""
    erased = await privacy.erase(site_ids, visitor_id, erased_by)
    if chat is not None:  # first: a frame of theirs meanwhile is refused (ensure_visitor)
        await chat.erased(visitor_id, erased.conversation_ids)
    await delete_files(store, erased.files)
    return erased


async def unerased(store: Store, who: VisitorIdentity) -> VisitorIdentity:
    """``who``, from a visitor token, unless that visitor was erased: a token their browser
    kept (or a copy) is then refused as one that does not verify, and the widget starts a new
    visitor (docs/protocol.md: ``4401``), rather than bring the erased id back."""
    if await store.was_erased(who.visitor_id):
        raise TokenError("this visitor was erased")
    return who


async def run_retention(privacy: Privacy, store: FileStore, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled (every process may: see ``sweep``)."""
    while True:
        await asyncio.sleep(interval)
        try:
            deleted, files = await privacy.sweep()
        except Exception as exc:  # the next round tries again
            log.warning("retention sweep failed (%s)", type(exc).__name__)
            continue
        await delete_files(store, files)
        if deleted:
            log.info("retention: %d resolved conversations deleted (%d files)", deleted,
                     len(files))

"""Attachments' rows: who uploaded what, and when it was first sent (the bytes are
kept by a ``server.store.filestore.FileStore``)."""

from __future__ import annotations

from typing import Protocol

from server.store.base import (
    ATTACHMENT_COLS,
    DB,
    Base,
    attachment_row,
    skip_locked,
)
from server.store.models import (
    Attachment,
)


class AttachmentStore(Protocol):
    """What ``Attachments`` offers (``server.store.Store`` is every such protocol)."""

    async def add_attachment(self, site_id: str, uploader_id: str, name: str, content_type: str,
                             size: int, attachment_id: str) -> Attachment: ...
    async def attachment(self, attachment_id: str) -> Attachment | None: ...
    async def uploaded_bytes(self, uploader_id: str) -> int: ...
    async def drop_unattached(self, before: int) -> list[str]: ...


class Attachments(Base):
    async def add_attachment(self, site_id: str, uploader_id: str, name: str, content_type: str,
                             size: int, attachment_id: str) -> Attachment:
        attachment = Attachment(attachment_id, site_id, uploader_id, name, content_type, size,
                                self._now())

        def op(db: DB) -> Attachment:
            db.execute(f"INSERT INTO attachments({ATTACHMENT_COLS}) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (attachment.id, attachment.site_id, attachment.uploader_id,
                        attachment.name, attachment.content_type, attachment.size,
                        attachment.created_at))
            return attachment

        return await self._submit(op)

    async def attachment(self, attachment_id: str) -> Attachment | None:
        row = await self._one(f"SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = ?",
                              (attachment_id,))
        return attachment_row(row) if row else None

    async def uploaded_bytes(self, uploader_id: str) -> int:
        """What one uploader keeps stored (for the per-visitor quota)."""
        row = await self._one("SELECT coalesce(sum(size), 0) FROM attachments "
                              "WHERE uploader_id = ?", (uploader_id,))
        return int(row[0])

    async def drop_unattached(self, before: int) -> list[str]:
        """Forget uploads never sent in a message and made before ``before`` (ms); their ids,
        for the caller to delete the files (each id is returned to one caller only)."""
        if await self._one("SELECT 1 FROM attachments WHERE attached_at IS NULL "
                           "AND created_at < ? LIMIT 1", (before,)) is None:
            return []

        def op(db: DB) -> list[str]:
            rows = db.execute("DELETE FROM attachments WHERE id IN (SELECT id FROM attachments "
                              "WHERE attached_at IS NULL AND created_at < ?"
                              f"{skip_locked(db)}) RETURNING id", (before,)).fetchall()
            return [r[0] for r in rows]

        return await self._submit(op)

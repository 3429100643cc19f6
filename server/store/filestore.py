"""Where uploaded files' bytes are kept — attachments and agents' pictures — by name.

``LocalFiles`` is a private folder (``LIVECHAT_UPLOADS``): the SQLite default, served straight
from disk. ``DatabaseFiles`` keeps them in the store's own database (PostgreSQL's ``files``
table), so that every machine serves every file and no disk is shared. An upload always streams
to a private temporary file on the receiving machine first (judged and size-checked as it
arrives); only a whole, accepted file is handed to ``put``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from server.private import private_dir
from server.store.base import Base


class FileStore(Protocol):
    """Files by name. ``put`` returns once the file is durable (a reader on any machine then
    finds it whole, never half); ``get`` is None for a file not (or no longer) there; deleting
    what is not there is not an error."""

    async def put(self, name: str, source: Path) -> None:
        """Keep the finished temporary file ``source`` (it is consumed) as ``name``."""
        ...

    async def put_bytes(self, name: str, content: bytes) -> None: ...

    async def get(self, name: str) -> Path | bytes | None:
        """A path to serve from (the local folder), or the bytes (the database)."""
        ...

    async def delete(self, names: Sequence[str]) -> None: ...


def _sync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


class LocalFiles:
    """A private folder (0700, files 0600); temporary files are written in it, beside."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def put(self, name: str, source: Path) -> None:
        def move() -> None:
            _sync_file(source)
            os.replace(source, self.directory / name)  # atomic: never half a file

        await asyncio.to_thread(move)

    async def put_bytes(self, name: str, content: bytes) -> None:
        def write() -> None:
            private_dir(self.directory)
            tmp = self.directory / f".{name}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / name)

        await asyncio.to_thread(write)

    async def get(self, name: str) -> Path | bytes | None:
        path = self.directory / name
        return path if await asyncio.to_thread(path.is_file) else None

    async def delete(self, names: Sequence[str]) -> None:
        def remove() -> None:
            for name in names:
                with contextlib.suppress(OSError):
                    (self.directory / name).unlink()

        await asyncio.to_thread(remove)


class Blobs(Base):
    """The ``files`` table: files' bytes in the database (PostgreSQL's store)."""

    async def put_file(self, name: str, content: bytes) -> None:
        now = self._now()
        await self._submit(lambda db: db.execute(
            "INSERT INTO files(name, content, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET content = excluded.content", (name, content, now)))

    async def file_content(self, name: str) -> bytes | None:
        row = await self._one("SELECT content FROM files WHERE name = ?", (name,))
        return bytes(row[0]) if row else None

    async def delete_files(self, names: Sequence[str]) -> None:
        if names:
            await self._submit(lambda db: db.execute(
                f"DELETE FROM files WHERE name IN ({','.join('?' * len(names))})",
                tuple(names)))


class DatabaseFiles:
    """Files in the store's database: every machine serves every file."""

    def __init__(self, blobs: Blobs) -> None:
        self.blobs = blobs

    async def put(self, name: str, source: Path) -> None:
        content = await asyncio.to_thread(source.read_bytes)
        await self.blobs.put_file(name, content)
        await asyncio.to_thread(source.unlink, True)

    async def put_bytes(self, name: str, content: bytes) -> None:
        await self.blobs.put_file(name, content)

    async def get(self, name: str) -> Path | bytes | None:
        return await self.blobs.file_content(name)

    async def delete(self, names: Sequence[str]) -> None:
        await self.blobs.delete_files(names)

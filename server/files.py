"""Attachments, decided by what the bytes are, never by the name or the sender's Content-Type.
Pure: the endpoint (server/endpoints/files.py) does the I/O.

Accepted: PNG, JPEG, GIF and WebP images (shown inline as previews), PDF, and plain UTF-8 text.
Everything else — SVG and HTML included, which could carry script — is refused. Files are always
served with ``X-Content-Type-Options: nosniff``, a ``sandbox`` CSP and, except images, as
``attachment`` downloads.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_TEXT_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def sniff(content: bytes) -> str | None:
    """The content type of an acceptable file, or None."""
    for magic, kind in _MAGIC:
        if content.startswith(magic):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content and not _TEXT_CONTROL.search(content):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        head = text.lstrip("\ufeff \t\r\n")[:256].lower()
        # Markup is refused even as text: an old browser or a careless proxy could render it.
        if head.startswith(("<", "<?xml")) or "<svg" in head or "<html" in head:
            return None
        return "text/plain"
    return None


def safe_name(name: str) -> str:
    """A file name fit to show and to put in a header: no path, no control characters, at most
    120 characters, never empty."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|*?:').strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:120]
    return name or "file"


def content_disposition(content_type: str, name: str) -> str:
    """Images inline (previews), everything else a download; the name in both ASCII and UTF-8
    (RFC 6266), so that no name can break out of the header."""
    kind = "inline" if content_type in IMAGE_TYPES else "attachment"
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._- " else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"

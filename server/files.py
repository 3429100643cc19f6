"""Attachments, decided by what the bytes are, never by the name or the sender's Content-Type.
Pure: the endpoint (server/endpoints/files.py) does the I/O.

Accepted: PNG, JPEG, GIF and WebP images (shown inline as previews), PDF, and plain UTF-8 text.
Everything else — SVG and HTML included, which could carry script — is refused, and each file's
name ends as what it is (``typed_name``). Files are always served with
``X-Content-Type-Options: nosniff``, a ``sandbox`` CSP and, except images, as ``attachment``
downloads.
"""

from __future__ import annotations

import codecs
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
_BLANK = "\ufeff \t\r\n"
_TEXT_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


class Sniffer:
    """``sniff`` for a file that arrives in pieces: fed chunk by chunk, it keeps the head and
    checks the text as it goes, so the file never has to be held whole."""

    HEAD = 1024

    def __init__(self) -> None:
        self.head = b""
        self.size = 0
        self._text = True
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._text_head = ""

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < self.HEAD:
            self.head += chunk[: self.HEAD - len(self.head)]
        self.size += len(chunk)
        if self._text:
            try:
                decoded = self._utf8.decode(chunk)
            except UnicodeDecodeError:
                self._text = False
                return
            if _TEXT_CONTROL.search(chunk):
                self._text = False
            elif len(self._text_head.lstrip(_BLANK)) < 300 and len(self._text_head) < 1 << 20:
                self._text_head += decoded

    def result(self) -> str | None:
        """The content type of an acceptable file, or None."""
        content = self.head
        for magic, kind in _MAGIC:
            if content.startswith(magic):
                return kind
        if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
            return "image/webp"
        if not self.size or not self._text:
            return None
        try:
            self._utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            return None
        head = self._text_head.lstrip(_BLANK)[:256].lower()
        # Markup is refused even as text: an old browser or a careless proxy could render it.
        if head.startswith(("<", "<?xml")) or "<svg" in head or "<html" in head:
            return None
        return "text/plain"


def sniff(content: bytes) -> str | None:
    """The content type of an acceptable file, or None."""
    sniffer = Sniffer()
    sniffer.feed(content)
    return sniffer.result()


def safe_name(name: str) -> str:
    """A file name fit to show and to put in a header: no path, no control characters, at most
    120 characters, never empty."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|*?:').strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:120]
    return name or "file"


#: The extensions a file of each accepted type may keep; the first is given to one whose name
#: has none of them.
EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log", ".csv", ".md"),
}


def typed_name(name: str, content_type: str) -> str:
    """``name`` (a ``safe_name``) ending as what the file is: text that ends in markup named
    ``page.html``, or a picture named ``x.svg``, is saved and opened as what it is
    (``page.html.txt``), whatever program a download is opened with."""
    extensions = EXTENSIONS[content_type]
    if name.lower().endswith(extensions):
        return name
    return safe_name(name[: 120 - len(extensions[0])] + extensions[0])


def content_disposition(content_type: str, name: str) -> str:
    """Images inline (previews), everything else a download; the name in both ASCII and UTF-8
    (RFC 6266), so that no name can break out of the header."""
    kind = "inline" if content_type in IMAGE_TYPES else "attachment"
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._- " else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"

"""Attachments are judged by their bytes; their names can never break a header. Pure."""

from __future__ import annotations

import pytest

from server.files import content_disposition, safe_name, sniff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20


@pytest.mark.parametrize("content, kind", [
    (PNG, "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 10, "image/jpeg"),
    (b"GIF89a" + b"\x00" * 10, "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"%PDF-1.7\n", "application/pdf"),
    ("Order 1234: ça va? ✓\nline two\t\r\n".encode(), "text/plain"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", None),
    (b"  <!doctype html><html><script>alert(1)</script>", None),
    (b"\xef\xbb\xbf<?xml version='1.0'?><svg/>", None),
    (b"MZ\x90\x00\x03\x00", None),       # a Windows executable
    (b"PK\x03\x04", None),               # a zip
    (b"\xff\xfe\x00\x00", None),         # not UTF-8
    (b"", None),
])
def test_sniff(content: bytes, kind: str | None) -> None:
    assert sniff(content) == kind


def test_a_png_named_like_html_is_a_png_and_html_named_png_is_refused() -> None:
    assert sniff(PNG) == "image/png"
    assert sniff(b"<html><body>hi</body></html>") is None


@pytest.mark.parametrize("name, safe", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
    ('evil"\r\nSet-Cookie: x=1.txt', "evilSet-Cookie x=1.txt"),
    ("", "file"),
    ("...", "file"),
    ("a" * 200 + ".png", "a" * 116 + ".png"),
])
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_content_disposition() -> None:
    assert content_disposition("image/png", "café.png") == (
        "inline; filename=\"caf_.png\"; filename*=UTF-8''caf%C3%A9.png")
    header = content_disposition("text/plain", 'a";b.txt')
    assert header.startswith('attachment; filename="a__b.txt"')
    assert "\r" not in header and "\n" not in header

"""The widget's and panel's scripts and stylesheets served without their comments.

The files are written to be read (no build step: what is in the repository is what runs), and a
third of their bytes are comments — about 4 KB of the 30 KB a new visitor's browser transfers,
gzipped, and about a sixth of the loader a site owner pastes (docs/embedding.md: its size). So
the server strips them when it serves the files, once per file version (kept in memory by path,
size and mtime).

Only what is certainly a comment goes (and then every line's indentation, trailing blanks and
empty lines): in CSS every ``/* … */`` (our stylesheets have no
strings containing ``/*``); in JavaScript a block comment that opens the file, a line that holds
nothing but a ``//`` comment, and a block comment that starts a line and ends a line. Comments
after code on the same line stay, as does anything inside a string (our scripts have no
multi-line strings or template literals: tests/test_lean.py checks that, and parses every
stripped script with Node; the browser tests run nothing else). The ETag is that of the bytes
served.
"""

from __future__ import annotations

import hashlib
import os
import re
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

_CSS_COMMENT = re.compile(r"/\*.*?\*/[ \t]*\n?", re.S)
_JS_HEAD = re.compile(r"\A\s*/\*.*?\*/[ \t]*\n", re.S)
_JS_LINE = re.compile(r"^[ \t]*//[^\n]*\n", re.M)
_JS_BLOCK = re.compile(r"^[ \t]*/\*(?:[^*]|\*(?!/))*\*/[ \t]*\n", re.M)

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


#: A line's indentation, its trailing blanks, and empty lines: never meaning in our scripts
#: and stylesheets (no multi-line strings, as above), and 3-4 % of what is sent gzipped.
_BLANKS = re.compile(r"^[ \t]+|[ \t]+$|\n(?=\n)", re.M)


def strip(text: str, suffix: str) -> str:
    """``text`` (a ``.js`` or ``.css`` file's) without its whole-line comments, indentation and
    empty lines."""
    if suffix == ".css":
        return _BLANKS.sub("", _CSS_COMMENT.sub("", text))
    return _BLANKS.sub("", _JS_LINE.sub("", _JS_BLOCK.sub("", _JS_HEAD.sub("", text))))


@lru_cache(maxsize=256)
def _lean(path: str, size: int, mtime: float) -> tuple[bytes, str]:
    body = strip(Path(path).read_text(encoding="utf-8"), os.path.splitext(path)[1]).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def lean_response(path: str, headers: dict[str, str], scope: Scope | None = None,
                  stat: os.stat_result | None = None, status_code: int = 200) -> Response:
    """The file at ``path`` stripped, with ``headers``; ``304`` when the client has it."""
    stat = stat or os.stat(path)
    body, etag = _lean(path, stat.st_size, stat.st_mtime)
    sent = {**headers, "etag": etag, "last-modified": formatdate(stat.st_mtime, usegmt=True)}
    if scope is not None:
        asked = Headers(scope=scope).get("if-none-match", "")
        if etag in [tag.strip() for tag in asked.split(",")]:
            return NotModifiedResponse(Headers(sent))
    return Response(body, status_code=status_code,
                    media_type=TYPES[os.path.splitext(path)[1]], headers=sent)


class LeanStaticFiles(StaticFiles):
    """``StaticFiles`` that serves ``.js`` and ``.css`` files stripped (everything else as is)."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result,
                      scope: Scope, status_code: int = 200) -> Response:
        path = os.fspath(full_path)
        if os.path.splitext(path)[1] not in TYPES:
            return super().file_response(full_path, stat_result, scope, status_code)
        return lean_response(path, {}, scope, stat_result, status_code)

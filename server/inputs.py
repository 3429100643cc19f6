"""Checks on what clients send that the store or the standard library cannot be trusted with.
Pure: no I/O besides reading the time-zone list once.

* JSON bodies are measured before they are parsed: nesting deeper than ``MAX_DEPTH`` is refused
  without handing it to a recursive parser, numbers that are not finite (``1e999``) are refused,
  and integers must fit the store's 64-bit integers.
* Time zones are names from the IANA list (``zoneinfo.available_timezones``), never paths: the
  standard library would open ``Europe`` as a directory and ``../x`` as a file.
"""

from __future__ import annotations

import functools
import json
import re
import zoneinfo
from typing import Any

MAX_DEPTH = 32
#: Unicode's direction embeddings, overrides and isolates: in a name they turn what agents see
#: around ("Evil\u202eecilA" reads as another name). Refused in a name a visitor gives, and
#: dropped from one a site signs (server/auth.py).
DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: What a name, one line, has no use for: line breaks and the other control characters (NUL
#: aside: refused, as in any text). A name "Mallory\r\nBcc: …" stopped the email whose subject
#: carried it.
_NAME_CONTROLS = re.compile("[\x01-\x1f\x7f-\x9f\u2028\u2029]+")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class BadInput(ValueError):
    """The input is refused; the message says why (safe to show the client)."""


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw`` (strings skipped), without parsing."""
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    level = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadInput(f"{text[:20]} is not a finite number")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadInput("an integer is out of range")
    return value


def _constant(name: str) -> Any:
    raise BadInput(f"{name} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise BadInput("duplicate key")
    return obj


def loads(raw: bytes | str, max_depth: int | None = MAX_DEPTH, *, int64: bool = True) -> Any:
    """Strict JSON: at most ``max_depth`` deep (None: not measured; the parser's own recursion
    limit still refuses it), finite numbers, 64-bit integers (unless ``int64`` is false: the
    caller checks ranges itself), no NaN or Infinity, no duplicate keys. Raises BadInput."""
    if max_depth is not None:
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if depth(data) > max_depth:
            raise BadInput(f"nested more than {max_depth} deep")
    try:
        return json.loads(raw, parse_float=_finite, parse_int=_int64 if int64 else None,
                          parse_constant=_constant, object_pairs_hook=_pairs)
    except BadInput:
        raise
    except (ValueError, RecursionError):
        raise BadInput("not valid JSON") from None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def known_timezone(name: object) -> bool:
    """Whether ``name`` is an IANA time zone (``Europe/Lisbon``, ``UTC``)."""
    return isinstance(name, str) and len(name) <= 64 and name in _zones()


def fits_int64(value: object) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def one_line_name(value: str) -> str:
    """A person's name as it is kept and shown: without direction controls, each run of
    control characters (line breaks included) one space, no space around it."""
    return _NAME_CONTROLS.sub(" ", DIRECTION_CONTROLS.sub("", value)).strip()


def utf8_text(value: str) -> bool:
    """Whether UTF-8 can hold ``value``: JSON's ``"\\ud800"`` parses to a lone surrogate, which
    no store, log or codec after takes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

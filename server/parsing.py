"""Strict parsing of what clients send: JSON text to the typed frames of server/frames.py, or a
``ChatError`` with the code the client is sent. Pure: no I/O, no Starlette.

Parsing is deliberately strict (unknown fields, NaN, duplicate keys, lone surrogates, NUL are all
refused) because every field that reaches the store is stored verbatim and shown to other people.
"""

from __future__ import annotations

import json
import re
from typing import Any, Union

import msgspec

from server import inputs, kb
from server.errors import ChatError, Code
from server.frames import (
    AssignTeam,
    Attributes,
    Block,
    CancelFollowUp,
    Claim,
    Context,
    DeleteCanned,
    FollowUp,
    Frame,
    Handoff,
    Hello,
    History,
    Leave,
    ListBlocks,
    ListConversations,
    ListFollowUps,
    ListMentions,
    Note,
    Open,
    Ping,
    Profile,
    Rate,
    Read,
    Reopen,
    Resolve,
    Role,
    SaveCanned,
    Search,
    Send,
    Snooze,
    Status,
    Tag,
    Transcript,
    Transfer,
    Typing,
    Unblock,
)

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TOKEN_MAX = 1024
_IDS_MAX = 20
#: Control characters (C0, DEL, C1): refused in one-line texts such as titles and attributes.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,31}$")
_SHORTCUT_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
_URL_RE = re.compile(r"^https?://[^\s\x00-\x1f]+$")
#: An article's language as the REST API takes it (``en``, ``pt-BR``, ``pt_br``; the store
#: makes it lowercase with a dash).
LANG_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
#: The longest value of an article's text fields (server/kb.py), checked before the store trims
#: them. (The store checks the rest: a title not blank, no NUL.)
ARTICLE_TEXT = {"heading": kb.MAX_TITLE, "markdown": kb.MAX_BODY, "category": kb.MAX_CATEGORY,
                "keywords": kb.MAX_KEYWORDS, "slug": kb.MAX_SLUG}
_JWT_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
#: What no part of an email address may hold: a name, brackets or a second address around it
#: (``<i>hi</i>@evil.com`` went out to ``i``), spaces, controls.
_EMAIL_BAD = re.compile(r'[\s@<>()\[\]\\,;:"\x00-\x1f\x7f-\x9f\ufeff]')

# Field kinds: "id" (client or server id), "seq" (int >= 0), "int", "bool", "str" (token-ish),
# "jwt" (three base64url parts; checked by server.auth.identity_claims),
# "text" (human text, validated by validate_text), "name" (text of at most 100 characters),
# "person" (a name a visitor gives of themselves: a "name" without direction controls, which
# would turn it around where agents read it: dropped; one line: control characters, line
# breaks included, become a space),
# "ext" (an id from the site's own systems), "email", "limit" (1..200), "score" (1..5), "comment"
# (text of at most 1,000 characters), "attrs" (an object of at most 50 attribute names, each
# 1-64 of A-Z a-z 0-9 _ . : -, to strings of at most 500 characters, numbers, booleans or null).
# "tag" (1-32 of a-z 0-9 space _ -, starting with a letter or digit), "shortcut" (1-32 of a-z 0-9
# _ -), "status" (waiting, assigned or resolved), "url" (http(s), at most 2,000 characters),
# "title" (printable, at most 300 characters, may be empty), "tz" (an IANA time zone name),
# "ids" (a list of at most 20 "id"s, copies counted; one given twice counts once).
# A trailing "?" makes it optional. A send needs a body, an attachment, or both. (A REST body's
# field may also end in NULLABLE: required, and null is one of its values.)
NULLABLE = "|null"
_SPECS: dict[Role, dict[str, tuple[type[Any], dict[str, str]]]] = {
    "visitor": {
        "hello": (Hello, {"v": "int", "site": "id", "token": "str?", "conversation_id": "id?",
                          "last_seq": "seq?", "epoch": "str?", "user_id": "ext?",
                          "user_expires": "seq?", "user_hash": "str?", "user_name": "person?",
                          "user_email": "email?", "user_jwt": "jwt?"}),
        "send": (Send, {"id": "id", "body": "text?", "attachment": "id?"}),
        "open": (Open, {"id": "id", "conversation_id": "id", "last_seq": "seq?"}),
        "typing": (Typing, {"active": "bool", "text": "preview?"}),
        "read": (Read, {"seq": "seq"}),
        "profile": (Profile, {"id": "id", "name": "person?", "email": "email?"}),
        "attributes": (Attributes, {"id": "id", "attributes": "attrs"}),
        "rate": (Rate, {"id": "id", "conversation_id": "id", "score": "score",
                        "comment": "comment?"}),
        "context": (Context, {"url": "url?", "title": "title?", "referrer": "url?",
                              "language": "ext?", "timezone": "tz?"}),
        "transcript": (Transcript, {"id": "id", "conversation_id": "id"}),
        "ping": (Ping, {"id": "id?"}),
        "handoff": (Handoff, {"id": "id"}),
    },
    "agent": {
        "hello": (Hello, {"v": "int"}),
        "open": (Open, {"id": "id", "conversation_id": "id", "last_seq": "seq?"}),
        "history": (History, {"id": "id", "conversation_id": "id", "before_seq": "seq",
                              "limit": "limit?"}),
        "leave": (Leave, {"id": "id", "conversation_id": "id"}),
        "send": (Send, {"id": "id", "conversation_id": "id", "body": "text?",
                        "attachment": "id?"}),
        "read": (Read, {"conversation_id": "id", "seq": "seq"}),
        "claim": (Claim, {"id": "id", "conversation_id": "id"}),
        "resolve": (Resolve, {"id": "id", "conversation_id": "id"}),
        "transfer": (Transfer, {"id": "id", "conversation_id": "id", "agent_id": "id",
                                "note": "text?"}),
        "note": (Note, {"id": "id", "conversation_id": "id", "body": "text",
                        "mentions": "ids?"}),
        "tag": (Tag, {"id": "id", "conversation_id": "id", "tag": "tag", "on": "bool"}),
        "reopen": (Reopen, {"id": "id", "conversation_id": "id"}),
        "snooze": (Snooze, {"id": "id", "conversation_id": "id", "until": "seq?"}),
        "search": (Search, {"id": "id", "query": "name", "limit": "limit?"}),
        "team": (AssignTeam, {"id": "id", "conversation_id": "id", "team_id": "id?"}),
        "list": (ListConversations, {"id": "id", "status": "status?", "tag": "tag?",
                                     "before": "seq?", "before_id": "id?", "limit": "limit?"}),
        "canned_save": (SaveCanned, {"id": "id", "canned_id": "id?", "site_id": "id",
                                     "shortcut": "shortcut", "body": "text", "shared": "bool?"}),
        "canned_delete": (DeleteCanned, {"id": "id", "canned_id": "id"}),
        "block": (Block, {"id": "id", "conversation_id": "id", "address": "bool?",
                          "hours": "hours?", "reason": "name?"}),
        "unblock": (Unblock, {"id": "id", "block_id": "id"}),
        "transcript": (Transcript, {"id": "id", "conversation_id": "id"}),
        "follow_up": (FollowUp, {"id": "id", "conversation_id": "id", "at": "seq",
                                 "body": "text?"}),
        "follow_up_cancel": (CancelFollowUp, {"id": "id", "follow_up_id": "id"}),
        "follow_ups": (ListFollowUps, {"id": "id"}),
        "mentions": (ListMentions, {"id": "id"}),
        "blocks": (ListBlocks, {"id": "id"}),
        "typing": (Typing, {"conversation_id": "id", "active": "bool"}),
        "status": (Status, {"id": "id", "away": "bool"}),
        "ping": (Ping, {"id": "id?"}),
    },
}


def frame_types(role: Role) -> list[str]:
    return sorted(_SPECS[role])


def validate_text(value: str, max_chars: int) -> str:
    """Human text: non-blank, at most ``max_chars`` characters, valid Unicode, no NUL."""
    if "\x00" in value:
        raise ChatError(Code.BAD_TEXT, "text contains NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ChatError(Code.BAD_TEXT, "text contains a lone surrogate") from None
    if not value.strip():
        raise ChatError(Code.BAD_FRAME, "text is empty")
    if len(value) > max_chars:
        raise ChatError(Code.TOO_LONG, f"text is longer than {max_chars} characters")
    return value


_DIGITS = re.compile(r"[0-9]+")


def valid_email(value: str) -> bool:
    """An email address as every frame and body takes one (``email``; docs/protocol.md): a name
    of 1-64 characters, ``@``, and a domain of at most 189 of two labels or more; dots only
    between characters; no label starting or ending with ``-``; a last label of 2 characters
    or more, not all digits; nothing of ``_EMAIL_BAD``. (The widget checks the same:
    widget/static/frame/intake.js.)"""
    local, at, domain = value.rpartition("@")
    labels = domain.split(".")
    return bool(at and local and len(local) <= 64 and len(domain) <= 189
                and not _EMAIL_BAD.search(local) and not _EMAIL_BAD.search(domain)
                and all(local.split(".")) and len(labels) > 1
                and all(0 < len(x) <= 63 and x[0] != "-" and x[-1] != "-" for x in labels)
                and len(labels[-1]) >= 2 and not _DIGITS.fullmatch(labels[-1]))


def _check(name: str, kind: str, value: Any, max_chars: int) -> Any:
    if kind in ("id", "str", "jwt", "text", "ext", "name", "person", "email", "comment", "tag",
                "shortcut", "status", "url", "title", "preview", "tz", "lang", "publication",
                *ARTICLE_TEXT) and not isinstance(value, str):
        raise ChatError(Code.BAD_FRAME, f"{name} must be a string")
    if kind in ARTICLE_TEXT and len(value) > ARTICLE_TEXT[kind]:
        raise ChatError(Code.BAD_FRAME, f"{name} is at most {ARTICLE_TEXT[kind]} characters")
    if kind == "lang" and not LANG_RE.fullmatch(value):
        raise ChatError(Code.BAD_FRAME, f"{name} is a language tag such as en or pt-br")
    if kind == "publication" and value not in ("draft", "published"):
        raise ChatError(Code.BAD_FRAME, f"{name} is draft or published")
    if isinstance(value, str) and not inputs.utf8_text(value):
        raise ChatError(Code.BAD_TEXT, f"{name} contains a lone surrogate")
    if kind == "bool" and type(value) is not bool:
        raise ChatError(Code.BAD_FRAME, f"{name} must be true or false")
    if kind in ("int", "seq", "limit", "score", "hours") and not inputs.fits_int64(value):
        raise ChatError(Code.BAD_FRAME, f"{name} must be an integer")
    if kind == "id" and not _ID_RE.fullmatch(value):
        raise ChatError(Code.BAD_FRAME, f"{name} must be 1-64 of A-Z a-z 0-9 _ . : -")
    if kind == "str" and (len(value) > _TOKEN_MAX or not value.isascii()):
        raise ChatError(Code.BAD_FRAME, f"{name} is not a valid token")
    if kind == "jwt" and not (len(value) <= 4096 and _JWT_RE.fullmatch(value)):
        raise ChatError(Code.BAD_FRAME, f"{name} is not a JWT")
    if kind == "seq" and not 0 <= value < 2**53:
        raise ChatError(Code.BAD_FRAME, f"{name} must be an integer from 0 to 2^53 - 1")
    if kind == "limit" and not 1 <= value <= 200:
        raise ChatError(Code.BAD_FRAME, f"{name} must be between 1 and 200")
    if kind == "hours" and not 1 <= value <= 24 * 366:
        raise ChatError(Code.BAD_FRAME, f"{name} must be between 1 and 8784")
    if kind == "score" and not 1 <= value <= 5:
        raise ChatError(Code.BAD_FRAME, f"{name} must be between 1 and 5")
    if kind == "attrs":
        return _attributes(name, value)
    if kind == "ids":
        # (At most 20 in the list, as the OpenAPI document says: two black-box testers' 21st,
        # a copy, was taken. An id given twice counts once.)
        if not isinstance(value, list) or len(value) > _IDS_MAX or not all(
                isinstance(v, str) and _ID_RE.fullmatch(v) for v in value):
            raise ChatError(Code.BAD_FRAME, f"{name} must be a list of at most {_IDS_MAX} ids")
        return tuple(dict.fromkeys(value))
    if kind == "tag" and not _TAG_RE.fullmatch(value):
        raise ChatError(Code.BAD_FRAME, f"{name} must be 1-32 of a-z 0-9 space _ -")
    if kind == "shortcut" and not _SHORTCUT_RE.fullmatch(value):
        raise ChatError(Code.BAD_FRAME, f"{name} must be 1-32 of a-z 0-9 _ -")
    if kind == "status" and value not in ("waiting", "assigned", "resolved"):
        raise ChatError(Code.BAD_FRAME, f"{name} must be waiting, assigned or resolved")
    if kind == "url" and not (len(value) <= 2000 and _URL_RE.fullmatch(value)):
        raise ChatError(Code.BAD_FRAME, f"{name} must be an http(s) URL of at most 2000 characters")
    if kind == "title" and (len(value) > 300 or _CONTROL_RE.search(value)):
        raise ChatError(Code.BAD_FRAME, f"{name} must be at most 300 characters, no controls")
    if kind == "comment":
        return validate_text(value, 1000)
    if kind == "preview":
        if "\x00" in value:
            raise ChatError(Code.BAD_TEXT, f"{name} contains NUL")
        if len(value) > 1000:
            raise ChatError(Code.TOO_LONG, f"{name} must be at most 1000 characters")
        return value
    if kind == "tz" and not inputs.known_timezone(value):
        raise ChatError(Code.BAD_FRAME, f"{name} must be an IANA time zone (Europe/Lisbon)")
    if kind == "ext" and not (0 < len(value) <= 256 and value.isprintable()):
        raise ChatError(Code.BAD_FRAME, f"{name} must be 1-256 printable characters")
    if kind == "email" and not valid_email(value):
        raise ChatError(Code.BAD_FRAME, f"{name} is not an email address")
    if kind == "person":  # (dropped, not refused: a form's name must not stop the chat)
        return validate_text(inputs.one_line_name(value), 100)
    if kind == "name":
        return validate_text(value, 100)
    if kind == "text":
        return validate_text(value, max_chars)
    return value


def check_fields(data: dict[str, Any], fields: dict[str, str], max_chars: int) -> dict[str, Any]:
    """``data`` checked against ``fields`` (the kinds above, ``?`` for optional; unknown fields
    refused): the REST API's bodies (server/endpoints/api_v1.py) follow the frames' rules."""
    unknown = set(data) - set(fields)
    if unknown:
        raise ChatError(Code.BAD_FRAME, f"unknown field {sorted(unknown)[0][:32]!r}")
    values: dict[str, Any] = {}
    for name, field_kind in fields.items():
        optional = field_kind.endswith("?")
        nullable = field_kind.endswith(NULLABLE)  # (required, and null is a value of its own)
        if name not in data or (optional and data[name] is None):
            if not optional:
                raise ChatError(Code.BAD_FRAME, f"{name} is required"
                                + (" (null is a value)" if nullable else ""))
            continue
        if nullable and data[name] is None:
            values[name] = None
            continue
        values[name] = _check(name, field_kind.removesuffix(NULLABLE).rstrip("?"), data[name],
                              max_chars)
    return values


_ATTR_MAX = 50


def _attributes(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ChatError(Code.BAD_FRAME, f"{name} must be an object of at most {_ATTR_MAX} keys")
    if len(value) > _ATTR_MAX:  # (as many merged in is too_many too: server/store/visitors.py)
        raise ChatError(Code.TOO_MANY, f"{name}: at most {_ATTR_MAX}")
    for key, item in value.items():
        if not inputs.utf8_text(key):  # (a lone surrogate is bad_text wherever it is)
            raise ChatError(Code.BAD_TEXT, "an attribute name contains a lone surrogate")
        if isinstance(item, str) and not inputs.utf8_text(item):
            raise ChatError(Code.BAD_TEXT, f"attribute {key[:32]!r} contains a lone surrogate")
        if not _ID_RE.fullmatch(key):
            raise ChatError(Code.BAD_FRAME, "attribute names are 1-64 of A-Z a-z 0-9 _ . : -")
        if isinstance(item, str):
            if "\x00" in item:
                raise ChatError(Code.BAD_TEXT, f"attribute {key!r} contains NUL")
            if len(item) > 500:
                raise ChatError(Code.TOO_LONG, f"attribute {key!r}: at most 500 characters")
            if _CONTROL_RE.search(item):
                raise ChatError(Code.BAD_FRAME, f"attribute {key!r}: no control characters")
        elif type(item) is int and not inputs.fits_int64(item):
            raise ChatError(Code.BAD_FRAME, f"attribute {key!r} is outside the 64-bit range")
        elif item is not None and type(item) not in (int, float, bool):
            raise ChatError(Code.BAD_FRAME, f"attribute {key!r} must be text, number or boolean")
    return value


def parse(raw: str | bytes | None, role: Role, max_chars: int = 4000) -> Frame:
    """Parse one client frame, or raise ChatError with the code the client will be sent.

    Two parsers, one set of rules. msgspec decodes the frame into a struct of its type (unknown
    types and fields, wrong JSON types, null where a value is required, NaN, Infinity, numbers out
    of range, lone surrogates and malformed text all fail there), the text is scanned for keys
    given twice (msgspec keeps the last), and the fields go through the same checks as below.
    Whatever that path does not accept as it stands, refusals included, is parsed again by the
    strict parser below (the standard library's JSON with hooks), so that every refusal is the
    strict parser's own, code and message; the fast path only accepts frames the strict parser
    accepts, and makes the same values of them.
    """
    if isinstance(raw, str):
        frame = _fast(raw, role, max_chars)
        if frame is not None:
            return frame
    return _strict(raw, role, max_chars)


#: A JSON string token. Matched left to right from the first quote, each match ends at its
#: string's closing quote, so in valid JSON every match is a whole string and none starts inside
#: another.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _pairs(raw: str) -> int:
    """How many key-value pairs a valid JSON text holds, in all its objects: its colons outside
    strings. Without a backslash before a quote, every quote opens or closes a string."""
    outside = raw.split('"')[::2] if '\\"' not in raw else _STRING.split(raw)
    return "".join(outside).count(":")


_TYPES: dict[str, Any] = {
    **dict.fromkeys(("id", "str", "jwt", "text", "ext", "name", "person", "email", "comment", "tag",
                     "shortcut", "status", "url", "title", "preview", "tz"), str),
    **dict.fromkeys(("int", "seq", "limit", "score", "hours"), int),
    "bool": bool, "attrs": dict[str, str | int | float | bool | None], "ids": list[str],
}


def _struct(role: Role, kind: str, fields: dict[str, str]) -> type[msgspec.Struct]:
    """The msgspec struct of one frame type: its fields, nothing else; an optional one may be
    null, and is UNSET when absent (so that the pairs decoded can be counted)."""
    return msgspec.defstruct(
        f"{role}_{kind}", [(name, _TYPES[k.rstrip("?")] | None | msgspec.UnsetType, msgspec.UNSET)
                           if k.endswith("?") else (name, _TYPES[k]) for name, k in fields.items()],
        tag=kind, tag_field="type", forbid_unknown_fields=True, kw_only=True)


#: Per role: one decoder of the tagged union of its frame types, and per struct the frame's
#: class and its fields (name, kind) in the strict parser's order.
_Fields = tuple[type[Any], list[tuple[str, str]]]
_FAST: dict[Role, tuple[msgspec.json.Decoder[Any], dict[Any, _Fields]]] = {}
for _role, _frames in _SPECS.items():
    _structs = {_struct(_role, kind, fields): (cls, [(n, k.rstrip("?")) for n, k in fields.items()])
                for kind, (cls, fields) in _frames.items()}
    _FAST[_role] = (msgspec.json.Decoder(Union[tuple(_structs)]), _structs)  # noqa: UP007


def _fast(raw: str, role: Role, max_chars: int) -> Frame | None:
    """The frame, or None: anything else is left to the strict parser."""
    decoder, structs = _FAST[role]
    try:
        value = decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):
        return None
    cls, fields = structs[type(value)]
    values: dict[str, Any] = {}
    pairs = 1  # the type
    try:
        for name, field_kind in fields:
            item = getattr(value, name)
            if item is msgspec.UNSET:
                continue
            pairs += 1 + (len(item) if field_kind == "attrs" and item is not None else 0)
            if item is not None:
                values[name] = _check(name, field_kind, item, max_chars)
    except ChatError:
        return None
    if pairs != _pairs(raw):
        return None  # a key given twice, of which msgspec kept the last: the strict parser tells
    if cls is Send and "body" not in values and "attachment" not in values:
        return None
    return cls(**values)  # type: ignore[no-any-return]


def _strict(raw: str | bytes | None, role: Role, max_chars: int) -> Frame:
    if not isinstance(raw, str):
        raise ChatError(Code.BAD_FRAME, "frames must be JSON text, not binary")
    try:
        # (The frame is at most LIVECHAT_MAX_FRAME_BYTES; the parser's recursion limit refuses
        # deep nesting, so it is not measured first on this hot path.)
        data = inputs.loads(raw, max_depth=None, int64=False)
    except inputs.BadInput as exc:
        raise ChatError(Code.BAD_JSON, str(exc)) from None
    if not isinstance(data, dict):
        raise ChatError(Code.BAD_FRAME, "a frame is a JSON object")
    kind = data.pop("type", None)
    if not isinstance(kind, str):
        raise ChatError(Code.BAD_FRAME, "type must be a string")
    spec = _SPECS[role].get(kind)
    if spec is None:
        raise ChatError(Code.UNKNOWN_TYPE, f"unknown frame type {kind[:32]!r}")
    cls, fields = spec
    unknown = set(data) - set(fields)
    if unknown:
        raise ChatError(Code.BAD_FRAME, f"unknown field {sorted(unknown)[0][:32]!r}")
    values: dict[str, Any] = {}
    for name, field_kind in fields.items():
        optional = field_kind.endswith("?")
        field_kind = field_kind.rstrip("?")
        if name not in data or (optional and data[name] is None):
            if not optional:
                raise ChatError(Code.BAD_FRAME, f"{name} is required")
            continue
        values[name] = _check(name, field_kind, data[name], max_chars)
    if cls is Send and "body" not in values and "attachment" not in values:
        raise ChatError(Code.BAD_FRAME, "body is required")
    return cls(**values)  # type: ignore[no-any-return]


def request_id(raw: str | bytes | None) -> str | None:
    """Best effort: the ``id`` of a frame that failed to parse, so its error can name it."""
    if not isinstance(raw, str) or len(raw) > 1 << 16:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and _ID_RE.fullmatch(value) else None

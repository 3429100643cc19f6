"""JSON request bodies, read with a limit while they stream in (a Content-Length is not
trusted) and measured before they are parsed (server/inputs.py). Every refusal is a 4xx with a
JSON ``{"error", "message"}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request

from server import inputs

#: Bodies of the JSON endpoints (login, settings, teams…): far more than any needs.
MAX_JSON_BODY = 16 * 1024


class BodyError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def read(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The body, or BodyError(413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyError(413, "too_large", f"the request is over {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyError(413, "too_large", f"the request is over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # gone before the end: nobody to answer, nothing done
        raise BodyError(400, "bad_request", "the request was cut off") from None
    return b"".join(chunks)


def _bad_text(data: Any) -> str | None:
    """Why a string of ``data`` (keys too, however deep) cannot be taken: a NUL, or a lone
    surrogate (``"\\ud800"`` parses, but no UTF-8 text holds it: the store, the logs and
    every codec after would fail on it); None when none."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a NUL character in a string"
            if not inputs.utf8_text(item):
                return "a lone surrogate in a string"
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return None


async def json_object(request: Request, limit: int = MAX_JSON_BODY,
                      empty: bool = False, nul: bool = False) -> dict[str, Any]:
    """A JSON object (``{}`` for an empty body when ``empty``), or BodyError(400/413). A NUL or
    a lone surrogate in any string is refused (``400``: no field of ours holds one, PostgreSQL
    refuses NUL in text, and no UTF-8 holds a lone surrogate) unless ``nul``: the REST API,
    whose field rules refuse both with their own codes (``bad_text``)."""
    raw = await read(request, limit)
    if not raw.strip() and empty:
        return {}
    try:
        data = inputs.loads(raw)
    except inputs.BadInput as exc:
        raise BodyError(400, "bad_request", f"send a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise BodyError(400, "bad_request", "send a JSON object")
    why = None if nul else _bad_text(data)
    if why is not None:
        raise BodyError(400, "bad_request", why)
    return data

"""Error codes (sent in ``error`` frames) and WebSocket close codes.

Close codes are grouped by what the client should do next:

* ``1000``–``1999`` are the WebSocket standard's own. ``1001`` (going away: the server is
  restarting), ``1007`` (a text frame that is not UTF-8), ``1009`` (frame too big, refused before
  the application buffers it) and ``1012`` (service restart: uvicorn's answer to SIGTERM) come
  from here. Clients reconnect with backoff after every code outside 4400–4499 but ``1000``.
* ``4000``–``4399``: **reconnect** with backoff and resume from the last ``seq`` seen.
* ``4400``–``4499``: **do not reconnect** as you were: something about the client must change
  first (a new token, a login, a newer protocol version).

The lists here are the single source: ``docs/protocol.md`` documents them and a test keeps the
document, this module and the widget in step.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Close(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_DATA = 1007
    TOO_BIG = 1009
    SERVICE_RESTART = 1012
    # 4000-4399: reconnect and resume
    RESTARTING = 4000
    SLOW_CONSUMER = 4008
    RATE_LIMITED = 4029
    # 4400-4499: do not reconnect unchanged
    PROTOCOL_ERROR = 4400
    UNAUTHORIZED = 4401
    IDENTITY_REFUSED = 4402
    FORBIDDEN_ORIGIN = 4403
    HELLO_TIMEOUT = 4408
    BLOCKED = 4423
    UNSUPPORTED_VERSION = 4426

    @property
    def reconnect(self) -> bool:
        return self.value != 1000 and not 4400 <= self.value < 4500


class Code(StrEnum):
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    BAD_TEXT = "bad_text"
    NOT_FOUND = "not_found"
    ID_CONFLICT = "id_conflict"
    ALREADY_CLAIMED = "already_claimed"
    NOT_ASSIGNEE = "not_assignee"
    RESOLVED = "resolved"
    NOT_RESOLVED = "not_resolved"
    ALREADY_RATED = "already_rated"
    ALREADY_OPEN = "already_open"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    IDENTITY_REQUIRED = "identity_required"
    BAD_IDENTITY = "bad_identity"
    UNAVAILABLE = "unavailable"
    BLOCKED = "blocked"
    NO_EMAIL = "no_email"
    INTERNAL = "internal"


class Unavailable(Exception):
    """The server cannot do it now, through no fault of the request: the disk is full, the
    database is locked past its timeout, the store is closing or overloaded. It becomes an
    ``error`` frame ``unavailable`` with ``retry_after`` (ms), or HTTP 503 with ``Retry-After``;
    nothing was written, and the same request may be sent again after that delay."""

    def __init__(self, reason: str, retry_after_ms: int = 1000) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_ms = retry_after_ms


class ChatError(Exception):
    """An expected refusal: it becomes an ``error`` frame with ``code``; nothing was written."""

    def __init__(self, code: Code, message: str = "") -> None:
        super().__init__(message or code.value)
        self.code = code
        self.message = message or code.value

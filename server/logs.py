"""Logging: plain text for a terminal, or one JSON object per line (``LIVECHAT_LOG_FORMAT=json``)
for a log pipeline. Pure configuration; no I/O besides the handler's stream.

Every line carries the request id and, for a WebSocket, the connection id of the request it was
logged in, taken from context variables that ``server.access`` (HTTP and WebSocket access lines)
and the socket sessions set; nothing has to pass them along. What is never logged: tokens,
cookies, passwords, identity hashes and secrets, message bodies, file names and contents, query
strings, and the ids in ``/files/…`` URLs (each is the key to a file). tests/test_logs.py runs a
whole session and searches every log line for each of these.

Fields of a JSON line: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``event`` (the message), ``request`` and ``conn`` when known, any fields the caller gave with
``extra={"fields": {...}}``, and ``exception`` (the traceback, one string) for errors.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

FORMATS = ("text", "json")
LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclass
class Scope:
    """The request a log line belongs to: its id, and its connection's once a socket has one."""

    request: str
    conn: str | None = None
    #: What the access line of this request adds (e.g. the site of a visitor's socket).
    fields: dict[str, Any] = field(default_factory=dict)


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("livechat_log_scope",
                                                                      default=None)


def begin(request_id: str) -> tuple[Scope, contextvars.Token[Scope | None]]:
    """Lines logged from here on (and in tasks started from here) carry ``request_id``."""
    scope = Scope(request_id)
    return scope, _scope.set(scope)


def end(token: contextvars.Token[Scope | None]) -> None:
    _scope.reset(token)


def bind_connection(conn_id: str) -> None:
    """This request is now the WebSocket connection ``conn_id`` (its lines say so)."""
    scope = _scope.get()
    if scope is None:
        _scope.set(Scope("-", conn_id))
    else:
        scope.conn = conn_id


def annotate(**fields: Any) -> None:
    """Add ``fields`` to the access line of the current request (ids only, never content)."""
    scope = _scope.get()
    if scope is not None:
        scope.fields.update(fields)


class ContextFilter(logging.Filter):
    """Adds ``request`` and ``conn`` from the context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _scope.get()
        if not hasattr(record, "request"):
            record.request = scope.request if scope else None
        if not hasattr(record, "conn"):
            record.conn = scope.conn if scope else None
        return True


_TRACEBACK = "Traceback (most recent call last):"


def _traceback_at(text: str) -> int:
    """Where a traceback begins a line of ``text``, or -1."""
    if text.startswith(_TRACEBACK):
        return 0
    at = text.find("\n" + _TRACEBACK)
    return at + 1 if at >= 0 else -1


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        # A traceback in the message's text (uvicorn logs Starlette's failed start-up so) goes
        # where every traceback goes; the event is what precedes it, else its last line. Only
        # uvicorn's own records, and only where a line begins so: the server's own lines carry
        # their exceptions in exc_info, and a message merely quoting the words stays whole.
        told = _traceback_at(line["event"]) if (
            not record.exc_info and record.name.startswith("uvicorn")) else -1
        if told >= 0:
            trace = line["event"][told:].rstrip()
            line["event"] = line["event"][:told].strip() or trace.splitlines()[-1]
            line["exception"] = trace
        for key in ("request", "conn"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text and "exception" not in line:
            line["exception"] = record.exc_text
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(scope)s %(message)s%(fields)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{k}={v}" for k in ("request", "conn")
               if (v := getattr(record, k, None)) is not None]
        record.scope = f" [{' '.join(ids)}]" if ids else ""
        fields = getattr(record, "fields", None)
        said = getattr(record, "said", ())  # fields the message already shows
        record.fields = ("".join(f" {k}={v}" for k, v in fields.items() if k not in said)
                         if isinstance(fields, dict) else "")
        try:
            return super().format(record)
        finally:
            record.fields = fields


def uvicorn_level(level: str) -> str:
    """uvicorn's (and, through it, websockets') debug output holds handshake headers — cookies —
    and frame contents — messages: it is never below info, whatever was asked."""
    numeric = logging.getLevelName("DEBUG" if level.lower() == "trace" else level.upper())
    return level.lower() if isinstance(numeric, int) and numeric >= logging.INFO else "info"


def config(log_format: str = "text", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server and uvicorn (whose access log is replaced
    by ``server.access``; pass ``access_log=False`` to uvicorn)."""
    if log_format not in FORMATS:
        raise ValueError(f"LIVECHAT_LOG_FORMAT is one of {', '.join(FORMATS)}")
    numeric = "DEBUG" if level.lower() == "trace" else level.upper()
    outside = uvicorn_level(level).upper()
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": TextFormatter}
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
               "formatter": "main", "filters": ["context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            "livechat": {"handlers": ["main"], "level": numeric, "propagate": False},
            "uvicorn": {"handlers": ["main"], "level": outside, "propagate": False},
            "uvicorn.error": {"level": outside},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        # Libraries' own loggers (aiosqlite, redis, asyncio): warnings and worse, same format.
        "root": {"handlers": ["main"], "level": "WARNING"},
    }

"""Access logs: one line per HTTP request and one per WebSocket connection (when it ends), each
with a request id, and that id in the context of everything logged while serving it
(server/logs.py).

The request id is the proxy's ``X-Request-ID`` when it sends a plausible one (nginx:
``proxy_set_header X-Request-ID $request_id;``), so that its log and ours can be joined; else a
new one. Responses carry it back in ``X-Request-ID``.

Logged: method, path (no query string; the id in ``/files/<id>`` is replaced, being the key to
the file), status (101 for an accepted WebSocket, 403 for one refused at the handshake), the
WebSocket close code, duration in milliseconds, response bytes, and the client's address.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import logs
from server.metrics import Metrics

log = logging.getLogger("livechat.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_CAPABILITY = re.compile(r"/files/[^/]+")


def shown_path(path: str) -> str:
    return _CAPABILITY.sub("/files/…", path)[:200]


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
        context, token = logs.begin(request_id)
        started = time.perf_counter()
        state: dict[str, int | None] = {"status": None, "bytes": 0, "close": None}

        async def sending(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state["status"] = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            elif kind == "http.response.body":
                state["bytes"] = (state["bytes"] or 0) + len(message.get("body", b""))
            elif kind == "websocket.accept":
                state["status"] = 101
            elif kind == "websocket.close":
                if state["close"] is None:  # the first close, whoever closed
                    state["close"] = int(message.get("code", 1000))
                if state["status"] is None:
                    state["status"] = 403  # refused before the handshake completed
            await send(message)

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and state["close"] is None:
                state["close"] = int(message.get("code", 1005))
            return message

        try:
            await self.app(scope, receiving, sending)
        except BaseException:
            state["status"] = state["status"] or 500
            raise
        finally:
            websocket = scope["type"] == "websocket"
            method = "WEBSOCKET" if websocket else str(scope.get("method", "GET"))
            path = shown_path(scope["path"])
            status = state["status"] or 500
            fields: dict[str, object] = {
                "kind": scope["type"], "method": method, "path": path, "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if websocket:
                fields["close"] = state["close"]
                if self.metrics is not None:
                    self.metrics.ws_closed(state["close"])
            else:
                fields["bytes"] = state["bytes"]
                if self.metrics is not None:  # by route template (ids are not labels)
                    route = getattr(scope.get("route"), "path", None) or "unmatched"
                    self.metrics.http_request(route, status)
            client = scope.get("client")
            if client:
                fields["client"] = client[0]
            fields.update(context.fields)
            log.info("%s %s %s", method, path, status,
                     extra={"fields": fields, "said": ("kind", "method", "path", "status")})
            logs.end(token)

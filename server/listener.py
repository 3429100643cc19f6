"""What sits between the network and the ASGI app: uvicorn's HTTP/1.1 and WebSocket protocols,
extended where an ASGI app cannot reach (docs/security.md has the measurements behind this).

* **A header deadline.** A connection has ``LIVECHAT_HEADER_TIMEOUT`` seconds (10) to send a
  whole request header, counted from its first byte for the first request and from the end of
  the previous response for the next: idle connections that never send a byte, and headers sent
  a byte at a time, are closed (uvicorn has no such timeout before a request arrives).
* **Connections per client address** (``LIVECHAT_MAX_CONNECTIONS_PER_IP``): past it a new
  connection is answered ``429`` and closed before anything is read. Trusted proxies
  (``LIVECHAT_TRUSTED_PROXIES``) are exempt: the app counts their clients' WebSockets instead,
  by the forwarded address.
* **A reserve for health checks and agents.** The process's descriptor limit is raised to its
  hard limit at start (``raise_fd_limit``), and connections are capped below it
  (``LIVECHAT_MAX_CONNECTIONS``; by default the limit less 64 for the server's own files and
  less the listen backlog, which asyncio may accept at once), so that ``accept`` never fails for
  want of descriptors. The last ``LIVECHAT_RESERVED_CONNECTIONS``
  are kept: a connection that arrives when only those are left may ask for ``/healthz``, the
  panel and its API and socket, and nothing else (``503``). When every connection is taken, the
  one that has waited longest without sending a whole request header is closed to make room:
  connections that say nothing cannot keep out one that asks for something.
* A text frame that is not UTF-8 is closed with 1007 and one log line, not uvicorn's traceback
  (any client could otherwise write tracebacks into the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import resource
import time
from collections import OrderedDict
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from server import transport
from server.config import Settings, from_env

log = logging.getLogger("livechat.listener")

#: Descriptors kept for the server's own use (the database and its WAL, Redis, logs, uploads).
OWN_FILES = 64
#: What a connection may ask for once only the reserve is left.
RESERVED_PATHS = ("/healthz", "/metrics", "/agent", "/api/agent/", "/api/admin/", "/api/reports",
                  "/ws/agent", "/widget/static/socket.js", "/favicon.ico")


def raise_fd_limit() -> int:
    """Raise the soft descriptor limit to the hard one; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 16)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def budget(settings: Settings) -> tuple[int, int]:
    """(connections at most, the listen backlog). asyncio accepts up to a backlog's worth of
    connections at once before any is looked at, so that many descriptors are kept free too:
    ``accept`` must never fail with EMFILE (asyncio would stop listening for a second)."""
    limit = raise_fd_limit()
    backlog = max(16, min(511, limit // 4))
    return settings.max_connections or max(16, limit - OWN_FILES - backlog), backlog


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Should ``accept`` fail for want of descriptors after all (a limit set too high), one
    line in the log instead of a traceback per attempt."""
    default = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            log.warning("out of descriptors: not accepting for a second "
                        "(lower LIVECHAT_MAX_CONNECTIONS)")
        elif default is not None:
            default(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def reserved(path: str) -> bool:
    return path in ("/agent", "/agent/reset") or path.startswith(RESERVED_PATHS)


_RESPONSES = {
    429: b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 10\r\n",
    503: b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n",
    408: b"HTTP/1.1 408 Request Timeout\r\n",
}


def _answer(transport: asyncio.BaseTransport, status: int, what: str) -> None:
    body = b'{"error": "' + what.encode() + b'"}'
    # (uvloop's transports are not subclasses of asyncio's: duck-typed, not asserted)
    transport = cast(asyncio.WriteTransport, transport)
    with contextlib.suppress(Exception):
        transport.write(_RESPONSES[status] + b"Content-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: " + str(len(body)).encode()
                        + b"\r\n\r\n" + body)
    transport.close()


class Gate:
    """This server's open connections: per address, in all, and the reserve."""

    def __init__(self, settings: Settings) -> None:
        self.max_connections = budget(settings)[0]
        with contextlib.suppress(RuntimeError):
            _quiet_accept_errors(asyncio.get_running_loop())
        self.reserve = min(settings.reserved_connections, self.max_connections // 2)
        self.per_ip = settings.max_connections_per_ip
        self.header_timeout = settings.header_timeout
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._open: dict[int, str] = {}
        self._per_ip: dict[str, int] = {}
        #: Connections waiting for a request header, oldest first (the ones to close when full).
        self._waiting: OrderedDict[int, asyncio.BaseTransport] = OrderedDict()
        self.refusals = 0
        self._logged = -10.0

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def open(self, transport: asyncio.BaseTransport, address: str) -> str:
        """``ok``, ``reserve`` (only reserved paths), ``per_ip`` or ``full`` (refused)."""
        if not self._trusted(address) and self._per_ip.get(address, 0) >= self.per_ip:
            return "per_ip"
        if len(self._open) >= self.max_connections and not self._evict():
            return "full"
        self._open[id(transport)] = address
        self._per_ip[address] = self._per_ip.get(address, 0) + 1
        return "reserve" if len(self._open) > self.max_connections - self.reserve else "ok"

    def refused(self, address: str, why: str) -> None:
        """Count a refusal; one log line per 10 s at most (an attacker must not fill the log)."""
        self.refusals += 1
        now = time.monotonic()
        if now - self._logged >= 10:
            log.warning("refusing connections (%s; %d so far; the last from %s)", why,
                        self.refusals, address)
            self._logged = now

    def waiting(self, transport: asyncio.BaseTransport, waiting: bool) -> None:
        """The connection is (again) waiting for a request header, or has sent one."""
        if waiting:
            self._waiting[id(transport)] = transport
        else:
            self._waiting.pop(id(transport), None)

    def _evict(self) -> bool:
        while self._waiting:
            _, transport = self._waiting.popitem(last=False)
            if id(transport) in self._open:
                self.close(transport)
                transport.abort()  # type: ignore[attr-defined]
                return True
        return False

    def close(self, transport: asyncio.BaseTransport) -> None:
        self._waiting.pop(id(transport), None)
        address = self._open.pop(id(transport), None)
        if address is not None:
            left = self._per_ip[address] - 1
            if left:
                self._per_ip[address] = left
            else:
                del self._per_ip[address]


def gate(server_state: ServerState) -> Gate:
    """The gate of this uvicorn server (one per process), made on first use."""
    found: Gate | None = getattr(server_state, "livechat_gate", None)
    if found is None:
        found = Gate(from_env())
        server_state.livechat_gate = found  # type: ignore[attr-defined]
    return found


class HttpProtocol(H11Protocol):
    _deadline: asyncio.TimerHandle | None = None
    _answered: object = None
    _gate: Gate | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._gate = gate(self.server_state)
        verdict = self._gate.open(transport, self.client[0] if self.client else "")
        if verdict in ("full", "per_ip"):
            self._gate.refused(self.client[0] if self.client else "?", verdict)
            _answer(transport, 503 if verdict == "full" else 429,
                    "server_full" if verdict == "full" else "too_many_connections")
            return
        if verdict == "reserve":
            self.app = _reserved_only(self.app)
        self._start_deadline()

    def _start_deadline(self) -> None:
        assert self._gate is not None
        self._answered = self.scope
        self._deadline = self.loop.call_later(self._gate.header_timeout, self._too_slow)
        self._gate.waiting(self.transport, True)

    def _too_slow(self) -> None:
        self._deadline = None
        if self.scope is self._answered and not self.transport.is_closing():
            _answer(self.transport, 408, "header_timeout")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._deadline is not None and self.scope is not self._answered:
            self._deadline.cancel()  # a whole request header arrived
            self._deadline = None
            assert self._gate is not None
            self._gate.waiting(self.transport, False)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_deadline()  # the next request on this connection, if any

    def handle_websocket_upgrade(self, event: Any) -> None:
        if self.app is not self.config.loaded_app and not reserved(self.scope["path"]):
            _answer(self.transport, 503, "server_full")
            return
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)
        if self._gate is not None and not isinstance(self.transport.get_protocol(),
                                                     WebSocketProtocol):
            self._gate.close(self.transport)


def _reserved_only(app: Any) -> Any:
    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or reserved(scope["path"]):
            await app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")]})
        await send({"type": "http.response.body", "body": b'{"error": "server_full"}'})
    return guarded


class WebSocketProtocol(transport.WebSocketProtocol):
    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._gate = gate(server_state)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._gate.close(self.transport)

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError:
                self.frames = []
                log.info("%s sent a text frame that is not UTF-8: closed with 1007",
                         self.client[0] if self.client else "a client")
                self.conn.send_close(1007, "invalid UTF-8")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """The WebSocket settings measured in ../shared/DESIGN.md (the sans-I/O implementation,
    permessage-deflate off, frames over the limit refused before the app buffers them), the
    event loop, and the protocols above."""
    return {
        "backlog": budget(settings)[1],
        # uvloop (a dependency, but not on Windows) when it is installed: 5-16 % less CPU per
        # message in bench/ab.py (docs/benchmarks.md); the standard asyncio loop otherwise.
        "loop": "auto",
        "http": HttpProtocol,
        "ws": WebSocketProtocol,
        "ws_per_message_deflate": False,
        "ws_max_size": settings.max_frame_bytes,
        "ws_ping_interval": settings.ws_ping_interval,
        "ws_ping_timeout": settings.ws_ping_timeout,
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "timeout_graceful_shutdown": 5,
    }


__all__ = ["Config", "Gate", "HttpProtocol", "WebSocketProtocol", "raise_fd_limit",
           "uvicorn_options"]

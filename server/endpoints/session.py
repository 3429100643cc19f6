"""What both WebSocket endpoints share: the handshake, the hello, one reader and one pump per
socket, rate limiting, and turning every failure into a documented frame or close code."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from server import logs, protocol
from server.chat import in_turn
from server.errors import ChatError, Close, Code, Unavailable
from server.hub import Connection
from server.limits import Buckets
from server.protocol import Frame, Hello, Ping, Role
from server.ratelimit import TokenBucket
from server.transport import CLOSE_NOW, QUEUED, WRITE

from .context import Context, context

log = logging.getLogger("livechat.ws")
#: Refused frames in a row (rate limited) before the connection is closed.
MAX_REFUSED = 20
#: A socket's frames handled at once at most (``Session.pipelined``): read, their writes
#: queued, not yet answered. The reader waits for the oldest when this many are.
PIPELINE = 32


class Refuse(Exception):
    """End the session: send ``error`` (if given), then close with ``close``."""

    def __init__(self, close: Close, code: Code | None = None, message: str = "") -> None:
        super().__init__(message or close.name)
        self.close = close
        self.code = code
        self.message = message or close.name.lower()


class Session:
    role: Role

    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.ctx: Context = context(websocket)
        self.conn = Connection(self.role, self.ctx.settings.outbound_queue_frames)
        self.bucket = TokenBucket(
            self.ctx.settings.rate_per_second, self.ctx.settings.rate_burst, self.ctx.clock
        )
        #: The client's address (a trusted proxy's forwarded one: server/listener.py).
        self.ip = self.ws.client.host if self.ws.client else "unknown"
        self.conn.ip = self.ip
        #: Buckets shared with other sockets that every frame also takes from (the visitor's
        #: and the site's, once the hello says who): (buckets, key).
        self.shared: list[tuple[Buckets, str]] = []
        #: The frames being handled while the reader goes on (``pipelined``), oldest first.
        self._pending: collections.deque[asyncio.Task[None]] | None = None

    # --- to be provided by each endpoint ------------------------------------------------------

    async def authenticate(self) -> None:
        """Check origin and credentials before the hello; raise Refuse to turn the socket away."""

    async def start(self, hello: Hello) -> None:
        """Answer the hello (welcome, subscriptions, catch-up)."""

    async def handle(self, frame: Frame,
                     after: asyncio.Future[Any] | None = None) -> bytes | None:
        """Answer one frame; the returned bytes (an ack) are sent. Raise ChatError to refuse.
        ``after``: the socket's previous frame, still being handled (a pipelined frame's, see
        ``pipelined``): nothing of this one is published or sent before it is done."""
        raise NotImplementedError

    def pipelined(self, frame: Frame) -> bool:
        """Whether ``frame`` is handled while the reader goes on to the next ones: its write is
        queued at once, behind the previous frame's, so that a client sending without waiting
        for each ack has its messages share commits; it is published and answered after the
        frames before it. Any other frame waits until every earlier one is answered."""
        return False

    async def stop(self) -> None:
        """Release what start() took."""

    async def heartbeat(self) -> None:
        """Called on every ping: the client is alive (presence refreshes here)."""

    def log_fields(self) -> dict[str, str]:
        """Who this socket is, for its access line (ids only)."""
        return {}

    # --- the machinery ------------------------------------------------------------------------

    async def serve(self) -> None:
        logs.bind_connection(self.conn.id)
        await self.ws.accept()
        extensions = self.ws.scope.get("extensions") or {}
        self.conn.close_now = extensions.get(CLOSE_NOW)
        self._write: Callable[[list[bytes]], Awaitable[None]] | None = extensions.get(WRITE)
        self._queued: Callable[[], int] | None = extensions.get(QUEUED)
        hub = self.ctx.hub
        hub.register(self.conn)
        metrics = self.ctx.metrics
        connections = metrics.connections[self.role]
        connections.inc()
        limits = self.ctx.limits
        counted = False
        try:
            # Per client address: handshakes per second and sockets at once (the listener
            # counts TCP connections of direct clients; this also counts a proxy's clients).
            if not limits.handshakes.take(self.ip):
                raise Refuse(Close.RATE_LIMITED, Code.RATE_LIMITED,
                             "too many connections from your address; try again shortly")
            if not limits.sockets_per_ip.acquire(self.ip):
                raise Refuse(Close.RATE_LIMITED, Code.RATE_LIMITED,
                             "too many connections from your address")
            counted = True
            await self.authenticate()
            hello = await self._hello()
            self.conn.hold()  # (the welcome first: Connection.hold)
            await self.start(hello)
            logs.annotate(**self.log_fields())
            await self._run()
        except Refuse as refuse:
            if refuse.code is Code.RATE_LIMITED:
                metrics.rate_limited["connection"].inc()
            await self._close(refuse.close, refuse.code, refuse.message)
        except Unavailable as exc:  # e.g. the store cannot be read or written to welcome them
            await self._unavailable(exc)
        finally:
            connections.dec()
            if counted:
                limits.sockets_per_ip.release(self.ip)
            await hub.unregister(self.conn)
            await self.stop()

    async def _hello(self) -> Hello:
        try:
            async with asyncio.timeout(self.ctx.settings.hello_timeout):
                message = await self.ws.receive()
        except TimeoutError:
            raise Refuse(Close.HELLO_TIMEOUT, Code.BAD_FRAME, "no hello in time") from None
        if message["type"] == "websocket.disconnect":
            raise Refuse(Close.NORMAL)
        try:
            frame = protocol.parse(self._payload(message), self.role)
        except ChatError as exc:
            raise Refuse(Close.PROTOCOL_ERROR, exc.code, exc.message) from None
        if not isinstance(frame, Hello):
            raise Refuse(Close.PROTOCOL_ERROR, Code.BAD_FRAME, "the first frame must be hello")
        if frame.v != protocol.VERSION:
            raise Refuse(Close.UNSUPPORTED_VERSION, Code.BAD_FRAME,
                         f"protocol version {protocol.VERSION} is spoken here")
        return frame

    async def _run(self) -> None:
        reader = asyncio.create_task(self._read(), name=f"read-{self.conn.id}")
        pump = asyncio.create_task(self.conn.pump(self._send_many, self.ctx.store),
                                   name=f"pump-{self.conn.id}")
        done, _ = await asyncio.wait({reader, pump}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done and self.conn.stopping and not pump.done() \
                and not self.conn.closed_now:
            # The reader asked to close (flooding): the pump sends what is queued, then closes.
            await asyncio.wait({pump}, timeout=5)
            done = {task for task in (reader, pump) if task.done()}
        for task in (reader, pump):
            if task not in done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # Frames the reader had read are written and announced before the socket is let go,
        # however it went (their acks go nowhere, and are not needed: a resend is harmless).
        await self._settle(within=5)
        failed = pump.exception() if pump in done and not pump.cancelled() else None
        if pump in done and not pump.cancelled() and failed is None:
            stop = pump.result()
            await self._close(Close(stop.code), None, stop.reason)
        elif isinstance(failed, Unavailable):  # a catch-up could not read the store (an outage)
            await self._unavailable(failed)
        elif reader in done and not reader.cancelled() and reader.exception() is not None:
            log.error("%s reader failed", self.conn.id, exc_info=reader.exception())
            await self._close(Close.RESTARTING, None, "internal error")

    async def _read(self) -> None:
        await self._read_frames()
        await self._settle()  # every frame read is answered before the reader is done

    async def _read_frames(self) -> None:
        """Frames in the order they come; each answered in that order. A pipelined frame
        (``pipelined``) is handled by a task of its own while the next ones are read."""
        self._refused = 0
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = self._payload(message)
            frame = self._parse(raw)
            # Pipelined only with company: another frame already waiting, or one in flight (a
            # frame alone is answered inline, without a task of its own).
            pipelined = frame is not None and self.pipelined(frame) and (
                self._in_flight() or (self._queued is not None and self._queued() > 0))
            if not pipelined:
                await self._settle()
            if not self.bucket.take():
                await self._settle()
                self._refuse(protocol.request_id(raw))
                if self.conn.stopping:
                    return
                continue
            if pipelined:
                await self._pipeline(raw, frame)
            else:
                await self._dispatch(raw, frame)
            if self.conn.stopping:
                return

    def _parse(self, raw: str | bytes | None) -> Frame | None:
        """The frame, or None when it is refused (``_dispatch`` parses it again and answers)."""
        try:
            return protocol.parse(raw, self.role, self.ctx.settings.max_text_chars)
        except ChatError:
            return None

    def _in_flight(self) -> int:
        """How many pipelined frames are still being handled."""
        pending = self._pending
        if not pending:
            return 0
        while pending and pending[0].done():
            pending.popleft()
        return len(pending)

    async def _pipeline(self, raw: str | bytes | None, frame: Frame | None) -> None:
        """(``_in_flight`` has just dropped what is done.)"""
        pending = self._pending
        if pending is None:
            pending = self._pending = collections.deque()
        if len(pending) >= PIPELINE:
            await asyncio.wait((pending[0],))
            pending.popleft()
        after = pending[-1] if pending else None
        pending.append(asyncio.create_task(self._dispatch(raw, frame, after)))

    async def _settle(self, within: float | None = None) -> None:
        """Wait until every pipelined frame read so far is answered (those not answered within
        ``within`` seconds are cancelled: their writes commit or not, and a resend is harmless)."""
        if self._pending:
            _, late = await asyncio.wait(self._pending, timeout=within)
            for task in late:
                task.cancel()
            self._pending.clear()

    def _refuse(self, request: str | None) -> None:
        """A frame refused for its rate: ``rate_limited``, and after MAX_REFUSED in a row the
        socket is closed (4029)."""
        self._refused += 1
        self.ctx.metrics.rate_limited["frame"].inc()
        self.ctx.metrics.errors[Code.RATE_LIMITED].inc()
        self.conn.send(protocol.error(Code.RATE_LIMITED, "slow down", request))
        if self._refused >= MAX_REFUSED:
            self.conn.stop(Close.RATE_LIMITED, "rate limited")

    async def _dispatch(self, raw: str | bytes | None, frame: Frame | None = None,
                        after: asyncio.Future[Any] | None = None) -> None:
        """Answer one frame (``frame``: ``raw`` already parsed). ``after``: the previous
        frame's task when this one is pipelined; its answers go out after that one's."""
        request = None
        answer: bytes | None = None
        try:
            if frame is None:
                frame = protocol.parse(raw, self.role, self.ctx.settings.max_text_chars)
            request = getattr(frame, "id", None)
            if isinstance(frame, Hello):
                raise ChatError(Code.BAD_FRAME, "hello was already received")
            if isinstance(frame, Ping):
                await self.heartbeat()
                self.conn.send(protocol.encode({"type": "pong", "id": frame.id}))
                return
            # Frames that do something also take from the buckets this socket shares with the
            # visitor's other sockets and the site's visitors (pings are this socket's alone).
            if not all(buckets.take(key) for buckets, key in self.shared):
                await in_turn(after)
                self._refuse(request)
                return
            self._refused = 0
            answer = await self.handle(frame, after)
        except ChatError as exc:
            self.ctx.metrics.errors[exc.code].inc()
            if exc.code is Code.RATE_LIMITED:  # (a new conversation, over its limit)
                self.ctx.metrics.rate_limited["conversation"].inc()
            answer = protocol.error(exc.code, exc.message, request or protocol.request_id(raw))
        except Unavailable as exc:  # logged once per episode by whoever raised it
            self.ctx.metrics.errors[Code.UNAVAILABLE].inc()
            answer = protocol.error(Code.UNAVAILABLE, exc.reason,
                                    request or protocol.request_id(raw),
                                    retry_after=exc.retry_after_ms)
        except Exception:
            log.exception("%s failed to handle a frame", self.conn.id)
            self.ctx.metrics.errors[Code.INTERNAL].inc()
            answer = protocol.error(Code.INTERNAL, "try again shortly", request)
        if answer is not None:  # the ack or the error, after the previous frame's
            await in_turn(after)
            self.conn.send(answer)

    @staticmethod
    def _payload(message: Mapping[str, Any]) -> str | bytes | None:
        text = message.get("text")
        return text if text is not None else message.get("bytes")

    async def _send(self, data: bytes) -> None:
        await self.ws.send_text(data.decode())

    async def _send_many(self, frames: list[bytes]) -> None:
        """The pump's way out: straight to the transport in one write when it allows it
        (server/transport.py), else one ASGI message each."""
        if self._write is not None:
            await self._write(frames)
            return
        for data in frames:
            await self.ws.send_text(data.decode())

    async def _unavailable(self, exc: Unavailable) -> None:
        """The store cannot serve this socket now: ``unavailable`` with its retry hint, then
        ``4000`` (the client reconnects after it and resumes from its last ``seq``)."""
        if self.ws.application_state == WebSocketState.CONNECTED:
            self.ctx.metrics.errors[Code.UNAVAILABLE].inc()
            with contextlib.suppress(Exception):
                await self._send(protocol.error(Code.UNAVAILABLE, exc.reason,
                                                retry_after=exc.retry_after_ms))
                await self.ws.close(int(Close.RESTARTING), "unavailable: retry")

    async def _close(self, close: Close, code: Code | None, message: str) -> None:
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        with contextlib.suppress(Exception):
            if code is not None:
                self.ctx.metrics.errors[code].inc()
                await self._send(protocol.error(code, message))
            await self.ws.close(int(close), message[:100])

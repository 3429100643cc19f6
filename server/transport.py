"""uvicorn's sans-I/O WebSocket protocol, with dead and slow peers closed for real.

uvicorn closes a socket by writing a close frame and calling ``transport.close()``, which waits
for the write buffer to drain before it closes the descriptor. A peer that stopped reading never
drains it, so the socket, its buffers and the app's session stayed held for as long as the peer
kept the TCP connection open — after a keepalive timeout, and after our own "slow consumer"
decision alike. Here both end with ``transport.abort()`` once the peer has had ``grace`` seconds
(``LIVECHAT_WS_PING_TIMEOUT``) to take what was sent, the close frame included.

The app reaches this through the ASGI scope: ``scope["extensions"]["livechat.close_now"]`` is a
callable ``(code, reason)`` that queues the close frame behind what is buffered whatever flow
control says, tells the app the socket is gone, and aborts after the grace.

It also gives the app a cheaper way out, ``scope["extensions"]["livechat.write"]``: an awaitable
``(frames)`` that frames a list of already-encoded JSON texts and hands them to the transport in
one write, with the same flow control as ASGI's ``websocket.send`` (it waits while the transport
is paused). Through Starlette and uvicorn's ASGI ``send``, every frame was decoded to ``str``,
wrapped in a message dict, checked twice and encoded again, and written on its own.

And ``scope["extensions"]["livechat.queued"]``: how many received events wait for the app's
``receive`` (frames that came in while it was busy): whether a frame has company to share a
commit with (server/endpoints/session.py).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from server.inbox import Flag, Inbox

CLOSE_NOW = "livechat.close_now"
WRITE = "livechat.write"
QUEUED = "livechat.queued"


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grace = float(self.config.ws_ping_timeout or 20.0)
        # The same roles as uvicorn's asyncio.Queue and Event, in a fraction of the memory
        # per socket (server/inbox.py; uvicorn uses put_nowait, get, empty, set, clear, wait).
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the app's task has not run yet: it sees this
            scope["extensions"][CLOSE_NOW] = self.close_now
            scope["extensions"][WRITE] = self.write_texts
            scope["extensions"][QUEUED] = self.queue.qsize

    async def write_texts(self, texts: list[bytes]) -> None:
        """Send ``texts`` (UTF-8 JSON, as encoded) as text frames, in one transport write."""
        if not self.writable.is_set():
            await self.writable.wait()
        if self.disconnected or self.close_sent or not self.handshake_complete:
            raise ClientDisconnected()
        for text in texts:
            self.conn.send_text(text)
        self.transport.write(b"".join(self.conn.data_to_send()))

    def close_now(self, code: int, reason: str) -> None:
        if not self.close_sent and not self.transport.is_closing():
            self.conn.send_close(code, reason)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code,
                                   "reason": reason})
            self.transport.close()  # closes once the buffer drains…
        self._abort_later()  # …or is cut off after the grace

    def keepalive_timeout(self) -> None:
        timing_out = not self.close_sent and not self.transport.is_closing()
        super().keepalive_timeout()  # writes 1011 and asks the transport to close
        if timing_out:
            # As close_now does: the app (and the access log, the close metric) is told the
            # socket ended with the code that was sent, not the 1005 of the lost connection.
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1011,
                                   "reason": "keepalive ping timeout"})
        self._abort_later()

    def _abort_later(self) -> None:
        self.loop.call_later(self.grace, self.transport.abort)

"""What sits between the network and the ASGI app: uvicorn's HTTP/1.1 and WebSocket protocols,
extended where an ASGI app cannot reach.

* A text frame that is not UTF-8 is closed with 1007 and one log line, not uvicorn's traceback
  (any client could otherwise write tracebacks into the log).
"""

from __future__ import annotations

import logging

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("livechat.listener")


class WebSocketProtocol(WebSocketsSansIOProtocol):
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

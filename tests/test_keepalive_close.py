"""A peer that never answers pings: the server closes it with 1011 "keepalive ping timeout", and
its access log line and ``livechat_ws_closes_total`` say 1011 too (docs/deployment.md: the close
code, whoever closed). Before, both said 1005 (sometimes 1000)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from pathlib import Path

from tests.faults import until
from tests.live import Seed, ServerProcess
from tests.test_metrics import AUTH, TOKEN, scrape, value


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return opcode, await reader.readexactly(length)


def _masked_text(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def test_a_keepalive_timeout_is_logged_and_counted_as_1011(db: Path, seeded: Seed) -> None:
    server = ServerProcess(db, env={"LIVECHAT_WS_PING_INTERVAL": "1",
                                    "LIVECHAT_WS_PING_TIMEOUT": "1",
                                    "LIVECHAT_METRICS_TOKEN": TOKEN,
                                    "LIVECHAT_LOG_FORMAT": "json"}, log_level="info").start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ws/visitor HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: {server.http}\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        writer.write(_masked_text(json.dumps({"type": "hello", "v": 1,
                                              "site": seeded.site_id})))
        async with asyncio.timeout(30):  # pings are read and never answered
            while True:
                opcode, payload = await _read_frame(reader)
                if opcode == 0x8:
                    break
        assert struct.unpack("!H", payload[:2])[0] == 1011, payload
        assert payload[2:] == b"keepalive ping timeout"
        writer.close()

        def ended() -> list[dict[str, object]]:
            lines = [json.loads(line) for line in server.log().splitlines()
                     if line.startswith("{")]
            return [line for line in lines if line.get("logger") == "livechat.access"
                    and line.get("path") == "/ws/visitor"]

        await until(lambda: bool(ended()))
        [line] = ended()
        assert line["close"] == 1011, line  # before: 1005
        samples = await scrape(f"{server.http}/metrics", **AUTH)
        assert value(samples, "livechat_ws_closes_total", code="1011") == 1
        assert value(samples, "livechat_ws_closes_total", code="1005") == 0
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()

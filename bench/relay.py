"""The baseline: a bare Starlette WebSocket relay, served by uvicorn with the same WebSocket
settings as livechat. A sender on /ws/send/<pair> is forwarded to the receiver on /ws/recv/<pair>.
It stores nothing, checks nothing and acknowledges nothing: the floor livechat is measured
against."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

receivers: dict[str, WebSocket] = {}
waiting: dict[str, asyncio.Event] = {}


async def recv_socket(ws: WebSocket) -> None:
    pair = ws.path_params["pair"]
    await ws.accept()
    receivers[pair] = ws
    waiting.setdefault(pair, asyncio.Event()).set()
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        receivers.pop(pair, None)


async def sender(ws: WebSocket) -> str:
    """Accept a sender and wait for its pair's receiver: the pair."""
    pair: str = ws.path_params["pair"]
    await ws.accept()
    await waiting.setdefault(pair, asyncio.Event()).wait()
    return pair


async def send_socket(ws: WebSocket) -> None:
    pair = await sender(ws)
    try:
        while True:
            text = await ws.receive_text()
            await receivers[pair].send_text(text)
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[WebSocketRoute("/ws/recv/{pair}", recv_socket),
                        WebSocketRoute("/ws/send/{pair}", send_socket)])

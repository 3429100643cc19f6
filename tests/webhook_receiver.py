"""A real webhook receiver for tests: a small Starlette app served by uvicorn on a free port of
this process. It keeps every request it gets, answers as the test says (``script``: one status
per request, then ``then``), can hold a request open until released, and can be stopped and
started again on the same port (the receiver is down)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.live import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    #: Statuses to answer, one per request, in order; then ``then``.
    script: list[int] = field(default_factory=list)
    then: int = 200
    #: While set, requests wait for ``release`` before they are answered.
    hold: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    #: Extra answers by path: ``/redirect`` answers 302 to ``/target``.
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append(Received({k.lower(): v for k, v in request.headers.items()},
                                          await request.body()))
            self._changed.set()
            if self.hold:
                await self.release.wait()
            status = self.script.pop(0) if self.script else self.then
            return Response(f"answer {status}", status_code=status)

        async def redirect(request: Request) -> Response:
            self.received.append(Received({k.lower(): v for k, v in request.headers.items()},
                                          await request.body()))
            self._changed.set()
            return Response(status_code=302, headers={"Location": "/target"})

        async def target(request: Request) -> Response:
            raise AssertionError("a redirect was followed")

        return Starlette(routes=[Route("/hook", hook, methods=["POST"]),
                                 Route("/redirect", redirect, methods=["POST"]),
                                 Route("/target", target, methods=["POST", "GET"])])

    async def start(self) -> None:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="error",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        # Listening before this returns: the socket is bound here, and uvicorn serves it.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))

    async def stop(self) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        self.release.set()
        await self._task

    async def until(self, condition: Callable[[list[Received]], bool],
                    timeout: float = 30.0) -> list[Received]:
        """Wait for requests to arrive until ``condition`` holds of all received so far."""
        async with asyncio.timeout(timeout):
            while not condition(self.received):
                self._changed.clear()
                await self._changed.wait()
        return self.received

    def unique(self) -> dict[str, Received]:
        """By webhook-id (a redelivery has the same id and the same body)."""
        seen: dict[str, Received] = {}
        for got in self.received:
            if got.id in seen:
                assert seen[got.id].body == got.body, "a redelivery changed its body"
            seen.setdefault(got.id, got)
        return seen


@contextlib.asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    await receiver.start()
    try:
        yield receiver
    finally:
        with contextlib.suppress(Exception):
            await receiver.stop()

"""Helpers for fault tests: visitors that keep chatting through faults the way the widget does,
the checker that runs after every fault, a real full disk, and a process's sockets.

A ``Chatter`` sends numbered messages with at most ``window`` unacknowledged, resends after
``unavailable`` (when ``retry_after`` says) and after every reconnect (resends are harmless: same
id), and reconnects with its token, conversation and ``last_seq``, as the widget does. Every
``message`` frame it receives is checked to come in order, each ``seq`` once.

``check`` is the verdict after a fault: every acknowledged message is stored exactly once, under
the seq its ack named, and every chatter's transcript equals the store's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.live import UNLIMITED, ServerProcess
from tests.redis_server import RedisServer

#: Every rate limit lifted: these visitors flood on purpose, from one address.
FAST = UNLIMITED


@dataclass
class Chatter:
    servers: Sequence[ServerProcess]
    site_id: str
    name: str
    body_chars: int = 40
    token: str | None = None
    epoch: str | None = None
    conversation_id: str | None = None
    last_seq: int = 0
    #: (seq, body) of every message frame received, in order.
    seen: list[tuple[int, str]] = field(default_factory=list)
    #: client id -> seq, from the acks.
    acked: dict[str, int] = field(default_factory=dict)
    #: error codes received, counted.
    errors: Counter[str] = field(default_factory=Counter)
    #: close codes of connections the server ended.
    closes: list[int | None] = field(default_factory=list)
    on_ack: Callable[[], None] | None = None
    _turn: int = 0
    _next: int = 0
    _moved: asyncio.Event = field(default_factory=asyncio.Event)

    def body(self, msg_id: str) -> str:
        return (msg_id + " ").ljust(self.body_chars, "x")

    async def _connect(self) -> ClientConnection:
        server = self.servers[self._turn % len(self.servers)]
        self._turn += 1
        ws = await connect(f"{server.ws}/ws/visitor", origin=server.http, compression=None,
                           max_size=2**22, open_timeout=10)
        hello: dict[str, Any] = {"type": "hello", "v": 1, "site": self.site_id}
        if self.token:
            hello["token"] = self.token
        if self.conversation_id:
            hello.update(conversation_id=self.conversation_id, last_seq=self.last_seq,
                         epoch=self.epoch)
        await ws.send(orjson.dumps(hello).decode())
        return ws

    def _message(self, frame: dict[str, Any]) -> None:
        if self.conversation_id is None:
            self.conversation_id = frame["conversation_id"]
        assert frame["conversation_id"] == self.conversation_id, frame
        assert frame["seq"] == self.last_seq + 1, (self.name, frame["seq"], self.last_seq)
        self.last_seq = frame["seq"]
        self.seen.append((frame["seq"], frame["body"]))
        self._moved.set()

    async def chat(self, count: int, window: int = 10) -> None:
        """Send ``count`` messages and return once every one is acknowledged and received."""
        ids = [f"{self.name}-{i}" for i in range(self._next, self._next + count)]
        self._next += count
        unsent = list(reversed(ids))
        in_flight: set[str] = set()
        #: (when, id) of refused messages, resent once their retry_after has passed.
        retry: list[tuple[float, str]] = []
        loop = asyncio.get_running_loop()
        while unsent or in_flight or retry:
            try:
                ws = await self._connect()
            except (OSError, ConnectionClosed, TimeoutError):
                await asyncio.sleep(0.2)  # reconnect backoff, as the widget's
                continue
            unsent.extend(reversed(sorted(in_flight | {msg_id for _, msg_id in retry})))
            in_flight.clear()
            retry.clear()
            try:
                async def pump(ws: ClientConnection) -> None:
                    while unsent and len(in_flight) + len(retry) < window:
                        msg_id = unsent.pop()
                        in_flight.add(msg_id)
                        await ws.send(orjson.dumps({"type": "send", "id": msg_id,
                                                    "body": self.body(msg_id)}).decode())

                await pump(ws)
                while unsent or in_flight or retry or self.last_seq < max(
                        self.acked.values(), default=0):
                    wait = max(0.0, min(when for when, _ in retry) - loop.time()) if retry \
                        else None
                    try:
                        async with asyncio.timeout(wait):
                            raw = await ws.recv()
                    except TimeoutError:
                        raw = None
                    if raw is not None:
                        frame = orjson.loads(raw)
                        kind = frame.get("type")
                        if kind == "welcome":
                            self.token, self.epoch = frame["token"], frame["epoch"]
                        elif kind == "message":
                            self._message(frame)
                        elif kind == "ack" and frame.get("id") in in_flight:
                            if frame.get("message") and frame["seq"] > self.last_seq:
                                self._message(frame["message"])  # our own, in its place
                            in_flight.discard(frame["id"])
                            assert self.acked.setdefault(frame["id"], frame["seq"]) == \
                                frame["seq"], frame
                            if self.on_ack is not None:
                                self.on_ack()
                        elif kind == "error" and frame.get("id") in in_flight:
                            self.errors[frame["code"]] += 1
                            assert frame["code"] == "unavailable", frame
                            in_flight.discard(frame["id"])
                            retry.append((loop.time() + frame["retry_after"] / 1000,
                                          frame["id"]))
                    due = [item for item in retry if item[0] <= loop.time()]
                    for item in due:
                        retry.remove(item)
                        in_flight.add(item[1])
                        await ws.send(orjson.dumps({"type": "send", "id": item[1],
                                                    "body": self.body(item[1])}).decode())
                    await pump(ws)
                await ws.close()
            except ConnectionClosed:
                self.closes.append(ws.close_code)
                await asyncio.sleep(0.2)

    async def caught_up(self, seq: int, timeout: float = 20.0) -> None:
        """Reconnect and read until the last seq seen is ``seq``."""
        ws = await self._connect()
        try:
            async with asyncio.timeout(timeout):
                while self.last_seq < seq:
                    frame = orjson.loads(await ws.recv())
                    if frame.get("type") == "message":
                        self._message(frame)
                    elif frame.get("type") == "welcome":
                        self.token, self.epoch = frame["token"], frame["epoch"]
        finally:
            await ws.close()


def transcript(db: Path, conversation_id: str) -> list[tuple[int, str | None, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT seq, client_msg_id, body FROM messages "
                            "WHERE conversation_id = ? ORDER BY seq", (conversation_id,)).fetchall()


async def check(db: Path, chatters: Sequence[Chatter]) -> None:
    """Every acknowledged message stored exactly once, under its acknowledged seq; every
    chatter's transcript equal to the store's."""
    for chatter in chatters:
        assert chatter.conversation_id is not None, chatter.name
        stored = transcript(db, chatter.conversation_id)
        ids = Counter(client_id for _, client_id, _ in stored)
        assert all(n == 1 for n in ids.values()), [i for i, n in ids.items() if n > 1]
        by_id = {client_id: seq for seq, client_id, _ in stored}
        for msg_id, seq in chatter.acked.items():
            assert by_id.get(msg_id) == seq, (msg_id, seq, by_id.get(msg_id))
        assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))
        await chatter.caught_up(stored[-1][0])
        assert chatter.seen == [(seq, body) for seq, _, body in stored], chatter.name


async def health(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{server.http}/healthz", timeout=30)
        return r.status_code, r.json()


async def until_health(server: ServerProcess, predicate: Callable[[int, dict[str, Any]], bool],
                       timeout: float = 30.0) -> dict[str, Any]:
    """Poll /healthz (a load balancer's view) until ``predicate(status, body)``."""
    async with asyncio.timeout(timeout):
        while True:
            status, body = await health(server)
            if predicate(status, body):
                return body
            await asyncio.sleep(0.1)


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0,
                every: float = 0.05) -> None:
    """Poll a condition of another process (its log, its descriptors) with a deadline."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(every)


def log_count(server: ServerProcess, pattern: str) -> int:
    return len(re.findall(pattern, server.log()))


# --- a real full disk --------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` at ``path``: a real filesystem that really fills up (ENOSPC, as a
    full disk gives), which the test can then free again. Needs root (CI runs as root); a machine
    that cannot mount fails the test loudly rather than skipping it."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs",
                           str(path)], capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs for the full-disk test: {done.stderr}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; the file that did it (delete it to free the space)."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)
    assert os.statvfs(disk).f_bavail == 0
    return filler


# --- a process's sockets -----------------------------------------------------------------------


def _inodes_of(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def holds_connection_from(pid: int, client_port: int) -> bool:
    """Whether process ``pid`` still has a descriptor for the TCP connection whose other end is
    ``client_port`` on this machine."""
    inodes = _inodes_of(pid)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == client_port and int(fields[9]) in inodes:
                    return True
    return False


# --- servers -------------------------------------------------------------------------------------


@contextlib.contextmanager
def processes(db: Path, count: int, redis: RedisServer | None = None, log_dir: Path | None = None,
              **env: str) -> Iterator[list[ServerProcess]]:
    env = {**FAST, **env}
    if redis is not None:
        env.update(LIVECHAT_REDIS_URL=redis.url, LIVECHAT_REDIS_PREFIX="faults")
    started: list[ServerProcess] = []
    try:
        for _ in range(count):
            started.append(ServerProcess(db, env=env, log_dir=log_dir).start())
        yield started
    finally:
        for proc in started:
            proc.stop()
    for proc in started:
        assert "Traceback" not in proc.log(), proc.log()

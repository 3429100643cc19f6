"""Side-by-side benchmark: livechat against a bare WebSocket relay, in one run, on this machine.

    .venv/bin/python -m bench.run            # the full run (about a minute)
    .venv/bin/python -m bench.run --quick    # smaller numbers, for a smoke check

Both servers run as their own uvicorn process with the same WebSocket settings
(websockets-sansio, permessage-deflate off); the load generator is this process. Measured:

* throughput: N sender→receiver pairs, each with at most W messages in flight, as fast as they
  go; delivered messages per second, and the server's CPU time per delivered message;
* latency at a fixed offered load (messages per second across all pairs): p50 and p99 from the
  sender's send to the receiver's receipt;
* memory: the server's resident memory per idle connection (C extra connections).

For livechat a "message" is the whole product path: a visitor's `send`, strict parsing, a
committed SQLite write (group commit), the ack and the echo to the visitor, and the `message`
frame to the agent who has the conversation open. The relay forwards text and does nothing else.
Results are printed as a Markdown table for docs/benchmarks.md; read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import pg  # noqa: E402
from tests.live import PASSWORD, UNLIMITED, ServerProcess, free_port, seed  # noqa: E402


def clock_ms() -> float:
    return time.perf_counter() * 1000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Pair:
    sender: ClientConnection
    receiver: ClientConnection
    send: Callable[[float], Awaitable[None]]
    received: Callable[[str | bytes], float | None]  # the send time carried, or None


class Target:
    name: str
    pid: int

    async def pair(self, index: int) -> Pair:
        raise NotImplementedError

    async def idle(self) -> ClientConnection:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class Relay(Target):
    name = "bare relay (baseline)"

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.relay:app", "--port", str(self.port),
             "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
             "--log-level", "warning"], cwd=ROOT)
        self.pid = self.proc.pid
        _wait_port(self.port)

    async def pair(self, index: int) -> Pair:
        receiver = await connect(f"ws://127.0.0.1:{self.port}/ws/recv/{index}", compression=None)
        sender = await connect(f"ws://127.0.0.1:{self.port}/ws/send/{index}", compression=None)

        async def send(t: float) -> None:
            await sender.send(orjson.dumps({"t": t, "body": "x" * 60}).decode())

        def received(raw: str | bytes) -> float | None:
            return float(orjson.loads(raw)["t"])

        return Pair(sender, receiver, send, received)

    async def idle(self) -> ClientConnection:
        return await connect(f"ws://127.0.0.1:{self.port}/ws/recv/idle-{uuid.uuid4()}",
                             compression=None)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("relay did not start")


class Livechat(Target):
    name = "livechat"

    def __init__(self, workdir: Path, redis_url: str | None = None,
                 postgres: str | None = None) -> None:
        self._stack = contextlib.ExitStack()
        db = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        env = dict(UNLIMITED)  # one address drives every visitor: no per-address limits
        where: Path | str = db
        if postgres:  # a database of its own on that server, dropped at the end
            os.environ["LIVECHAT_TEST_POSTGRES"] = postgres
            where = self._stack.enter_context(pg.database())
            env["LIVECHAT_DATABASE_URL"] = where
            self.name = "livechat, PostgreSQL store"
        self.seeded = asyncio.run(seed(where, ["http://bench.test"]))
        if redis_url:
            self.name = "livechat, Redis broker"
            env.update(LIVECHAT_REDIS_URL=redis_url,
                       LIVECHAT_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}")
        self.server = ServerProcess(db, env=env).start()
        self.pid = self.server.proc.pid  # type: ignore[union-attr]
        self.cookie = ""

    async def _cookie(self) -> str:
        if not self.cookie:
            async with httpx.AsyncClient() as http:
                r = await http.post(f"{self.server.http}/api/agent/login",
                                    json={"email": self.seeded.agent_email, "password": PASSWORD},
                                    headers={"Origin": self.server.http})
                self.cookie = r.cookies["livechat_agent"]
        return self.cookie

    async def _visitor(self) -> ClientConnection:
        ws = await connect(f"{self.server.ws}/ws/visitor", origin=self.server.http,  # type: ignore[arg-type]
                           compression=None)
        await ws.send(orjson.dumps({"type": "hello", "v": 1, "site": self.seeded.site_id}).decode())
        await ws.recv()
        return ws

    async def pair(self, index: int) -> Pair:
        sender = await self._visitor()
        await sender.send(orjson.dumps({"type": "send", "id": "first", "body": "hi"}).decode())
        while True:
            frame = orjson.loads(await sender.recv())
            if frame["type"] == "ack":
                conv = frame["conversation_id"]
                break
        cookie = {"Cookie": f"livechat_agent={await self._cookie()}"}
        receiver = await connect(f"{self.server.ws}/ws/agent", origin=self.server.http,  # type: ignore[arg-type]
                                 compression=None, additional_headers=cookie)
        await receiver.send('{"type":"hello","v":1}')
        await receiver.recv()
        await receiver.send(orjson.dumps({"type": "open", "id": "o", "conversation_id": conv,
                                          "last_seq": 1}).decode())

        async def send(t: float) -> None:
            await sender.send(orjson.dumps({"type": "send", "id": uuid.uuid4().hex,
                                            "body": f"{t:.6f} " + "x" * 40}).decode())

        def received(raw: str | bytes) -> float | None:
            frame = orjson.loads(raw)
            if frame.get("type") != "message":
                return None
            return float(frame["body"].split(" ", 1)[0])

        # The visitor's own frames (acks, echoes) are read and dropped, as a browser would.
        asyncio.get_running_loop().create_task(_drain(sender))
        return Pair(sender, receiver, send, received)

    async def idle(self) -> ClientConnection:
        return await self._visitor()

    def stop(self) -> None:
        self.server.stop()
        self._stack.close()


async def _drain(ws: ClientConnection) -> None:
    try:
        async for _ in ws:
            pass
    except Exception:
        pass


async def throughput(target: Target, pairs: int, per_pair: int, window: int) -> dict[str, Any]:
    made = [await target.pair(i) for i in range(pairs)]
    cpu0, t0 = cpu_seconds(target.pid), time.perf_counter()

    async def run(pair: Pair) -> None:
        credit = asyncio.Semaphore(window)

        async def receive() -> None:
            got = 0
            while got < per_pair:
                if pair.received(await pair.receiver.recv()) is not None:
                    got += 1
                    credit.release()

        reader = asyncio.create_task(receive())
        for _ in range(per_pair):
            await credit.acquire()
            await pair.send(clock_ms())
        await reader

    await asyncio.gather(*(run(p) for p in made))
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(target.pid) - cpu0
    for p in made:
        await p.sender.close()
        await p.receiver.close()
    total = pairs * per_pair
    return {"msgs_per_s": total / elapsed, "cpu_us_per_msg": cpu / total * 1e6}


async def latency(target: Target, pairs: int, rate: float, seconds: float) -> dict[str, Any]:
    made = [await target.pair(i + 10_000) for i in range(pairs)]
    per_pair = int(rate / pairs * seconds)
    interval = pairs / rate
    samples: list[float] = []

    async def run(pair: Pair, offset: float) -> None:
        async def receive() -> None:
            got = 0
            while got < per_pair:
                sent = pair.received(await pair.receiver.recv())
                if sent is not None:
                    samples.append(clock_ms() - sent)
                    got += 1

        reader = asyncio.create_task(receive())
        start = time.perf_counter() + offset
        for i in range(per_pair):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the offered load (a benchmark, not a test)
            await pair.send(clock_ms())
        await reader

    await asyncio.gather(*(run(p, i * interval / pairs) for i, p in enumerate(made)))
    for p in made:
        await p.sender.close()
        await p.receiver.close()
    qs = statistics.quantiles(samples, n=100)
    return {"p50_ms": statistics.median(samples), "p99_ms": qs[98]}


async def memory(target: Target, count: int) -> dict[str, Any]:
    await asyncio.sleep(0.5)
    before = rss_kib(target.pid)
    conns = [await target.idle() for _ in range(count)]
    await asyncio.sleep(0.5)
    after = rss_kib(target.pid)
    for c in conns:
        await c.close()
    return {"kib_per_socket": (after - before) / count}


async def measure(target: Target, quick: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result.update(await throughput(target, pairs=10 if quick else 20,
                                   per_pair=300 if quick else 1500, window=20))
    result.update(await latency(target, pairs=10, rate=1000, seconds=2 if quick else 5))
    result.update(await memory(target, 200 if quick else 1000))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0",
                        help="also measure livechat with this Redis as its broker ('' to skip)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="also measure livechat with its store on this PostgreSQL server (in "
                        "a database of its own, dropped after; '' to skip)")
    parser.add_argument("--only", default="",
                        help="comma-separated columns to run besides the relay: sqlite, redis, "
                        "postgres (default: all)")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        only = set(args.only.split(",")) if args.only else {"sqlite", "redis", "postgres"}
        makers: list[Callable[[], Target]] = [Relay]
        if "sqlite" in only:
            makers.append(lambda: Livechat(Path(tmp)))
        if args.redis and "redis" in only:
            makers.append(lambda: Livechat(Path(tmp), args.redis))
        if args.postgres and "postgres" in only:
            makers.append(lambda: Livechat(Path(tmp), postgres=args.postgres))
        for make in makers:
            target = make()
            try:
                rows[target.name] = asyncio.run(measure(target, args.quick))
            finally:
                target.stop()
    names = list(rows)
    base = rows[names[0]]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"{'quick' if args.quick else 'full'} run\n")
    print("| metric | " + " | ".join(names) + " | " +
          " | ".join(f"{n} / relay" for n in names[1:]) + " |")
    print("|---" * (2 * len(names)) + "|")
    for key, label in [("msgs_per_s", "delivered msg/s at saturation"),
                       ("cpu_us_per_msg", "server CPU µs per message"),
                       ("p50_ms", "p50 latency at 1,000 msg/s (ms)"),
                       ("p99_ms", "p99 latency at 1,000 msg/s (ms)"),
                       ("kib_per_socket", "RSS per idle socket (KiB)")]:
        values = " | ".join(f"{rows[n][key]:,.2f}" for n in names)
        ratios = " | ".join(f"{rows[n][key] / base[key]:.2f}×" for n in names[1:])
        print(f"| {label} | {values} | {ratios} |")


if __name__ == "__main__":
    main()

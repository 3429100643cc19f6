"""What bench/run.py measures: the bare relay and livechat (one process or several, memory or
Redis broker, SQLite or PostgreSQL store, this checkout or another), each as its own server
process, and the clients that drive them. The scenarios that use them are in bench/scenarios.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.listener import OWN_FILES, raise_fd_limit  # noqa: E402
from tests import pg  # noqa: E402
from tests.live import PASSWORD, UNLIMITED, Seed, ServerProcess, free_port, seed  # noqa: E402

#: A receiver that waits this long for the next message counts the rest as lost.
STALL = 30.0


async def recv(ws: ClientConnection, what: str) -> str | bytes:
    """The next frame, or an error that says where the run stalled (a benchmark that hangs
    tells nothing)."""
    try:
        return await asyncio.wait_for(ws.recv(), STALL)
    except TimeoutError:
        raise RuntimeError(f"nothing received for {STALL:.0f} s while {what}") from None


def clock_ms() -> float:
    return time.perf_counter() * 1000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _stat_seconds(stat: Path) -> float:
    """utime + stime of a ``/proc/…/stat`` file, in seconds."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it (``--workers``)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # (a thread that ended meanwhile)
            for child in (task / "children").read_text().split():
                pids += _tree(int(child))
    return pids


def machine_jiffies() -> tuple[int, int]:
    """All cores' busy and total time so far (``/proc/stat``, in clock ticks): the whole
    machine's, the load generator, Redis and anything else included."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def machine_busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of all cores' time that was busy between two ``machine_jiffies``."""
    return (after[0] - before[0]) / max(1, after[1] - before[1]) * 100


def cpu_seconds(pid: int) -> float:
    """The CPU time of ``pid`` and of every process under it (``--workers``)."""
    return sum(_stat_seconds(Path(f"/proc/{p}/stat")) for p in _tree(pid))


def thread_seconds(pid: int) -> dict[int, float]:
    """The CPU time of each thread of ``pid`` and of every process under it, by thread id."""
    out: dict[int, float] = {}
    for p in _tree(pid):
        for task in Path(f"/proc/{p}/task").iterdir():
            with contextlib.suppress(OSError):  # (a thread that ended meanwhile)
                out[int(task.name)] = _stat_seconds(task / "stat")
    return out


def busiest_thread_pct(before: dict[int, float], after: dict[int, float],
                       seconds: float) -> float:
    """The busiest thread's share of one core between two ``thread_seconds``: for livechat, its
    event loop's (at 100 % every message waits for the loop, whatever else is idle)."""
    return max((t - before.get(tid, 0.0) for tid, t in after.items()), default=0.0) \
        / seconds * 100


@dataclass
class Pair:
    sender: ClientConnection
    receiver: ClientConnection
    send: Callable[[float], Awaitable[None]]
    received: Callable[[str | bytes], float | None]  # the send time carried, or None
    #: What the receiver got, by the message's identity (livechat: its seq), for the check that
    #: nothing was lost or doubled (the relay has no identity to check: left empty).
    seen: list[int] = field(default_factory=list)


#: The load generator's sockets: no keepalive pings of their own (the servers still ping, as
#: they do in production), and a patient handshake: with the defaults, 20,000 idle sockets
#: opened one after another from this one loop timed out near 18,700 on a loaded machine.
IDLE_CLIENT: dict[str, Any] = {"compression": None, "ping_interval": None, "open_timeout": 60}


class Target:
    name: str
    pid: int

    async def pair(self, index: int) -> Pair:
        raise NotImplementedError

    async def idle(self) -> ClientConnection:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


@contextlib.contextmanager
def serving() -> Iterator[list[Target]]:
    """A list for the servers of a run, as each is started: every one of them is stopped on the
    way out, also when a later one fails to start or a round fails."""
    servers: list[Target] = []
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


class Relay(Target):
    name = "bare relay (baseline)"
    app = "bench.relay:app"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--port", str(self.port),
             # livechat's settings (server/listener.py): its loop (uvloop when installed), h11
             # for the handshake (its HTTP protocol is h11's; httptools would be picked here)
             "--loop", "auto", "--http", "h11",
             "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
             "--log-level", "warning"], cwd=ROOT, env={**os.environ, **(env or {})})
        self.pid = self.proc.pid
        try:
            _wait_port(self.port)
        except BaseException:
            self.stop()
            raise

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
                             **IDLE_CLIENT)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class CommittedRelay(Relay):
    """bench/committed_relay.py: the relay with every message committed before it is acked and
    forwarded, an id that makes resending harmless and a gap-free seq per pair."""

    name = "committed relay (floor)"
    app = "bench.committed_relay:app"

    def __init__(self, workdir: Path, extra_us: int = 0) -> None:
        """``extra_us``: CPU the loop spends on each message besides (``bench.budget``)."""
        super().__init__({"COMMITTED_RELAY_DB": str(workdir / f"floor-{uuid.uuid4().hex[:6]}.db"),
                          "COMMITTED_RELAY_EXTRA_US": str(extra_us)})
        if extra_us:
            self.name = f"committed relay + {extra_us} µs"

    async def pair(self, index: int) -> Pair:
        key = f"{index}-{uuid.uuid4().hex[:8]}"  # a new sequence for every round's pairs
        receiver = await connect(f"ws://127.0.0.1:{self.port}/ws/recv/{key}", compression=None)
        sender = await connect(f"ws://127.0.0.1:{self.port}/ws/send/{key}", compression=None)
        # As livechat's pairs: the first message (seq 1) is read before the run.
        await sender.send('{"id":"first","body":"hi"}')
        await recv(sender, "waiting for the first message's ack")
        await recv(receiver, "waiting for the first message")

        async def send(t: float) -> None:
            await sender.send(orjson.dumps({"id": uuid.uuid4().hex,
                                            "body": f"{t:.6f} " + "x" * 40}).decode())

        seen: list[int] = []

        def received(raw: str | bytes) -> float | None:
            frame = orjson.loads(raw)
            seen.append(frame["seq"])
            return float(frame["body"].split(" ", 1)[0])

        asyncio.get_running_loop().create_task(_drain(sender))  # the acks, read and dropped
        return Pair(sender, receiver, send, received, seen)


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

    def __init__(self, workdir: Path, redis_url: str | None = None, *, workers: int = 1,
                 root: Path | None = None, label: str = "", prefilled: int = 0,
                 postgres: str | None = None, path_first: Path | None = None) -> None:
        """``root``: serve from another checkout (``--compare``); ``workers``: processes
        sharing the port (with Redis as the broker); ``prefilled``: messages stored first;
        ``postgres``: the store in a database of its own on that PostgreSQL server;
        ``path_first``: a directory put first on the server's ``PYTHONPATH`` (``bench.stalls``
        loads its ``sitecustomize`` so)."""
        self._stack = contextlib.ExitStack()
        db = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        if not postgres:
            self.seeded = _seed(db, root)
        if prefilled:
            t0 = time.perf_counter()
            asyncio.run(prefill(db, self.seeded.site_id, prefilled))
            print(f"prefilled {prefilled:,} messages in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
        env = dict(UNLIMITED)  # one address drives every visitor: no per-address limits
        # Its sockets are opened one after another, so the share of the default cap kept for
        # a listen backlog's worth of accepts at once (server/listener.py: ``budget``) is not
        # needed: with a 20,000-descriptor limit that cap leaves 19,393 sockets for visitors,
        # and this 19,904, as many as the memory target's sockets can come to on such a machine.
        env["LIVECHAT_MAX_CONNECTIONS"] = str(raise_fd_limit() - OWN_FILES)
        where: Path | str = db
        if postgres:  # a database of its own on that server, dropped at the end
            os.environ["LIVECHAT_TEST_POSTGRES"] = postgres
            where = self._stack.enter_context(pg.database())
            env["LIVECHAT_DATABASE_URL"] = where
            self.name = "livechat, PostgreSQL store"
            self.seeded = asyncio.run(seed(where, ["http://bench.test"]))
        if redis_url:
            self.name = "livechat, Redis" + (f", {workers} processes" if workers > 1 else "")
            env.update(LIVECHAT_REDIS_URL=redis_url,
                       LIVECHAT_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}")
        if root is not None or path_first is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                str(p) for p in (path_first, root or ROOT) if p is not None)
        self.name += label
        self.server = ServerProcess(db, env=env, args=["--workers", str(workers)]
                                    if workers > 1 else []).start()
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
                           **IDLE_CLIENT)
        await ws.send(orjson.dumps({"type": "hello", "v": 1, "site": self.seeded.site_id}).decode())
        await recv(ws, "waiting for a visitor's welcome")
        return ws

    async def pair(self, index: int) -> Pair:
        sender = await self._visitor()
        await sender.send(orjson.dumps({"type": "send", "id": "first", "body": "hi"}).decode())
        while True:
            frame = orjson.loads(await recv(sender, "waiting for the first message's ack"))
            if frame["type"] == "ack":
                conv = frame["conversation_id"]
                break
        cookie = {"Cookie": f"livechat_agent={await self._cookie()}"}
        receiver = await connect(f"{self.server.ws}/ws/agent", origin=self.server.http,  # type: ignore[arg-type]
                                 compression=None, additional_headers=cookie)
        await receiver.send('{"type":"hello","v":1}')
        await recv(receiver, "waiting for an agent's welcome")
        await receiver.send(orjson.dumps({"type": "open", "id": "o", "conversation_id": conv,
                                          "last_seq": 1}).decode())

        async def send(t: float) -> None:
            await sender.send(orjson.dumps({"type": "send", "id": uuid.uuid4().hex,
                                            "body": f"{t:.6f} " + "x" * 40}).decode())

        seen: list[int] = []

        def received(raw: str | bytes) -> float | None:
            frame = orjson.loads(raw)
            if frame.get("type") != "message":
                return None
            seen.append(frame["seq"])
            return float(frame["body"].split(" ", 1)[0])

        # The visitor's own frames (acks, which carry its messages) are read and dropped.
        asyncio.get_running_loop().create_task(_drain(sender))
        return Pair(sender, receiver, send, received, seen)

    async def idle(self) -> ClientConnection:
        return await self._visitor()

    def stop(self) -> None:
        self.server.stop()
        self._stack.close()


def _seed(db: Path, root: Path | None) -> Seed:
    """The database, made by the code that will serve it: another checkout's schema may be older
    (a newer one refuses to start it; an older one made by this code would be misread)."""
    if root is None:
        return asyncio.run(seed(db, ["http://bench.test"]))
    made = subprocess.run(
        [sys.executable, "-c", "import asyncio, dataclasses, json, pathlib, sys\n"
         "from tests.live import seed\n"
         "s = asyncio.run(seed(pathlib.Path(sys.argv[1]), ['http://bench.test']))\n"
         "print(json.dumps(dataclasses.asdict(s)))", str(db)],
        env={**os.environ, "PYTHONPATH": str(root)}, cwd=root,
        capture_output=True, text=True, check=True)
    return Seed(**orjson.loads(made.stdout))


async def _drain(ws: ClientConnection) -> None:
    try:
        async for _ in ws:
            pass
    except Exception:
        pass


async def prefill(db: Path, site_id: str, messages: int, per_conversation: int = 100) -> None:
    """``messages`` visitor messages in conversations of ``per_conversation``, through the
    store's own write path (so every index and the search index are as in production)."""
    from server.store import SQLiteStore

    store = SQLiteStore(db, clock=time.time)
    await store.open()
    rng = random.Random(7)
    words = [f"{w}{n}" for w in WORDS for n in range(40)]

    async def visitor() -> None:
        vid = uuid.uuid4().hex
        for i in range(per_conversation):
            body = " ".join(rng.choice(words) for _ in range(8))
            await store.append_visitor_message(site_id, vid, f"m{i}", body)

    try:
        for start in range(0, messages // per_conversation, 256):
            await asyncio.gather(*(visitor() for _ in range(
                min(256, messages // per_conversation - start))))
    finally:
        await store.close()


WORDS = ("order", "refund", "invoice", "delivery", "parcel", "password", "account", "price",
         "discount", "shipping", "return", "broken", "size", "colour", "payment", "card")

"""Helpers for tests against a real server: a uvicorn process on a free port, seeded through the
store, and WebSocket clients that await frames (never sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from server.auth import Tokens, VisitorIdentity, hash_password
from server.store import SQLiteStore
from server.store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)


#: Every port handed out by this process: the kernel may offer a port again as soon as its
#: probe socket is closed, and a test that asks for two (a server's and its SMTP listener's)
#: then had both bind the same one (a CI run: "address already in use").
_GIVEN: set[int] = set()


#: Under pytest-xdist (scripts/test) each worker takes its ports from a range of its own, below
#: the kernel's ephemeral ports (32768 and up here) and above the ports browsers refuse (10080):
#: a port one worker was handed and has not bound yet is never offered to another, as the
#: kernel's own choice (port 0) could be.
_RANGE = (12000, 32000)
_next = itertools.count()


def free_port() -> int:
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get(
        "PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and workers.isdigit():
        span = (_RANGE[1] - _RANGE[0]) // int(workers)
        first = _RANGE[0] + int(worker[2:]) * span
        for _ in range(span):
            port = first + next(_next) % span
            if port in _GIVEN:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue  # (something of the machine's has it)
            _GIVEN.add(port)
            return port
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def server_env(db: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"LIVECHAT_DB": str(db), "LIVECHAT_SECRET_KEYS": SECRET,
                "PYTHONPATH": str(ROOT), **extra})
    return env


@dataclass
class ServerProcess:
    """``livechat serve`` in a subprocess. Its log goes to a file the tests can read."""

    db: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: Where the log goes (default: beside the database).
    log_dir: Path | None = None
    log_level: str = "warning"
    #: The process's descriptor limit (soft and hard), as ``ulimit -n`` would set it.
    fd_limit: int | None = None
    #: More options of ``livechat serve`` (e.g. ``["--workers", "2"]``).
    args: list[str] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.log_path = (self.log_dir or self.db.parent) / f"server-{self.port}.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(self.port),
             "--log-level", self.log_level, *self.args],
            env=server_env(self.db, **self.env), stdout=log, stderr=subprocess.STDOUT,
            cwd=self.db.parent, preexec_fn=self._limit if self.fd_limit else None,
        )
        log.close()
        self.wait_ready()
        return self

    def _limit(self) -> None:
        assert self.fd_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.fd_limit, self.fd_limit))

    def wait_ready(self, path: str = "/healthz", timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.http}{path}", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                # The port is not open yet: wait for the kernel to tell us it is.
                with socket.socket() as s:
                    s.settimeout(0.2)
                    s.connect_ex(("127.0.0.1", self.port))
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@contextlib.contextmanager
def serving(db: Path, fd_limit: int | None = None, **env: str) -> Iterator[ServerProcess]:
    """A server on ``db`` for the block; afterwards, no unhandled error may be in its log,
    whatever the test sent."""
    proc = ServerProcess(db, env=env, fd_limit=fd_limit).start()
    try:
        yield proc
    finally:
        proc.stop()
    assert "Traceback" not in proc.log(), proc.log()


@contextlib.contextmanager
def customer_page(db: Path, chat: ServerProcess, site_id: str, port: int) -> Iterator[str]:
    """The demo "customer site" (server/demo.py) on its own port, with the site's snippet."""
    snippet = f'<script async src="{chat.http}/widget.js" data-site="{site_id}"></script>'
    page = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, uvicorn; from server.demo import demo_app; "
         "uvicorn.run(demo_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
         "log_level='warning')", snippet, str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        ServerProcess(db, port=port, proc=page).wait_ready("/")
        yield f"http://127.0.0.1:{port}/"
    finally:
        page.terminate()
        page.wait(10)


def make_store(db: Path | str, clock: Callable[[], float] = time.time) -> SQLiteStore:
    """A store on ``db``: an SQLite file, or a ``postgresql://`` URL (typed as SQLite's: both
    have every method of ``server.store.Store``)."""
    if isinstance(db, str) and db.startswith("postgresql://"):
        return PostgresStore(db, clock=clock)  # type: ignore[return-value]
    return SQLiteStore(db, clock=clock)


@contextlib.asynccontextmanager
async def open_store(db: Path | str, clock: Callable[[], float] = time.time) -> AsyncIterator[
    SQLiteStore
]:
    """The server's database, opened beside it (as ``livechat site …`` would), and closed."""
    store = make_store(db, clock=clock)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


ADMIN_EMAIL = "root@acme.test"


async def add_admin(db: Path | str, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> str:
    async with open_store(db) as store:
        await store.create_agent(email, "Root", hash_password(password), "admin", [])
    return email


@dataclass
class Seed:
    site_id: str
    other_site_id: str
    agent_email: str
    agent2_email: str
    other_agent_email: str


async def seed(db: Path | str, origins: list[str] | None = None) -> Seed:
    store = make_store(db)
    await store.open()
    try:
        site = await store.create_site("Acme", origins or ["http://shop.test"])
        other = await store.create_site("Other Co", ["http://other.test"])
        await store.create_agent("ana@acme.test", "Ana", _PASSWORD_HASH, "agent", [site.id])
        await store.create_agent("bo@acme.test", "Bo", _PASSWORD_HASH, "agent", [site.id])
        await store.create_agent("oz@other.test", "Oz", _PASSWORD_HASH, "agent", [other.id])
        return Seed(site.id, other.id, "ana@acme.test", "bo@acme.test", "oz@other.test")
    finally:
        await store.close()


def visitor_token(site_id: str, visitor_id: str, clock: Callable[[], float] = time.time) -> str:
    return Tokens([SECRET], clock).visitor_token(VisitorIdentity(site_id, visitor_id))


class Client:
    """A WebSocket client that keeps every frame it receives and awaits the ones it wants."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._taken: set[int] = set()

    @classmethod
    async def open(cls, url: str, origin: str | None, cookie: str | None = None,
                   source: str | None = None, headers: dict[str, str] | None = None) -> Client:
        """``source``: connect from this local address (127.0.0.2: another client)."""
        headers = dict(headers or {})
        if cookie:
            headers["Cookie"] = f"livechat_agent={cookie}"
        extra: dict[str, Any] = {"local_addr": (source, 0)} if source else {}
        ws = await connect(url, origin=origin, additional_headers=headers,  # type: ignore[arg-type]
                           max_size=2**22, compression=None, **extra)
        return cls(ws)

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        if isinstance(frame, dict):
            frame = orjson.dumps(frame).decode()
        await self.ws.send(frame)

    async def next(self, predicate: Callable[[dict[str, Any]], bool] = lambda f: True,
                   timeout: float = 10.0) -> dict[str, Any]:
        """The earliest frame not yet taken that matches ``predicate`` (waiting for it)."""
        async with asyncio.timeout(timeout):
            checked = 0
            while True:
                for index in range(checked, len(self.frames)):
                    if index not in self._taken and predicate(self.frames[index]):
                        self._taken.add(index)
                        return self.frames[index]
                checked = len(self.frames)
                self._take(orjson.loads(await self.ws.recv()))

    def _take(self, frame: dict[str, Any]) -> None:
        """Keep a received frame. A send's ack carries the sender's own message, which the
        socket is not sent again (docs/protocol.md): kept in its place, before the ack, as the
        widget and the panel render it. A ``conversations`` frame is kept, and each summary in it
        as the ``conversation`` frame the panel applies it as."""
        if frame.get("type") == "ack" and isinstance(frame.get("message"), dict):
            self.frames.append(frame["message"])
        self.frames.append(frame)
        if frame.get("type") == "conversations":  # several inbox changes in one frame
            self.frames.extend({"type": "conversation", "conversation": summary}
                               for summary in frame["conversations"])

    async def of_type(self, kind: str, **match: Any) -> dict[str, Any]:
        return await self.next(
            lambda f: f.get("type") == kind and all(f.get(k) == v for k, v in match.items())
        )

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a frame with an ``id`` and return its ack or error."""
        await self.send(frame)
        return await self.next(lambda f: f.get("type") in ("ack", "error")
                               and f.get("id") == frame["id"])

    async def closed(self, timeout: float = 10.0) -> int | None:
        """Wait for the server to close; the close code."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    self._take(orjson.loads(await self.ws.recv()))
            except Exception:
                pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def login(server: ServerProcess, email: str, password: str = PASSWORD) -> str:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{server.http}/api/agent/login",
                            json={"email": email, "password": password},
                            headers={"Origin": server.http})
        assert r.status_code == 200, r.text
        return str(r.cookies["livechat_agent"])


async def visitor(server: ServerProcess, site_id: str, source: str | None = None,
                  headers: dict[str, str] | None = None, **hello: Any) -> tuple[Client, dict[
    str, Any
]]:
    client = await Client.open(f"{server.ws}/ws/visitor", origin=server.http, source=source,
                               headers=headers)
    await client.send({"type": "hello", "v": 1, "site": site_id, **hello})
    return client, await client.of_type("welcome")


async def agent(server: ServerProcess, cookie: str) -> tuple[Client, dict[str, Any]]:
    client = await Client.open(f"{server.ws}/ws/agent", origin=server.http, cookie=cookie)
    await client.send({"type": "hello", "v": 1})
    return client, await client.of_type("welcome")


class Attacker:
    """``python -m tests.attackers KIND …`` in its own process (tests/attackers.py)."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Attacker:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.attackers", *self.args, cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        assert line.strip() == b"started", line
        return self

    async def result(self, timeout: float = 120) -> dict[str, Any]:
        """Let go (close its stdin) and read what it saw."""
        assert self.proc is not None and self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        await self.proc.wait()
        result: dict[str, Any] = orjson.loads(line)
        return result

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


_pings = itertools.count()

#: Settings for a server whose latency a test measures with pings: the per-socket frame rate is
#: lifted so that the measuring client is never refused itself.
MEASURING = {"LIVECHAT_RATE_PER_SECOND": "10000", "LIVECHAT_RATE_BURST": "10000"}

#: Every rate and count limit lifted (docs/security.md), for tests and benchmarks that drive
#: many visitors from one address on purpose.
UNLIMITED = {**MEASURING, "LIVECHAT_VISITOR_RATE_PER_SECOND": "1000000",
             "LIVECHAT_VISITOR_RATE_BURST": "1000000", "LIVECHAT_HANDSHAKES_PER_IP": "1000000",
             "LIVECHAT_NEW_VISITORS_PER_IP": "1000000",
             "LIVECHAT_NEW_CONVERSATIONS_PER_IP": "1000000",
             "LIVECHAT_SITE_RATE_PER_SECOND": "1000000", "LIVECHAT_SITE_NEW_VISITORS": "1000000",
             "LIVECHAT_SITE_NEW_CONVERSATIONS": "1000000",
             "LIVECHAT_MAX_CONNECTIONS_PER_IP": "1000000",
             "LIVECHAT_MAX_SITE_CONNECTIONS": "1000000",
             "LIVECHAT_API_RATE_PER_SECOND": "1000000", "LIVECHAT_API_RATE_BURST": "1000000",
             "LIVECHAT_KB_REQUESTS_PER_IP": "1000000"}


async def ping_times(client: Client, rounds: int) -> list[float]:
    """Round trips of ``ping`` → ``pong`` on a socket that said hello (seconds)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        request = f"lat{next(_pings)}"
        await client.send({"type": "ping", "id": request})
        await client.of_type("pong", id=request)
        times.append(time.perf_counter() - start)
    return times


async def ping_while(client: Client, attack: Attacker,
                     timeout: float = 120) -> tuple[list[float], dict[str, Any]]:
    """Ping round trips on ``client`` for as long as ``attack`` runs, and what it saw."""
    times: list[float] = []

    async def keep_pinging() -> None:
        while True:
            times.extend(await ping_times(client, 1))

    pinger = asyncio.create_task(keep_pinging())
    try:
        seen = await attack.result(timeout)
    finally:
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
    return times, seen


def api_token(db: Path, *scopes: str, site: str | None = None, name: str = "test") -> str:
    """A REST API token made the way an operator makes one: ``livechat token create``."""
    args = [sys.executable, "-m", "server", "token", "create", "--db", str(db), "--name", name,
            "--json", *(f"--scope={scope}" for scope in scopes)]
    if site is not None:
        args += ["--site", site]
    made = subprocess.run(args, env=server_env(db), capture_output=True, check=True, cwd=ROOT)
    return str(orjson.loads(made.stdout)["token"])


async def health(server: ServerProcess) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        body: dict[str, Any] = (await http.get(f"{server.http}/healthz")).json()
        return body

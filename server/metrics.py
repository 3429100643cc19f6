"""Prometheus metrics: what this process counts, and what a scrape reads of the shared state.

Two kinds of numbers, kept apart on purpose:

* **Counted by each process** (connections, messages, ack latency, store batches, broker
  publishes, refusals, errors, closes, HTTP requests): prometheus-client metrics in this object's
  own registry, incremented on the hot path through children bound once here (no label lookup
  per message). With ``LIVECHAT_METRICS_DIR`` set they live in prometheus-client's
  *multiprocess mode*: each process writes its values to memory-mapped files in that directory
  and a scrape of any process sums them all (gauges of live processes only, or their minimum for
  health). Several processes on one machine — ``--workers N`` or separately started ``livechat
  serve`` sharing a database — then answer one scrape with the numbers of all of them.
* **Read at scrape time** (conversations waiting and the longest wait per site, agents online,
  the WAL's size): state every process shares through the database and presence, so it is read
  once by whichever process is scraped and never summed.

Multiprocess bookkeeping: the first process to start on a directory in which no live process
has files clears it (a fresh deployment: Prometheus sees the counters restart, as after any
restart); a process that ends removes its live gauges; a scrape also removes the live gauges of
processes that died without doing so (``kill -9``). Counters of ended processes stay in the
directory, so that sums never go backwards while others run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from server.errors import Close, Code
from server.health import Health

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds (ack latency, store batches): 0.5 ms to 5 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0)
#: Writes per group commit (the writer takes up to 512 at once).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
ROLES = ("visitor", "agent")
DECISIONS = ("assigned", "claimed", "transferred", "requeued", "resolved", "reopened")
RATE_SCOPES = ("frame", "connection", "conversation", "http")
#: Close codes counted by their number; any other (a client may send what it likes) is "other".
KNOWN_CLOSES = frozenset({*(int(c) for c in Close), 1005, 1006, 1011})
_DB_FILE = re.compile(r"^(?P<kind>\w+?)_(?:(?P<mode>live\w+)_)?(?P<pid>\d+)\.db$")

#: One memory-mapped value class per directory and process: two would write the same files.
_MMAP_CLASSES: dict[str, Any] = {}
# No ``_created`` series: multiprocess mode has none, and both modes expose the same names.
disable_created_metrics()  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _file_pids(directory: Path) -> dict[int, list[Path]]:
    pids: dict[int, list[Path]] = {}
    for path in directory.glob("*.db"):
        match = _DB_FILE.match(path.name)
        if match:
            pids.setdefault(int(match["pid"]), []).append(path)
    return pids


class Metrics:
    """This process's metrics. ``directory``: prometheus-client's multiprocess mode there."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        with self._lock(), self._values():
            if self.directory is not None:
                self._start_directory()
            self._define()

    # --- multiprocess mode --------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Across the processes that share the directory (clearing it, and creating files)."""
        if self.directory is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _values(self) -> Iterator[None]:
        """Values created inside are memory-mapped in the directory (prometheus-client picks
        the class when a metric or child is created; the swap is undone at once so that other
        registries in this process, tests' for one, stay in memory)."""
        if self.directory is None:
            yield
            return
        key = str(self.directory)
        # prometheus-client reads the directory from this variable when it opens its files.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = key
        if key not in _MMAP_CLASSES:
            _MMAP_CLASSES[key] = prometheus_values.MultiProcessValue()  # type: ignore[no-untyped-call]
        saved = prometheus_values.ValueClass
        prometheus_values.ValueClass = _MMAP_CLASSES[key]
        try:
            yield
        finally:
            prometheus_values.ValueClass = saved

    def _start_directory(self) -> None:
        assert self.directory is not None
        me = os.getpid()
        files = _file_pids(self.directory)
        if not any(_alive(pid) for pid in files if pid != me):
            for pid, paths in files.items():  # nobody is running: a new deployment starts
                if pid == me and str(self.directory) in _MMAP_CLASSES:
                    continue  # (this process's own, already open: a second app in it)
                for path in paths:
                    path.unlink(missing_ok=True)
        else:
            self.forget_dead()
            if str(self.directory) not in _MMAP_CLASSES:
                # Gauges left by an earlier process with this pid (a container restarted) are
                # not ours to start from; its counters are kept, and go on from where they were.
                mark_process_dead(me, str(self.directory))  # type: ignore[no-untyped-call]

    def forget_dead(self) -> None:
        """Remove the live gauges (connections, health, outbox) of processes that are gone."""
        if self.directory is None:
            return
        for pid in _file_pids(self.directory):
            if pid != os.getpid() and not _alive(pid):
                mark_process_dead(pid, str(self.directory))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """This process ends: its live gauges go (its counters stay in the sums)."""
        if self.directory is not None:
            mark_process_dead(os.getpid(), str(self.directory))  # type: ignore[no-untyped-call]

    # --- the metrics ---------------------------------------------------------------------------

    def _define(self) -> None:
        r = self.registry
        conns = Gauge("livechat_connections", "Open WebSocket connections, by kind.", ["kind"],
                      registry=r, multiprocess_mode="livesum")
        self.connections = {role: conns.labels(role) for role in ROLES}
        messages = Counter("livechat_messages", "Messages written (duplicates not counted), "
                           "by who sent them.", ["sender"], registry=r)
        self.messages = {role: messages.labels(role) for role in ROLES}
        self.notes = Counter("livechat_notes", "Internal notes written by agents.", registry=r)
        ack = Histogram("livechat_ack_seconds", "From a send frame's receipt to its ack, "
                        "sent after the commit, by who sent it.", ["sender"], registry=r,
                        buckets=LATENCY_BUCKETS)
        self.visitor_ack, self.agent_ack = ack.labels("visitor"), ack.labels("agent")
        self.conversations_opened = Counter("livechat_conversations_opened",
                                            "Conversations opened by a visitor's first message.",
                                            registry=r)
        self.store_batch_seconds = Histogram(
            "livechat_store_batch_seconds", "One group commit: the batch's transaction, from "
            "being handed to the writer's thread to COMMIT returned.", registry=r,
            buckets=LATENCY_BUCKETS)
        self.store_batch_size = Histogram("livechat_store_batch_size",
                                          "Writes per committed group commit.", registry=r,
                                          buckets=BATCH_BUCKETS)
        self.store_up = Gauge("livechat_store_up", "1 while writes commit (0 during an outage: "
                              "disk full, locked, I/O error); the minimum over processes.",
                              registry=r, multiprocess_mode="livemin")
        self.broker_publishes = Counter("livechat_broker_publishes",
                                        "Publications handed to the broker.", registry=r)
        self.broker_publish_failures = Counter(
            "livechat_broker_publish_failures", "Publications that failed or were dropped "
            "(Redis down or stalled, outbox full); readers catch up from the store.", registry=r)
        self.broker_received = Counter("livechat_broker_received", "Publications delivered to "
                                       "this process's hub (its own at once, others' from Redis).",
                                       registry=r)
        self.broker_reconnects = Counter("livechat_broker_reconnects",
                                         "Reconnections of the Redis listener.", registry=r)
        self.broker_up = Gauge("livechat_broker_up", "1 while the broker answers (Redis pings in "
                               "time; always 1 in memory); the minimum over processes.",
                               registry=r, multiprocess_mode="livemin")
        self.broker_outbox = Gauge("livechat_broker_outbox", "Publications queued for Redis, "
                                   "not yet sent.", registry=r, multiprocess_mode="livesum")
        decisions = Counter("livechat_routing_decisions", "Changes of who has a conversation or "
                            "of its state, by decision.", ["decision"], registry=r)
        self.decisions = {d: decisions.labels(d) for d in DECISIONS}
        limited = Counter("livechat_rate_limited", "Refusals by a rate or count limit, by "
                          "what was refused.", ["scope"], registry=r)
        self.rate_limited = {s: limited.labels(s) for s in RATE_SCOPES}
        errors = Counter("livechat_errors", "error frames sent, by code.", ["code"], registry=r)
        self.errors = {code: errors.labels(code.value) for code in Code}
        self._ws_closes = Counter("livechat_ws_closes", "WebSocket connections ended, by close "
                                  "code (sent by the server, or by the client).", ["code"],
                                  registry=r)
        self._http = Counter("livechat_http_requests", "HTTP requests, by route and status "
                             "class.", ["route", "status"], registry=r)

    def _child(self, metric: Any, *labels: str) -> Any:
        """A child made on first use (bounded label sets only), then found in a dict."""
        key = (metric._name, labels)
        child = self._children.get(key)
        if child is None:
            with self._values():
                child = self._children[key] = metric.labels(*labels)
        return child

    # --- what the code calls -------------------------------------------------------------------

    def store_batch(self, size: int, seconds: float) -> None:
        """Called by the store's writer after each group commit."""
        self.store_batch_seconds.observe(seconds)
        self.store_batch_size.observe(size)

    def ws_closed(self, code: int | None) -> None:
        label = "none" if code is None else str(code) if code in KNOWN_CLOSES else "other"
        self._child(self._ws_closes, label).inc()

    def http_request(self, route: str, status: int) -> None:
        self._child(self._http, route, f"{status // 100}xx").inc()
        if status == 429:
            self.rate_limited["http"].inc()

    def sample(self, store: Any, broker: Any) -> None:
        """What is polled rather than counted (every second, and before a scrape)."""
        trouble = getattr(store, "trouble", None)
        self.store_up.set(0 if trouble is not None and trouble.down else 1)
        self.broker_up.set(1 if broker.healthy else 0)
        self.broker_outbox.set(getattr(broker, "outbox_size", 0))
        dropped = getattr(broker, "dropped", 0)
        if dropped > self._dropped:
            self.broker_publish_failures.inc(dropped - self._dropped)
        self._dropped = dropped
        reconnects = getattr(broker, "reconnects", 0)
        if reconnects > self._reconnects:
            self.broker_reconnects.inc(reconnects - self._reconnects)
        self._reconnects = reconnects

    _dropped = 0
    _reconnects = 0

    # --- exposition ----------------------------------------------------------------------------

    def exposition(self, shared: CollectorRegistry | None = None) -> bytes:
        """The Prometheus text: every process's counts (summed in multiprocess mode), then the
        shared state read for this scrape."""
        if self.directory is None:
            out = generate_latest(self.registry)
        else:
            self.forget_dead()
            summed = CollectorRegistry()
            MultiProcessCollector(summed, path=str(self.directory))  # type: ignore[no-untyped-call]
            out = generate_latest(summed)
        return out + (generate_latest(shared) if shared is not None else b"")


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


class MeteredBroker:
    """A broker whose publications are counted (a failure too, before it is raised)."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self._publishes = metrics.broker_publishes
        self._failures = metrics.broker_publish_failures

    async def publish(self, channel: str, data: bytes) -> None:
        self._publishes.inc()
        try:
            await self.inner.publish(channel, data)
        except Exception:
            self._failures.inc()
            raise

    async def start(self, deliver: Callable[[str, bytes], None],
                    on_reset: Callable[[], None]) -> None:
        await self.inner.start(deliver, on_reset)

    async def close(self) -> None:
        await self.inner.close()

    async def subscribe(self, channel: str) -> None:
        await self.inner.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self.inner.unsubscribe(channel)

    def health(self) -> Health:
        result: Health = self.inner.health()
        return result

    @property
    def healthy(self) -> bool:
        return bool(self.inner.healthy)


def counting(deliver: Callable[[str, bytes], None],
             metrics: Metrics) -> Callable[[str, bytes], None]:
    """The hub's ``deliver``, counting what the broker delivers."""
    received = metrics.broker_received

    def counted(channel: str, data: bytes) -> None:
        received.inc()
        deliver(channel, data)

    return counted

"""The Redis broker: the scale-out implementation (presence: server/broker/redis_presence.py).

* **One pub/sub connection per process.** The hub subscribes a channel once, whatever the number
  of local sockets; this class keeps the set of subscribed channels and replays it on reconnect.
* **Local first.** A publication is delivered to this process's own subscribers at once, and
  sent to Redis tagged with this process's origin; the copy that comes back is dropped. Sockets
  on the same process as the sender never wait for Redis, nor lose anything when it is away.
* **One publisher task that pipelines** whatever is queued (DESIGN.md §7: about twice the
  throughput of awaiting each PUBLISH). ``publish`` encodes its PUBLISH command (RESP) at once
  and only queues it, so it never blocks the caller; the publisher writes a batch of them in one
  write on a connection of redis-py's pool and reads their answers (redis-py's pipeline built,
  packed and answered each command in Python: half the publisher's CPU). The queue is bounded,
  and what cannot be published (Redis down, a timeout, a full queue) is dropped — the broker is
  at-most-once and readers recover from the store.
* **Stalls are detected, not only disconnections.** A Redis that is stopped (SIGSTOP, a frozen
  VM) keeps its TCP connections open and answers nothing. The listener sends a PING on the
  pub/sub connection every ``PING_INTERVAL`` and gives up on the connection when the PONG has
  not come within ``timeout``; the publisher connection is pinged as often. Either one failing
  makes ``health()`` down, with the reason, for ``/healthz``.
* **Reconnect with capped backoff** (0.1 s doubling to 5 s). After the listener reconnects it
  resubscribes and calls ``on_reset``: every local socket catches up from the store by ``seq``.
  After the publisher drops anything, it announces ``reset`` on the control channel once Redis
  answers again, so that every process's sockets catch up too.
* Channel names are ``<prefix>:<channel>``; channels are built only from server-minted ids.
* Redis errors never escape ``publish``; a listener or publisher task that dies of anything else
  is logged as critical and marks the broker unhealthy (``/healthz`` answers 503).

redis-py's own retries are turned off on these connections: a silent internal reconnect would
hide that messages may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.broker import Deliver, OnReset
from server.health import Episode, Health
from server.tasks import report_death, reraise_cancel

log = logging.getLogger("livechat.broker.redis")

TIMEOUT = 2.0
MAX_BACKOFF = 5.0
OUTBOX = 100_000
#: Seconds between the pings that tell a stalled Redis from a quiet one.
PING_INTERVAL = 1.0
_PING = b"livechat-ping"
_ORIGIN = 8
_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def _publish(key: bytes, data: bytes) -> bytes:
    """A PUBLISH command as Redis reads it (RESP: an array of three bulk strings)."""
    return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(key), key, len(data), data)


def _client(url: str, timeout: float) -> Redis:
    return Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _why(exc: BaseException, what: str = "in time") -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return str(exc) or f"Redis did not answer {what}"
    return f"Redis cannot be reached ({type(exc).__name__})"


class RedisBroker:
    def __init__(self, url: str, prefix: str = "livechat", *, timeout: float = TIMEOUT,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._url = url
        self._prefix = prefix
        self._timeout = timeout
        self._control = f"{prefix}:__control__"
        self._control_key = self._control.encode()
        #: Every publication starts with this process's tag: its own come back from Redis and
        #: are dropped, since they were delivered locally when published.
        self._origin = os.urandom(_ORIGIN)
        self._channels: set[str] = set()
        #: PUBLISH commands, encoded, waiting for the publisher.
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX)
        self._pub: Redis | None = None
        self._sub: Redis | None = None
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._on_reset: OnReset | None = None
        self._listening = False
        self._resubscribe = False
        self._ready = asyncio.Event()
        #: Outages of each connection, as /healthz reports them (logged once each).
        self._listener = Episode(monotonic)
        self._publisher = Episode(monotonic)
        #: Why the broker cannot work at all: a task died, or it was closed.
        self._dead: str | None = None
        self.dropped = 0
        self.reconnects = 0

    def _key(self, channel: str) -> str:
        return f"{self._prefix}:{channel}"

    async def start(self, deliver: Deliver, on_reset: OnReset) -> None:
        self._deliver, self._on_reset = deliver, on_reset
        self._pub, self._sub = _client(self._url, self._timeout), _client(self._url, self._timeout)
        self._listener.fail("connecting to Redis")
        for name, coro in (("redis-listener", self._listen_forever()),
                           ("redis-publisher", self._publish_forever()),
                           ("redis-publisher-ping", self._ping_publisher())):
            task = asyncio.create_task(coro, name=name)
            task.add_done_callback(self._died)
            self._tasks.append(task)
        # Start serving once subscribed, or after one timeout: a Redis that is down at start
        # must not stop the chat from working (sends commit; readers catch up later).
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(self._timeout):
                await self._ready.wait()

    def _died(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            self._listening = False
            self._dead = f"the broker's {task.get_name()} task died"
        report_death(task)

    async def close(self) -> None:
        self._dead = "closed"
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a shutdown must never hang on a client library
            await asyncio.wait(self._tasks, timeout=self._timeout + 1)
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved (a death was reported when it happened)
        self._tasks.clear()
        if self._pubsub is not None:
            with contextlib.suppress(*_FAILURES):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
        for client in (self._pub, self._sub):
            if client is not None:
                with contextlib.suppress(*_FAILURES):
                    await client.aclose()
        self._listening = False

    def health(self) -> Health:
        if self._dead is not None:
            return Health(False, self._dead)
        listener = self._listener.health("subscriber: ")
        return listener if not listener.ok else self._publisher.health("publisher: ")

    @property
    def healthy(self) -> bool:
        return self.health().ok

    @property
    def outbox_size(self) -> int:
        """Publications queued, not yet sent to Redis."""
        return self._outbox.qsize()

    # --- publishing ----------------------------------------------------------------------------

    async def publish(self, channel: str, data: bytes) -> None:
        if self._deliver is not None and channel in self._channels:
            self._deliver(channel, data)  # this process's sockets need no round trip to Redis
        try:
            self._outbox.put_nowait(_publish(self._key(channel).encode(), self._origin + data))
        except asyncio.QueueFull:
            self._drop(1, "the outbox is full")

    def _drop(self, count: int, why: str) -> None:
        if self.dropped == 0 or count > 1:
            log.warning("dropped %d publishes: %s; readers will catch up", count, why)
        self.dropped += count

    def _publisher_failed(self, exc: BaseException, what: str) -> None:
        why = _why(exc, f"{what} within {self._timeout:g} s")
        if self._publisher.fail(why):
            log.warning("Redis publisher down: %s", why)

    def _publisher_answered(self) -> None:
        ended = self._publisher.recover()
        if ended is not None:
            log.warning("Redis publisher answers again after %.1f s", ended.lasted)

    async def _publish_forever(self) -> None:
        assert self._pub is not None
        owe_reset = False
        while True:
            reraise_cancel()  # redis-py may swallow a cancel that lands inside a pipeline
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 1000:
                batch.append(self._outbox.get_nowait())
            if self._publisher.down and not owe_reset:
                # Known down: drop at once rather than make every batch wait out the timeout.
                # The pinger tells when Redis answers again; then the owed reset goes out.
                self._drop(len(batch), f"Redis is down ({self._publisher.reason})")
                owe_reset = True
                continue
            if self._publisher.down:
                self.dropped += len(batch)
                continue
            if owe_reset:
                batch.insert(0, self._reset_command())
            try:
                await self._send(batch)
                owe_reset = False
                self._publisher_answered()
            except _FAILURES as exc:
                reraise_cancel()
                self._drop(len(batch), type(exc).__name__)
                self._publisher_failed(exc, "a publish")
                owe_reset = True

    def _reset_command(self) -> bytes:
        return _publish(self._control_key, self._origin + b"reset")

    async def _send(self, batch: list[bytes]) -> None:
        """The batch in one write, then Redis's answer to each command (the number of
        subscribers it reached, or an error), all within the timeout."""
        assert self._pub is not None
        pool = self._pub.connection_pool
        conn = None
        try:
            async with asyncio.timeout(self._timeout):  # connecting included: a frozen Redis
                conn = await pool.get_connection()  # type: ignore[no-untyped-call]
                await conn.send_packed_command(batch, check_health=False)
                for _ in batch:
                    await conn.read_response(timeout=math.inf)  # (the batch's timeout above)
        except BaseException:
            if conn is not None:
                await conn.disconnect(nowait=True)  # answers may be left unread: never reuse it
            raise
        finally:
            if conn is not None:
                await pool.release(conn)

    async def _ping_publisher(self) -> None:
        while True:
            reraise_cancel()
            await self._check_publisher()
            await asyncio.sleep(PING_INTERVAL)

    async def _check_publisher(self) -> None:
        """The publisher's connection answers a PING within the timeout, or it is down."""
        assert self._pub is not None
        try:
            async with asyncio.timeout(self._timeout):
                await self._pub.ping()
        except _FAILURES as exc:
            reraise_cancel()
            self._publisher_failed(exc, "a ping")
        else:
            if self._publisher.down:
                self._publisher_answered()
                # Whatever was dropped meanwhile: every process's sockets catch up.
                with contextlib.suppress(asyncio.QueueFull):
                    self._outbox.put_nowait(self._reset_command())

    # --- listening -----------------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        await self._send_subscription("subscribe", channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        await self._send_subscription("unsubscribe", channel)

    async def _send_subscription(self, command: str, channel: str) -> None:
        pubsub = self._pubsub
        if pubsub is None or not self._listening:
            return  # the listener subscribes to everything in self._channels when it connects
        try:
            async with asyncio.timeout(self._timeout):
                await getattr(pubsub, command)(self._key(channel))
        except Exception as exc:  # redis-py raises more than RedisError on a dying connection
            reraise_cancel()
            # The subscription may not have reached Redis: the listener reconnects, which
            # subscribes to every channel again and lets every socket catch up.
            self._resubscribe = True
            log.warning("%s failed (%s); the listener will reconnect", command,
                        type(exc).__name__)

    async def _listen_forever(self) -> None:
        assert self._sub is not None
        delay, first = 0.1, True
        while True:
            reraise_cancel()
            pubsub = self._sub.pubsub(ignore_subscribe_messages=True)
            try:
                subscribed = set(self._channels)
                async with asyncio.timeout(self._timeout):
                    await pubsub.subscribe(self._control, *(self._key(c) for c in subscribed))
                self._pubsub, self._listening = pubsub, True
                missing = self._channels - subscribed  # subscribed while we were connecting
                if missing:
                    await pubsub.subscribe(*(self._key(c) for c in missing))
                ended = self._listener.recover()
                if not first:
                    await self._check_publisher()  # so that the reset means "Redis is back"
                    self.reconnects += 1
                    log.warning("reconnected to Redis after %.1f s; local sockets catch up "
                                "from the store", ended.lasted if ended else 0.0)
                    self._reset()
                first, delay = False, 0.1
                self._ready.set()
                await self._read(pubsub)
            except _FAILURES as exc:
                reraise_cancel()
                if self._listener.fail(_why(exc)):
                    log.warning("Redis listener lost (%s); reconnecting", _why(exc))
                self._listening = False
            finally:
                if self._pubsub is pubsub:
                    self._pubsub = None
                with contextlib.suppress(*_FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
            await asyncio.sleep(delay)  # capped exponential backoff between attempts
            delay = min(delay * 2, MAX_BACKOFF)

    async def _read(self, pubsub: PubSub) -> None:
        """Deliver messages until the connection fails or stops answering pings."""
        assert self._deliver is not None
        loop = asyncio.get_running_loop()
        skip = len(self._prefix) + 1
        next_ping = loop.time() + PING_INTERVAL
        pinged_at: float | None = None
        self._resubscribe = False
        # The subscription's connection read directly: PubSub.parse_response adds, for every
        # message, a health check (we ping ourselves), a retry wrapper (retries are off) and
        # their coroutines.
        conn = pubsub.connection
        assert conn is not None
        while True:
            reraise_cancel()
            if self._resubscribe:
                raise ConnectionError("a subscription could not be sent")
            # The reply as Redis sent it: a publication is looked at here, and this process's
            # own (delivered when published) dropped by its tag, before redis-py makes a
            # message of it; everything else (pongs, subscription answers) goes to redis-py.
            reply = await conn.read_response(timeout=PING_INTERVAL / 2,
                                             disconnect_on_error=False, push_request=True)
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                _, channel, data = reply
                if data[:_ORIGIN] != self._origin:
                    if channel == self._control_key:
                        if data[_ORIGIN:] == b"reset":
                            self._reset()
                    else:
                        self._deliver(channel[skip:].decode(), data[_ORIGIN:])
            elif reply is not None:
                message = await pubsub.handle_message(  # type: ignore[no-untyped-call, unused-ignore]
                    reply, ignore_subscribe_messages=True)
                if message is not None and message["type"] == "pong":
                    pinged_at = None
            now = loop.time()
            if pinged_at is not None and now - pinged_at > self._timeout:
                raise TimeoutError(
                    f"Redis did not answer a ping within {self._timeout:g} s")
            if pinged_at is None and now >= next_ping:
                await pubsub.ping(_PING)
                pinged_at, next_ping = now, now + PING_INTERVAL

    def _reset(self) -> None:
        if self._on_reset is not None:
            self._on_reset()

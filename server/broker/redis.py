"""Redis broker and presence: the scale-out implementation.

* **One pub/sub connection per process.** The hub subscribes a channel once, whatever the number
  of local sockets; this class keeps the set of subscribed channels and replays it on reconnect.
* **One publisher task that pipelines** whatever is queued (DESIGN.md §7: about twice the
  throughput of awaiting each PUBLISH). ``publish`` only queues, so it never blocks the caller;
  the queue is bounded, and what cannot be published (Redis down, a timeout, a full queue) is
  dropped — the broker is at-most-once and readers recover from the store.
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
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.broker import Deliver, OnReset
from server.tasks import report_death

log = logging.getLogger("livechat.broker.redis")

TIMEOUT = 2.0
MAX_BACKOFF = 5.0
OUTBOX = 100_000
_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def _client(url: str) -> Redis:
    return Redis.from_url(
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
        retry=Retry(NoBackoff(), 0), health_check_interval=5,
    )


class RedisBroker:
    def __init__(self, url: str, prefix: str = "livechat") -> None:
        self._url = url
        self._prefix = prefix
        self._control = f"{prefix}:__control__"
        self._channels: set[str] = set()
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(OUTBOX)
        self._pub: Redis | None = None
        self._sub: Redis | None = None
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._on_reset: OnReset | None = None
        self._listening = False
        self._ready = asyncio.Event()
        self.dropped = 0
        self.reconnects = 0

    def _key(self, channel: str) -> str:
        return f"{self._prefix}:{channel}"

    async def start(self, deliver: Deliver, on_reset: OnReset) -> None:
        self._deliver, self._on_reset = deliver, on_reset
        self._pub, self._sub = _client(self._url), _client(self._url)
        for name, coro in (("redis-listener", self._listen_forever()),
                           ("redis-publisher", self._publish_forever())):
            task = asyncio.create_task(coro, name=name)
            task.add_done_callback(self._died)
            self._tasks.append(task)
        # Start serving once subscribed, or after one timeout: a Redis that is down at start
        # must not stop the chat from working (sends commit; readers catch up later).
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(TIMEOUT):
                await self._ready.wait()

    def _died(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            self._listening = False  # unhealthy: /healthz answers 503
        report_death(task)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._pubsub is not None:
            with contextlib.suppress(*_FAILURES):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        for client in (self._pub, self._sub):
            if client is not None:
                with contextlib.suppress(*_FAILURES):
                    await client.aclose()
        self._listening = False

    @property
    def healthy(self) -> bool:
        return self._listening and all(not t.done() for t in self._tasks)

    # --- publishing ----------------------------------------------------------------------------

    async def publish(self, channel: str, data: bytes) -> None:
        try:
            self._outbox.put_nowait((self._key(channel), data))
        except asyncio.QueueFull:
            self._drop(1, "the outbox is full")

    def _drop(self, count: int, why: str) -> None:
        if self.dropped == 0 or count > 1:
            log.warning("dropped %d publishes: %s; readers will catch up", count, why)
        self.dropped += count

    async def _publish_forever(self) -> None:
        assert self._pub is not None
        owe_reset = False
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 1000:
                batch.append(self._outbox.get_nowait())
            if owe_reset:
                batch.insert(0, (self._control, b"reset"))
            try:
                pipe = self._pub.pipeline(transaction=False)
                for key, data in batch:
                    pipe.publish(key, data)
                async with asyncio.timeout(TIMEOUT):
                    await pipe.execute()
                owe_reset = False
            except _FAILURES as exc:
                self._drop(len(batch), type(exc).__name__)
                owe_reset = True

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
            async with asyncio.timeout(TIMEOUT):
                await getattr(pubsub, command)(self._key(channel))
        except _FAILURES as exc:
            log.warning("%s failed (%s); the listener will reconnect", command,
                        type(exc).__name__)

    async def _listen_forever(self) -> None:
        assert self._sub is not None
        delay, first = 0.1, True
        while True:
            pubsub = self._sub.pubsub(ignore_subscribe_messages=True)
            try:
                subscribed = set(self._channels)
                async with asyncio.timeout(TIMEOUT):
                    await pubsub.subscribe(self._control, *(self._key(c) for c in subscribed))
                self._pubsub, self._listening = pubsub, True
                missing = self._channels - subscribed  # subscribed while we were connecting
                if missing:
                    await pubsub.subscribe(*(self._key(c) for c in missing))
                if not first:
                    self.reconnects += 1
                    log.warning("reconnected to Redis; local sockets catch up from the store")
                    self._reset()
                first, delay = False, 0.1
                self._ready.set()
                await self._read(pubsub)
            except _FAILURES as exc:
                if self._listening or first:
                    log.warning("Redis listener lost (%s); reconnecting", type(exc).__name__)
                self._listening = False
            finally:
                if self._pubsub is pubsub:
                    self._pubsub = None
                with contextlib.suppress(*_FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)  # capped exponential backoff between attempts
            delay = min(delay * 2, MAX_BACKOFF)

    async def _read(self, pubsub: PubSub) -> None:
        assert self._deliver is not None
        skip = len(self._prefix) + 1
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message["type"] != "message":
                continue
            channel = message["channel"].decode()
            if channel == self._control:
                if message["data"] == b"reset":
                    self._reset()
                continue
            self._deliver(channel[skip:], message["data"])

    def _reset(self) -> None:
        if self._on_reset is not None:
            self._on_reset()


class RedisPresence:
    """Members in a sorted set per key, scored by their expiry time (from the injected clock).

    When Redis cannot be reached, ``touch`` and ``remove`` log and return, and ``members``
    returns no one: presence is advisory, and a chat must keep working without it."""

    def __init__(self, url: str, clock: Callable[[], float], prefix: str = "livechat") -> None:
        self._redis = _client(url)
        self._clock = clock
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}:presence:{key}"

    async def touch(self, key: str, member: str, ttl: float) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(self._key(key), {member: self._clock() + ttl})
        pipe.expire(self._key(key), int(ttl * 2) + 1)
        await self._run(pipe.execute(), "touch")

    async def remove(self, key: str, member: str) -> None:
        await self._run(self._redis.zrem(self._key(key), member), "remove")

    async def members(self, key: str) -> list[str]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self._key(key), "-inf", self._clock())
        pipe.zrange(self._key(key), 0, -1)
        result = await self._run(pipe.execute(), "members")
        return sorted(m.decode() for m in result[1]) if result else []

    async def _run(self, awaitable: object, what: str) -> list[list[bytes]] | None:
        try:
            async with asyncio.timeout(TIMEOUT):
                return await awaitable  # type: ignore[misc, no-any-return]
        except _FAILURES as exc:
            log.warning("presence %s failed (%s)", what, type(exc).__name__)
            return None

    async def close(self) -> None:
        with contextlib.suppress(*_FAILURES):
            await self._redis.aclose()

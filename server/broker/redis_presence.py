"""Presence in Redis, for several processes (the broker is server/broker/redis.py).

``RedisPresence`` never makes a caller wait for Redis: writes are queued to one task that
pipelines them, and it keeps this process's own members so that it can announce them all again
the moment Redis answers after an outage (a Redis that restarted knows nobody). Reads fail fast
with ``PresenceUnavailable`` while Redis is known to be down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.asyncio.client import Pipeline

from server.broker import PresenceUnavailable
from server.broker.redis import _FAILURES, TIMEOUT, _client, _why
from server.health import Episode
from server.tasks import background, report_death, reraise_cancel

log = logging.getLogger("livechat.broker.redis")

#: While Redis is down, presence tries again this often, so that this process's agents are
#: announced again within a fraction of a second of its return.
_PRESENCE_RETRY = 0.25


class RedisPresence:
    """Members in a sorted set per key, scored by their expiry time (from the injected clock).

    ``touch`` and ``remove`` only queue: one task writes them in pipelines. This process's own
    members are remembered, and written again as soon as Redis answers after a failure, so that
    an outage (or a Redis that restarted empty) does not make connected agents look gone. While
    Redis is known to be down, ``members`` raises ``PresenceUnavailable`` at once."""

    def __init__(self, url: str, clock: Callable[[], float], prefix: str = "livechat", *,
                 timeout: float = TIMEOUT, monotonic: Callable[[], float] = time.monotonic,
                 ) -> None:
        self._redis = _client(url, timeout)
        self._clock = clock
        self._prefix = prefix
        self._timeout = timeout
        #: (key, member) -> ttl of this process's members; what is announced again on recovery.
        self._local: dict[tuple[str, str], float] = {}
        #: Writes not yet made: (key, member) -> ttl to touch, or None to remove.
        self._pending: dict[tuple[str, str], float | None] = {}
        self._wake = asyncio.Event()
        self._trouble = Episode(monotonic)
        self._task: asyncio.Task[None] | None = None

    def _key(self, key: str) -> str:
        return f"{self._prefix}:presence:{key}"

    def _queue(self, key: str, member: str, ttl: float | None) -> None:
        self._pending[(key, member)] = ttl
        if self._task is None:
            # (Started by the first socket that needs it: not in that socket's log context.)
            self._task = background(self._write_forever(), name="redis-presence")
            self._task.add_done_callback(report_death)
        self._wake.set()

    async def touch(self, key: str, member: str, ttl: float) -> None:
        self._local[(key, member)] = ttl
        self._queue(key, member, ttl)

    async def remove(self, key: str, member: str) -> None:
        self._local.pop((key, member), None)
        self._queue(key, member, None)

    async def _write_forever(self) -> None:
        while True:
            reraise_cancel()
            await self._wake.wait()
            self._wake.clear()
            writes, self._pending = self._pending, {}
            if self._trouble.down:
                # Redis was down: everything this process holds goes out again.
                writes = {**self._local, **writes}
            try:
                await self._write(writes)
            except _FAILURES as exc:
                reraise_cancel()
                if self._trouble.fail(_why(exc)):
                    log.warning("presence writes failed (%s); retrying", _why(exc))
                # Keep removals (a touch is redone from _local); retry after a pause.
                for item, ttl in writes.items():
                    if ttl is None:
                        self._pending.setdefault(item, None)
                await asyncio.sleep(_PRESENCE_RETRY)
                self._wake.set()
            else:
                ended = self._trouble.recover()
                if ended is not None:
                    log.warning("presence written again after %.1f s: %d members of this "
                                "process announced", ended.lasted, len(self._local))

    def _add_writes(self, pipe: Pipeline, writes: dict[tuple[str, str], float | None]) -> None:
        now = self._clock()
        for (key, member), ttl in writes.items():
            if ttl is None:
                pipe.zrem(self._key(key), member)
            else:
                pipe.zadd(self._key(key), {member: now + ttl})
                pipe.expire(self._key(key), int(ttl * 2) + 1)

    async def _write(self, writes: dict[tuple[str, str], float | None]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        self._add_writes(pipe, writes)
        if not writes:
            pipe.ping()
        async with asyncio.timeout(self._timeout):
            await pipe.execute()

    async def members(self, key: str) -> list[str]:
        """Read after this process's own queued writes (they go first, in the same pipeline)."""
        if self._trouble.down:
            raise PresenceUnavailable(self._trouble.reason)
        writes, self._pending = self._pending, {}
        pipe = self._redis.pipeline(transaction=False)
        self._add_writes(pipe, writes)
        pipe.zremrangebyscore(self._key(key), "-inf", self._clock())
        pipe.zrange(self._key(key), 0, -1)
        try:
            async with asyncio.timeout(self._timeout):
                result = await pipe.execute()
        except _FAILURES as exc:
            self._pending = {**writes, **self._pending}
            if self._trouble.fail(_why(exc)):
                log.warning("presence reads failed (%s)", _why(exc))
            self._wake.set()  # the writer retries, and announces ours when Redis is back
            raise PresenceUnavailable(_why(exc)) from None
        return sorted(m.decode() for m in result[-1])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(*_FAILURES):
            await self._redis.aclose()

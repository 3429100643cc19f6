"""The broker: a doorbell between server processes, never a record.

``Broker`` — publish/subscribe on named channels.

* At-most-once: a message published while a subscriber is away, or while the transport is down,
  is gone. Whoever needs every message recovers it from the store by ``seq``; the broker's
  ``on_reset`` callback says "you may have missed something, catch up now".
* In order per channel for one publisher.
* Each process holds **one** subscription per channel, whatever the number of local sockets; the
  hub counts local interest and fans out (``server.hub``).
* ``publish`` never blocks for long and never raises because the transport is down: sends keep
  being committed and acknowledged, and readers catch up from the store.

``Presence`` — who is here, with expiry: ``touch`` a member of a key with a time-to-live; a member
not touched again within its ttl is gone from ``members``. A process that dies stops touching, so
its members vanish within one ttl.

Implementations: ``memory://`` (the default, a single process only — refused with more than one
worker) and ``redis://`` / ``rediss://`` / ``unix://`` (scale-out, ``server.broker.redis``).
``tests/test_broker.py`` is the conformance suite both must pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from server.health import Health

Deliver = Callable[[str, bytes], None]
OnReset = Callable[[], None]


class Broker(Protocol):
    async def start(self, deliver: Deliver, on_reset: OnReset) -> None:
        """Begin delivering messages of subscribed channels to ``deliver`` (called on the event
        loop, must not block). ``on_reset`` is called after any interruption of delivery."""

    async def close(self) -> None: ...

    async def publish(self, channel: str, data: bytes) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    def health(self) -> Health:
        """Down while messages published now might not reach other processes (the subscriber or
        the publisher connection does not answer a ping in time), with the reason."""

    @property
    def healthy(self) -> bool: ...


class PresenceUnavailable(Exception):
    """Presence cannot be read now (Redis is down or stalled): who is online is unknown, which
    is not the same as nobody being online."""


class Presence(Protocol):
    async def touch(self, key: str, member: str, ttl: float) -> None:
        """Never waits for the network: a client's frames must not queue behind it."""

    async def remove(self, key: str, member: str) -> None:
        """Never waits for the network."""

    async def members(self, key: str) -> list[str]:
        """Members of ``key`` whose ttl has not run out, sorted. Raises
        ``PresenceUnavailable`` when that cannot be known now."""

    async def close(self) -> None: ...


class UnsupportedBroker(ValueError):
    pass


REDIS_SCHEMES = ("redis", "rediss", "unix")


def create(url: str, clock: Callable[[], float], prefix: str = "livechat",
           timeout: float = 2.0) -> tuple[Broker, Presence]:
    """Backend chosen by URL scheme; imports are lazy so the default needs nothing more."""
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        from server.broker.memory import MemoryBroker, MemoryPresence

        return MemoryBroker(), MemoryPresence(clock)
    if scheme in REDIS_SCHEMES:
        from server.broker.redis import RedisBroker
        from server.broker.redis_presence import RedisPresence

        return (RedisBroker(url, prefix, timeout=timeout),
                RedisPresence(url, clock, prefix, timeout=timeout))
    raise UnsupportedBroker(f"unknown broker {scheme!r}: use memory:// or redis://")


log = logging.getLogger("livechat.broker")


async def tell(broker: Broker, channel: str, frame: dict[str, Any]) -> None:
    """``frame`` to whoever listens on ``channel``, at most once: what it tells of is stored
    already, so a failure is logged, not raised (the listeners' next ``welcome`` or request
    has it)."""
    try:
        await broker.publish(channel, orjson.dumps(frame))
    except Exception as exc:
        log.warning("%s publish failed (%s)", frame.get("type"), type(exc).__name__)

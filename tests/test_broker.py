"""The conformance suite for Broker and Presence. Every implementation runs all of it: the memory
one and Redis (the machine's, under a key prefix of our own, cleaned up afterwards)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from server import broker as brokers
from server.broker import Broker, Presence
from tests.clock import FakeClock
from tests.redis_server import RedisServer, answers


class Recorder:
    """What a broker delivered, awaitable."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.resets = 0
        self._changed = asyncio.Event()

    def deliver(self, channel: str, data: bytes) -> None:
        self.items.append((channel, data))
        self._changed.set()

    def reset(self) -> None:
        self.resets += 1
        self._changed.set()

    async def until(self, predicate: Any, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when it answers (CI has one), else our own for the session."""
    if answers(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    own = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield own.url
    finally:
        own.stop()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, shared_redis: str) -> Iterator[tuple[str, str]]:
    prefix = f"lctest-{uuid.uuid4().hex[:12]}"
    if request.param == "memory":
        yield "memory://", prefix
        return
    yield shared_redis, prefix
    client = redis.Redis.from_url(shared_redis)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@contextlib.asynccontextmanager
async def running(backend: tuple[str, str]) -> AsyncIterator[tuple[Broker, Presence, FakeClock,
                                                                   Recorder]]:
    # A context manager rather than an async-generator fixture: pytest-asyncio's finalizer hung
    # after a Redis delivery here (the same code in a plain asyncio.Runner does not).
    url, prefix = backend
    clock = FakeClock()
    broker, presence = brokers.create(url, clock, prefix)
    recorder = Recorder()
    await broker.start(recorder.deliver, recorder.reset)
    try:
        yield broker, presence, clock, recorder
    finally:
        await broker.close()
        await presence.close()


async def test_delivers_subscribed_channels_in_order(backend: tuple[str, str]) -> None:
    async with running(backend) as (broker, _, _, rec):
        assert broker.healthy
        await broker.subscribe("conv:a")
        await broker.subscribe("conv:a")  # idempotent
        for i in range(100):
            await broker.publish("conv:a", str(i).encode())
        await broker.publish("conv:b", b"not subscribed")
        await broker.subscribe("conv:end")
        await broker.publish("conv:end", b"end")
        await rec.until(lambda r: ("conv:end", b"end") in r.items)
        expected = [("conv:a", str(i).encode()) for i in range(100)]
        assert rec.items == [*expected, ("conv:end", b"end")]


async def test_unsubscribe_stops_delivery(backend: tuple[str, str]) -> None:
    async with running(backend) as (broker, _, _, rec):
        await broker.subscribe("site:x")
        await broker.subscribe("site:y")
        await broker.unsubscribe("site:x")
        await broker.unsubscribe("site:never")
        await broker.publish("site:x", b"late")
        await broker.publish("site:y", b"sentinel")  # published after "late", on one connection
        await rec.until(lambda r: r.items)
        assert rec.items == [("site:y", b"sentinel")]


async def test_binary_payloads_and_many_channels(backend: tuple[str, str]) -> None:
    async with running(backend) as (broker, _, _, rec):
        channels = [f"conv:{i}" for i in range(50)]
        for channel in channels:
            await broker.subscribe(channel)
        payload = bytes(range(256))
        for channel in channels:
            await broker.publish(channel, payload)
        await rec.until(lambda r: len(r.items) == 50)
        assert sorted(rec.items) == sorted((c, payload) for c in channels)


async def test_closed_broker_is_unhealthy_and_publish_does_not_raise(
        backend: tuple[str, str]) -> None:
    broker, presence = brokers.create(backend[0], FakeClock(), backend[1])
    await broker.start(lambda c, d: None, lambda: None)
    await broker.close()
    await presence.close()
    assert not broker.healthy
    await broker.publish("conv:a", b"x")


async def test_presence_expires(backend: tuple[str, str]) -> None:
    async with running(backend) as (_, presence, clock, _):
        await presence.touch("agents:s", "ana:1", ttl=30)
        await presence.touch("agents:s", "bo:1", ttl=60)
        assert await presence.members("agents:s") == ["ana:1", "bo:1"]
        clock.now += 31
        assert await presence.members("agents:s") == ["bo:1"]
        await presence.touch("agents:s", "bo:1", ttl=60)  # a heartbeat extends
        clock.now += 59
        assert await presence.members("agents:s") == ["bo:1"]
        await presence.remove("agents:s", "bo:1")
        await presence.remove("agents:s", "nobody")
        assert await presence.members("agents:s") == []
        assert await presence.members("agents:none") == []


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(brokers.UnsupportedBroker):
        brokers.create("carrier-pigeon://x", FakeClock())


# --- Redis going away: our own redis-server, killed and restarted ---------------------------


async def test_redis_restart_resubscribes_and_resets(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    clock = FakeClock()
    broker, presence = brokers.create(server.url, clock, "lctest")
    rec = Recorder()
    try:
        await broker.start(rec.deliver, rec.reset)
        await broker.subscribe("conv:a")
        await broker.publish("conv:a", b"1")
        await rec.until(lambda r: len(r.items) == 1)

        server.kill9()
        for i in range(20):  # publishing while Redis is down neither blocks nor raises
            await broker.publish("conv:a", b"lost %d" % i)
        with pytest.raises(brokers.PresenceUnavailable):  # unknown, which is not "nobody"
            await presence.members("agents:s")
        await broker.subscribe("conv:b")  # subscribed while down: replayed on reconnect
        server.start()  # same port
        await rec.until(lambda r: r.resets >= 1)
        assert broker.healthy

        await broker.publish("conv:a", b"2")
        await broker.publish("conv:b", b"3")
        await rec.until(lambda r: (("conv:b", b"3") in r.items))
        assert ("conv:a", b"2") in rec.items

        # A killed pub/sub connection (CLIENT KILL TYPE pubsub) is noticed the same way.
        # (Counted by the listener's reconnects: the publisher also owes a reset for the
        # publishes it dropped above, and that one may arrive after this point.)
        reconnects = broker.reconnects
        redis.Redis.from_url(server.url).client_kill_filter(_type="pubsub")
        await rec.until(lambda r: broker.reconnects > reconnects)
        await broker.publish("conv:a", b"4")
        await rec.until(lambda r: ("conv:a", b"4") in r.items)
    finally:
        await broker.close()
        await presence.close()
        server.stop()

"""The conformance suite for Broker and Presence. Every implementation runs all of it: add the
next one (Redis) to IMPLEMENTATIONS and it must pass unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from server import broker as brokers
from server.broker import Broker, Presence


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


IMPLEMENTATIONS = ["memory://"]


@pytest.fixture(params=IMPLEMENTATIONS)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def pair(url: str) -> AsyncIterator[tuple[Broker, Presence, FakeClock, list[Any]]]:
    clock = FakeClock()
    broker, presence = brokers.create(url, clock)
    received: list[Any] = []
    resets: list[Any] = []
    await broker.start(lambda ch, data: received.append((ch, data)),
                       lambda: resets.append(True))
    yield broker, presence, clock, received
    await broker.close()


async def test_delivers_subscribed_channels_in_order(pair: Any) -> None:
    broker, _, _, received = pair
    await broker.publish("conv:a", b"before")  # nobody subscribed: gone (at-most-once)
    await broker.subscribe("conv:a")
    for i in range(100):
        await broker.publish("conv:a", str(i).encode())
    await broker.publish("conv:b", b"other")
    assert received == [("conv:a", str(i).encode()) for i in range(100)]
    assert broker.healthy


async def test_unsubscribe_stops_delivery(pair: Any) -> None:
    broker, _, _, received = pair
    await broker.subscribe("site:x")
    await broker.unsubscribe("site:x")
    await broker.unsubscribe("site:never")
    await broker.publish("site:x", b"late")
    assert received == []


async def test_closed_broker_is_unhealthy_and_publish_does_not_raise(url: str) -> None:
    broker, _ = brokers.create(url, FakeClock())
    await broker.start(lambda c, d: None, lambda: None)
    await broker.close()
    assert not broker.healthy
    await broker.publish("conv:a", b"x")


async def test_presence_expires(pair: Any) -> None:
    _, presence, clock, _ = pair
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


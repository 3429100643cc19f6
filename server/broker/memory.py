"""In-process broker and presence: the embedded default.

Single-process only: another process shares none of this, which is why the configuration refuses
the memory broker with more than one worker.
"""

from __future__ import annotations

from collections.abc import Callable

from server.broker import Deliver, OnReset
from server.health import Health


class MemoryBroker:
    def __init__(self) -> None:
        self._channels: set[str] = set()
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver, on_reset: OnReset) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        self._deliver = None
        self._channels.clear()

    async def publish(self, channel: str, data: bytes) -> None:
        if self._deliver is not None and channel in self._channels:
            self._deliver(channel, data)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    def health(self) -> Health:
        return Health(True) if self._deliver is not None else Health(False, "not started")

    @property
    def healthy(self) -> bool:
        return self._deliver is not None


class MemoryPresence:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._keys: dict[str, dict[str, float]] = {}

    async def touch(self, key: str, member: str, ttl: float) -> None:
        self._keys.setdefault(key, {})[member] = self._clock() + ttl

    async def remove(self, key: str, member: str) -> None:
        members = self._keys.get(key)
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._keys[key]

    async def members(self, key: str) -> list[str]:
        now = self._clock()
        members = self._keys.get(key, {})
        for member in [m for m, expires in members.items() if expires <= now]:
            del members[member]
        return sorted(members)

    async def close(self) -> None:
        self._keys.clear()

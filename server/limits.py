"""Limits shared by many connections, keyed by who they count: a client address, a visitor, a
site. Pure: the clock is injected; nothing here does I/O.

Each process keeps its own counts (several processes each allow the limit: set the limits per
process, or put a proxy that limits in front). Memory is bounded: past ``max_keys`` the
least recently used keys are forgotten, which only ever forgives them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from server.config import Settings

Clock = Callable[[], float]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """A token bucket per key: ``rate`` per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: float, clock: Clock, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._keys: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def per_minute(cls, count: int, clock: Clock, max_keys: int = 100_000) -> Buckets:
        """``count`` a minute, all of them at once if need be."""
        return cls(count / 60.0, count, clock, max_keys)

    def take(self, key: str, amount: float = 1.0) -> bool:
        """Take ``amount`` from ``key``'s bucket if it holds that much."""
        now = self._clock()
        bucket = self._keys.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        self._keys[key] = bucket
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)
        if bucket.tokens >= amount:
            bucket.tokens -= amount
            return True
        return False

    def spend(self, key: str, amount: float) -> None:
        """Take ``amount`` whether or not it is there (the bucket may go below zero: bytes
        already received are counted, and the next request waits for them)."""
        if not self.take(key, amount):
            self._keys[key].tokens -= amount

    def retry_after(self, key: str, amount: float = 1.0) -> int:
        """Whole seconds until ``amount`` is there (at least 1)."""
        bucket = self._keys.get(key)
        missing = amount - (bucket.tokens if bucket else self.burst)
        return max(1, math.ceil(missing / self.rate - 1e-9)) if self.rate > 0 else 60


class Counts:
    """How many of something each key holds at once (sockets), up to ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        held = self._counts.get(key, 0)
        if held >= self.limit:
            return False
        self._counts[key] = held + 1
        return True

    def release(self, key: str) -> None:
        held = self._counts.get(key, 0) - 1
        if held > 0:
            self._counts[key] = held
        else:
            self._counts.pop(key, None)

    def held(self, key: str) -> int:
        return self._counts.get(key, 0)


@dataclass
class Limits:
    """Every limit the endpoints share, per client address, visitor and site (docs/security.md
    lists each with its setting and the code a client gets)."""

    handshakes: Buckets
    sockets_per_ip: Counts
    new_visitors_per_ip: Buckets
    new_visitors_per_site: Buckets
    new_conversations_per_ip: Buckets
    new_conversations_per_site: Buckets
    visitor_frames: Buckets
    sockets_per_visitor: Counts
    site_frames: Buckets
    sockets_per_site: Counts
    uploads_per_ip: Buckets
    upload_bytes_per_ip: Buckets
    #: Per uploader (a visitor or an agent): ten files at once, then one every 6 s.
    uploads_per_uploader: Buckets
    kb_requests_per_ip: Buckets

    @classmethod
    def from_settings(cls, s: Settings, clock: Clock) -> Limits:
        return cls(
            handshakes=Buckets(s.handshakes_per_ip, 2 * s.handshakes_per_ip, clock),
            sockets_per_ip=Counts(s.max_connections_per_ip),
            new_visitors_per_ip=Buckets.per_minute(s.new_visitors_per_ip, clock),
            new_visitors_per_site=Buckets.per_minute(s.site_new_visitors_per_minute, clock),
            new_conversations_per_ip=Buckets.per_minute(s.new_conversations_per_ip, clock),
            new_conversations_per_site=Buckets.per_minute(s.site_new_conversations_per_minute,
                                                          clock),
            visitor_frames=Buckets(s.visitor_rate_per_second, s.visitor_rate_burst, clock),
            sockets_per_visitor=Counts(s.max_sockets_per_visitor),
            site_frames=Buckets(s.site_rate_per_second, 2 * s.site_rate_per_second, clock),
            sockets_per_site=Counts(s.max_site_connections),
            uploads_per_ip=Buckets.per_minute(s.uploads_per_ip, clock),
            upload_bytes_per_ip=Buckets.per_minute(s.upload_bytes_per_ip, clock),
            uploads_per_uploader=Buckets(1 / 6, 10, clock, max_keys=10_000),
            kb_requests_per_ip=Buckets.per_minute(s.kb_requests_per_ip, clock),
        )

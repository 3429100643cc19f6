"""Slowing down password guessing. Pure: the caller passes keys (an account's email, an
address) and the clock is injected.

Each key may fail ``free`` times; every further failure locks it for ``base`` seconds, doubling
with each one up to ``cap``. While a key is locked, a login is refused at once (429 with
``Retry-After``) without checking the password, so a locked guesser costs no hashing either. A
success clears the key. Memory is bounded: past ``max_keys`` the oldest keys are forgotten,
which only forgives them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _State:
    failures: int
    until: float


class Backoff:
    def __init__(self, free: int, clock: Callable[[], float], *, base: float = 1.0,
                 cap: float = 900.0, max_keys: int = 100_000) -> None:
        self.free = free
        self.base = base
        self.cap = cap
        self._clock = clock
        self._max_keys = max_keys
        self._keys: OrderedDict[str, _State] = OrderedDict()

    def wait(self, key: str) -> int:
        """Whole seconds until ``key`` may try again (0: now)."""
        state = self._keys.get(key)
        if state is None:
            return 0
        return max(0, math.ceil(state.until - self._clock()))

    def failed(self, key: str) -> None:
        state = self._keys.pop(key, None) or _State(0, 0.0)
        state.failures += 1
        over = state.failures - self.free
        if over > 0:
            state.until = self._clock() + min(self.cap, self.base * 2 ** min(over - 1, 30))
        self._keys[key] = state
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)

"""A clock a test sets, for code that is given its clock (``time.time``'s shape)."""

from __future__ import annotations


class FakeClock:
    """Seconds since the epoch, as ``time.time`` gives: whatever the test put in ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

"""Health, told truthfully and once.

``Health`` is what a component answers to ``/healthz``: ok, or down with a reason and for how
long. ``Episode`` keeps one component's current outage, so that it is logged when it starts and
when it ends, not once per refused request (a full disk at 500 writes/s must not write 500
tracebacks a second into the log).

Pure: time comes from the injected clock, and the caller does the logging with what it is told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Health:
    """Whether a component can serve now; when not, why and for how long (seconds)."""

    ok: bool
    reason: str | None = None
    down_for: float | None = None


@dataclass(frozen=True, slots=True)
class Recovery:
    reason: str
    lasted: float
    refused: int


class Episode:
    """The current outage of one component, if any: why, since when, how much was refused."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.reason: str | None = None
        self.since: float | None = None
        self.refused = 0

    @property
    def down(self) -> bool:
        return self.reason is not None

    def down_for(self) -> float:
        return 0.0 if self.since is None else max(0.0, self._clock() - self.since)

    def fail(self, reason: str, refused: int = 1) -> bool:
        """Record a failure (the reason shown becomes this one). True when this starts an
        episode: log it."""
        self.refused += refused
        self.reason = reason
        if self.since is not None:
            return False
        self.since = self._clock()
        return True

    def health(self, prefix: str = "") -> Health:
        if self.reason is None:
            return Health(True)
        return Health(False, prefix + self.reason, self.down_for())

    def recover(self) -> Recovery | None:
        """Record a success. The episode that it ends, if there was one (log it)."""
        if self.reason is None:
            return None
        ended = Recovery(self.reason, self.down_for(), self.refused)
        self.reason, self.since, self.refused = None, None, 0
        return ended

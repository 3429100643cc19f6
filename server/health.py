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
    """The current outage of one component, if any: why, since when, how much was refused.

    An outage can flicker before it ends: a nearly full disk lets a small write through between
    two refusals. With ``settle`` (seconds; the store's writer uses 1), an episode ends only when
    successes have gone on that long with no failure among them: the component counts as up
    again (``down`` is false, ``health`` is ok) from the first success, but a failure within
    ``settle`` of it continues the same episode, quietly, instead of ending one and starting
    another (two log lines per flicker). With 0, the first success ends it."""

    def __init__(self, clock: Callable[[], float], settle: float = 0.0) -> None:
        self._clock = clock
        self._settle = settle
        self._reason: str | None = None  # the last failure's, while the episode lasts
        self.since: float | None = None
        self.refused = 0
        self._up_since: float | None = None  # the first success since the last failure

    @property
    def down(self) -> bool:
        return self._reason is not None and self._up_since is None

    @property
    def reason(self) -> str | None:
        """Why it is down (None while it is up, settling included)."""
        return self._reason if self.down else None

    def lasted(self) -> float:
        """Seconds since the episode began (0 when none lasts), settling included."""
        return 0.0 if self.since is None or self._reason is None \
            else max(0.0, self._clock() - self.since)

    @property
    def last_reason(self) -> str | None:
        """The last failure's reason while an episode lasts, settling included."""
        return self._reason

    def down_for(self) -> float:
        return self.lasted() if self.down else 0.0

    def fail(self, reason: str, refused: int = 1, since: float | None = None) -> bool:
        """Record a failure (the reason shown becomes this one). True when this starts an
        episode: log it. ``since``: when the failure began, if before now (a write refused
        after waiting for a lock was not committing from when it began to wait)."""
        self.refused += refused
        self._reason = reason
        self._up_since = None
        if self.since is not None:
            return False
        self.since = self._clock() if since is None else since
        return True

    def health(self, prefix: str = "") -> Health:
        if not self.down:
            return Health(True)
        return Health(False, prefix + (self.reason or ""), self.down_for())

    def recover(self) -> Recovery | None:
        """Record a success. The episode that it ends, if there was one and successes have now
        gone on for ``settle`` seconds (log it): how long the component was down, up to its
        first success."""
        if self._reason is None or self.since is None:
            return None
        now = self._clock()
        if self._up_since is None:
            self._up_since = now
        if now - self._up_since < self._settle:
            return None
        ended = Recovery(self._reason, max(0.0, self._up_since - self.since), self.refused)
        self._reason, self.since, self.refused, self._up_since = None, None, 0, None
        return ended

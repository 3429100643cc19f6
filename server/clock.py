"""The server's clock: the system's, or — for tests and demos only — the system's moved forward
by the number of seconds written in the file ``LIVECHAT_CLOCK_OFFSET_FILE`` names (read again
when the file changes). The browser tests use it to let a snooze run out without waiting.

Never set it in production: tokens, presence and reports all read this clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

Clock = Callable[[], float]


def from_env(env: Mapping[str, str] | None = None) -> Clock:
    env = os.environ if env is None else env
    path = env.get("LIVECHAT_CLOCK_OFFSET_FILE")
    if not path:
        return time.time
    return OffsetClock(Path(path))


class OffsetClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._offset = 0.0

    def __call__(self) -> float:
        try:
            stamp = self.path.stat().st_mtime_ns
            if stamp != self._stamp:
                self._offset = float(self.path.read_text().strip() or 0)
                self._stamp = stamp
        except (OSError, ValueError):
            pass  # keep the last good offset
        return time.time() + self._offset

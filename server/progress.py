"""What a long command is doing, told to the operator on standard error (standard output stays
for results, e.g. ``--json``).

On a terminal one line is rewritten in place (``upgrading the database… 3/9``); anywhere else (a
log file, a pipe, CI) each step is one line, and repeated counts of the same step at most every
few seconds, so that a log stays readable. Usage::

    progress = Progress()
    for done, total in copy_pages():
        progress.step("copying the database", done, total)
    progress.finish("backup written to backup.db")
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *,
                 clock: Callable[[], float] = time.monotonic, every: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.every = every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = clock()
        self._what: str | None = None
        self._shown_at = 0.0
        self._width = 0

    def step(self, what: str, done: int | None = None, total: int | None = None) -> None:
        """``what`` is under way (``done`` of ``total``, when known)."""
        count = ""
        if done is not None:
            count = f" {done}/{total}" if total else f" {done}"
            if total:
                count += f" ({100 * done // max(total, 1)}%)"
        line = f"{what}…{count}"
        now = self.clock()
        if self.tty:
            self._write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif what != self._what or now - self._shown_at >= self.every or done == total:
            self._write(line + "\n")
            self._shown_at = now
        self._what = what

    def finish(self, what: str) -> None:
        """The command is done: ``what`` it did, and how long it took."""
        seconds = self.clock() - self._started
        line = f"{what} ({seconds:.1f} s)"
        if self.tty and self._width:
            self._write("\r" + line.ljust(self._width) + "\n")
        else:
            self._write(line + "\n")
        self._width = 0
        self._what = None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

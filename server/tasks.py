"""Background tasks are loud: one that ends by itself, other than by being cancelled, is a bug
and is reported where it will be seen."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("livechat")


def report_death(task: asyncio.Task[None]) -> None:
    """A done-callback for long-running tasks."""
    if not task.cancelled():
        log.critical("background task %s ended: %r", task.get_name(), task.exception())

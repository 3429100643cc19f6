"""Background tasks are loud: one that ends by itself, other than by being cancelled, is a bug
and is reported where it will be seen."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("livechat")


def background(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task of the process's own, started in an empty context: one started while serving a
    request would otherwise inherit its context (server/logs.py), and every line it logs would
    carry that request's id and connection's ``conn``."""
    return asyncio.create_task(coro, name=name, context=contextvars.Context())


def report_death(task: asyncio.Task[None]) -> None:
    """A done-callback for long-running tasks."""
    if not task.cancelled():
        log.critical("background task %s ended: %r", task.get_name(), task.exception())


def reraise_cancel() -> None:
    """Call in an ``except`` of a long-running loop that goes on after failures: a cancel that
    arrived while the failure was being raised (Python 3.11's ``asyncio.timeout`` can turn it
    into a ``TimeoutError``, and clients may wrap it) still ends the task."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError

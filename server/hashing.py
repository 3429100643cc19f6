"""Password hashing off the event loop, in a bounded pool.

scrypt takes tens of milliseconds of CPU and 16 MiB per hash. Run on the default executor,
hundreds of concurrent logins had as many threads hashing at once and took the chat's CPU with
them (a visitor's ping p50 went from 1 ms to 55–97 ms). Here hashing has its own threads
(``LIVECHAT_PASSWORD_WORKERS``, 1 by default: the event loop keeps the other core), at a lower
scheduling priority where the system allows it, and at most ``LIVECHAT_PASSWORD_QUEUE`` checks
may wait: past that a login is answered 503 with ``Retry-After`` at once instead of queueing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from server.auth import hash_password, verify_password


class Busy(Exception):
    """Too many password checks are waiting; try again in a second."""


def _lower_priority() -> None:
    # Linux applies a nice value to one thread when given its id: the hashing threads yield
    # the CPU to the event loop's. Elsewhere this is refused and nothing changes.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class HashPool:
    def __init__(self, workers: int = 1, queue: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password",
                                        initializer=_lower_priority)
        self._limit = queue + workers
        self._inflight = 0

    async def _run(self, fn: object, *args: str) -> object:
        if self._inflight >= self._limit:
            raise Busy
        self._inflight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, fn, *args)  # type: ignore[arg-type]
        finally:
            self._inflight -= 1

    async def verify(self, password: str, stored: str) -> bool:
        return bool(await self._run(verify_password, password, stored))

    async def hash(self, password: str) -> str:
        return str(await self._run(hash_password, password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

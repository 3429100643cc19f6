"""A queue and a flag for one consumer, each a fraction of asyncio's in memory.

Every open socket has two queues (uvicorn's protocol queues the ASGI events it receives; the hub
queues the frames it sends) and a "writable" event. ``asyncio.Queue`` allocates four deques
(its items, getters, putters and an ``Event`` of its own) and ``asyncio.Event`` one, about
0.75 KiB each: some 7 KiB per idle socket, a fifth of what an idle visitor costs the server
(docs/benchmarks.md, memory per socket). Here the items are a list (empty: 56 bytes), and a
waiting consumer is one future, made only while it waits.

An ``Inbox`` serves one awaiting consumer at a time (a socket's pump; the ASGI app's
``receive``), which is how both are used; a second concurrent ``get`` is a bug and is refused.
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """``asyncio.Queue``'s ``put_nowait``, ``get_nowait``, ``get``, ``empty`` and ``qsize``, for
    one consumer. ``maxsize`` 0: unbounded."""

    __slots__ = ("_head", "_items", "_max", "_waiter")

    def __init__(self, maxsize: int = 0) -> None:
        self._items: list[Any] = []  # T, or None where taken
        #: Items before this index were taken (the list is compacted when it empties).
        self._head = 0
        self._waiter: asyncio.Future[None] | None = None
        self._max = maxsize

    def qsize(self) -> int:
        return len(self._items) - self._head

    def empty(self) -> bool:
        return self._head == len(self._items)

    def put_nowait(self, item: T) -> None:
        if self._max and self.qsize() >= self._max:
            raise asyncio.QueueFull
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> T:
        if self._head == len(self._items):
            raise asyncio.QueueEmpty
        item: T = self._items[self._head]
        self._head += 1
        if self._head == len(self._items):
            self._items, self._head = [], 0  # emptied: nothing taken stays referenced
        else:
            self._items[self._head - 1] = None
        return item

    async def get(self) -> T:
        while self._head == len(self._items):
            if self._waiter is not None:
                raise RuntimeError("Inbox has one consumer")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()


class Flag:
    """``asyncio.Event``'s ``set``, ``clear``, ``is_set`` and ``wait``. Waiters share one
    future, made when the first waits (a flag is waited on only under back-pressure)."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            # Shielded: one waiter cancelled does not cancel the future the others await.
            await asyncio.shield(self._waiter)
        return True

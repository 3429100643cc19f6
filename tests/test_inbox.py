"""server/inbox.py: the queue and the flag every socket holds, in place of asyncio's."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from server.inbox import Flag, Inbox


class _Item:
    pass


async def test_inbox_is_fifo_bounded_and_wakes_its_consumer() -> None:
    inbox: Inbox[int] = Inbox(maxsize=3)
    assert inbox.empty() and inbox.qsize() == 0
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)  # let it wait (a scheduling step, not a timing)
    assert not getter.done()
    inbox.put_nowait(1)
    assert await getter == 1
    for n in (2, 3, 4):
        inbox.put_nowait(n)
    with pytest.raises(asyncio.QueueFull):
        inbox.put_nowait(5)
    assert inbox.qsize() == 3
    assert [inbox.get_nowait(), await inbox.get(), inbox.get_nowait()] == [2, 3, 4]
    assert inbox.empty()
    unbounded: Inbox[int] = Inbox()
    for n in range(10_000):
        unbounded.put_nowait(n)
    assert [unbounded.get_nowait() for _ in range(10_000)] == list(range(10_000))


async def test_inbox_keeps_no_reference_to_what_was_taken() -> None:
    inbox: Inbox[_Item] = Inbox()
    first, second = _Item(), _Item()
    inbox.put_nowait(first)
    inbox.put_nowait(second)
    refs = [weakref.ref(first), weakref.ref(second)]
    del first, second
    inbox.get_nowait()
    gc.collect()
    assert refs[0]() is None and refs[1]() is not None  # taken, and still queued
    inbox.get_nowait()
    gc.collect()
    assert refs[1]() is None


async def test_inbox_consumer_cancelled_while_waiting_leaves_it_usable() -> None:
    inbox: Inbox[str] = Inbox()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):  # one consumer at a time
        await inbox.get()
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    inbox.put_nowait("after")
    assert await inbox.get() == "after"


async def test_flag_wakes_every_waiter_and_survives_a_cancelled_one() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters[1:])
    flag.set()
    assert await asyncio.gather(*waiters[1:]) == [True, True]
    assert waiters[0].cancelled()
    assert await flag.wait() is True  # set: returns at once
    flag.clear()
    assert not flag.is_set()
    again = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    assert not again.done()
    flag.set()
    assert await again is True

"""The SQLite store's group-commit writer (server/store/writer.py, sqlite.py): where writes run
and what a stop does to the batch being written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from server.store import SQLiteStore, StoreClosed
from tests.test_store import _setup


async def test_with_synchronous_full_no_write_runs_on_the_event_loop(tmp_path: Path) -> None:
    """FULL fsyncs at every commit: a slow disk must not stall every socket, so the writer's
    thread takes every write (NORMAL: quick writes run on the loop)."""
    full = SQLiteStore(tmp_path / "full.db", clock=time.time, synchronous="FULL")
    normal = SQLiteStore(tmp_path / "normal.db", clock=time.time)
    await full.open()
    await normal.open()
    try:
        assert full._on_loop is None and normal._on_loop is not None
        site, _, _ = await _setup(full)
        change = await full.append_visitor_message(site, "vis_f", "m1", "hello")
        assert [m.seq for m in change.messages] == [1]
    finally:
        await full.close()
        await normal.close()


async def test_a_write_in_flight_when_the_store_closes_is_answered(tmp_path: Path) -> None:
    """Before: the batch being written when the writer was stopped was held only by the writer
    task, so its callers waited forever (found by review)."""
    import threading

    store = SQLiteStore(tmp_path / "c.db", clock=time.time)
    await store.open()
    started, release = threading.Event(), threading.Event()

    def slow(db: Any) -> None:  # a bulk write, on the writer's thread
        started.set()
        release.wait(30)

    write = asyncio.ensure_future(store._submit(slow))
    await asyncio.to_thread(started.wait, 30)
    closing = asyncio.ensure_future(store.close())
    try:
        with pytest.raises(StoreClosed):
            await asyncio.wait_for(write, 30)
    finally:
        release.set()
        await closing

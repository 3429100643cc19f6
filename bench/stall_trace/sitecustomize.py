"""Loaded by the server under ``python -m bench.stalls`` (this directory first on its
``PYTHONPATH``): wraps what can hold up a message (the store's batches, the checkpoints, the
high-water mark, the search index's steps, garbage collections) and the event loop's lateness,
and writes each occurrence to ``STALLS_OUT`` as ``kind start end n`` (``perf_counter`` seconds,
the clock the load generator stamps messages with). Not part of the product."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

OUT = os.environ.get("STALLS_OUT", "")
EVENTS: list[tuple[str, float, float, int]] = []


def _timed(kind: str, fn: Callable[..., Any], count: Callable[[Any], int] | None = None,
           ) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        EVENTS.append((kind, start, time.perf_counter(), count(result) if count else 0))
        return result
    return wrapper


def _batch(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: Any, db: Any, ops: list[Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = fn(self, db, ops, *args, **kwargs)
        kind = "batch on the loop" if db is self._on_loop else "batch on the thread"
        EVENTS.append((kind, start, time.perf_counter(), len(result)))
        return result
    return wrapper


def _holding(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    @contextlib.contextmanager
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[None]:
        start = time.perf_counter()
        with fn(*args, **kwargs):
            yield
        EVENTS.append(("restart or truncation (holds writers)", start, time.perf_counter(), 0))
    return wrapper


async def _lateness() -> None:
    while True:
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        late = time.perf_counter() - start - 0.001
        if late > 0.001:
            EVENTS.append(("the loop late by over 1 ms", start + 0.001, start + 0.001 + late, 0))


def _dump() -> None:
    with open(OUT, "a") as out:
        while True:
            time.sleep(0.25)
            count = len(EVENTS)  # (appends from other threads meanwhile stay for next time)
            taken = EVENTS[:count]
            del EVENTS[:count]
            out.writelines(f"{k}\t{a:.6f}\t{b:.6f}\t{n}\n" for k, a, b, n in taken)
            out.flush()


def _install() -> None:
    from server.store import sqlite, sqlite_search, sqlite_wal, watermark

    engine = sqlite.SQLiteEngine
    engine._run_batch = _batch(engine._run_batch)  # type: ignore[method-assign]
    keeper = sqlite_wal.WalKeeper
    keeper._checkpoint = _timed("checkpoint (passive passes and restart)",  # type: ignore[method-assign]
                                keeper._checkpoint)
    keeper._waiting_at_most = _holding(keeper._waiting_at_most)  # type: ignore[method-assign]
    watermark.write = _timed("high-water mark written", watermark.write)
    index = sqlite_search.SearchIndex
    index._step = _timed("search index step", index._step, len)  # type: ignore[method-assign]
    opened = engine.open

    async def open_and_watch(self: Any) -> None:
        await opened(self)
        asyncio.get_running_loop().create_task(_lateness())

    engine.open = open_and_watch  # type: ignore[method-assign]
    started: dict[int, float] = {}

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[info["generation"]] = time.perf_counter()
        else:
            gen = info["generation"]
            EVENTS.append((f"garbage collection, generation {gen}",
                           started.pop(gen, time.perf_counter()), time.perf_counter(), 0))

    gc.callbacks.append(collected)
    threading.Thread(target=_dump, daemon=True).start()


if OUT:
    try:
        _install()
    except Exception as exc:  # ``site`` would print this and start the server untraced
        raise SystemExit(f"bench/stall_trace: cannot wrap the server ({exc!r})") from exc

"""The benchmark as a smoke test: bench/run.py's load, small, on the real server, with only its
correctness asserted — every message delivered to the agent once, in order, on both brokers and
on two processes. Its speed is measured by ``python -m bench.run``, never asserted here (these
machines are shared; docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect

from bench.run import CommittedRelay, Livechat, latency, reconnect, throughput
from bench.stalls import report
from bench.targets import ROOT
from tests.faults import until
from tests.redis_server import RedisServer


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["memory", "redis", "redis, 2 processes"])
def test_the_benchmark_load_loses_and_doubles_nothing(tmp_path: Path, mode: str) -> None:
    redis = RedisServer(tmp_path).start() if mode != "memory" else None
    target = Livechat(tmp_path, redis.url if redis else None,
                      workers=2 if "2 processes" in mode else 1)
    try:
        result = asyncio.run(throughput(target, pairs=6, per_pair=150, window=20))
        assert (result["lost"], result["doubled"], result["disordered"], result["closed"]) == \
            (0, 0, 0, 0), result
        if mode == "memory":
            # Dropped at once, every visitor resumes into its own conversation, message and all.
            assert asyncio.run(reconnect(target, 50))["resumed"] == 50
    finally:
        target.stop()
        if redis:
            redis.stop()


@pytest.mark.slow
def test_the_committed_relay_stores_each_message_once(tmp_path: Path) -> None:
    """The second baseline (bench/committed_relay.py) keeps the guarantee it stands for: every
    message acked after its commit, in order, a resend acked with its first seq and not
    forwarded again."""
    target = CommittedRelay(tmp_path)
    try:
        result = asyncio.run(throughput(target, pairs=4, per_pair=150, window=20))
        assert (result["lost"], result["doubled"], result["disordered"]) == (0, 0, 0), result

        async def resend() -> tuple[list[Any], list[Any]]:
            base = f"ws://127.0.0.1:{target.port}/ws"
            async with connect(f"{base}/recv/again", compression=None) as receiver, \
                    connect(f"{base}/send/again", compression=None) as sender:
                acks = []
                for body in ("one", "one", "two"):
                    await sender.send(orjson.dumps({"id": body, "body": body}).decode())
                    acks.append(orjson.loads(await sender.recv()))
                got = [orjson.loads(await receiver.recv()) for _ in range(2)]
                return acks, got

        acks, got = asyncio.run(resend())
        assert [(a["id"], a["seq"]) for a in acks] == [("one", 1), ("one", 1), ("two", 2)]
        assert got == [{"seq": 1, "body": "one"}, {"seq": 2, "body": "two"}]
        [db] = tmp_path.glob("floor-*.db")
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM messages WHERE pair = 'again'"
                                ).fetchone()[0] == 2
    finally:
        target.stop()


@pytest.mark.slow
def test_the_stall_trace_loads_and_sees_the_store(tmp_path: Path, monkeypatch: Any) -> None:
    """``bench.stalls`` wraps the store's methods by name inside the server (a rename would
    stop the server at start-up): a short phase under it, every message's flight kept, and the
    server's events read back into the report."""
    events = tmp_path / "events.tsv"
    monkeypatch.setenv("STALLS_OUT", str(events))
    target = Livechat(tmp_path, path_first=ROOT / "bench" / "stall_trace")
    flights: list[tuple[float, float]] = []
    try:
        asyncio.run(latency(target, pairs=2, rate=200, seconds=1, flights=flights))
        # (the server writes its events down every quarter second)
        asyncio.run(until(lambda: events.exists() and "batch on the loop" in events.read_text()))
    finally:
        target.stop()
    assert len(flights) == 200
    table = report(flights, events)
    assert table.startswith("200 messages") and "\n| batch on the loop | " in table, table


"""The benchmark as a smoke test: bench/run.py's load, small, on the real server, with only its
correctness asserted — every message delivered to the agent once, in order, on both brokers and
on two processes. Its speed is measured by ``python -m bench.run``, never asserted here (these
machines are shared; docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.run import Livechat, reconnect, throughput
from tests.redis_server import RedisServer


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["memory", "redis", "redis, 2 processes"])
def test_the_benchmark_load_loses_and_doubles_nothing(tmp_path: Path, mode: str) -> None:
    redis = RedisServer(tmp_path).start() if mode != "memory" else None
    target = Livechat(tmp_path, redis.url if redis else None,
                      workers=2 if "2 processes" in mode else 1)
    try:
        result = asyncio.run(throughput(target, pairs=6, per_pair=150, window=20))
        assert (result["lost"], result["doubled"], result["disordered"]) == (0, 0, 0), result
        if mode == "memory":
            # Dropped at once, every visitor resumes into its own conversation, message and all.
            assert asyncio.run(reconnect(target, 50))["resumed"] == 50
    finally:
        target.stop()
        if redis:
            redis.stop()

"""The Redis broker's own CPU per message, this checkout's against another's, in one process.

    .venv/bin/python -m bench.broker_cpu --compare ../other-checkout [--redis URL]

Two brokers (two "processes") subscribe one channel; A publishes N messages in batches of about
ten (as group commits make them), B receives them all, A drops its own echo. The CPU time of
this process per message, median of interleaved rounds. Redis's own CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from server.broker.redis import RedisBroker

PAYLOAD = (b'{"type":"message","conversation_id":"c_0123456789","seq":12,"body":"' + b"x" * 60
           + b'"}')


def load(checkout: Path) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"broker_{checkout.name}", checkout / "server" / "broker" / "redis.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RedisBroker


async def one_round(cls: Any, url: str, messages: int) -> float:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    done, got = asyncio.Event(), [0]

    def deliver(channel: str, data: bytes) -> None:
        got[0] += 1
        if got[0] == messages:
            done.set()

    a, b = cls(url, prefix), cls(url, prefix)
    await a.start(lambda channel, data: None, lambda: None)
    await b.start(deliver, lambda: None)
    await a.subscribe("conv:1")
    await b.subscribe("conv:1")
    await asyncio.sleep(0.3)  # (the subscriptions reach Redis)
    t = time.process_time()
    for i in range(messages):
        await a.publish("conv:1", PAYLOAD)
        if i % 10 == 9:
            await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), 60)
    cpu = (time.process_time() - t) / messages * 1e6
    await a.close()
    await b.close()
    return cpu


async def run(args: argparse.Namespace) -> None:
    classes = {"this checkout": RedisBroker, args.compare.name: load(args.compare.resolve())}
    cpu: dict[str, list[float]] = {name: [] for name in classes}
    for n in range(args.rounds):
        for name, cls in list(classes.items())[:: 1 if n % 2 == 0 else -1]:
            cpu[name].append(await one_round(cls, args.redis, args.messages))
    for name, values in cpu.items():
        print(f"{name}: {statistics.median(values):.1f} µs per message (median of "
              f"{len(values)}; {', '.join(f'{v:.0f}' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", type=Path, required=True, metavar="CHECKOUT")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--messages", type=int, default=5000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

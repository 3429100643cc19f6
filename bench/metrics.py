"""What the metrics add to one message, in this process, without the noise of a whole server.

    .venv/bin/python -m bench.metrics              # prometheus-client's values in memory
    .venv/bin/python -m bench.metrics --dir DIR    # multiprocess mode (LIVECHAT_METRICS_DIR)

Runs what the message path runs for one visitor message (a publication to the broker and its
delivery to the hub) with and without the metrics' part of it: the message counter, the broker
wrapper's count, the delivery count, the ack histogram, and one group commit observed per eight
writes. Prints the process CPU time added per message (the best of three rounds each).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from server.broker.memory import MemoryBroker
from server.metrics import MeteredBroker, Metrics, counting

ROUNDS = 200_000


async def measure(directory: str | None) -> tuple[float, float]:
    metrics = Metrics(directory)
    inner = MemoryBroker()

    def deliver(channel: str, data: bytes) -> None:
        return None

    await inner.start(deliver, lambda: None)
    await inner.subscribe("conv:x")
    metered = MeteredBroker(inner, metrics)
    counted = counting(deliver, metrics)
    messages, ack = metrics.messages["visitor"], metrics.visitor_ack

    async def without() -> None:
        for _ in range(ROUNDS):
            await inner.publish("conv:x", b"x")
            deliver("conv:x", b"x")

    async def with_metrics() -> None:
        for i in range(ROUNDS):
            messages.inc()
            await metered.publish("conv:x", b"x")
            counted("conv:x", b"x")
            ack.observe(0.0012)
            if i % 8 == 0:
                metrics.store_batch(8, 0.002)

    best: dict[str, float] = {}
    runs: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("without", without), ("with", with_metrics)] * 3
    for name, run in runs:
        started = time.process_time()
        await run()
        took = (time.process_time() - started) / ROUNDS * 1e6
        best[name] = min(best.get(name, took), took)
    metrics.close()
    return best["without"], best["with"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None, help="multiprocess mode in this directory")
    args = parser.parse_args()
    without, with_metrics = asyncio.run(measure(args.dir))
    mode = f"multiprocess mode ({args.dir})" if args.dir else "in memory"
    print(f"{mode}: {with_metrics - without:+.2f} µs of CPU per message "
          f"({without:.2f} without the metrics, {with_metrics:.2f} with)")


if __name__ == "__main__":
    main()

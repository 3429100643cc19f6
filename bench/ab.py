"""Two or more livechat servers, the throughput phase of bench/run.py on each in turn, round after
round: for a lever whose effect is smaller than the noise of one run on a shared machine.

    .venv/bin/python -m bench.ab --compare ../without-it                 # memory broker
    .venv/bin/python -m bench.ab --compare ../without-it --redis redis://127.0.0.1:6379/0
    .venv/bin/python -m bench.ab --compare ../without-it --redis … --workers 2

Every server is started once and kept; each round runs the same load on each of them, one after
the other, and the medians over the rounds are printed (server CPU µs per delivered message, and
messages per second), with each one's ratio to the first (this checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.scenarios import throughput
from bench.targets import Livechat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", type=Path, action="append", default=[], metavar="CHECKOUT")
    parser.add_argument("--redis", default="", help="the broker: this Redis (default: memory)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--messages", type=int, default=500, help="per pair and round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        roots: list[Path | None] = [None, *(c.resolve() for c in args.compare)]
        servers = [Livechat(Path(tmp), args.redis or None, workers=args.workers, root=root,
                            label=f" @ {root.name}" if root else "") for root in roots]
        cpu: dict[str, list[float]] = {s.name: [] for s in servers}
        rate: dict[str, list[float]] = {s.name: [] for s in servers}
        try:
            for n in range(args.rounds):
                for server in servers if n % 2 == 0 else servers[::-1]:
                    result = asyncio.run(throughput(server, args.pairs, args.messages, 20))
                    if result.get("lost") or result.get("doubled") or result.get("disordered"):
                        raise SystemExit(f"NOT CORRECT: {server.name}: {result}")
                    cpu[server.name].append(result["cpu_us_per_msg"])
                    rate[server.name].append(result["msgs_per_s"])
                    print(f"round {n + 1}: {server.name}: {result['cpu_us_per_msg']:.0f} µs, "
                          f"{result['msgs_per_s']:,.0f} msg/s", flush=True)
        finally:
            for server in servers:
                server.stop()
    first = servers[0].name
    print(f"\n| server ({args.rounds} rounds, medians) | server CPU µs per message | msg/s |")
    print("|---|---|---|")
    for name in cpu:
        c, r = statistics.median(cpu[name]), statistics.median(rate[name])
        print(f"| {name} | {c:.0f} ({c / statistics.median(cpu[first]):.2f}×) "
              f"| {r:,.0f} ({r / statistics.median(rate[first]):.2f}×) |")


if __name__ == "__main__":
    main()

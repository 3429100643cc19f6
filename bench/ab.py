"""Two or more livechat servers, the throughput phase of bench/run.py on each in turn, round after
round: for a lever whose effect is smaller than the noise of one run on a shared machine.

    .venv/bin/python -m bench.ab --compare ../without-it                 # memory broker
    .venv/bin/python -m bench.ab --compare ../without-it --redis redis://127.0.0.1:6379/0
    .venv/bin/python -m bench.ab --compare ../without-it --redis … --workers 2
    .venv/bin/python -m bench.ab --compare ../without-it --rate 1000      # p50 and p99 instead
    .venv/bin/python -m bench.ab --baselines --rate 1000   # the relay and the committed relay too

Every server is started once and kept; each round runs the same load on each of them, one after
the other, and the medians over the rounds are printed (server CPU µs per delivered message, and
messages per second), with each one's ratio to the first (this checkout). With ``--rate``, each
round is bench/run.py's latency phase at that offered load instead (``--seconds`` long), and
the medians are of its p50 and p99, and of the busiest server thread's share of a core (the
event loop's: near 100 % every message queues for it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.scenarios import FAULTS, latency, throughput
from bench.targets import CommittedRelay, Livechat, Relay, Target, serving


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", type=Path, action="append", default=[], metavar="CHECKOUT")
    parser.add_argument("--redis", default="", help="the broker: this Redis (default: memory)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--baselines", action="store_true",
                        help="also the bare relay and the committed relay "
                        "(bench/committed_relay.py)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--messages", type=int, default=500, help="per pair and round")
    parser.add_argument("--rate", type=float, default=0,
                        help="measure latency at this offered load (msg/s) instead")
    parser.add_argument("--seconds", type=float, default=5, help="of each latency round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serving() as servers:
        for root in [None, *(c.resolve() for c in args.compare)]:
            servers.append(Livechat(Path(tmp), args.redis or None, workers=args.workers,
                                    root=root, label=f" @ {root.name}" if root else ""))
        if args.baselines:
            servers.append(Relay())
            servers.append(CommittedRelay(Path(tmp)))
        names = LATENCY if args.rate else ["cpu_us_per_msg", "msgs_per_s"]

        def measure(server: Target) -> dict[str, Any]:
            if args.rate:
                return asyncio.run(latency(server, args.pairs, args.rate, args.seconds))
            return asyncio.run(throughput(server, args.pairs, args.messages, 20))

        cols = alternate(servers, args.rounds, measure, names)
    print(f"\n| server ({args.rounds} rounds, medians) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    base = [statistics.median(c) for c in cols[servers[0].name]]
    for server_name, server_cols in cols.items():
        medians = [statistics.median(c) for c in server_cols]
        print(f"| {server_name} | " + " | ".join(
            f"{m:,.2f} ({m / b:.2f}×)" if b else f"{m:,.2f}" for m, b in zip(medians, base,
                                                                            strict=True)) + " |")


#: What a latency round reports (bench.scenarios.latency).
LATENCY = ["p50_ms", "p99_ms", "busiest_pct", "server_pct", "client_pct"]


def alternate(servers: list[Target], rounds: int, measure: Callable[[Target], dict[str, Any]],
              names: list[str]) -> dict[str, list[list[float]]]:
    """``measure`` every server once a round, in turn, the order reversed every other round
    (neither is always first on a warming machine), each result printed: for each server, its
    values of ``names``, one per round. A round that lost, doubled or reordered a message ends
    the run (the caller stops the servers: ``bench.targets.serving``)."""
    cols: dict[str, list[list[float]]] = {s.name: [[] for _ in names] for s in servers}
    for n in range(rounds):
        for server in servers if n % 2 == 0 else servers[::-1]:
            result = measure(server)
            if any(result.get(key) for key in FAULTS):
                raise SystemExit(f"NOT CORRECT: {server.name}: {result}")
            for col, name in zip(cols[server.name], names, strict=True):
                col.append(result[name])
            print(f"round {n + 1}: {server.name}: " +
                  ", ".join(f"{name} {result[name]:,.2f}" for name in names), flush=True)
    return cols


if __name__ == "__main__":
    main()

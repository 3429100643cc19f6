"""The loop's budget: how much CPU per message a server can add to the committed relay (the
least the guarantee costs, bench/committed_relay.py) before its p99 at a given rate passes a
target. Each added microsecond is spent on the event loop for every message read, as a
product's parsing, checks, SQL and frames would be. livechat is measured in the same rounds,
so that its place on the curve can be read off.

    python -m bench.budget --rate 5000 --extra 0,25,50,75,100 --rounds 4

Rounds alternate the order of the servers, as bench.ab's do; the table gives medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.ab import LATENCY as NAMES
from bench.ab import alternate
from bench.scenarios import latency
from bench.targets import CommittedRelay, Livechat, serving


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--extra", default="0,25,50,75,100",
                        help="µs of CPU per message on the floor's loop, comma-separated")
    parser.add_argument("--target-ms", type=float, default=6.0, help="the p99 to stay within")
    parser.add_argument("--no-livechat", action="store_true")
    args = parser.parse_args()
    extras = [int(x) for x in args.extra.split(",")]
    with tempfile.TemporaryDirectory() as tmp, serving() as servers:
        for extra in extras:
            servers.append(CommittedRelay(Path(tmp), extra))
        if not args.no_livechat:
            servers.append(Livechat(Path(tmp)))
        cols = alternate(servers, args.rounds, lambda server: asyncio.run(
            latency(server, args.pairs, args.rate, args.seconds)), NAMES)
    print(f"\n| server ({args.rounds} rounds of {args.seconds:g} s at {args.rate:,.0f} msg/s, "
          f"{args.pairs} pairs; medians) | " + " | ".join(NAMES) + " |")
    print("|---|" + "---|" * len(NAMES))
    medians = {name: [statistics.median(c) for c in server_cols]
               for name, server_cols in cols.items()}
    for name, row in medians.items():
        print(f"| {name} | " + " | ".join(f"{m:,.2f}" for m in row) + " |")
    within = [extra for extra, server in zip(extras, servers, strict=False)
              if medians[server.name][1] <= args.target_ms]
    # (single rounds vary severalfold on a shared machine: read the whole curve, not one point)
    print(f"\nadded per message with the median p99 within {args.target_ms:g} ms: "
          + (", ".join(f"{extra} µs" for extra in within) if within else "none"))


if __name__ == "__main__":
    main()

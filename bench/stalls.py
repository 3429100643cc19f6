"""What the slowest messages waited for: livechat served with ``bench/stall_trace`` loaded
(it records, with times, the store's batches, the checkpoints, the high-water mark's writes,
the search index's steps, garbage collections and the event loop's lateness), a latency
phase whose every message's send time and latency are kept, and for each kind of event the
share of the slowest 1 % of messages whose flight overlapped one, against the share of all
messages. A kind far more common among the slow than among all is where the tail comes from.

    python -m bench.stalls --rate 1000 --pairs 10 --rounds 4
    python -m bench.stalls --rate 5000 --pairs 20 --compare ../other-checkout

Not a measure of speed (the tracing costs a little); a way to find the next lever.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.scenarios import latency
from bench.targets import ROOT, Livechat

Span = tuple[float, float]


def overlapping(spans: list[Span], starts: list[float], longest: float, flight: Span) -> bool:
    """Whether any of ``spans`` (sorted, their ``starts`` beside) overlaps ``flight``."""
    first = bisect.bisect_left(starts, flight[0] - longest)
    for start, end in spans[first:]:
        if start > flight[1]:
            return False
        if end >= flight[0]:
            return True
    return False


def report(flights: list[tuple[float, float]], events: Path, sample: int = 4000) -> str:
    spans: dict[str, list[Span]] = defaultdict(list)
    for line in events.read_text().splitlines():
        kind, start, end, _ = line.split("\t")
        spans[kind].append((float(start), float(end)))
    p99 = statistics.quantiles([lat for _, lat in flights], n=100)[98]
    slow = [(sent, sent + lat / 1000) for sent, lat in flights if lat >= p99]
    everyone = [(sent, sent + lat / 1000)
                for sent, lat in random.Random(1).sample(flights, min(sample, len(flights)))]
    lines = [f"{len(flights):,} messages, p99 {p99:.2f} ms; {len(slow)} at or above it",
             "", "| event | of the slowest 1 % | of all | count | mean ms | longest ms |",
             "|---|---|---|---|---|---|"]
    rows = []
    for kind, found in spans.items():
        found.sort()
        starts = [s for s, _ in found]
        longest = max(e - s for s, e in found)
        share = [sum(overlapping(found, starts, longest, f) for f in group) / len(group) * 100
                 for group in (slow, everyone)]
        lengths = [(e - s) * 1000 for s, e in found]
        rows.append((share[0] - share[1], f"| {kind} | {share[0]:.1f} % | {share[1]:.1f} % | "
                     f"{len(found):,} | {statistics.mean(lengths):.2f} | {max(lengths):.2f} |"))
    lines += [row for _, row in sorted(rows, reverse=True)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--compare", type=Path, help="serve this checkout instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.tsv"
        os.environ["STALLS_OUT"] = str(events)  # (the server's environment is built from ours)
        server = Livechat(Path(tmp), root=args.compare.resolve() if args.compare else None,
                          path_first=ROOT / "bench" / "stall_trace")
        flights: list[tuple[float, float]] = []
        try:
            for n in range(args.rounds):
                result = asyncio.run(latency(server, args.pairs, args.rate, args.seconds, flights))
                print(f"round {n + 1}: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} "
                      f"ms, the loop {result['busiest_pct']:.0f} %", flush=True)
            time.sleep(0.5)  # the server writes its events down every 0.25 s
        finally:
            server.stop()
        print()
        print(report(flights, events))


if __name__ == "__main__":
    main()

"""What a visitor's hello pays for the widget's "typically replies in …"
(``Store.typical_reply``): a site with ``--conversations`` conversations of ``--messages``
messages each (a visitor's first message, a person's claim, then replies and the visitor's
answers in turn; every fifth conversation answered by a bot first and handed off), written
through the store, then ``typical_reply`` called ``--calls`` times, and as a visitor's hello
asks for it since 2026-12-07: through ``server.typical.TypicalReplies`` (kept a minute).

    python -m bench.typical_reply --conversations 250 --messages 21 --calls 2000
    python -m bench.typical_reply --postgres postgresql://postgres@127.0.0.1:5432/bench

Printed: per store, the value and the median and p90 of the per-call time (ms), over rounds of
``--calls`` calls each. Not a test: a way to compare before and after a change.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from server.store.bots import Bots
from server.store.postgres import PostgresStore
from server.store.sqlite import SQLiteStore
from server.typical import TypicalReplies


async def fill(store: Any, now: list[float], conversations: int, messages: int) -> str:
    def tick(seconds: float) -> None:
        now[0] += seconds

    site = (await store.create_site("Bench", ["https://bench.test"])).id
    await store.create_agent("ana@bench.test", "Ana", "h", "agent", [site])
    ana = await store.agent_by_email("ana@bench.test")
    bots = Bots(store)
    bot = await bots.create(site, "Ava")
    sites = [site]
    for n in range(conversations):
        tick(60)
        visitor = f"vis_{n}"
        conv = (await store.append_visitor_message(site, visitor, f"c{n}-0", "hello")
                ).conversation.id
        written = 1
        if n % 5 == 0:  # a bot answers first, then hands off
            await store.claim(bot, sites, conv)
            tick(2)
            await store.append_agent_message(bot, sites, conv, f"c{n}-b", "I am a bot")
            tick(10)
            await bots.handoff(sites, conv)
            written += 3
        tick(30 + n % 7)
        await store.claim(ana, sites, conv)
        written += 1
        turn = 0
        while written < messages:
            tick(5 + n % 11)
            if turn % 2 == 0:
                await store.append_agent_message(ana, sites, conv, f"c{n}-{written}", "reply")
            else:
                await store.append_visitor_message(site, visitor, f"c{n}-{written}", "answer")
            turn += 1
            written += 1
        await store.resolve(ana, sites, conv)
    return site


async def measure(ask: Any, site: str, calls: int, rounds: int) -> tuple[Any, list[float]]:
    value = await ask(site)
    per_call = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            await ask(site)
        per_call.append((time.perf_counter() - started) / calls * 1000)
    return value, per_call


async def run(args: argparse.Namespace) -> None:
    stores: list[tuple[str, Any]] = []
    now = [1_800_000_000.0]
    folder = tempfile.TemporaryDirectory()
    stores.append(("sqlite", SQLiteStore(str(Path(folder.name) / "bench.db"),
                                         clock=lambda: now[0])))
    if args.postgres:
        stores.append(("postgresql", PostgresStore(args.postgres, clock=lambda: now[0])))
    for name, store in stores:
        await store.open()
        try:
            site = await fill(store, now, args.conversations, args.messages)
            kept = TypicalReplies(store, time.monotonic)
            for how, ask in (("typical_reply", store.typical_reply), ("a hello's", kept.get)):
                value, per_call = await measure(ask, site, args.calls, args.rounds)
                per_call.sort()
                p90 = per_call[max(0, int(0.9 * len(per_call)) - 1)]
                print(f"{name}: {how} = {value:.3f} s; per call "
                      f"median {statistics.median(per_call):.4f} ms, p90 {p90:.4f} ms "
                      f"({args.rounds} rounds of {args.calls})")
        finally:
            await store.close()
    folder.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=250)
    parser.add_argument("--messages", type=int, default=21)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--postgres", help="an empty PostgreSQL database's URL")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

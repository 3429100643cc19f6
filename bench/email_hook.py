"""What email costs an agent's reply: agent replies appended straight to the store, with and
without the email outbox's append hook (docs/email.md, "Cost").

    python -m bench.email_hook [--replies 5000] [--rounds 3]

Each round: 50 conversations whose visitors left an address; ``--replies`` agent replies sent
at once (group commit), timed; the best round of each kind is printed. The hook looks for the
conversation's waiting email job and the visitor's address inside each reply's transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from server.mail.addresses import new_key
from server.store import SQLiteStore
from server.store.outbox import Outbox


async def rate(hook: bool, replies: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteStore(Path(directory) / "bench.db", clock=time.time)
        await store.open()
        try:
            site = await store.create_site("Bench", [])
            agent = await store.create_agent("a@bench.test", "A", "x", "agent", [site.id])
            if hook:
                Outbox(store, delay_ms=120_000, new_key=new_key).install()
            conversations = []
            for i in range(50):
                change = await store.append_visitor_message(site.id, f"vis_{i}", "m", "hi")
                await store.set_visitor_profile(site.id, f"vis_{i}", "V", f"v{i}@bench.test")
                conversations.append(change.conversation.id)
            start = time.perf_counter()
            await asyncio.gather(*[
                store.append_agent_message(agent, [site.id], conversations[i % 50], f"a{i}",
                                           "hello") for i in range(replies)])
            return replies / (time.perf_counter() - start)
        finally:
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best = {False: 0.0, True: 0.0}
    for _ in range(args.rounds):
        for hook in (False, True):
            best[hook] = max(best[hook], await rate(hook, args.replies))
    print(f"agent replies/s without email: {best[False]:,.0f}")
    print(f"agent replies/s with email on: {best[True]:,.0f} "
          f"({100 * (1 - best[True] / best[False]):.0f}% less)")


if __name__ == "__main__":
    asyncio.run(main())

"""Writer cost of the webhook outbox hook: N visitor messages (one site, no endpoints / one
endpoint subscribed), through the real store's group commit."""
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.store import SQLiteStore
from server.store.webhooks import Webhooks

N = 3000

async def run(hook: str) -> float:
    """none: no hook; hook: the outbox hook, no endpoint; endpoint: one subscribed."""
    with tempfile.TemporaryDirectory() as d:
        store = SQLiteStore(Path(d) / "b.db", clock=time.time)
        await store.open()
        site = await store.create_site("s", [])
        if hook != "none":
            hooks = Webhooks(store)
            if hook == "endpoint":
                await hooks.create(site.id, "https://93.184.215.14/x", ["message.created"])
        start = time.perf_counter()
        await asyncio.gather(*(store.append_visitor_message(site.id, f"v{i % 300}", f"m{i}",
                                                            "hello there") for i in range(N)))
        took = time.perf_counter() - start
        await store.close()
        return took

async def main() -> None:
    best = {}
    for _ in range(6):
        for hook in ("none", "hook", "endpoint"):
            t = await run(hook)
            best[hook] = min(best.get(hook, 1e9), t)
    for hook, t in best.items():
        print(f"{hook:9} best of 6: {N / t:8.0f} msg/s  {t / N * 1e6:6.1f} us/msg")
asyncio.run(main())

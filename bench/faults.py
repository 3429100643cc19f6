"""Faults at full load: the WAL's peak under sustained maximum writes, and a full disk.

    .venv/bin/python -m bench.faults                    # 5 minutes on 1 and on 3 processes, then
                                                        # a full disk for 10 s (needs root: tmpfs)
    .venv/bin/python -m bench.faults --seconds 30       # shorter
    .venv/bin/python -m bench.faults --only disk

* **WAL**: N visitors (``--visitors``, 40) send as fast as their acks allow (20 in flight each) to
  1 process, then to 3 processes sharing the file and a Redis of this run's own; the ``-wal``
  file's size is sampled every 20 ms. Reported: messages/s, the WAL's peak and its ratio to
  ``LIVECHAT_WAL_LIMIT_BYTES`` (default 64 MiB).
* **Full disk**: the same load on one process whose database lives on a 256 MiB tmpfs; after
  warming up, the disk is filled to the last byte for 10 s and then freed. Reported: writes
  refused (``unavailable``), seconds from the space returning to the first acknowledged message
  and to ``/healthz`` 200, and the log lines the episode wrote.

After each scenario the checker of tests/faults.py verifies that every acknowledged message is
stored exactly once and every visitor's transcript equals the store's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults import FAST, Chatter, check, fill, small_disk, until_health  # noqa: E402
from tests.live import ServerProcess, seed  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

LIMIT = 64 * 1024 * 1024


def wal_size(db: Path) -> int:
    try:
        return os.stat(f"{db}-wal").st_size
    except FileNotFoundError:
        return 0


async def sustained(db: Path, servers: list[ServerProcess], site_id: str, visitors: int,
                    seconds: float, on_ack: object = None) -> tuple[list[Chatter], int]:
    """Chatters that keep sending for ``seconds``; returns them and the messages acknowledged."""
    chatters = [Chatter([servers[i % len(servers)]], site_id, f"c{i}", body_chars=120)
                for i in range(visitors)]
    deadline = time.monotonic() + seconds

    async def keep_on(chatter: Chatter) -> None:
        while time.monotonic() < deadline:
            await chatter.chat(200, window=20)

    await asyncio.gather(*(keep_on(c) for c in chatters))
    return chatters, sum(len(c.acked) for c in chatters)


async def wal_scenario(processes: int, visitors: int, seconds: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        seeded = await seed(db)
        redis = RedisServer(Path(tmp)).start() if processes > 1 else None
        env = dict(FAST)
        if redis is not None:
            env.update(LIVECHAT_REDIS_URL=redis.url, LIVECHAT_REDIS_PREFIX="bench")
        servers = [ServerProcess(db, env=env).start() for _ in range(processes)]
        peak, samples = 0, 0
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak, samples
            while not done.is_set():
                peak = max(peak, wal_size(db))
                samples += 1
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        began = time.monotonic()
        try:
            chatters, acked = await sustained(db, servers, seeded.site_id, visitors, seconds)
            elapsed = time.monotonic() - began
            done.set()
            await sampler
            await check(db, chatters)
        finally:
            for server in servers:
                server.stop()
            if redis is not None:
                redis.stop()
        return (f"| {processes} | {seconds:.0f} | {acked / elapsed:,.0f} | {acked:,} | "
                f"{peak / 2**20:.1f} MiB | {peak / LIMIT:.2f} | ok |")


async def disk_scenario(visitors: int, warmup: float, full_for: float) -> str:
    with tempfile.TemporaryDirectory() as tmp, small_disk(Path(tmp) / "disk", 256) as disk:
        db = disk / "bench.db"
        seeded = await seed(db)
        server = ServerProcess(db, env={**FAST, "LIVECHAT_HEALTH_TIMEOUT": "1"},
                               log_dir=Path(tmp)).start()
        acks: list[float] = []
        acked_again = asyncio.Event()

        def acked() -> None:
            acks.append(time.monotonic())
            acked_again.set()

        chatters = [Chatter([server], seeded.site_id, f"c{i}", body_chars=120, on_ack=acked)
                    for i in range(visitors)]
        stop_at = [time.monotonic() + 3600.0]

        async def keep_on(chatter: Chatter) -> None:
            while time.monotonic() < stop_at[0]:
                await chatter.chat(100, window=20)

        talking = asyncio.gather(*(keep_on(c) for c in chatters))
        try:
            await asyncio.sleep(warmup)
            filler = fill(disk)
            await asyncio.sleep(full_for)
            before = len(acks)
            acked_again.clear()
            freed = time.monotonic()
            filler.unlink()
            await acked_again.wait()
            first_ack = acks[before] - freed
            await until_health(server, lambda status, body: status == 200, timeout=60)
            healthy = time.monotonic() - freed
            stop_at[0] = time.monotonic() + 5
            await talking
            await check(db, chatters)
        finally:
            server.stop()
        refused = sum(c.errors["unavailable"] for c in chatters)
        lines = [line for line in server.log().splitlines() if line.strip()]
        return (f"| {visitors} | {full_for:.0f} s | {refused:,} | {first_ack:.2f} s | "
                f"{healthy:.2f} s | {len(lines)}: {' / '.join(lines)[:300]} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--visitors", type=int, default=40)
    parser.add_argument("--only", choices=["wal", "disk"])
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    if args.only in (None, "wal"):
        print("| processes | seconds | msg/s | messages | WAL peak | peak / limit | checker |")
        print("|---|---|---|---|---|---|---|")
        for processes in (1, 3):
            print(await wal_scenario(processes, args.visitors, args.seconds), flush=True)
        print()
    if args.only in (None, "disk"):
        print("| visitors | disk full for | writes refused | first ack after space returned | "
              "/healthz 200 after | log lines |")
        print("|---|---|---|---|---|---|")
        print(await disk_scenario(args.visitors, 10, 10), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

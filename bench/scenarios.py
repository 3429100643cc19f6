"""The scenarios of bench/run.py, each against one target (bench/targets.py): throughput at
saturation, latency at a fixed load, memory per idle socket, visitors dropped at once and
resuming, and opening and searching a prefilled store; and the check that nothing was lost,
doubled or reordered."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.targets import (
    STALL,
    WORDS,
    Livechat,
    Pair,
    Target,
    busiest_thread_pct,
    clock_ms,
    cpu_seconds,
    machine_busy_pct,
    machine_jiffies,
    recv,
    rss_kib,
    thread_seconds,
)


async def throughput(target: Target, pairs: int, per_pair: int, window: int) -> dict[str, Any]:
    made = [await target.pair(i) for i in range(pairs)]
    cpu0, t0, own0, machine0 = (cpu_seconds(target.pid), time.perf_counter(),
                                time.process_time(), machine_jiffies())

    async def run(pair: Pair) -> None:
        credit = asyncio.Semaphore(window)

        async def receive() -> None:
            got = 0
            while got < per_pair:
                try:
                    raw = await asyncio.wait_for(pair.receiver.recv(), STALL)
                except TimeoutError:
                    return  # what did not come is counted as lost below
                if pair.received(raw) is not None:
                    got += 1
                    credit.release()

        reader = asyncio.create_task(receive())
        for _ in range(per_pair):
            try:
                await asyncio.wait_for(credit.acquire(), STALL)
            except TimeoutError:
                break
            await pair.send(clock_ms())
        await reader

    await asyncio.gather(*(run(p) for p in made))
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(target.pid) - cpu0
    client = time.process_time() - own0
    machine = machine_busy_pct(machine0, machine_jiffies())
    checked = check(made, per_pair)
    for p in made:
        await p.sender.close()
        await p.receiver.close()
    total = pairs * per_pair
    # The load generator's CPU and the machine's: at saturation, whether a core was left for
    # anything else (two server processes, say) to use.
    return {"msgs_per_s": total / elapsed, "cpu_us_per_msg": cpu / total * 1e6,
            "client_us_per_msg": client / total * 1e6, "machine_busy_pct": machine, **checked}



#: What a phase is checked for (``check``): any of these above zero is a wrong result.
FAULTS = ("lost", "doubled", "disordered", "closed")


def check(pairs: list[Pair], per_pair: int) -> dict[str, int]:
    """Lost and doubled messages: every pair's receiver must have got seq 2 … per_pair + 1 (the
    conversation's first message, seq 1, was read before the run) exactly once, in order. And
    sockets the server closed (a sender cut off as a slow consumer, 4008, whose acks nobody
    else counts), while the phase is still open."""
    if not any(p.seen for p in pairs):
        return {}  # the relay: nothing to check against
    lost = doubled = disordered = 0
    for p in pairs:
        lost += len(set(range(2, per_pair + 2)) - set(p.seen))
        doubled += len(p.seen) - len(set(p.seen))
        disordered += sum(1 for a, b in zip(p.seen, p.seen[1:], strict=False) if b <= a)
    closed = sum(1 for p in pairs for ws in (p.sender, p.receiver) if ws.close_code is not None)
    return {"lost": lost, "doubled": doubled, "disordered": disordered, "closed": closed}


#: A server is quiet when it used less than this share of a core over ``QUIET_WINDOW`` seconds.
QUIET_SHARE = 0.05
QUIET_WINDOW = 0.5


async def quiet(target: Target, within: float = 120.0) -> float:
    """Wait until the server is idle, at most ``within`` seconds: the seconds waited. What a
    phase leaves to do (livechat indexing the saturation phase's messages for search, up to
    90,000 of them) is then not measured as part of the next phase's steady load."""
    t0 = time.perf_counter()
    used = cpu_seconds(target.pid)
    while time.perf_counter() - t0 < within:
        await asyncio.sleep(QUIET_WINDOW)  # (a benchmark sampling the server's CPU)
        now = cpu_seconds(target.pid)
        if now - used < QUIET_SHARE * QUIET_WINDOW:
            break
        used = now
    return time.perf_counter() - t0


async def latency(target: Target, pairs: int, rate: float, seconds: float,
                  flights: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    """p50 and p99 at ``rate`` messages a second over ``pairs`` pairs, once the server is
    quiet (``quiet``); meanwhile, the busiest server thread's share of a core, all the
    server's threads' together, and the load generator's own (this process: on a machine of
    two cores, what the three leave idle is all the headroom there is). ``flights``: each
    message's send time (``perf_counter`` seconds) and latency (ms) are added to it."""
    waited = await quiet(target)
    made = [await target.pair(i + 10_000) for i in range(pairs)]
    per_pair = int(rate / pairs * seconds)
    interval = pairs / rate
    samples: list[float] = []

    async def run(pair: Pair, offset: float) -> None:
        async def receive() -> None:
            got = 0
            while got < per_pair:
                sent = pair.received(await recv(pair.receiver, "measuring latency"))
                if sent is not None:
                    samples.append(clock_ms() - sent)
                    if flights is not None:
                        flights.append((sent / 1000, samples[-1]))
                    got += 1

        reader = asyncio.create_task(receive())
        start = time.perf_counter() + offset
        for i in range(per_pair):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the offered load (a benchmark, not a test)
            await pair.send(clock_ms())
        await reader

    threads0, cpu0, t0, own0 = (thread_seconds(target.pid), cpu_seconds(target.pid),
                                time.perf_counter(), time.process_time())
    await asyncio.gather(*(run(p, i * interval / pairs) for i, p in enumerate(made)))
    elapsed = time.perf_counter() - t0
    busiest = busiest_thread_pct(threads0, thread_seconds(target.pid), elapsed)
    server_pct = (cpu_seconds(target.pid) - cpu0) / elapsed * 100
    client_pct = (time.process_time() - own0) / elapsed * 100
    for p in made:
        await p.sender.close()
        await p.receiver.close()
    qs = statistics.quantiles(samples, n=100)
    return {"p50_ms": statistics.median(samples), "p99_ms": qs[98], "busiest_pct": busiest,
            "server_pct": server_pct, "client_pct": client_pct, "quiet_after_s": waited}


async def memory(target: Target, count: int) -> dict[str, Any]:
    await asyncio.sleep(0.5)
    before = rss_kib(target.pid)
    conns = [await target.idle() for _ in range(count)]
    await asyncio.sleep(0.5)
    after = rss_kib(target.pid)
    for c in conns:
        await c.close()
    return {"kib_per_socket": (after - before) / count}


async def reconnect(target: Livechat, count: int) -> dict[str, Any]:
    """``count`` visitors, each with a conversation, lose their sockets at once (aborted, no
    close handshake, as when a network drops) and all reconnect together: the seconds until the
    last of them has its ``welcome`` and every message of its conversation again."""
    visitors: list[tuple[str, str, str]] = []
    sockets = []
    for i in range(count):
        ws = await connect(f"{target.server.ws}/ws/visitor", origin=target.server.http,  # type: ignore[arg-type]
                           compression=None)
        await ws.send(orjson.dumps({"type": "hello", "v": 1,
                                    "site": target.seeded.site_id}).decode())
        while (welcome := orjson.loads(await recv(ws, "waiting for a welcome")))["type"] \
                != "welcome":
            # Another frame may come first (an error says why the run cannot go on).
            assert welcome["type"] != "error", welcome
        token = welcome["token"]
        await ws.send(orjson.dumps({"type": "send", "id": "m", "body": f"hello {i}"}).decode())
        while (frame := orjson.loads(await recv(ws, "waiting for an ack")))["type"] != "ack":
            pass
        visitors.append((token, frame["conversation_id"], f"hello {i}"))
        sockets.append(ws)
    for ws in sockets:
        ws.transport.abort()
    t0 = time.perf_counter()

    async def resume(token: str, conversation_id: str, body: str) -> float:
        ws = await connect(f"{target.server.ws}/ws/visitor", origin=target.server.http,  # type: ignore[arg-type]
                           compression=None, open_timeout=60)
        await ws.send(orjson.dumps({"type": "hello", "v": 1, "site": target.seeded.site_id,
                                    "token": token, "conversation_id": conversation_id,
                                    "last_seq": 0}).decode())
        while True:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), STALL))
            if frame["type"] == "message" and frame["seq"] == 1:
                if frame["body"] != body:
                    raise RuntimeError(f"resumed into another conversation: {frame}")
                break
        done = time.perf_counter() - t0
        await ws.close()
        return done

    times = await asyncio.gather(*(resume(*v) for v in visitors))
    return {"resume_all_s": max(times), "resume_p50_s": statistics.median(times),
            "resumed": len(times)}


async def big_store(target: Livechat, requests: int) -> dict[str, Any]:
    """With the store prefilled: an agent opens conversations (their last 50 messages, as the
    panel does with ``history``) and searches, one request at a time; p99 of each."""
    cookie = {"Cookie": f"livechat_agent={await target._cookie()}"}
    ws = await connect(f"{target.server.ws}/ws/agent", origin=target.server.http,  # type: ignore[arg-type]
                       compression=None, additional_headers=cookie, max_size=2**24)
    await ws.send('{"type":"hello","v":1}')
    await recv(ws, "waiting for an agent's welcome")
    ids: list[str] = []
    page: dict[str, Any] = {}
    while len(ids) < 2000:
        await ws.send(orjson.dumps({"type": "list", "id": "l", "limit": 200, **page}).decode())
        ack = await _answer(ws, "l")
        ids += [c["id"] for c in ack["conversations"]]
        if not ack["next"]:
            break
        page = ack["next"]
    rng = random.Random(11)

    async def timed(frame: dict[str, Any]) -> float:
        t = clock_ms()
        await ws.send(orjson.dumps(frame).decode())
        ack = await _answer(ws, frame["id"])
        assert ack.get("messages") or ack.get("results") is not None, ack
        return clock_ms() - t

    opens = [await timed({"type": "history", "id": f"h{i}", "conversation_id": rng.choice(ids),
                          "before_seq": 1_000_000, "limit": 50}) for i in range(requests)]
    searches = [await timed({"type": "search", "id": f"s{i}",
                             "query": f"{rng.choice(WORDS)}{rng.randrange(40)}"})
                for i in range(requests // 5)]
    await ws.close()
    return {"open_p99_ms": statistics.quantiles(opens, n=100)[98],
            "search_p99_ms": statistics.quantiles(searches, n=100)[98]}


async def _answer(ws: ClientConnection, request: str) -> dict[str, Any]:
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), STALL))
        if frame.get("id") == request:
            if frame["type"] != "ack":
                raise RuntimeError(f"refused: {frame}")
            return frame  # type: ignore[no-any-return]


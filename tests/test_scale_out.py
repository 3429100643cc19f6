"""Several server processes sharing one Redis and one SQLite file behave as one.

Each test starts its own redis-server on a free port (so it may kill it) and two `livechat serve`
processes on two ports."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from server.store import SQLiteStore
from tests.live import Seed, ServerProcess, agent, health, login, seed, visitor
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow
FAST = {"LIVECHAT_RATE_PER_SECOND": "10000", "LIVECHAT_RATE_BURST": "10000"}


@dataclass
class Cluster:
    redis: RedisServer
    a: ServerProcess
    b: ServerProcess
    db: Path
    seeded: Seed


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    db = tmp_path / "shared.db"
    seeded = asyncio.run(seed(db))
    own_redis = RedisServer(tmp_path).start()
    env = {**FAST, "LIVECHAT_REDIS_URL": own_redis.url, "LIVECHAT_REDIS_PREFIX": "lc"}
    a = ServerProcess(db, env=env).start()
    b = ServerProcess(db, env=env).start()
    try:
        yield Cluster(own_redis, a, b, db, seeded)
    finally:
        for proc in (a, b):
            proc.stop()
        own_redis.stop()
    for proc in (a, b):
        assert "Traceback" not in proc.log(), proc.log()


def transcript(db: Path, conversation_id: str) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT seq, body FROM messages WHERE conversation_id = ? "
                            "ORDER BY seq", (conversation_id,)).fetchall()


async def test_visitor_on_a_and_agent_on_b_chat_in_order(cluster: Cluster) -> None:
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    first = await v.request({"type": "send", "id": "v0", "body": "hello from A"})
    conv = first["conversation_id"]
    update = await ana.of_type("conversation")  # B's inbox learned of it through Redis
    assert update["conversation"]["id"] == conv
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    await ana.request({"type": "claim", "id": "c", "conversation_id": conv})
    for i in range(1, 30):
        if i % 3:
            await v.send({"type": "send", "id": f"v{i}", "body": f"visitor {i}"})
        else:
            await ana.send({"type": "send", "id": f"a{i}", "conversation_id": conv,
                            "body": f"agent {i}"})
    views = [[await c.of_type("message", seq=s) for s in range(1, 32)] for c in (v, ana)]
    stored = transcript(cluster.db, conv)
    assert len(stored) == 31
    for seen in views:
        assert [(m["seq"], m["body"]) for m in seen] == stored
    state = await health(cluster.a)
    assert state["broker"] == "ok" and state["store"] == "ok"
    for c in (v, ana):
        await c.close()


async def test_two_agents_on_two_processes_race_1000_times(cluster: Cluster) -> None:
    store = SQLiteStore(cluster.db, clock=time.time)
    await store.open()
    changes = await asyncio.gather(*(store.append_visitor_message(
        cluster.seeded.site_id, f"vis_r{i}", "m", "hi") for i in range(1000)))
    await store.close()
    ana, _ = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent_email))
    bo, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent2_email))
    wins = {"Ana": 0, "Bo": 0}
    for i, change in enumerate(changes):
        frame = {"type": "claim", "id": f"c{i}", "conversation_id": change.conversation.id}
        await asyncio.gather(ana.send(frame), bo.send(frame))
        results = await asyncio.gather(*(c.next(lambda f, i=i: f.get("id") == f"c{i}")
                                         for c in (ana, bo)))
        oks = [r for r in results if r["type"] == "ack"]
        assert len(oks) == 1, results
        assert [r["code"] for r in results if r["type"] == "error"] == ["already_claimed"]
        wins[oks[0]["conversation"]["assignee"]["name"]] += 1
    assert sum(wins.values()) == 1000 and min(wins.values()) > 0  # both processes won some
    with sqlite3.connect(cluster.db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT conversation_id) FROM messages "
                            "WHERE kind = 'joined'").fetchone() == (1000, 1000)
    for c in (ana, bo):
        await c.close()


async def test_kill_9_of_b_agent_resumes_on_a(cluster: Cluster) -> None:
    cookie = await login(cluster.a, cluster.seeded.agent_email)
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    conv = (await v.request({"type": "send", "id": "v0", "body": "m0"}))["conversation_id"]
    on_b, _ = await agent(cluster.b, cookie)
    await on_b.request({"type": "open", "id": "o", "conversation_id": conv})
    await on_b.request({"type": "claim", "id": "c", "conversation_id": conv})
    for i in range(1, 6):
        await v.request({"type": "send", "id": f"v{i}", "body": f"m{i}"})
    seen = [await on_b.of_type("message", seq=s) for s in range(1, 8)]
    cluster.b.kill9()
    assert await on_b.closed() in (1006, 1011, 1012)
    for i in range(6, 11):  # the visitor on A keeps going while B is dead
        await v.request({"type": "send", "id": f"v{i}", "body": f"m{i}"})
    on_a, _ = await agent(cluster.a, cookie)
    await on_a.request({"type": "open", "id": "o2", "conversation_id": conv,
                        "last_seq": seen[-1]["seq"]})
    seen += [await on_a.of_type("message", seq=s) for s in range(8, 13)]
    reply = await on_a.request({"type": "send", "id": "r", "conversation_id": conv,
                                "body": "still here"})
    assert reply["seq"] == 13
    seen.append(await on_a.of_type("message", seq=13))
    assert [(m["seq"], m["body"]) for m in seen] == transcript(cluster.db, conv)
    assert (await v.of_type("message", seq=13))["body"] == "still here"
    for c in (v, on_a):
        await c.close()


async def test_redis_killed_and_restarted_while_messages_flow(cluster: Cluster) -> None:
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m0", "body": "0"}))["conversation_id"]
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    acked = 1
    for i in range(1, 121):
        if i == 40:
            cluster.redis.kill9()
        if i == 70:
            cluster.redis.start()  # same port
        if i == 100:
            redis.Redis.from_url(cluster.redis.url).client_kill_filter(_type="pubsub")
        ack = await v.request({"type": "send", "id": f"m{i}", "body": str(i)})
        assert ack["type"] == "ack", ack  # sends keep committing while Redis is away
        acked += 1
    # Every socket ends with the full transcript, each seq once, in order.
    stored = transcript(cluster.db, conv)
    assert [s for s, _ in stored] == list(range(1, 122)) and acked == 121
    for client in (ana, v):
        seen = [await client.of_type("message", seq=s) for s in range(1, 122)]
        assert [(m["seq"], m["body"]) for m in seen] == stored
        assert len([f for f in client.frames if f.get("type") == "message"]) == 121
    # Both listeners resubscribed: a new conversation on A reaches B's inbox live.
    other, _ = await visitor(cluster.a, cluster.seeded.site_id)
    fresh = (await other.request({"type": "send", "id": "n", "body": "new"}))["conversation_id"]
    await ana.next(lambda f: f.get("type") == "conversation"
                   and f["conversation"]["id"] == fresh)
    for proc in (cluster.a, cluster.b):
        assert (await health(proc))["broker"] == "ok"
    for c in (v, ana, other):
        await c.close()


async def test_waiting_conversations_survive_a_restart_of_every_process(
        cluster: Cluster) -> None:
    for i in range(20):
        v, _ = await visitor(cluster.a if i % 2 else cluster.b, cluster.seeded.site_id)
        await v.request({"type": "send", "id": "m", "body": f"waiting {i}"})
        await v.close()
    for proc in (cluster.a, cluster.b):
        proc.kill9()
        proc.start()
    ana, welcome = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    waiting = [c for c in welcome["conversations"] if c["status"] == "waiting"]
    assert sorted(c["last_message"] for c in waiting) == sorted(f"waiting {i}" for i in range(20))
    await ana.close()


async def test_workers_flag_with_redis(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    await seed(db)
    own_redis = RedisServer(tmp_path).start()
    server = ServerProcess(db, env={"LIVECHAT_REDIS_URL": own_redis.url,
                                    "LIVECHAT_WORKERS": "2"})
    try:
        server.start()
        assert (await health(server))["broker"] == "ok"
    finally:
        server.stop()
        own_redis.stop()


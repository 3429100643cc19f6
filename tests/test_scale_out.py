"""Several server processes sharing one Redis and one SQLite file behave as one: delivery in
order, races, `kill -9` of a process and of Redis, restarts, `--workers`, files across machines
and a database outage during a catch-up. Routing: test_scale_out_routing.py; presence and the
panel's tools: test_scale_out_presence.py. The clusters: tests/cluster.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests import cluster as clusters
from tests import pg
from tests.cluster import Cluster, running, transcript
from tests.faults import until_health
from tests.live import (
    ServerProcess,
    agent,
    health,
    login,
    make_store,
    seed,
    visitor,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

cluster, redis_cluster = clusters.cluster, clusters.redis_cluster  # the fixtures


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
    store = make_store(cluster.db)
    await store.open()
    changes = await asyncio.gather(*(store.append_visitor_message(
        cluster.seeded.site_id, f"vis_r{i}", "m", "hi") for i in range(1000)))
    await store.close()
    ana, _ = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent_email))
    bo, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent2_email))
    wins = {"Ana": 0, "Bo": 0}
    for i, change in enumerate(changes):
        frame = {"type": "claim", "id": f"c{i}", "conversation_id": change.conversation.id}
        first, second = (ana, bo) if i % 2 else (bo, ana)
        await asyncio.gather(first.send(frame), second.send(frame))
        results = await asyncio.gather(*(c.next(lambda f, i=i: f.get("id") == f"c{i}")
                                         for c in (ana, bo)))
        oks = [r for r in results if r["type"] == "ack"]
        assert len(oks) == 1, results
        assert [r["code"] for r in results if r["type"] == "error"] == ["already_claimed"]
        wins[oks[0]["conversation"]["assignee"]["name"]] += 1
    assert sum(wins.values()) == 1000 and min(wins.values()) > 0  # both agents won some
    assert pg.rows(cluster.db, "SELECT count(*), count(DISTINCT conversation_id) FROM messages "
                   "WHERE kind = 'joined'") == [(1000, 1000)]
    for c in (ana, bo):
        await c.close()


async def test_kill_9_of_b_agent_resumes_on_a(redis_cluster: Cluster) -> None:
    cluster = redis_cluster
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


async def test_redis_killed_and_restarted_while_messages_flow(redis_cluster: Cluster) -> None:
    cluster = redis_cluster
    assert cluster.redis is not None
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
    for proc in cluster.processes:  # (a listener may still be resubscribing: it says so)
        await until_health(proc, lambda status, body: body["broker"] == "ok")
    for c in (v, ana, other):
        await c.close()


async def test_waiting_conversations_survive_a_restart_of_every_process(
        cluster: Cluster) -> None:
    for i in range(20):
        v, _ = await visitor(cluster.a if i % 2 else cluster.b, cluster.seeded.site_id)
        await v.request({"type": "send", "id": "m", "body": f"waiting {i}"})
        await v.close()
    for proc in cluster.processes:
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


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def postgres_cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running(tmp_path, "postgres") as c:
        yield c


async def test_files_uploaded_on_one_machine_are_served_by_the_other(
        postgres_cluster: Cluster, tmp_path: Path) -> None:
    """With PostgreSQL, attachments and agents' pictures are kept in the database: a file sent
    to machine A is served by machine B, and neither machine keeps it on its disk."""
    cluster = postgres_cluster
    v, welcome = await visitor(cluster.a, cluster.seeded.site_id)
    async with httpx.AsyncClient() as http:
        sent = await http.post(f"{cluster.a.http}/api/files", content=PNG, headers={
            "Origin": cluster.a.http, "X-File-Name": "shot.png",
            "Authorization": f"Bearer {welcome['token']}"})
        assert sent.status_code == 201, sent.text
        meta = sent.json()
        ack = await v.request({"type": "send", "id": "f1", "attachment": meta["id"]})
        assert ack["type"] == "ack"
        got = await http.get(cluster.b.http + meta["url"])
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert "sandbox" in got.headers["content-security-policy"]
        assert (await http.get(cluster.b.http + "/files/file_nope")).status_code == 404
        http.cookies.set("livechat_agent", await login(cluster.b, cluster.seeded.agent_email))
        picture = await http.post(f"{cluster.b.http}/api/agent/avatar", content=PNG,
                                  headers={"Origin": cluster.b.http})
        assert picture.status_code == 200, picture.text
        avatar = await http.get(cluster.a.http + picture.json()["agent"]["avatar"])
        assert avatar.status_code == 200 and avatar.content == PNG
    await v.close()
    kept = await asyncio.to_thread(lambda: {
        place.name for place in tmp_path.glob("machine-*/**/*") if place.is_file()})
    assert not any(name.startswith(("file_", "avatar_")) for name in kept), kept
    assert pg.rows(cluster.db, "SELECT count(*) FROM files") == [(2,)]


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running(tmp_path, "postgres", LIVECHAT_METRICS_TOKEN="m" * 32) as c:
        yield c


async def test_a_socket_whose_catch_up_meets_a_database_outage_is_told_and_closed(
        pg_cluster: Cluster) -> None:
    """The broker lost its subscriptions (every socket catches up from the store) while
    PostgreSQL cannot be reached. Before, the pump's failed read ended the socket with no close
    frame (1006, nothing logged but psycopg's own line); now the client is told ``unavailable``
    with its retry hint and closed with 4000 (reconnect and resume), as when a hello meets the
    outage. And the metrics are scraped all through it, saying so (the scrape was a 503: a
    failed scrape, and ``livechat_store_up`` never read)."""
    cluster = pg_cluster
    assert cluster.redis is not None and isinstance(cluster.db, str)
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m0", "body": "0"}))["conversation_id"]
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    name = cluster.db.rpartition("/")[2]
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))
            redis.Redis.from_url(cluster.redis.url).client_kill_filter(_type="pubsub")
            assert await ana.closed(timeout=30) == 4000
            async with httpx.AsyncClient(timeout=30) as http:
                scraped = await http.get(f"{cluster.a.http}/metrics",
                                         headers={"Authorization": "Bearer " + "m" * 32})
            assert scraped.status_code == 200, scraped.text
            assert "\nlivechat_store_up " in scraped.text and \
                "livechat_conversations_waiting{" not in scraped.text  # (unknown now)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    error = next(f for f in ana.frames if f.get("type") == "error")
    assert error["code"] == "unavailable" and error["retry_after"] > 0, error
    for c in (v, ana):
        await c.close()

"""Several server processes sharing one Redis and one SQLite file behave as one.

Each test starts its own redis-server on a free port (so it may kill it) and two `livechat serve`
processes on two ports."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests import pg
from tests.faults import until_health
from tests.live import (
    UNLIMITED,
    Client,
    Seed,
    ServerProcess,
    add_admin,
    agent,
    health,
    login,
    make_store,
    seed,
    visitor,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow
FAST = UNLIMITED


@dataclass
class Cluster:
    """Two server processes sharing Redis and the SQLite file — or, for the embedded mode, one
    process standing as both ``a`` and ``b``, so the same tests prove both modes."""

    redis: RedisServer | None
    a: ServerProcess
    b: ServerProcess
    #: The SQLite file, or the PostgreSQL database's URL.
    db: Path | str
    seeded: Seed

    @property
    def processes(self) -> list[ServerProcess]:
        return [self.a] if self.a is self.b else [self.a, self.b]


@contextlib.contextmanager
def running(tmp_path: Path, mode: str, **env: str) -> Iterator[Cluster]:
    """``mode``: memory (one process, SQLite), redis (two processes sharing Redis and the SQLite
    file), postgres (two "machines": each process in a folder of its own, sharing nothing but
    Redis and a PostgreSQL database)."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(_running(tmp_path, mode, stack, **env))


@contextlib.contextmanager
def _running(tmp_path: Path, mode: str, stack: contextlib.ExitStack,
             **env: str) -> Iterator[Cluster]:
    db: Path | str = tmp_path / "shared.db"
    places = [db, db]
    env = {**FAST, "LIVECHAT_ROUTING_INTERVAL": "0.2", **env}
    if mode == "postgres":
        db = stack.enter_context(pg.database())
        env["LIVECHAT_DATABASE_URL"] = db
        places = [tmp_path / "machine-a" / "livechat.db", tmp_path / "machine-b" / "livechat.db"]
        for place in places:
            place.parent.mkdir()
    seeded = asyncio.run(seed(db))
    own_redis = RedisServer(tmp_path).start() if mode != "memory" else None
    if own_redis is not None:
        env.update(LIVECHAT_REDIS_URL=own_redis.url, LIVECHAT_REDIS_PREFIX="lc")
    a = ServerProcess(places[0], env=env).start()
    b = ServerProcess(places[1], env=env).start() if own_redis is not None else a
    cluster = Cluster(own_redis, a, b, db, seeded)
    try:
        yield cluster
    finally:
        for proc in cluster.processes:
            proc.stop()
        if own_redis is not None:
            own_redis.stop()
    for proc in cluster.processes:
        assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture(params=["memory", "redis", "postgres"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """Both deployment modes."""
    with running(tmp_path, request.param) as c:
        yield c


@pytest.fixture(params=["redis", "postgres"])
def redis_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """Two processes and a Redis of our own, for the tests that kill one of them."""
    with running(tmp_path, request.param) as c:
        yield c


def transcript(db: Path | str, conversation_id: str) -> list[tuple[int, str]]:
    return pg.rows(db, "SELECT seq, body FROM messages WHERE conversation_id = ? ORDER BY seq",
                   (conversation_id,))


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



# --- routing across processes -----------------------------------------------------------------


async def _configure(db: Path | str, *, capacities: dict[str, int], site_id: str) -> None:
    store = make_store(db)
    await store.open()
    try:
        await store.set_site_options(site_id, auto_assign=True)
        for agent in await store.agents():
            if agent.name in capacities:
                await store.set_agent_capacity(agent.id, capacities[agent.name])
    finally:
        await store.close()


def open_counts(db: Path | str) -> dict[str | None, int]:
    return dict(pg.rows(db, "SELECT a.name, count(*) FROM conversations c LEFT JOIN agents a "
                        "ON a.id = c.assignee_id WHERE c.status != 'resolved' GROUP BY a.name"))


async def assigned_to(client: Client, name: str, count: int) -> None:
    """Await inbox updates until ``count`` distinct conversations have shown as assigned to
    ``name`` in everything the client has received."""
    async with asyncio.timeout(20):
        while True:
            seen = {f["conversation"]["id"] for f in client.frames
                    if f.get("type") == "conversation"
                    and (f["conversation"]["assignee"] or {}).get("name") == name}
            if len(seen) >= count:
                return
            await client.next(lambda f: f.get("type") == "conversation")


async def test_auto_assignment_never_exceeds_capacity(cluster: Cluster) -> None:
    await _configure(cluster.db, capacities={"Ana": 2, "Bo": 3}, site_id=cluster.seeded.site_id)
    ana, _ = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent_email))
    bo, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent2_email))

    async def arrive(i: int) -> Client:
        v, _ = await visitor(cluster.a if i % 2 else cluster.b, cluster.seeded.site_id)
        await v.request({"type": "send", "id": "m", "body": f"visitor {i}"})
        return v

    visitors = await asyncio.gather(*(arrive(i) for i in range(30)))  # all at the same instant
    await asyncio.gather(assigned_to(ana, "Ana", 2), assigned_to(bo, "Bo", 3))
    assert open_counts(cluster.db) == {"Ana": 2, "Bo": 3, None: 25}
    # A conversation resolved makes room: the oldest waiting one goes to that agent.
    mine = next(f["conversation"]["id"] for f in ana.frames if f.get("type") == "conversation"
                and (f["conversation"]["assignee"] or {}).get("name") == "Ana")
    await ana.request({"type": "resolve", "id": "r", "conversation_id": mine})
    await assigned_to(ana, "Ana", 3)
    assert open_counts(cluster.db) == {"Ana": 2, "Bo": 3, None: 24}
    for c in (ana, bo, *visitors):
        await c.close()


def _token(client: Client) -> str:
    return str(next(f["token"] for f in client.frames if f.get("type") == "welcome"))


async def test_waiting_conversations_are_dispatched_when_an_agent_comes_online(
        cluster: Cluster) -> None:
    await _configure(cluster.db, capacities={"Ana": 20}, site_id=cluster.seeded.site_id)
    visitors = []
    for i in range(20):
        v, _ = await visitor(cluster.a if i % 2 else cluster.b, cluster.seeded.site_id)
        await v.request({"type": "send", "id": "m", "body": f"waiting {i}"})
        visitors.append(v)
    # Everyone waits in the queue and is told where they stand.
    last = await visitors[-1].of_type("queue")
    assert last["position"] == 20 and last["expected_wait"] is None
    for v in visitors:
        await v.close()
    _, welcome = await visitor(cluster.b, cluster.seeded.site_id, token=_token(visitors[4]))
    assert welcome["queue"] == {"position": 5, "expected_wait": None}  # said again on connect
    for proc in cluster.processes:  # every process restarts; the queue is in the store
        proc.kill9()
        proc.start()
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    await assigned_to(ana, "Ana", 20)
    assert open_counts(cluster.db) == {"Ana": 20}
    await ana.close()


async def test_queue_position_moves_and_transfer_tells_the_visitor(cluster: Cluster) -> None:
    visitors = []
    for i in range(3):
        v, _ = await visitor(cluster.a, cluster.seeded.site_id)
        ack = await v.request({"type": "send", "id": "m", "body": f"waiting {i}"})
        visitors.append((v, ack["conversation_id"]))
    for position, (v, _) in enumerate(visitors, start=1):
        assert (await v.of_type("queue", position=position))["position"] == position
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    bo, welcome = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent2_email))
    first = visitors[0][1]
    await ana.request({"type": "claim", "id": "c", "conversation_id": first})
    assert (await visitors[1][0].of_type("queue", position=1))["position"] == 1
    assert (await visitors[2][0].of_type("queue", position=2))["position"] == 2

    bo_id = next(a["id"] for a in welcome["agents"] if a["name"] == "Bo")
    moved = await ana.request({"type": "transfer", "id": "t", "conversation_id": first,
                               "agent_id": bo_id})
    assert moved["conversation"]["assignee"]["name"] == "Bo"
    told = await visitors[0][0].next(lambda f: f.get("kind") == "transferred")
    assert told["author"]["name"] == "Bo"
    assert (await ana.request({"type": "send", "id": "s", "conversation_id": first,
                               "body": "mine?"}))["code"] == "not_assignee"
    assert (await bo.request({"type": "send", "id": "s", "conversation_id": first,
                              "body": "Bo here"}))["type"] == "ack"
    for c in (ana, bo, *(v for v, _ in visitors)):
        await c.close()


@pytest.fixture
def short_grace_cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running(tmp_path, "redis", LIVECHAT_PRESENCE_TTL="0.5",
                 LIVECHAT_REQUEUE_GRACE="0.5") as c:
        yield c


async def test_an_agent_gone_past_the_grace_period_loses_their_chats(
        short_grace_cluster: Cluster) -> None:
    cluster = short_grace_cluster
    await _configure(cluster.db, capacities={"Ana": 5, "Bo": 5},
                     site_id=cluster.seeded.site_id)
    ana, _ = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent_email))
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    await v.request({"type": "send", "id": "m", "body": "help"})
    joined = await v.next(lambda f: f.get("kind") == "joined", timeout=20)
    assert joined["author"]["name"] == "Ana"
    await ana.close()  # Ana's panel goes away and does not come back
    bo, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent2_email))
    # Bo keeps his presence fresh with application pings, as the panel does every 20 s; here
    # every 0.1 s against the 0.5 s ttl. (Pacing a heartbeat, not waiting for an event.)
    async def heartbeat() -> None:
        for i in range(600):
            await bo.send({"type": "ping", "id": f"p{i}"})
            await bo.of_type("pong", id=f"p{i}")
            await asyncio.sleep(0.1)
    beating = asyncio.create_task(heartbeat())
    requeued = await v.next(lambda f: f.get("kind") == "requeued", timeout=20)
    rejoined = await v.next(lambda f: f.get("kind") == "joined"
                            and f["seq"] > requeued["seq"], timeout=20)
    assert rejoined["author"]["name"] == "Bo"
    beating.cancel()
    for c in (v, bo):
        await c.close()


# --- presence, typing ---------------------------------------------------------------------------


async def test_typing_reaches_the_other_side(cluster: Cluster) -> None:
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "hi"}))["conversation_id"]
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    await ana.send({"type": "typing", "conversation_id": conv, "active": True})
    assert (await ana.of_type("error"))["code"] == "not_found"  # not open yet
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    await v.send({"type": "typing", "active": True})
    seen = await ana.of_type("typing")
    assert seen["author"] == {"type": "visitor", "name": None} and seen["active"] is True
    await ana.send({"type": "typing", "conversation_id": conv, "active": True})
    told = await v.next(lambda f: f.get("type") == "typing" and f["author"]["type"] == "agent")
    assert told["author"]["name"] == "Ana" and told["conversation_id"] == conv
    assert not [f for f in v.frames if f.get("type") == "message" and f.get("seq") is None]
    for c in (v, ana):
        await c.close()


async def becomes_available(client: Client, online: bool) -> None:
    """Take ``availability`` frames in the order they came until one says ``online``. (Taking
    the first matching frame instead could take a stale one left from earlier — each process's
    router announces a change, so with two there are two of each — and move on too soon: the
    cause of this test's old flakiness.)"""
    while (await client.next(lambda f: f.get("type") == "availability"))["agents_online"] \
            is not online:
        pass


async def test_visitors_see_whether_anyone_is_online(cluster: Cluster) -> None:
    v, welcome = await visitor(cluster.a, cluster.seeded.site_id)
    assert welcome["agents_online"] is False
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    await becomes_available(v, True)
    assert (await ana.request({"type": "status", "id": "s1", "away": True}))["away"] is True
    await becomes_available(v, False)
    await ana.request({"type": "status", "id": "s2", "away": False})
    await becomes_available(v, True)
    await ana.close()
    await becomes_available(v, False)
    if cluster.a is cluster.b:  # one router: every change told once, none twice
        told = [f["agents_online"] for f in v.frames if f.get("type") == "availability"]
        assert told == [True, False, True, False], told
    await v.close()


async def test_an_away_agent_is_not_given_conversations(cluster: Cluster) -> None:
    await _configure(cluster.db, capacities={"Ana": 5, "Bo": 5}, site_id=cluster.seeded.site_id)
    ana, _ = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent_email))
    bo, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent2_email))
    await ana.request({"type": "status", "id": "s", "away": True})
    for i in range(4):
        v, _ = await visitor(cluster.a, cluster.seeded.site_id)
        await v.request({"type": "send", "id": "m", "body": f"hello {i}"})
        await v.close()
    await assigned_to(bo, "Bo", 4)
    assert open_counts(cluster.db) == {"Bo": 4}
    for c in (ana, bo):
        await c.close()


async def test_agents_of_a_killed_process_show_offline_within_the_bound(
        short_grace_cluster: Cluster) -> None:
    """docs/deployment.md: offline within the presence ttl of the last heartbeat (here 0.5 s),
    seen by visitors at the next routing sweep (0.2 s). The assertion allows 5 s of slack for a
    loaded machine; it checks the order of magnitude, not a benchmark."""
    cluster = short_grace_cluster
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))  # B's only agent
    await becomes_available(v, True)
    killed_at = time.monotonic()
    cluster.b.kill9()
    await becomes_available(v, False)
    assert time.monotonic() - killed_at < 0.5 + 0.2 + 5
    await v.close()


async def test_agents_see_whether_the_visitor_is_still_there(cluster: Cluster) -> None:
    v, welcome = await visitor(cluster.a, cluster.seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "hi"}))["conversation_id"]
    ana, _ = await agent(cluster.b, await login(cluster.b, cluster.seeded.agent_email))
    opened = await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    assert opened["visitor_online"] is True
    await v.close()  # the visitor's only tab closes
    assert (await ana.of_type("presence"))["visitor_online"] is False
    back, _ = await visitor(cluster.b, cluster.seeded.site_id, token=welcome["token"])
    assert (await ana.of_type("presence"))["visitor_online"] is True
    for c in (back, ana):
        await c.close()


async def test_panel_tools_work_across_processes(cluster: Cluster) -> None:
    """A note written on B reaches an agent on A and never the visitor on A; a snooze set on A
    is woken on either; an admin's deactivation on A closes the agent's socket on B at once."""
    await add_admin(cluster.db, "root@acme.test", "correct horse")
    v, _ = await visitor(cluster.a, cluster.seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "hi"}))["conversation_id"]
    ana, _ = await agent(cluster.a, await login(cluster.a, cluster.seeded.agent_email))
    bo_cookie = await login(cluster.b, cluster.seeded.agent2_email)
    bo, bo_welcome = await agent(cluster.b, bo_cookie)
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    await bo.request({"type": "open", "id": "o", "conversation_id": conv})
    await bo.request({"type": "note", "id": "n", "conversation_id": conv, "body": "secret"})
    await bo.request({"type": "send", "id": "r", "conversation_id": conv, "body": "hello"})
    assert (await ana.of_type("message", seq=2))["kind"] == "note"
    assert (await v.of_type("message", id="r"))["seq"] == 4
    assert all(f.get("kind") != "note" for f in v.frames)
    until = int(time.time() * 1000) + 400  # the routers' sweeps (every 0.2 s) wake it
    await ana.request({"type": "snooze", "id": "s", "conversation_id": conv, "until": until})
    await bo.next(lambda f: f.get("type") == "conversation"
                  and f["conversation"]["snoozed_until"] == until)
    await bo.next(lambda f: f.get("type") == "conversation"
                  and f["conversation"]["snoozed_until"] is None)
    root = await login(cluster.a, "root@acme.test", "correct horse")
    async with httpx.AsyncClient(base_url=cluster.a.http,
                                 cookies={"livechat_agent": root}) as http:
        r = await http.patch(f"/api/admin/agents/{bo_welcome['agent']['id']}",
                             json={"active": False}, headers={"Origin": cluster.a.http})
    assert r.status_code == 200
    assert await bo.closed() == 4401
    for c in (v, ana):
        await c.close()


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

"""Routing across processes: capacity, dispatch when an agent comes online, queue positions,
transfers, the grace period of an absent agent, and an away agent given nothing (the clusters
of tests/cluster.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests import cluster as clusters
from tests import pg
from tests.cluster import Cluster
from tests.live import (
    Client,
    agent,
    login,
    make_store,
    visitor,
)

pytestmark = pytest.mark.slow

cluster, short_grace_cluster = clusters.cluster, clusters.short_grace_cluster  # the fixtures


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

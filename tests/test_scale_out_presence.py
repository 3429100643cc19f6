"""Presence and typing across processes, and the panel's tools on a conversation whose
visitor is on the other process (the clusters of tests/cluster.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests import cluster as clusters
from tests.cluster import Cluster
from tests.live import (
    Client,
    add_admin,
    agent,
    login,
    visitor,
)

pytestmark = pytest.mark.slow

cluster, short_grace_cluster = clusters.cluster, clusters.short_grace_cluster  # the fixtures


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

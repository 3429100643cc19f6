"""Routing: the pure choice, and the store's assignment under concurrency."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from server import broker as brokers
from server.channels import status_channel
from server.chat import Chat
from server.errors import ChatError, Code
from server.routing import Router, agent_ids, choose, connected_key, expected_wait
from server.store import Agent, Load, SQLiteStore
from tests import pg
from tests.clock import FakeClock


def test_choose_least_busy_with_room() -> None:
    loads = [Load("ana", 2, 3, 10), Load("bo", 1, 3, 50), Load("cy", 3, 3, 0)]
    assert choose(loads) == "bo"


def test_choose_breaks_ties_round_robin() -> None:
    loads = [Load("ana", 1, 3, 300), Load("bo", 1, 3, 100), Load("cy", 1, 3, 200)]
    assert choose(loads) == "bo"  # assigned longest ago
    assert choose([Load("b", 0, 1, 0), Load("a", 0, 1, 0)]) == "a"  # then by id


def test_choose_prefers_the_returning_visitors_agent_if_they_have_room() -> None:
    loads = [Load("ana", 0, 3, 0), Load("bo", 2, 3, 0)]
    assert choose(loads, preferred="bo") == "bo"
    assert choose([Load("ana", 0, 3, 0), Load("bo", 3, 3, 0)], preferred="bo") == "ana"
    assert choose(loads, preferred="gone") == "ana"


def test_choose_nobody_with_room() -> None:
    assert choose([Load("ana", 3, 3, 0), Load("bo", 0, 0, 0)]) is None
    assert choose([]) is None


def test_expected_wait() -> None:
    assert expected_wait(1, None, 2) is None
    assert expected_wait(1, 60.0, 1) == 60
    assert expected_wait(3, 60.0, 2) == 90
    # Nobody online: no estimate. Before, the average held, and a visitor writing at night was
    # told "about 1 minute" by a site whose agents come back in the morning.
    assert expected_wait(2, 30.0, 0) is None


def test_presence_members_are_agent_and_connection() -> None:
    assert agent_ids(["agent_a:v1", "agent_a:v2", "agent_b:v9"]) == {"agent_a", "agent_b"}


async def _site(store: SQLiteStore, capacities: dict[str, int]) -> tuple[str, dict[str, Agent]]:
    site = await store.create_site("Acme", [])
    await store.set_site_options(site.id, auto_assign=True)
    agents = {}
    for name, capacity in capacities.items():
        agent = await store.create_agent(f"{name}@x.test", name, "h", "agent", [site.id])
        await store.set_agent_capacity(agent.id, capacity)
        agents[name] = agent
    return site.id, agents


async def _open_counts(store: SQLiteStore, site: str) -> dict[str | None, int]:
    counts: dict[str | None, int] = {}
    for conv in await store.open_conversations([site]):
        counts[conv.assignee_name] = counts.get(conv.assignee_name, 0) + 1
    return counts


async def test_capacity_holds_when_two_processes_assign_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = SQLiteStore(path, clock=time.time), SQLiteStore(path, clock=time.time)
    await a.open()
    await b.open()
    try:
        site, agents = await _site(a, {"Ana": 3, "Bo": 2})
        online = [agent.id for agent in agents.values()]
        arrivals = [a.append_visitor_message(site, f"vis_{i}", "m", "hi") for i in range(20)]
        sweeps = [(a if i % 2 else b).assign_waiting(site, online, choose) for i in range(10)]
        await asyncio.gather(*arrivals, *sweeps)
        await a.assign_waiting(site, online, choose)
        assert await _open_counts(a, site) == {"Ana": 3, "Bo": 2, None: 15}
    finally:
        await a.close()
        await b.close()


async def test_assignment_alternates_between_equally_busy_agents(store: SQLiteStore) -> None:
    site, agents = await _site(store, {"Ana": 10, "Bo": 10})
    online = [agent.id for agent in agents.values()]
    order = []
    for i in range(6):
        await store.append_visitor_message(site, f"vis_{i}", "m", "hi")
        (change,) = await store.assign_waiting(site, online, choose)
        order.append(change.conversation.assignee_name)
        assert [m.kind for m in change.messages] == ["joined"]
    assert order.count("Ana") == order.count("Bo") == 3


async def test_off_sites_and_offline_agents_get_nothing(store: SQLiteStore) -> None:
    site, agents = await _site(store, {"Ana": 3})
    await store.append_visitor_message(site, "vis_1", "m", "hi")
    assert await store.assign_waiting(site, [], choose) == []
    await store.set_site_options(site, auto_assign=False)
    assert await store.assign_waiting(site, [agents["Ana"].id], choose) == []
    other = await store.create_site("Other", [])
    stranger = await store.create_agent("z@x.test", "Zed", "h", "agent", [other.id])
    await store.set_site_options(site, auto_assign=True)
    assert await store.assign_waiting(site, [stranger.id], choose) == []  # not their site


async def test_returning_visitor_goes_back_to_their_agent(store: SQLiteStore) -> None:
    site, agents = await _site(store, {"Ana": 5, "Bo": 5})
    first = await store.append_visitor_message(site, "vis_back", "m1", "hi")
    await store.claim(agents["Bo"], [site], first.conversation.id)
    await store.resolve(agents["Bo"], [site], first.conversation.id)
    await store.append_visitor_message(site, "vis_other", "m", "hi")
    await store.claim(agents["Bo"], [site], (await store.current_conversation("vis_other")).id)  # type: ignore[union-attr]
    again = await store.append_visitor_message(site, "vis_back", "m2", "me again")
    (change,) = await store.assign_waiting(site, [a.id for a in agents.values()], choose)
    assert change.conversation.id == again.conversation.id
    assert change.conversation.assignee_name == "Bo"  # though Ana is less busy


async def test_requeue(store: SQLiteStore) -> None:
    site, agents = await _site(store, {"Ana": 5, "Bo": 5})
    conv = (await store.append_visitor_message(site, "vis_1", "m", "hi")).conversation.id
    await store.claim(agents["Ana"], [site], conv)
    assert await store.assignees(site) == {agents["Ana"].id}
    assert await store.requeue(site, [agents["Bo"].id]) == []
    assert await store.requeue(site, []) == []
    (change,) = await store.requeue(site, [agents["Ana"].id])
    assert change.conversation.status == "waiting" and change.conversation.assignee_id is None
    assert [(m.kind, m.author_type) for m in change.messages] == [("requeued", "system")]
    assert [c.id for c in await store.waiting(site)] == [conv]
    assert await store.assignees(site) == set()


async def test_router_requeues_only_after_the_grace_period_seen_here(
        store: SQLiteStore) -> None:
    site, agents = await _site(store, {"Ana": 5})
    await store.set_site_options(site, auto_assign=False)
    conv = (await store.append_visitor_message(site, "vis_1", "m", "hi")).conversation.id
    await store.claim(agents["Ana"], [site], conv)
    clock = FakeClock()
    broker, presence = brokers.create("memory://", clock)
    await broker.start(lambda c, d: None, lambda: None)
    chat = Chat(store, broker, inbox_interval=0)

    def router() -> Router:
        return Router(store, presence, chat, interval=5, grace=120, clock=clock)

    first = router()
    await presence.touch(connected_key(site), f"{agents['Ana'].id}:a1", ttl=60)
    await first.sweep()
    clock.now += 61  # Ana's panel is gone: her presence expires
    await first.sweep()
    clock.now += 119
    await first.sweep()
    assert (await store.conversation(conv)).status == "assigned"  # type: ignore[union-attr]
    # This process restarts: presence seen afresh, so Ana gets the whole grace period again.
    second = router()
    clock.now += 119
    await second.sweep()
    await presence.touch(connected_key(site), f"{agents['Ana'].id}:a2", ttl=60)  # she is back
    clock.now += 30
    await second.sweep()  # seen connected: her absence is forgotten
    clock.now += 31  # and gone again
    await second.sweep()
    clock.now += 119
    await second.sweep()
    assert (await store.conversation(conv)).status == "assigned"  # type: ignore[union-attr]
    clock.now += 1
    await second.sweep()
    assert (await store.conversation(conv)).status == "waiting"  # type: ignore[union-attr]
    await broker.close()


async def test_transfer(store: SQLiteStore) -> None:
    site, agents = await _site(store, {"Ana": 5, "Bo": 5})
    other = await store.create_site("Other", [])
    stranger = await store.create_agent("z@x.test", "Zed", "h", "agent", [other.id])
    conv = (await store.append_visitor_message(site, "vis_1", "m", "hi")).conversation.id
    await store.claim(agents["Ana"], [site], conv)
    with pytest.raises(ChatError) as info:
        await store.transfer(agents["Bo"], [site], conv, agents["Bo"].id)
    assert info.value.code == Code.NOT_ASSIGNEE
    with pytest.raises(ChatError) as info:
        await store.transfer(agents["Ana"], [site], conv, stranger.id)
    assert info.value.code == Code.NOT_FOUND
    change = await store.transfer(agents["Ana"], [site], conv, agents["Bo"].id)
    assert change.conversation.assignee_name == "Bo"
    assert [(m.kind, m.author_name) for m in change.messages] == [("transferred", "Bo")]
    assert (await store.transfer(agents["Bo"], [site], conv, agents["Bo"].id)).duplicate


async def test_average_wait(store: SQLiteStore) -> None:
    clock = [1000.0]
    timed = pg.same_store(store, clock=lambda: clock[0])
    await timed.open()
    try:
        site, agents = await _site(timed, {"Ana": 5})
        assert await timed.average_wait(site) is None
        for wait in (30, 90):
            conv = (await timed.append_visitor_message(site, f"vis_{wait}", "m", "hi"))
            clock[0] += wait
            await timed.claim(agents["Ana"], [site], conv.conversation.id)
        assert await timed.average_wait(site) == 60.0
    finally:
        await timed.close()


async def test_queue_position_is_the_place_in_the_waiting_list(tmp_path: Path) -> None:
    """A visitor's place in the queue is counted by the store (one query), not found by loading
    every waiting conversation of the site: with 1,000 visitors reconnecting at once that was a
    million conversations built, and 15 s before the last of them was welcomed (bench/run.py)."""
    now = [1_000.0]
    store = SQLiteStore(tmp_path / "q.db", clock=lambda: now[0])
    await store.open()
    try:
        site = (await store.create_site("Acme", ["http://shop.test"])).id
        other = (await store.create_site("Other", ["http://other.test"])).id
        convs = []
        for i in range(6):
            if i % 2 == 0:
                now[0] += 1  # pairs share a creation time: the order falls back on the id
            change = await store.append_visitor_message(site, f"v{i}", "m", "hi")
            convs.append(change.conversation.id)
        elsewhere = (await store.append_visitor_message(other, "w", "m", "hi")).conversation.id
        agent = await store.create_agent("ana@acme.test", "Ana", "x", "agent", [site])
        await store.claim(agent, [site], convs[2])

        listed = [c.id for c in await store.waiting(site)]
        assert len(listed) == 5 and convs[2] not in listed
        for position, conversation_id in enumerate(listed, start=1):
            assert await store.queue_position(site, conversation_id) == position
        assert await store.queue_position(site, convs[2]) is None  # claimed: not waiting
        assert await store.queue_position(site, elsewhere) is None  # another site's
        assert await store.queue_position(other, elsewhere) == 1
        assert await store.queue_position(site, "nope") is None
    finally:
        await store.close()


async def test_visitors_are_told_when_the_hours_open_and_close(store: SQLiteStore) -> None:
    """A black-box tester's: a widget open across an opening and a closing flipped at the
    opening (the time its welcome gave), and never again: it knew one change at a time. The
    router tells the site's visitors each change of the hours, and of the hours themselves."""
    site, _ = await _site(store, {"Ana": 5})
    await store.set_site_profile(site, hours="mon 09:00-10:00", tz="UTC")
    monday_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC).timestamp()
    clock = FakeClock(monday_9 - 30)
    told: list[dict[str, Any]] = []
    broker, presence = brokers.create("memory://", clock)
    await broker.start(lambda channel, data: told.append(orjson.loads(data)), lambda: None)
    await broker.subscribe(status_channel(site))
    router = Router(store, presence, Chat(store, broker, inbox_interval=0), interval=5,
                    grace=120, clock=clock)
    await router.prime()
    await router.sweep()
    assert told == []  # as the welcome says
    clock.now = monday_9 + 5
    await router.sweep()
    await router.sweep()
    assert told == [{"type": "availability", "agents_online": False, "open": True,
                     "next_change": int((monday_9 + 3600) * 1000)}]
    clock.now = monday_9 + 3605
    await router.sweep()
    assert told[1:] == [{"type": "availability", "agents_online": False, "open": False,
                         "next_change": int((monday_9 + 7 * 86400) * 1000)}]
    await store.set_site_profile(site, hours="")  # always open, from now
    await router.sweep()
    assert told[2:] == [{"type": "availability", "agents_online": False, "open": True,
                         "next_change": None}]
    await broker.close()

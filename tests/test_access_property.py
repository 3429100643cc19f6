"""Issue 10: access is allowed exactly when tenant and role permit. Hypothesis draws random
(principal, object, action) triples across two sites and three roles — an admin, an agent of
each site, a visitor of each site — and a real server on loopback answers each; the answer must
be what the policy below says, no more and no less.

The policy, as docs/protocol.md and docs/security.md state it:

* a visitor may open its own conversation and nothing else, and no agent frame at all;
* an agent may act on the conversations of their sites (admins: every site), and give one to a
  team of the conversation's own site only;
* the admin API is for admins.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.live import (
    UNLIMITED,
    Client,
    ServerProcess,
    add_admin,
    agent,
    login,
    open_store,
    seed,
    serving,
    visitor,
)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # admin, agent or visitor
    sites: tuple[str, ...]


@dataclass(frozen=True)
class Thing:
    name: str
    kind: str  # conversation, team or site
    site: str


@dataclass
class World:
    server: ServerProcess
    principals: dict[str, Principal]
    things: dict[str, Thing]
    ids: dict[str, str]          # thing name -> its id
    cookies: dict[str, str]      # agent or admin name -> session cookie
    tokens: dict[str, str]       # visitor name -> visitor token
    owner: dict[str, str]        # conversation name -> the visitor who opened it


_requests = itertools.count()
ACTIONS = ("open", "history", "leave", "note", "tag", "team:T1", "team:T2", "admin:sites",
           "admin:patch_site", "blocks")


def allowed(p: Principal, thing: Thing, action: str, world: World) -> bool:
    """The policy."""
    if action == "admin:sites":
        return p.role == "admin"
    if action == "admin:patch_site":
        return p.role == "admin"
    if p.role == "visitor":
        return action == "open" and thing.kind == "conversation" and world.owner[
            thing.name] == p.name
    if action == "blocks":
        return True  # (the list is the agent's own sites': checked by what it holds)
    in_tenant = thing.site in p.sites
    if action.startswith("team:"):
        team = world.things[action[5:]]
        return in_tenant and team.site == thing.site
    return in_tenant


def applicable(thing: Thing, action: str) -> bool:
    if action == "admin:patch_site":
        return thing.kind == "site"
    if action in ("admin:sites", "blocks"):
        return True
    return thing.kind == "conversation"


async def observe(world: World, p: Principal, thing: Thing, action: str) -> bool:
    """Whether the server let ``p`` do ``action`` to ``thing``."""
    server = world.server
    if action.startswith("admin:"):
        cookies = {"livechat_agent": world.cookies[p.name]} if p.name in world.cookies else {}
        async with httpx.AsyncClient(cookies=cookies) as http:
            if action == "admin:sites":
                r = await http.get(f"{server.http}/api/admin/sites")
            else:
                r = await http.patch(f"{server.http}/api/admin/sites/{world.ids[thing.name]}",
                                     json={"greeting": "Hello"},
                                     headers={"Origin": server.http})
        assert r.status_code in (200, 401, 403, 404), r.text
        return r.status_code == 200
    client = await connect(world, p)
    try:
        conv = world.ids.get(thing.name, "")
        request = f"r{next(_requests)}"  # (a note's id is its idempotency key: never reused)
        frame: dict[str, Any] = {"id": request, "conversation_id": conv}
        if action == "open":
            frame["type"] = "open"
        elif action == "history":
            frame.update(type="history", before_seq=100)
        elif action == "leave":
            frame["type"] = "leave"
        elif action == "note":
            frame.update(type="note", body="internal")
        elif action == "tag":
            frame.update(type="tag", tag="checked", on=True)
        elif action.startswith("team:"):
            frame.update(type="team", team_id=world.ids[action[5:]])
        elif action == "blocks":
            frame = {"type": "blocks", "id": request}
        answer = await client.request(frame)
        if answer["type"] == "error":
            assert answer["code"] in ("not_found", "unknown_type", "forbidden"), answer
            return False
        if action == "blocks":  # only blocks of the agent's own sites are listed
            assert all(b["site_id"] in p.sites for b in answer["blocks"]), answer
        return True
    finally:
        await client.close()


async def connect(world: World, p: Principal) -> Client:
    if p.role == "visitor":
        client, _ = await visitor(world.server, p.sites[0], token=world.tokens[p.name])
    else:
        client, _ = await agent(world.server, world.cookies[p.name])
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("access") / "access.db"
    seeded = asyncio.run(seed(db))
    s1, s2 = seeded.site_id, seeded.other_site_id
    principals = {"admin": Principal("admin", "admin", (s1, s2)),
                  "ana": Principal("ana", "agent", (s1,)),
                  "oz": Principal("oz", "agent", (s2,)),
                  "v1": Principal("v1", "visitor", (s1,)),
                  "v2": Principal("v2", "visitor", (s2,))}
    things = {"C1": Thing("C1", "conversation", s1), "C2": Thing("C2", "conversation", s2),
              "T1": Thing("T1", "team", s1), "T2": Thing("T2", "team", s2),
              "S1": Thing("S1", "site", s1), "S2": Thing("S2", "site", s2)}

    async def teams() -> dict[str, str]:
        async with open_store(db) as store:
            t1 = await store.save_team(None, "Team one", [], s1)
            t2 = await store.save_team(None, "Team two", [], s2)
        return {"T1": t1.id, "T2": t2.id, "S1": s1, "S2": s2}

    ids = asyncio.run(teams())
    with serving(db, **UNLIMITED) as server:
        async def people() -> tuple[dict[str, str], dict[str, str]]:
            cookies = {"admin": await login(server, await add_admin(db)),
                       "ana": await login(server, seeded.agent_email),
                       "oz": await login(server, seeded.other_agent_email)}
            tokens = {}
            for name, site, conv in (("v1", s1, "C1"), ("v2", s2, "C2")):
                client, welcome = await visitor(server, site)
                ids[conv] = (await client.request({"type": "send", "id": "m", "body": "hi"}))[
                    "conversation_id"]
                tokens[name] = welcome["token"]
                await client.close()
            return cookies, tokens

        cookies, tokens = asyncio.run(people())
        yield World(server, principals, things, ids, cookies, tokens, {"C1": "v1", "C2": "v2"})


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=st.sampled_from(["admin", "ana", "oz", "v1", "v2"]),
       thing=st.sampled_from(["C1", "C2", "S1", "S2"]), action=st.sampled_from(ACTIONS))
def test_access_is_allowed_exactly_when_tenant_and_role_permit(
        world: World, principal: str, thing: str, action: str) -> None:
    p, t = world.principals[principal], world.things[thing]
    assume(applicable(t, action))
    observed = asyncio.run(observe(world, p, t, action))
    assert observed == allowed(p, t, action, world), (principal, thing, action)

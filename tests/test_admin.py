"""Admin endpoints: only admins, only from our own pages; sites, invitations, deactivation that
closes sockets at once, role and site changes that reconnect them, teams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import Seed, ServerProcess, add_admin, agent, login, visitor

ADMIN = "root@acme.test"


@pytest.fixture
async def admin_cookie(server: ServerProcess, db: Path, seeded: Seed) -> AsyncIterator[str]:
    yield await login(server, await add_admin(db, ADMIN))


async def call(server: ServerProcess, method: str, path: str, cookie: str | None = None,
               body: Any = None, origin: str | None = "own") -> httpx.Response:
    headers = {"Origin": server.http if origin == "own" else origin} if origin else {}
    cookies = {"livechat_agent": cookie} if cookie else None
    async with httpx.AsyncClient(base_url=server.http, cookies=cookies) as http:
        return await http.request(method, path, json=body, headers=headers)


ENDPOINTS = [("GET", "/api/admin/sites", None), ("POST", "/api/admin/sites", {"name": "X"}),
             ("PATCH", "/api/admin/sites/{site}", {"greeting": "hi"}),
             ("GET", "/api/admin/agents", None),
             ("POST", "/api/admin/agents", {"email": "x@x.test", "name": "X"}),
             ("PATCH", "/api/admin/agents/{agent}", {"active": False}),
             ("GET", "/api/admin/teams", None), ("POST", "/api/admin/teams", {"name": "T"}),
             ("PATCH", "/api/admin/teams/team_x", {"name": "T"}),
             ("DELETE", "/api/admin/teams/team_x", None), ("GET", "/api/reports", None)]


async def test_only_admins_and_only_from_our_pages(server: ServerProcess, seeded: Seed,
                                                   admin_cookie: str) -> None:
    ana = await login(server, seeded.agent_email)
    a, welcome = await agent(server, ana)
    ids = {"site": seeded.site_id, "agent": welcome["agent"]["id"]}
    for method, template, body in ENDPOINTS:
        path = template.format(**ids)
        anonymous = await call(server, method, path, body=body)
        as_agent = await call(server, method, path, ana, body)
        assert anonymous.status_code == 401, (method, path)
        assert as_agent.status_code == 403 and as_agent.json()["error"] == "forbidden", path
        if method != "GET":
            forged = await call(server, method, path, admin_cookie, body,
                                origin="https://evil.test")
            assert forged.status_code == 403, path
            assert forged.json()["error"] == "forbidden_origin"
    # Nothing changed: Ana is still active, and there is no site X.
    sites = (await call(server, "GET", "/api/admin/sites", admin_cookie)).json()["sites"]
    assert sorted(s["name"] for s in sites) == ["Acme", "Other Co"]
    assert (await call(server, "GET", "/api/agent/me", ana)).status_code == 200
    await a.close()


async def test_sites_are_created_and_configured(server: ServerProcess, seeded: Seed,
                                                admin_cookie: str) -> None:
    made = await call(server, "POST", "/api/admin/sites", admin_cookie,
                      {"name": "Acme Bikes", "allowed_origins": ["https://bikes.test"]})
    assert made.status_code == 201
    site = made.json()["site"]
    changed = await call(server, "PATCH", f"/api/admin/sites/{site['id']}", admin_cookie, {
        "greeting": "Pedal on!", "color": "#aa3300", "hours": "mon-fri 09:00-17:00",
        "tz": "Europe/Lisbon", "prechat": ["email"], "offline": "form", "auto_assign": True,
        "identity_secret": "new", "identity_mode": "mandatory", "name": "Acme Bicycles",
        "theme": "dark"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["site"]["theme"] == "dark"
    assert len(body["identity_secret"]) == 43  # shown once
    assert body["site"]["identity_secret"] is True and body["site"]["name"] == "Acme Bicycles"
    assert body["site"]["hours"] == {"tz": "Europe/Lisbon", "text": "mon 09:00-17:00; "
                                     "tue 09:00-17:00; wed 09:00-17:00; thu 09:00-17:00; "
                                     "fri 09:00-17:00"}
    listed = (await call(server, "GET", "/api/admin/sites", admin_cookie)).json()["sites"]
    assert body["identity_secret"] not in str(listed)  # never again
    for bad in ({"color": "red"}, {"hours": "9-5"}, {"allowed_origins": ["not a url"]},
                {"auto_assign": "yes"}, {"surprise": 1}, {"identity_secret": "mine"},
                {"prechat": ["phone"]}, {"theme": "purple"}, {"theme": 1}, {"name": " "},
                {"name": "x" * 101}):
        refused = await call(server, "PATCH", f"/api/admin/sites/{site['id']}", admin_cookie,
                             bad)
        assert refused.status_code == 400, bad
    for name in ("", "   ", "x" * 101):  # (a site without a name, as the CLI's refuses it)
        refused = await call(server, "POST", "/api/admin/sites", admin_cookie, {"name": name})
        assert refused.status_code == 400, name
        assert refused.json()["message"] == "a site name is 1 to 100 characters", refused.text
    assert len((await call(server, "GET", "/api/admin/sites", admin_cookie)).json()["sites"]) == (
        len(listed))
    missing = await call(server, "PATCH", "/api/admin/sites/site_nope", admin_cookie,
                         {"greeting": "x"})
    assert missing.status_code == 404


async def test_invite_once_then_log_in(server: ServerProcess, seeded: Seed,
                                       admin_cookie: str) -> None:
    invited = await call(server, "POST", "/api/admin/agents", admin_cookie, {
        "email": "cy@acme.test", "name": "Cy", "sites": [seeded.site_id], "capacity": 3})
    assert invited.status_code == 201, invited.text
    link = invited.json()["invite_url"]
    assert link.startswith(f"{server.http}/agent#invite=")
    token = link.split("#invite=", 1)[1]
    # No password yet: nobody can log in as Cy.
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{server.http}/api/agent/login", headers={"Origin": server.http},
                            json={"email": "cy@acme.test", "password": "invited$"})
    assert r.status_code == 401
    short = await call(server, "POST", "/api/agent/accept", body={"token": token,
                                                                    "password": "short"})
    assert short.status_code == 400
    accepted = await call(server, "POST", "/api/agent/accept",
                          body={"token": token, "password": "a good long password"})
    assert accepted.status_code == 200 and accepted.cookies.get("livechat_agent")
    again = await call(server, "POST", "/api/agent/accept",
                       body={"token": token, "password": "another long password"})
    assert again.status_code == 401  # once only
    forged = await call(server, "POST", "/api/agent/accept",
                        body={"token": token[:-2] + "xx", "password": "a good long password"})
    assert forged.status_code == 401
    cy = await login(server, "cy@acme.test", "a good long password")
    _, welcome = await agent(server, cy)
    assert welcome["agent"]["capacity"] == 3
    assert [s["id"] for s in welcome["sites"]] == [seeded.site_id]


async def test_deactivation_closes_sockets_at_once(server: ServerProcess, seeded: Seed,
                                                   admin_cookie: str) -> None:
    bo = await login(server, seeded.agent2_email)
    b, welcome = await agent(server, bo)
    bo_id = welcome["agent"]["id"]
    off = await call(server, "PATCH", f"/api/admin/agents/{bo_id}", admin_cookie,
                     {"active": False})
    assert off.status_code == 200 and off.json()["agent"]["active"] is False
    assert await b.closed() == 4401
    assert (await call(server, "GET", "/api/agent/me", bo)).status_code == 401
    on = await call(server, "PATCH", f"/api/admin/agents/{bo_id}", admin_cookie,
                    {"active": True})
    assert on.json()["agent"]["active"] is True
    assert (await call(server, "GET", "/api/agent/me", bo)).status_code == 401  # log in again
    await login(server, seeded.agent2_email)
    # An admin cannot lock themselves out.
    me = (await call(server, "GET", "/api/agent/me", admin_cookie)).json()["agent"]["id"]
    refused = await call(server, "PATCH", f"/api/admin/agents/{me}", admin_cookie,
                         {"active": False})
    assert refused.status_code == 400


async def test_a_site_change_reconnects_with_the_new_permissions(
        server: ServerProcess, seeded: Seed, admin_cookie: str) -> None:
    ana = await login(server, seeded.agent_email)
    a, welcome = await agent(server, ana)
    ana_id = welcome["agent"]["id"]
    moved = await call(server, "PATCH", f"/api/admin/agents/{ana_id}", admin_cookie,
                       {"sites": [seeded.other_site_id]})
    assert moved.json()["agent"]["sites"] == [seeded.other_site_id]
    assert await a.closed() == 4000  # reconnect
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "hi"}))["conversation_id"]
    a2, welcome2 = await agent(server, ana)  # the same cookie still works
    assert [s["id"] for s in welcome2["sites"]] == [seeded.other_site_id]
    assert (await a2.request({"type": "open", "id": "o", "conversation_id": conv}))[
        "code"] == "not_found"
    for c in (v, a2):
        await c.close()


async def test_teams(server: ServerProcess, seeded: Seed, admin_cookie: str) -> None:
    ana = await login(server, seeded.agent_email)
    a, welcome = await agent(server, ana)
    made = await call(server, "POST", "/api/admin/teams", admin_cookie,
                      {"name": "Returns", "members": [welcome["agent"]["id"]],
                       "site_id": seeded.site_id})
    assert made.status_code == 201
    team = made.json()["team"]
    dup = await call(server, "POST", "/api/admin/teams", admin_cookie,
                     {"name": "returns", "site_id": seeded.site_id})
    assert dup.status_code == 400
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "Refund?"}))["conversation_id"]
    assigned = await a.request({"type": "team", "id": "t", "conversation_id": conv,
                                "team_id": team["id"]})
    assert assigned["conversation"]["team"] == {"id": team["id"], "name": "Returns"}
    unknown = await a.request({"type": "team", "id": "t2", "conversation_id": conv,
                               "team_id": "team_nope"})
    assert unknown["code"] == "not_found"
    report = await call(server, "GET", f"/api/reports?team={team['id']}", admin_cookie)
    assert report.json()["total"]["conversations"] == 1
    gone = await call(server, "DELETE", f"/api/admin/teams/{team['id']}", admin_cookie)
    assert gone.status_code == 200
    _, later = await agent(server, ana)
    assert later["teams"] == []
    assert next(c for c in later["conversations"] if c["id"] == conv)["team"] is None
    for c in (v, a):
        await c.close()


async def test_colleagues_follow_the_admin(server: ServerProcess, seeded: Seed,
                                           admin_cookie: str) -> None:
    """Transfer menus and "@" pickers are made from the colleagues a panel knows: an agent
    invited, renamed, deactivated or moved is told to the site's panels at once."""
    ana = await login(server, seeded.agent_email)
    a, welcome = await agent(server, ana)
    names = {c["name"]: c["id"] for c in welcome["agents"]}
    assert welcome["agents"][0].keys() == {"id", "name", "avatar", "sites"}
    bo_id = names["Bo"]

    async def told() -> list[str]:
        frame = await a.next(lambda f: f["type"] == "colleagues")
        assert frame["site_id"] == seeded.site_id
        assert all(c.keys() == {"id", "name", "avatar"} for c in frame["agents"])
        return [c["name"] for c in frame["agents"]]

    invited = await call(server, "POST", "/api/admin/agents", admin_cookie, {
        "email": "cy@acme.test", "name": "Cy", "sites": [seeded.site_id]})
    cy_id = invited.json()["agent"]["id"]
    assert "Cy" in await told()
    await call(server, "PATCH", f"/api/admin/agents/{cy_id}", admin_cookie, {"capacity": 2})
    await call(server, "PATCH", f"/api/admin/agents/{bo_id}", admin_cookie, {"name": "Bo Reis"})
    # (Not told of a capacity: the next frame is the rename's.)
    now = await told()
    assert "Bo Reis" in now and "Bo" not in now
    await call(server, "PATCH", f"/api/admin/agents/{bo_id}", admin_cookie, {"active": False})
    assert "Bo Reis" not in await told()
    await call(server, "PATCH", f"/api/admin/agents/{cy_id}", admin_cookie,
               {"sites": [seeded.other_site_id]})
    assert "Cy" not in await told()
    _, again = await agent(server, ana)  # (the welcome says the same)
    assert {c["name"] for c in again["agents"]} == set(now) - {"Bo Reis", "Cy"}
    # The Manage page sends the role, the sites and the name with a new capacity: not a
    # change of them, and Ana's panel is not reconnected (a black-box tester's: every save
    # reconnected it). A new name is one: her replies go out with it.
    await call(server, "PATCH", f"/api/admin/agents/{names['Ana']}", admin_cookie, {
        "name": "Ana", "role": "agent", "sites": [seeded.site_id], "capacity": 4})
    assert "Ana" in await told()
    await a.send({"type": "ping", "id": "still-here"})
    assert (await a.of_type("pong", id="still-here"))["id"] == "still-here"
    await call(server, "PATCH", f"/api/admin/agents/{names['Ana']}", admin_cookie, {
        "name": "Ana Lima", "role": "agent", "sites": [seeded.site_id], "capacity": 4})
    assert await a.closed() == 4000
    _, renamed = await agent(server, ana)
    assert renamed["agent"]["name"] == "Ana Lima"

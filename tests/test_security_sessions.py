"""Issue 10, logins and sessions: guessing is slowed per account and per address (429 with
Retry-After), password hashing cannot take the chat's latency with it, and signing out ends the
session for real (one, or all of them); passwords can be changed, and reset by a signed link."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx

from tests.live import (
    MEASURING,
    PASSWORD,
    Attacker,
    Client,
    Seed,
    ServerProcess,
    add_admin,
    agent,
    login,
    ping_times,
    seed,
    serving,
    visitor,
)


async def try_login(server: ServerProcess, email: str, password: str,
                    source: str | None = None) -> httpx.Response:
    """A login, from ``source`` (another loopback address: another client) if given."""
    transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
    async with httpx.AsyncClient(transport=transport) as http:
        return await http.post(f"{server.http}/api/agent/login",
                               json={"email": email, "password": password},
                               headers={"Origin": server.http})


async def test_guessing_a_password_is_slowed_down(server: ServerProcess, seeded: Seed) -> None:
    statuses = []
    for i in range(100):  # guess until the account is locked for more than a second
        answer = await try_login(server, seeded.agent_email, f"guess-{i}")
        statuses.append(answer.status_code)
        if answer.status_code == 429 and int(answer.headers["retry-after"]) >= 2:
            break
    assert statuses[:5] == [401] * 5
    # Five free guesses, then each one more locks the account twice as long (1 s, 2 s, …):
    # a handful of guesses in the seconds a loop of 40 took, not 40.
    assert statuses.count(401) <= 8 and answer.status_code == 429, statuses
    assert answer.json()["error"] == "too_many_attempts"
    # The right password does not get in while the account is locked.
    right = await try_login(server, seeded.agent_email, PASSWORD)
    assert right.status_code == 429
    # Another account is not locked by this one's failures (the address has room left).
    assert (await try_login(server, seeded.agent2_email, PASSWORD)).status_code == 200


async def test_guessing_across_accounts_from_one_address_is_slowed_down(
        server: ServerProcess) -> None:
    statuses = [(await try_login(server, f"nobody{i}@acme.test", "x")).status_code
                for i in range(40)]
    # Twenty free failures per address, then the address is locked, doubling.
    assert statuses[:20] == [401] * 20 and 429 in statuses[20:], statuses
    assert statuses.count(401) <= 23, statuses


async def test_signing_out_ends_that_session_only(server: ServerProcess, seeded: Seed) -> None:
    first = await login(server, seeded.agent_email)
    second = await login(server, seeded.agent_email)
    socket, _ = await agent(server, first)
    other, _ = await agent(server, second)
    async with httpx.AsyncClient(cookies={"livechat_agent": first}) as http:
        r = await http.post(f"{server.http}/api/agent/logout", json={},
                            headers={"Origin": server.http})
        assert r.status_code == 200
        assert (await http.get(f"{server.http}/api/agent/me")).status_code == 401
    assert await socket.closed() == 4401
    late = await Client.open(f"{server.ws}/ws/agent", origin=server.http, cookie=first)
    assert await late.closed() == 4401
    # The other browser is still signed in.
    await other.send({"type": "ping", "id": "p"})
    await other.of_type("pong")
    await other.close()


async def test_signing_out_everywhere(server: ServerProcess, seeded: Seed) -> None:
    cookies = [await login(server, seeded.agent_email) for _ in range(2)]
    sockets = [(await agent(server, c))[0] for c in cookies]
    async with httpx.AsyncClient(cookies={"livechat_agent": cookies[0]}) as http:
        r = await http.post(f"{server.http}/api/agent/logout", json={"everywhere": True},
                            headers={"Origin": server.http})
        assert r.status_code == 200
    for s in sockets:
        assert await s.closed() == 4401
    async with httpx.AsyncClient(cookies={"livechat_agent": cookies[1]}) as http:
        assert (await http.get(f"{server.http}/api/agent/me")).status_code == 401
    assert (await try_login(server, seeded.agent_email, PASSWORD)).status_code == 200


async def test_changing_the_password(server: ServerProcess, seeded: Seed) -> None:
    here = await login(server, seeded.agent_email)
    elsewhere = await login(server, seeded.agent_email)
    other_socket, _ = await agent(server, elsewhere)
    own_socket, _ = await agent(server, here)
    async with httpx.AsyncClient(cookies={"livechat_agent": here}) as http:
        url, origin = f"{server.http}/api/agent/password", {"Origin": server.http}
        wrong = await http.post(url, json={"current": "nope", "password": "brand new password"},
                                headers=origin)
        assert wrong.status_code == 403 and wrong.json()["error"] == "bad_credentials"
        short = await http.post(url, json={"current": PASSWORD, "password": "short"},
                                headers=origin)
        assert short.status_code == 400
        done = await http.post(url, json={"current": PASSWORD, "password": "brand new password"},
                               headers=origin)
        assert done.status_code == 200, done.text
        fresh = done.cookies["livechat_agent"]
    # Every other session ends; this browser is signed in again with a new cookie, and its panel
    # reconnects (4000) rather than being signed out.
    assert await other_socket.closed() == 4401
    assert await own_socket.closed() == 4000
    async with httpx.AsyncClient(cookies={"livechat_agent": fresh}) as http:
        assert (await http.get(f"{server.http}/api/agent/me")).status_code == 200
    async with httpx.AsyncClient(cookies={"livechat_agent": elsewhere}) as http:
        assert (await http.get(f"{server.http}/api/agent/me")).status_code == 401
    assert (await try_login(server, seeded.agent_email, PASSWORD)).status_code == 401
    assert (await try_login(server, seeded.agent_email, "brand new password")).status_code == 200


async def test_a_password_reset_link_works_once(server: ServerProcess, seeded: Seed) -> None:
    admin = await login(server, await add_admin(server.db))
    agent_cookie = await login(server, seeded.agent_email)
    panel, welcome = await agent(server, agent_cookie)
    ana = welcome["agent"]["id"]
    origin = {"Origin": server.http}
    async with httpx.AsyncClient(cookies={"livechat_agent": agent_cookie}) as http:
        refused = await http.post(f"{server.http}/api/admin/agents/{ana}/reset", json={},
                                  headers=origin)
        assert refused.status_code == 403
    async with httpx.AsyncClient(cookies={"livechat_agent": admin}) as http:
        made = await http.post(f"{server.http}/api/admin/agents/{ana}/reset", json={},
                               headers=origin)
        assert made.status_code == 200, made.text
    async with httpx.AsyncClient() as http:
        link = made.json()["reset_url"]
        assert link.startswith(f"{server.http}/agent/reset#token=")
        token = link.split("#token=", 1)[1]
        page = await http.get(link.split("#", 1)[0])
        assert page.status_code == 200 and "reset.js" in page.text
        used = await http.post(f"{server.http}/api/agent/reset",
                               json={"token": token, "password": "reset password 1"},
                               headers=origin)
        assert used.status_code == 200, used.text
        assert "livechat_agent" in used.cookies
        again = await http.post(f"{server.http}/api/agent/reset",
                                json={"token": token, "password": "reset password 2"},
                                headers=origin)
        assert again.status_code == 401 and again.json()["error"] == "bad_link"
    assert await panel.closed() == 4401  # the old sessions ended
    assert (await try_login(server, seeded.agent_email, "reset password 1")).status_code == 200


async def test_password_hashing_does_not_slow_the_chat(tmp_path: Path) -> None:
    """300 concurrent wrong logins from one address (its failure allowance is lifted here, so
    that hashing itself is what is measured) leave a visitor's ping within a small factor of
    its own latency before, and an agent signing in from another address within a small factor
    of their own sign-in time before: one address cannot queue its guesses ahead of them."""
    db = tmp_path / "h.db"
    seeded = await seed(db)
    with serving(db, LIVECHAT_LOGIN_FAILURES_PER_IP="100000",
                 LIVECHAT_LOGIN_FAILURES_PER_ACCOUNT="100000", **MEASURING) as server:
        v, _ = await visitor(server, seeded.site_id)
        await ping_times(v, 20)  # warm up
        await timed_login(server, seeded.agent_email)
        before = statistics.median(await ping_times(v, 60))
        login_before = statistics.median([await timed_login(server, seeded.agent_email)
                                          for _ in range(5)])
        async with Attacker("logins", server.http, "300") as attack:  # waves, until told
            during = statistics.median(await ping_times(v, 60))
            login_during = statistics.median([await timed_login(server, seeded.agent_email)
                                              for _ in range(5)])
            seen = await attack.result()
        # Past two waiting checks per address, a guess is told to come back (429) at once.
        assert set(seen["statuses"]) <= {"401", "429", "503"}, seen
        assert seen["statuses"].get("429", 0) > 0.8 * sum(seen["statuses"].values()), seen
        assert during <= 5 * before, (before, during)
        # The attacker may have two checks ahead of it in the pool (3 to 6 times its own time
        # before, measured); without the per-address limit the queue holds 32 (about 30 times).
        assert login_during <= 15 * login_before, (login_before, login_during)
        await v.close()


async def timed_login(server: ServerProcess, email: str) -> float:
    start = time.perf_counter()
    r = await try_login(server, email, PASSWORD, source="127.0.0.2")
    assert r.status_code == 200, r.text
    return time.perf_counter() - start

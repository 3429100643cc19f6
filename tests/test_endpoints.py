"""The chat loop over a real server: uvicorn on a free port, real WebSocket clients."""

from __future__ import annotations

import asyncio
import time

import httpx

from server.auth import Tokens
from server.store import SQLiteStore
from tests.live import SECRET, Client, Seed, ServerProcess, agent, login, visitor


async def test_visitor_and_agent_talk(server: ServerProcess, seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    assert welcome["conversation"] is None and welcome["token"]
    assert welcome["site"]["id"] == seeded.site_id and welcome["site"]["name"] == "Acme"
    assert welcome["site"]["open"] is True and welcome["site"]["offline"] == "form"
    a, awelcome = await agent(server, await login(server, seeded.agent_email))
    assert awelcome["conversations"] == []

    ack = await v.request({"type": "send", "id": "m1", "body": "Hi, is anyone there?"})
    assert ack["type"] == "ack" and ack["seq"] == 1 and ack["duplicate"] is False
    conv = ack["conversation_id"]
    echo = await v.of_type("message", seq=1)
    assert echo["body"] == "Hi, is anyone there?" and echo["author"]["type"] == "visitor"

    # The agent's queue updates live, then the agent opens, claims and replies.
    update = await a.of_type("conversation")
    assert update["conversation"]["id"] == conv
    assert update["conversation"]["status"] == "waiting"
    opened = await a.request({"type": "open", "id": "o1", "conversation_id": conv})
    assert opened["conversation"]["status"] == "waiting"
    assert (await a.of_type("message", seq=1))["body"] == "Hi, is anyone there?"
    claimed = await a.request({"type": "claim", "id": "c1", "conversation_id": conv})
    assert claimed["conversation"]["assignee"]["name"] == "Ana"
    reply = await a.request({"type": "send", "id": "r1", "conversation_id": conv,
                             "body": "Hello! How can I help?"})
    assert reply["seq"] == 3

    joined = await v.of_type("message", seq=2)
    assert joined["kind"] == "joined" and joined["author"]["name"] == "Ana"
    answer = await v.of_type("message", seq=3)
    assert answer["body"] == "Hello! How can I help?" and answer["author"]["type"] == "agent"

    resolved = await a.request({"type": "resolve", "id": "x1", "conversation_id": conv})
    assert resolved["conversation"]["status"] == "resolved"
    assert (await v.of_type("message", seq=4))["kind"] == "resolved"

    # Writing again after a resolve opens a new conversation.
    again = await v.request({"type": "send", "id": "m2", "body": "One more thing"})
    assert again["conversation_id"] != conv and again["seq"] == 1
    for c in (v, a):
        await c.close()


async def test_resend_returns_original_ack(any_server: ServerProcess, any_seeded: Seed) -> None:
    server, seeded = any_server, any_seeded  # on SQLite and on PostgreSQL
    v, _ = await visitor(server, seeded.site_id)
    first = await v.request({"type": "send", "id": "same", "body": "hello"})
    second = await v.request({"type": "send", "id": "same", "body": "hello"})
    assert second["seq"] == first["seq"] and second["duplicate"] is True
    conflict = await v.request({"type": "send", "id": "same", "body": "something else"})
    assert conflict["type"] == "error" and conflict["code"] == "id_conflict"
    await v.close()


async def test_resume_gets_exactly_the_rest(any_server: ServerProcess, any_seeded: Seed) -> None:
    server, seeded = any_server, any_seeded  # on SQLite and on PostgreSQL
    v, welcome = await visitor(server, seeded.site_id)
    token = welcome["token"]
    for i in range(1, 6):
        ack = await v.request({"type": "send", "id": f"m{i}", "body": f"message {i}"})
    conv = ack["conversation_id"]
    await v.of_type("message", seq=5)
    await v.close()

    v2, welcome2 = await visitor(server, seeded.site_id, token=token, conversation_id=conv,
                                 last_seq=3, epoch=welcome["epoch"])
    assert welcome2["conversation"]["id"] == conv
    assert welcome2["conversation"]["last_seq"] == 5
    got = [await v2.of_type("message") for _ in range(2)]
    assert [m["seq"] for m in got] == [4, 5]
    # and nothing else arrives before live traffic
    ack = await v2.request({"type": "send", "id": "m6", "body": "message 6"})
    assert ack["seq"] == 6
    assert (await v2.of_type("message"))["seq"] == 6
    await v2.close()

    # A client from another epoch (the store was reset) is sent everything again.
    v3, _ = await visitor(server, seeded.site_id, token=token, conversation_id=conv,
                          last_seq=6, epoch="not-this-epoch")
    assert (await v3.of_type("message"))["seq"] == 1
    await v3.close()


async def test_a_last_seq_beyond_the_conversations_misses_nothing_after_it(
        server: ServerProcess, seeded: Seed) -> None:
    """A client that saw more than the store holds (its last moments lost in a power loss,
    docs/architecture.md; or a client's mistake). Before: its cursor stayed there, and every
    later message up to that seq was silently skipped; now the conversation's own last seq is
    taken, and the next message comes."""
    v, welcome = await visitor(server, seeded.site_id)
    first = await v.request({"type": "send", "id": "m1", "body": "hello"})
    conv = first["conversation_id"]
    await v.close()
    v2, back = await visitor(server, seeded.site_id, token=welcome["token"],
                             conversation_id=conv, last_seq=50, epoch=welcome["epoch"])
    assert back["conversation"]["last_seq"] == 1  # (what the client should go by)
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    opened = await ana.request({"type": "open", "id": "o", "conversation_id": conv,
                                "last_seq": 50})
    assert opened["conversation"]["last_seq"] == 1
    reply = await ana.request({"type": "send", "id": "a1", "conversation_id": conv,
                               "body": "hi, how can I help?"})
    assert (await v2.of_type("message", seq=reply["seq"]))["body"] == "hi, how can I help?"
    second = await v2.request({"type": "send", "id": "m2", "body": "my order"})
    assert (await ana.of_type("message", seq=second["seq"]))["body"] == "my order"
    for c in (v2, ana):
        await c.close()


async def test_two_tabs_share_one_conversation(server: ServerProcess, seeded: Seed) -> None:
    tab1, welcome = await visitor(server, seeded.site_id)
    tab2, _ = await visitor(server, seeded.site_id, token=welcome["token"])
    acks = [await tab1.request({"type": "send", "id": "t1", "body": "from tab one"}),
            await tab2.request({"type": "send", "id": "t2", "body": "from tab two"})]
    assert acks[0]["conversation_id"] == acks[1]["conversation_id"]
    # Tab two was told of the conversation tab one opened, follows it and sees both.
    told = await tab2.of_type("conversation")
    assert told["conversation"]["id"] == acks[0]["conversation_id"]
    await tab2.request({"type": "open", "id": "o", "conversation_id": told["conversation"]["id"],
                        "last_seq": 0})
    bodies = {(await tab2.of_type("message", seq=s))["body"] for s in (1, 2)}
    assert bodies == {"from tab one", "from tab two"}
    for c in (tab1, tab2):
        await c.close()


async def test_a_tab_that_writes_before_it_opens_gets_the_earlier_messages_first(
        server: ServerProcess, seeded: Seed) -> None:
    """Before: a tab that had not opened the conversation another tab started, and wrote to it,
    got its ack (seq 2) before message 1; a client counting the ack's seq as seen, as the
    protocol says, then dropped message 1 for ever."""
    tab1, welcome = await visitor(server, seeded.site_id)
    tab2, _ = await visitor(server, seeded.site_id, token=welcome["token"])
    await tab1.request({"type": "send", "id": "t1", "body": "from tab one"})
    await tab2.of_type("conversation")  # told, and writes without an `open`
    ack = await tab2.request({"type": "send", "id": "t2", "body": "from tab two"})
    assert ack["seq"] == 2
    await tab2.of_type("message", seq=1)
    # (Its own message 2 is the ack's, kept before it: tests/live.py Client._take.)
    order = [(f["type"], f.get("seq")) for f in tab2.frames if f["type"] in ("message", "ack")]
    assert order == [("message", 1), ("message", 2), ("ack", 2)], order
    for c in (tab1, tab2):
        await c.close()


async def test_agent_sees_existing_queue_and_history_pages(server: ServerProcess,
                                                           seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    ack = await v.request({"type": "send", "id": "m1", "body": "line 1"})
    conv = ack["conversation_id"]
    # The rest goes straight into the store (shared with the server, as a second process would).
    store = SQLiteStore(server.db, clock=time.time)
    await store.open()
    visitor_id = Tokens([SECRET], time.time).visitor(welcome["token"], 3600).visitor_id
    await asyncio.gather(*(store.append_visitor_message(seeded.site_id, visitor_id, f"m{i}",
                                                        f"line {i}") for i in range(2, 121)))
    await store.close()
    a, welcome = await agent(server, await login(server, seeded.agent_email))
    assert [c["id"] for c in welcome["conversations"]] == [conv]
    assert welcome["conversations"][0]["last_message"] == "line 120"
    page = await a.request({"type": "history", "id": "h", "conversation_id": conv,
                            "before_seq": 101, "limit": 50})
    assert [m["seq"] for m in page["messages"]] == list(range(51, 101))
    for c in (v, a):
        await c.close()


async def test_http_endpoints(server: ServerProcess, seeded: Seed) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        health = await http.get("/healthz")
        assert health.json() == {"status": "ok", "store": "ok", "broker": "ok", "email": "off"}
        loader = await http.get("/widget.js")
        assert loader.status_code == 200 and "javascript" in loader.headers["content-type"]
        assert loader.headers["x-content-type-options"] == "nosniff"
        frame = await http.get(f"/widget/frame?site={seeded.site_id}")
        assert frame.status_code == 200
        assert "frame-ancestors http://shop.test" in frame.headers["content-security-policy"]
        assert (await http.get("/widget/frame?site=nope")).status_code == 404
        # Before: the policy came from the last `site`, the frame's chat from the first, so a
        # page on another site's origin could embed this site's chat (a black-box tester's
        # report). A parameter given twice is refused.
        for pair in ((seeded.site_id, seeded.other_site_id), (seeded.other_site_id,
                                                               seeded.site_id)):
            twice = await http.get("/widget/frame", params=[("site", s) for s in pair])
            assert twice.status_code == 400, twice.headers.get("content-security-policy")
        assert (await http.get(f"/widget/frame?site={seeded.site_id}&parent=http://shop.test"
                               "&parent=http://other.test")).status_code == 400
        panel = await http.get("/agent")
        assert "frame-ancestors 'none'" in panel.headers["content-security-policy"]
        assert (await http.get("/agent/static/main.js")).status_code == 200
        module = await http.get("/widget/static/frame/main.js")
        assert module.status_code == 200 and "javascript" in module.headers["content-type"]
        assert (await http.get("/api/agent/me")).status_code == 401


async def test_agent_login_and_logout(server: ServerProcess, seeded: Seed) -> None:
    async with httpx.AsyncClient(base_url=server.http, headers={"Origin": server.http}) as http:
        bad = await http.post("/api/agent/login", json={"email": seeded.agent_email,
                                                        "password": "wrong"})
        assert bad.status_code == 401 and "livechat_agent" not in bad.cookies
        unknown = await http.post("/api/agent/login", json={"email": "who@x.test",
                                                            "password": "wrong"})
        assert unknown.status_code == 401 and unknown.json() == bad.json()
        ok = await http.post("/api/agent/login", json={"email": seeded.agent_email,
                                                       "password": "correct horse battery"})
        assert ok.status_code == 200
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert (await http.get("/api/agent/me")).json()["agent"]["name"] == "Ana"
        assert (await http.post("/api/agent/logout")).status_code == 200
        assert (await http.get("/api/agent/me")).status_code == 401
    async with httpx.AsyncClient(base_url=server.http) as http:
        cross = await http.post("/api/agent/login", headers={"Origin": "http://evil.test"},
                                json={"email": seeded.agent_email,
                                      "password": "correct horse battery"})
        assert cross.status_code == 403


async def test_origins_are_checked(server: ServerProcess, seeded: Seed) -> None:
    cookie = await login(server, seeded.agent_email)
    hijack = await Client.open(f"{server.ws}/ws/agent", origin="http://evil.test", cookie=cookie)
    assert await hijack.closed() == 4403
    no_origin = await Client.open(f"{server.ws}/ws/agent", origin=None, cookie=cookie)
    assert await no_origin.closed() == 4403
    v = await Client.open(f"{server.ws}/ws/visitor", origin="http://evil.test")
    assert await v.closed() == 4403
    anonymous = await Client.open(f"{server.ws}/ws/agent", origin=server.http)
    assert await anonymous.closed() == 4401

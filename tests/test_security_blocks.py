"""Issue 10, the block list: an agent blocks a visitor of their site (for good or a while), and
the address they came from for a while; the server enforces it on every socket and upload."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.live import Client, Seed, ServerProcess, agent, login, seed, serving, visitor


async def refused(server: ServerProcess, site_id: str, source: str | None = None,
                  **hello: object) -> int | None:
    c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http, source=source)
    await c.send({"type": "hello", "v": 1, "site": site_id, **hello})
    code = await c.closed()
    if code == 4423:
        assert c.frames[-1]["code"] == "blocked"
    return code


async def test_blocking_a_visitor(server: ServerProcess, seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "spam"}))["conversation_id"]
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    done = await ana.request({"type": "block", "id": "b", "conversation_id": conv,
                              "reason": "spam"})
    assert done["type"] == "ack"
    (entry,) = done["blocks"]
    assert entry["kind"] == "visitor" and entry["until"] is None and entry["reason"] == "spam"
    assert entry["by"] == {"name": "Ana"} and "ip" not in entry
    assert await v.closed() == 4423  # their open chat closes at once
    assert await refused(server, seeded.site_id, token=welcome["token"]) == 4423
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{server.http}/api/files", content=b"hello", headers={
            "Origin": server.http, "Authorization": f"Bearer {welcome['token']}"})
        assert r.status_code == 403 and r.json()["error"] == "blocked"
    # Someone else from the same address is not blocked by a visitor block.
    other, fresh = await visitor(server, seeded.site_id)
    assert fresh["type"] == "welcome"
    listed = await ana.request({"type": "blocks", "id": "l"})
    assert [b["id"] for b in listed["blocks"]] == [entry["id"]]
    assert (await ana.request({"type": "unblock", "id": "u", "block_id": entry["id"]}))[
        "type"] == "ack"
    again, back = await visitor(server, seeded.site_id, token=welcome["token"])
    assert back["conversation"]["id"] == conv
    for c in (other, again, ana):
        await c.close()


async def test_blocking_an_address_for_a_while(tmp_path: Path) -> None:
    db, clock = tmp_path / "ip.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    with serving(db, LIVECHAT_CLOCK_OFFSET_FILE=str(clock)) as server:
        v, _ = await visitor(server, seeded.site_id, source="127.0.0.3")
        conv = (await v.request({"type": "send", "id": "m1", "body": "x"}))["conversation_id"]
        ana, _ = await agent(server, await login(server, seeded.agent_email))
        done = await ana.request({"type": "block", "id": "b", "conversation_id": conv,
                                  "address": True, "hours": 2})
        kinds = sorted(b["kind"] for b in done["blocks"])
        assert kinds == ["address", "visitor"]
        assert all(b["until"] is not None for b in done["blocks"])
        assert await v.closed() == 4423
        # A new visitor from that address is refused; from another, welcome.
        assert await refused(server, seeded.site_id, source="127.0.0.3") == 4423
        elsewhere, welcome = await visitor(server, seeded.site_id, source="127.0.0.4")
        assert welcome["type"] == "welcome"
        # On another site the address is not blocked.
        _, there = await visitor(server, seeded.other_site_id, source="127.0.0.3")
        assert there["type"] == "welcome"
        clock.write_text(str(2 * 3600 + 1))  # the block ran out
        later, back = await visitor(server, seeded.site_id, source="127.0.0.3")
        assert back["type"] == "welcome"
        assert (await ana.request({"type": "blocks", "id": "l"}))["blocks"] == []
        for c in (elsewhere, later, ana):
            await c.close()


async def test_an_address_block_closes_every_open_chat_from_that_address(
        server: ServerProcess, seeded: Seed) -> None:
    """Before: only the blocked visitor's sockets were closed; another visitor already
    chatting from the same address went on sending (a black-box tester's report)."""
    v, _ = await visitor(server, seeded.site_id, source="127.0.0.5")
    conv = (await v.request({"type": "send", "id": "m1", "body": "x"}))["conversation_id"]
    same_address, _ = await visitor(server, seeded.site_id, source="127.0.0.5")
    elsewhere, _ = await visitor(server, seeded.site_id, source="127.0.0.6")
    other_site, _ = await visitor(server, seeded.other_site_id, source="127.0.0.5")
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    await ana.request({"type": "block", "id": "b", "conversation_id": conv, "address": True})
    assert await v.closed() == 4423
    assert await same_address.closed() == 4423
    for still in (elsewhere, other_site):  # another address; the same one on another site
        await still.send({"type": "ping", "id": "p"})
        assert (await still.of_type("pong"))["id"] == "p"
    for c in (elsewhere, other_site, ana):
        await c.close()


async def test_the_block_list_is_per_site(server: ServerProcess, seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "x"}))["conversation_id"]
    oz, _ = await agent(server, await login(server, seeded.other_agent_email))
    assert (await oz.request({"type": "block", "id": "b", "conversation_id": conv}))[
        "code"] == "not_found"
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    block_id = (await ana.request({"type": "block", "id": "b", "conversation_id": conv}))[
        "blocks"][0]["id"]
    assert (await oz.request({"type": "blocks", "id": "l"}))["blocks"] == []
    assert (await oz.request({"type": "unblock", "id": "u", "block_id": block_id}))[
        "code"] == "not_found"
    bad = await ana.request({"type": "block", "id": "b2", "conversation_id": conv,
                             "hours": 0})
    assert bad["code"] == "bad_frame"
    for c in (oz, ana):
        await c.close()

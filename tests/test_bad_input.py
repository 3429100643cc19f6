"""Bad input over a real server: each gets its documented error or close code, nothing is stored,
nobody else is affected, and no traceback reaches the log (the server fixture checks that)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live import (
    Client,
    Seed,
    ServerProcess,
    agent,
    login,
    seed,
    visitor,
    visitor_token,
)


def counts(server: ServerProcess) -> tuple[int, int]:
    with sqlite3.connect(server.db) as db:
        return (db.execute("SELECT count(*) FROM messages").fetchone()[0],
                db.execute("SELECT count(*) FROM conversations").fetchone()[0])


BAD_FRAMES: list[tuple[str, str]] = [
    ("{not json", "bad_json"),
    ('{"type": "send", "id": "a", "body": NaN}', "bad_json"),
    ('{"type": "send", "id": "a", "body": Infinity}', "bad_json"),
    ('{"type": "send", "type": "send", "id": "a", "body": "x"}', "bad_json"),
    ('["send"]', "bad_frame"),
    ('{"type": "teleport", "id": "a"}', "unknown_type"),
    ('{"type": "claim", "id": "a", "conversation_id": "c"}', "unknown_type"),
    ('{"id": "a", "body": "x"}', "bad_frame"),
    ('{"type": "send", "id": "a", "body": "x", "site": "other"}', "bad_frame"),
    ('{"type": "send", "id": 5, "body": "x"}', "bad_frame"),
    ('{"type": "send", "id": "a", "body": 5}', "bad_frame"),
    ('{"type": "send", "id": "a", "body": ["x"]}', "bad_frame"),
    ('{"type": "send", "id": "has space", "body": "x"}', "bad_frame"),
    ('{"type": "send", "id": "a", "body": "   "}', "bad_frame"),
    ('{"type": "send", "id": "a", "body": "nul \\u0000 inside"}', "bad_text"),
    ('{"type": "send", "id": "a", "body": "lone \\ud800 surrogate"}', "bad_text"),
    ('{"type": "send", "id": "a", "body": "' + "x" * 4001 + '"}', "too_long"),
    ('{"type": "open", "id": "a", "conversation_id": "c", "last_seq": -1}', "bad_frame"),
    ('{"type": "open", "id": "a", "conversation_id": "c", "last_seq": 1.5}', "bad_frame"),
    ('{"type": "open", "id": "a", "conversation_id": "c", "last_seq": true}', "bad_frame"),
    ('{"type": "hello", "v": 1, "site": "x"}', "bad_frame"),
]


async def test_bad_frames_get_their_error_and_change_nothing(server: ServerProcess,
                                                             seeded: Seed) -> None:
    bystander, _ = await visitor(server, seeded.site_id)
    v, _ = await visitor(server, seeded.site_id)
    before = counts(server)
    for raw, code in BAD_FRAMES:
        await v.send(raw)
        error = await v.of_type("error")
        assert error["code"] == code, (raw[:60], error)
    await v.send(b'{"type": "ping"}')  # binary frames are refused
    assert (await v.of_type("error"))["code"] == "bad_frame"
    assert counts(server) == before
    # The socket is still usable, and so is everyone else's.
    assert (await v.request({"type": "send", "id": "ok", "body": "fine"}))["type"] == "ack"
    assert (await bystander.request({"type": "send", "id": "b", "body": "me too"}))["seq"] == 1
    for c in (v, bystander):
        await c.close()


async def test_error_names_the_request_it_refuses(server: ServerProcess, seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    await v.send('{"type": "send", "id": "abc", "body": "' + "x" * 5000 + '"}')
    error = await v.of_type("error")
    assert error == {"type": "error", "code": "too_long", "id": "abc",
                     "message": "text is longer than 4000 characters"}
    await v.close()


async def test_oversize_frame_is_refused_before_buffering(server: ServerProcess,
                                                          seeded: Seed) -> None:
    bystander, _ = await visitor(server, seeded.site_id)
    v, _ = await visitor(server, seeded.site_id)
    before = counts(server)
    await v.send('{"type": "send", "id": "big", "body": "' + "x" * (70 * 1024) + '"}')
    assert await v.closed() == 1009
    assert counts(server) == before
    assert (await bystander.request({"type": "send", "id": "b", "body": "still here"}))["seq"]
    await bystander.close()


@pytest.mark.parametrize("first, close", [
    ('{"type": "send", "id": "a", "body": "x"}', 4400),
    ("garbage", 4400),
    ('{"type": "hello", "v": 99, "site": "S"}', 4426),
    ('{"type": "hello", "v": 1, "site": "site_nope"}', 4400),
])
async def test_bad_hello_closes(server: ServerProcess, seeded: Seed, first: str,
                                close: int) -> None:
    c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await c.send(first.replace('"S"', f'"{seeded.site_id}"'))
    assert await c.closed() == close
    assert c.frames and c.frames[-1]["type"] == "error"


async def test_forged_and_expired_tokens(server: ServerProcess, seeded: Seed) -> None:
    _, welcome = await visitor(server, seeded.site_id)
    token = welcome["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    expired = visitor_token(seeded.site_id, "vis_old", clock=lambda: time.time() - 400 * 86400)
    wrong_site = visitor_token(seeded.other_site_id, "vis_x")
    for bad in (forged, expired, wrong_site, "not-a-token"):
        c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
        await c.send({"type": "hello", "v": 1, "site": seeded.site_id, "token": bad})
        assert await c.closed() == 4401
    # An agent session cookie is not a visitor token, and a visitor token is not a session.
    cookie = await login(server, seeded.agent_email)
    c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await c.send({"type": "hello", "v": 1, "site": seeded.site_id, "token": cookie})
    assert await c.closed() == 4401
    c = await Client.open(f"{server.ws}/ws/agent", origin=server.http, cookie=token)
    assert await c.closed() == 4401


async def test_another_sites_conversation_is_not_found(server: ServerProcess,
                                                       seeded: Seed) -> None:
    v, _welcome = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "secret"}))["conversation_id"]
    before = counts(server)
    outsider, _ = await agent(server, await login(server, seeded.other_agent_email))
    frames: list[dict[str, Any]] = [
        {"type": "open", "id": "1", "conversation_id": conv},
        {"type": "history", "id": "2", "conversation_id": conv, "before_seq": 10},
        {"type": "claim", "id": "3", "conversation_id": conv},
        {"type": "send", "id": "4", "conversation_id": conv, "body": "hi"},
        {"type": "resolve", "id": "5", "conversation_id": conv},
        {"type": "open", "id": "6", "conversation_id": "conv_does_not_exist"},
    ]
    for frame in frames:
        assert (await outsider.request(frame))["code"] == "not_found"
    assert not [f for f in outsider.frames if f["type"] == "message"]
    assert counts(server) == before
    # Another visitor of the same site cannot open it either.
    other, _ = await visitor(server, seeded.site_id)
    assert (await other.request({"type": "open", "id": "o", "conversation_id": conv}))[
        "code"] == "not_found"
    sneaky, _ = await visitor(server, seeded.site_id, conversation_id=conv, last_seq=0)
    assert (await sneaky.of_type("error"))["code"] == "not_found"
    assert not [f for f in sneaky.frames if f["type"] == "message"]
    for c in (v, outsider, other, sneaky):
        await c.close()


async def test_agent_rules(server: ServerProcess, seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m", "body": "help"}))["conversation_id"]
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    bo, _ = await agent(server, await login(server, seeded.agent2_email))
    assert (await ana.request({"type": "claim", "id": "c", "conversation_id": conv}))[
        "type"] == "ack"
    assert (await bo.request({"type": "claim", "id": "c", "conversation_id": conv}))[
        "code"] == "already_claimed"
    assert (await bo.request({"type": "send", "id": "s", "conversation_id": conv,
                              "body": "me?"}))["code"] == "not_assignee"
    assert (await bo.request({"type": "resolve", "id": "r", "conversation_id": conv}))[
        "code"] == "not_assignee"
    again = await ana.request({"type": "claim", "id": "c2", "conversation_id": conv})
    assert again["type"] == "ack" and again["duplicate"] is True
    assert (await ana.request({"type": "resolve", "id": "r", "conversation_id": conv}))[
        "type"] == "ack"
    assert (await ana.request({"type": "send", "id": "late", "conversation_id": conv,
                               "body": "hello?"}))["code"] == "resolved"
    for c in (v, ana, bo):
        await c.close()


async def test_flooding_is_refused_then_closed(server: ServerProcess, seeded: Seed) -> None:
    bystander, _ = await visitor(server, seeded.site_id)
    v, _ = await visitor(server, seeded.site_id)
    for i in range(200):
        try:
            await v.send({"type": "ping", "id": f"p{i}"})
        except Exception:
            break
    assert await v.closed() == 4029
    assert any(f.get("code") == "rate_limited" for f in v.frames)
    assert (await bystander.request({"type": "send", "id": "b", "body": "unaffected"}))["seq"]
    await bystander.close()


async def test_hello_must_come_in_time_and_first(server: ServerProcess, seeded: Seed) -> None:
    c = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
    await c.send({"type": "ping"})
    assert await c.closed() == 4400
    v, _ = await visitor(server, seeded.site_id)
    again = await v.request({"type": "hello", "v": 1, "site": seeded.site_id, "id": "x"})
    assert again["code"] == "bad_frame"
    await v.send({"type": "hello", "v": 1, "site": seeded.site_id})
    assert (await v.of_type("error"))["message"] == "hello was already received"
    await v.close()


async def test_a_socket_that_never_says_hello_is_closed(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    await seed(db)
    server = ServerProcess(db, env={"LIVECHAT_HELLO_TIMEOUT": "0.3"}).start()
    try:
        silent = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
        assert await silent.closed() == 4408
        assert silent.frames[-1]["code"] == "bad_frame"
    finally:
        server.stop()

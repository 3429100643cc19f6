"""A client that sends without waiting for each ack (docs/protocol.md, "Sending without
waiting"): the sends share commits, and every answer and every delivery comes in the order the
frames were sent, exactly once, with frames of other kinds in their place among them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.live import Client, Seed, ServerProcess, agent, login, seed, serving, visitor

TOKEN = "metrics-token-0123456789"
#: Within the default limits (a socket's burst is 40 frames).
BURST = 30


async def batches(server: ServerProcess) -> float:
    """Write transactions committed so far (``livechat_store_batch_size``'s count)."""
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{server.http}/metrics",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    r.raise_for_status()
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if sample.name == "livechat_store_batch_size_count":
                return float(sample.value)
    raise AssertionError("livechat_store_batch_size is not exposed")


async def conversation_with_agent(server: ServerProcess, seeded: Seed) -> tuple[
    Client, Client, str
]:
    """A visitor who has written once, and an agent with the conversation open."""
    v, _ = await visitor(server, seeded.site_id)
    first = await v.request({"type": "send", "id": "first", "body": "hello"})
    conv = str(first["conversation_id"])
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "open", "id": "o", "conversation_id": conv})
    await a.of_type("message", seq=1)
    return v, a, conv


async def answers(client: Client, ids: list[str]) -> list[dict[str, Any]]:
    """The acks and errors for ``ids``, in the order the socket received them."""
    for id_ in ids:
        await client.next(lambda f, i=id_: f.get("type") in ("ack", "error")  # type: ignore[misc]
                          and f.get("id") == i)
    return [f for f in client.frames if f.get("type") in ("ack", "error") and f.get("id") in ids]


async def test_a_burst_of_sends_is_answered_and_delivered_in_order(
        any_server: ServerProcess, any_seeded: Seed) -> None:
    v, a, conv = await conversation_with_agent(any_server, any_seeded)
    ids = [f"m{i}" for i in range(BURST)]
    for i, id_ in enumerate(ids):  # none waits for the one before it
        await v.send({"type": "send", "id": id_, "body": f"burst {i}"})
    acks = await answers(v, ids)
    assert [ack["id"] for ack in acks] == ids
    assert [ack["seq"] for ack in acks] == list(range(2, BURST + 2))
    assert all(ack["type"] == "ack" and ack["duplicate"] is False for ack in acks)
    # The agent gets each once, in order; the visitor's socket is not sent them again.
    for seq in range(2, BURST + 2):
        assert (await a.of_type("message", seq=seq))["body"] == f"burst {seq - 2}"
    delivered = [f["seq"] for f in a.frames if f.get("type") == "message"]
    assert delivered == list(range(1, BURST + 2))
    own = [f["seq"] for f in v.frames if f.get("type") == "message" and f.get("seq", 0) > 1]
    assert own == list(range(2, BURST + 2))  # (each from its ack: tests/live.py keeps them)

    # Resent without waiting (a reconnecting client): each a duplicate with its first seq.
    resent = ids[:5]  # (the rest of the socket's burst allowance)
    for i, id_ in enumerate(resent):
        await v.send({"type": "send", "id": id_, "body": f"burst {i}"})
    again = (await answers(v, resent))[len(resent):]
    assert [(ack["id"], ack["seq"], ack["duplicate"]) for ack in again] == [
        (id_, i + 2, True) for i, id_ in enumerate(resent)]
    agent_reply = await a.request({"type": "send", "id": "r", "conversation_id": conv,
                                   "body": "got them"})
    # No seq was taken by the resends: the reply claims (`joined`, BURST + 2), then is next.
    assert agent_reply["seq"] == BURST + 3
    for c in (v, a):
        await c.close()


async def test_the_burst_shares_commits(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    with serving(db, LIVECHAT_METRICS_TOKEN=TOKEN) as server:
        v, a, _ = await conversation_with_agent(server, seeded)
        before = await batches(server)
        ids = [f"m{i}" for i in range(BURST)]
        for i, id_ in enumerate(ids):
            await v.send({"type": "send", "id": id_, "body": f"burst {i}"})
        await answers(v, ids)
        committed = await batches(server) - before
        # Each send waiting for the one before it took a commit each (30, and whatever else
        # the server wrote meanwhile); the burst shares them.
        assert 1 <= committed < 20, committed
        for c in (v, a):
            await c.close()


async def test_other_frames_are_answered_in_their_place(
        server: ServerProcess, seeded: Seed) -> None:
    v, a, conv = await conversation_with_agent(server, seeded)
    sent: list[dict[str, Any] | str] = [
        {"type": "send", "id": "s1", "body": "one"},
        {"type": "send", "id": "s2", "body": "two"},
        '{"type": "send", "id": "bad", "body": "x", "body": "y"}',  # a duplicate key
        {"type": "send", "id": "s3", "body": "three"},
        {"type": "ping", "id": "p"},
        {"type": "send", "id": "s4", "body": "x" * 5_000},  # over the text limit
        {"type": "send", "id": "s5", "body": "five"},
    ]
    for frame in sent:
        await v.send(frame)
    await v.of_type("pong", id="p")
    got = await answers(v, ["s1", "s2", "bad", "s3", "s4", "s5"])
    assert [(f["id"], f["type"]) for f in got] == [
        ("s1", "ack"), ("s2", "ack"), ("bad", "error"), ("s3", "ack"), ("s4", "error"),
        ("s5", "ack")]
    assert [f["seq"] for f in got if f["type"] == "ack"] == [2, 3, 4, 5]
    order = [f.get("id") for f in v.frames if f.get("type") in ("ack", "error", "pong")]
    assert order.index("s3") < order.index("p") < order.index("s4")

    # An agent's replies in a conversation it has open are pipelined too.
    replies = [f"r{i}" for i in range(10)]
    for i, id_ in enumerate(replies):
        await a.send({"type": "send", "id": id_, "conversation_id": conv, "body": f"reply {i}"})
    acks = await answers(a, replies)
    # The first reply claims the conversation (`joined` takes seq 6).
    assert [(f["id"], f["seq"]) for f in acks] == [(r, 7 + i) for i, r in enumerate(replies)]
    for seq in range(7, 17):
        assert (await v.of_type("message", seq=seq))["body"] == f"reply {seq - 7}"
    for c in (v, a):
        await c.close()


async def test_a_visitor_gone_right_after_a_burst_loses_nothing(
        server: ServerProcess, seeded: Seed) -> None:
    v, a, _ = await conversation_with_agent(server, seeded)
    for i in range(BURST):
        await v.send({"type": "send", "id": f"m{i}", "body": f"burst {i}"})
    await v.close()  # before any ack was read
    for seq in range(2, BURST + 2):
        assert (await a.of_type("message", seq=seq))["body"] == f"burst {seq - 2}"
    await a.close()


async def test_refusals_for_the_rate_come_in_their_place(
        server: ServerProcess, seeded: Seed) -> None:
    """Past the socket's burst (40 frames), sends are refused with ``rate_limited``: each answer,
    ack or refusal, still comes in the order its frame was sent."""
    v, a, _ = await conversation_with_agent(server, seeded)
    ids = [f"m{i}" for i in range(50)]
    for i, id_ in enumerate(ids):
        await v.send({"type": "send", "id": id_, "body": f"burst {i}"})
    got = await answers(v, ids)
    assert [f["id"] for f in got] == ids
    refused = [f for f in got if f["type"] == "error"]
    assert refused and all(f["code"] == "rate_limited" for f in refused)
    acked = [f["seq"] for f in got if f["type"] == "ack"]
    assert acked == list(range(2, len(acked) + 2))  # gap-free: a refusal took no seq
    for seq in acked:  # the agent gets what was acked, and only that
        await a.of_type("message", seq=seq)
    assert [f["seq"] for f in a.frames if f.get("type") == "message"] == [1, *acked]
    for c in (v, a):
        await c.close()

"""Faults for real: connections cut mid-send, the server killed with SIGKILL, agents racing.
Nothing acknowledged may be lost, nothing may be doubled, every view must equal the store —
on SQLite and on PostgreSQL (the ``record`` fixture)."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import struct
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests import pg
from tests.live import (
    UNLIMITED,
    Client,
    ServerProcess,
    agent,
    login,
    make_store,
    seed,
    visitor,
)

pytestmark = pytest.mark.slow
FAST = UNLIMITED


def transcript(db: Path | str, conversation_id: str) -> list[tuple[int, str, str]]:
    return pg.rows(db, "SELECT seq, kind, body FROM messages WHERE conversation_id = ? "
                   "ORDER BY seq", (conversation_id,))


def partial_frame(text: str) -> bytes:
    """The first half of a masked client text frame: what a socket cut mid-send leaves."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | length]) if length < 126
                              else bytes([0x80 | 126]) + struct.pack("!H", length))
    frame = header + mask + masked
    return frame[: len(frame) // 2]


class ResilientVisitor:
    """A visitor that reconnects with its token and last seq, and resends what is unacked."""

    def __init__(self, server: ServerProcess, site_id: str) -> None:
        self.server = server
        self.site_id = site_id
        self.token: str | None = None
        self.epoch: str | None = None
        self.conversation_id: str | None = None
        self.last_seq = 0
        self.seen: list[dict[str, Any]] = []
        self.client: Client | None = None

    async def connect(self) -> Client:
        hello: dict[str, Any] = {}
        if self.token:
            hello["token"] = self.token
        if self.conversation_id:
            hello.update(conversation_id=self.conversation_id, last_seq=self.last_seq,
                         epoch=self.epoch)
        self.client, welcome = await visitor(self.server, self.site_id, **hello)
        self.token, self.epoch = welcome["token"], welcome["epoch"]
        return self.client

    def absorb(self) -> None:
        """Take the message frames the client has received, checking order and uniqueness."""
        assert self.client is not None
        for frame in self.client.frames:
            if frame.get("type") == "message" and frame.get("_absorbed") is None:
                frame["_absorbed"] = True
                assert frame["seq"] == self.last_seq + 1, (frame["seq"], self.last_seq)
                self.last_seq = frame["seq"]
                self.conversation_id = frame["conversation_id"]
                self.seen.append(frame)


async def test_200_messages_with_random_cuts(record: pg.Record) -> None:
    db = record.db
    seeded = await seed(db)
    server = ServerProcess(record.home, env={**FAST, **record.env}).start()
    rng = random.Random(20261123)
    try:
        v = ResilientVisitor(server, seeded.site_id)
        pending = [(f"msg-{i:03d}", f"message number {i}") for i in range(200)]
        acked: dict[str, int] = {}
        cuts = 0
        while pending:
            client = await v.connect()
            try:
                window = pending[:10]
                for msg_id, body in window:
                    roll = rng.random()
                    if roll < 0.07:
                        # Cut in the middle of writing the frame.
                        frame = f'{{"type":"send","id":"{msg_id}","body":"{body}"}}'
                        client.ws.transport.write(partial_frame(frame))
                        client.ws.transport.abort()
                        cuts += 1
                        raise ConnectionError("cut mid-send")
                    await client.send({"type": "send", "id": msg_id, "body": body})
                    if roll < 0.14:
                        client.ws.transport.abort()  # cut after sending, before the ack
                        cuts += 1
                        raise ConnectionError("cut before ack")
                for msg_id, _ in window:
                    ack = await client.next(lambda f, i=msg_id: f.get("id") == i
                                            and f.get("type") in ("ack", "error"))
                    assert ack["type"] == "ack", ack
                    assert acked.setdefault(msg_id, ack["seq"]) == ack["seq"]
                pending = pending[len(window):]
                await client.next(lambda f: f.get("type") == "message"
                                  and f.get("seq") == max(acked.values()))
                v.absorb()
                await client.close()
            except (ConnectionError, ConnectionClosed):
                v.absorb()
        assert cuts >= 10
        assert v.conversation_id is not None
        stored = transcript(db, v.conversation_id)
        assert [row[0] for row in stored] == list(range(1, 201))
        assert [row[2] for row in stored] == [f"message number {i}" for i in range(200)]
        assert sorted(acked.values()) == list(range(1, 201))
        assert [(f["seq"], f["body"]) for f in v.seen] == [(s, b) for s, _, b in stored]

        # The agent's view equals the store's.
        a, _ = await agent(server, await login(server, seeded.agent_email))
        await a.request({"type": "open", "id": "o", "conversation_id": v.conversation_id})
        seen = [await a.of_type("message") for _ in range(200)]
        assert [(m["seq"], m["kind"], m["body"]) for m in seen] == stored
        await a.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


async def test_kill_9_and_restart_mid_conversation(record: pg.Record) -> None:
    db = record.db
    seeded = await seed(db)
    server = ServerProcess(record.home, env={**FAST, **record.env}).start()
    try:
        v = ResilientVisitor(server, seeded.site_id)
        vc = await v.connect()
        acked = []
        for i in range(10):
            acked.append(await vc.request({"type": "send", "id": f"v{i}", "body": f"v{i}"}))
        conv = acked[0]["conversation_id"]
        cookie = await login(server, seeded.agent_email)
        ac, _ = await agent(server, cookie)
        await ac.request({"type": "claim", "id": "c", "conversation_id": conv})
        await ac.request({"type": "open", "id": "o", "conversation_id": conv})
        for i in range(5):
            acked.append(await ac.request({"type": "send", "id": f"a{i}",
                                           "conversation_id": conv, "body": f"a{i}"}))
        agent_seen = [await ac.of_type("message") for _ in range(16)]
        await vc.of_type("message", seq=16)
        v.absorb()
        # Send more without waiting, then kill the server at once.
        for i in range(10, 20):
            await vc.send({"type": "send", "id": f"v{i}", "body": f"v{i}"})
        server.kill9()
        assert await vc.closed() in (1006, 1011, 1012)
        v.absorb()
        for f in vc.frames:
            if f.get("type") == "ack":
                acked.append(f)

        server.start()  # same port, same file
        vc = await v.connect()
        for i in range(10, 20):  # resend everything not acknowledged; resends are harmless
            ack = await vc.request({"type": "send", "id": f"v{i}", "body": f"v{i}"})
            assert ack["type"] == "ack"
            acked.append(ack)
        await vc.of_type("message", seq=26)
        v.absorb()
        ac, _ = await agent(server, cookie)  # the session cookie survives the restart
        last = agent_seen[-1]["seq"]
        await ac.request({"type": "open", "id": "o2", "conversation_id": conv, "last_seq": last})
        agent_seen += [await ac.of_type("message") for _ in range(26 - last)]

        stored = transcript(db, conv)
        assert [s for s, _, _ in stored] == list(range(1, 27))
        bodies = [b for _, k, b in stored if k == "text"]
        expected = [f"v{i}" for i in range(20)] + [f"a{i}" for i in range(5)]
        assert sorted(bodies) == sorted(expected)
        assert len(bodies) == 25  # nothing doubled
        assert {a["seq"] for a in acked if a["type"] == "ack"} <= {s for s, _, _ in stored}
        assert [(f["seq"], f["body"]) for f in v.seen] == [(s, b) for s, _, b in stored]
        assert [(f["seq"], f["body"]) for f in agent_seen] == [(s, b) for s, _, b in stored]
        for c in (vc, ac):
            await c.close()
    finally:
        server.stop()


async def test_two_agents_race_to_claim_200_times(record: pg.Record) -> None:
    db = record.db
    seeded = await seed(db)
    store = make_store(db)
    await store.open()
    changes = await asyncio.gather(*(store.append_visitor_message(
        seeded.site_id, f"vis_race{i}", "m", "hello") for i in range(200)))
    await store.close()
    conversations = [c.conversation.id for c in changes]
    server = ServerProcess(record.home, env={**FAST, **record.env}).start()
    try:
        ana, _ = await agent(server, await login(server, seeded.agent_email))
        bo, _ = await agent(server, await login(server, seeded.agent2_email))
        winners = {"Ana": 0, "Bo": 0}
        for i, conv in enumerate(conversations):
            first, second = (ana, bo) if i % 2 else (bo, ana)
            await asyncio.gather(
                first.send({"type": "claim", "id": f"c{i}", "conversation_id": conv}),
                second.send({"type": "claim", "id": f"c{i}", "conversation_id": conv}),
            )
            results = await asyncio.gather(
                *(c.next(lambda f, i=i: f.get("id") == f"c{i}") for c in (ana, bo))
            )
            oks = [r for r in results if r["type"] == "ack"]
            assert len(oks) == 1, results
            assert [r["code"] for r in results if r["type"] == "error"] == ["already_claimed"]
            winners[oks[0]["conversation"]["assignee"]["name"]] += 1
        assert sum(winners.values()) == 200
        joined = pg.rows(db, "SELECT conversation_id, count(*) FROM messages "
                         "WHERE kind = 'joined' GROUP BY conversation_id")
        assert len(joined) == 200 and {n for _, n in joined} == {1}
        for c in (ana, bo):
            await c.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log()



async def test_kill_9_while_writing_and_indexing_leaves_each_message_indexed_once(
        tmp_path: Path) -> None:
    """SQLite's search index is a file of its own, written after the commit by a thread of its
    own (server/store/sqlite_search.py). A server killed with SIGKILL three times while visitors
    write leaves, once every unacknowledged message is sent again, each stored text in the index
    exactly once: none missing, none doubled. (Where a kill lands is not chosen; the narrowest
    case, between a step's commit and its ``fts_pending`` write, is made on purpose in
    tests/test_store_search.py.)"""
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    server = ServerProcess(db, env=FAST).start()
    visitors = [ResilientVisitor(server, seeded.site_id) for _ in range(4)]
    frames = [(i, f"m{n}", f"kiwi {i} {n}") for n in range(150) for i in range(4)]
    try:
        for kill_after in (60, 110, 149):  # (the ack a kill waits for differs each time)
            clients = [await v.connect() for v in visitors]
            for i, msg_id, body in frames:
                await clients[i].send({"type": "send", "id": msg_id, "body": body})
            await clients[3].of_type("ack", id=f"m{kill_after}")
            server.kill9()
            for client in clients:
                assert await client.closed() == 1006  # (cut, not closed)
            server.start()
        for v in visitors:  # everything again: resends of what was stored change nothing
            client = await v.connect()
            for n in range(150):
                ack = await client.request({"type": "send", "id": f"m{n}",
                                            "body": f"kiwi {visitors.index(v)} {n}"})
                assert ack["type"] == "ack", ack
            await client.close()
        ana, _ = await agent(server, await login(server, seeded.agent_email))
        found = await ana.request({"type": "search", "id": "s", "query": "kiwi"})
        assert len(found["results"]) == 30  # (a page; the search indexed what was pending)
        await ana.close()
    finally:
        server.stop()
    stored = pg.rows(db, "SELECT conversation_id, seq FROM messages WHERE kind = 'text'")
    assert len(stored) == 600
    with sqlite3.connect(f"{db}-search") as index:
        rows = index.execute("SELECT conversation_id, seq FROM messages_fts").fetchall()
    assert sorted(rows) == sorted(stored)

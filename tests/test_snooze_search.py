"""Snooze (woken by time, on a clock the test moves, or by the visitor writing) and full-text
search, over a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import Seed, ServerProcess, agent, login, serving, visitor

HOUR_MS = 3600 * 1000


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock-offset"
    path.write_text("0")
    return path


@pytest.fixture
def timed_server(db: Path, seeded: Seed, clock_file: Path) -> Iterator[ServerProcess]:
    with serving(db, LIVECHAT_CLOCK_OFFSET_FILE=str(clock_file),
                 LIVECHAT_ROUTING_INTERVAL="0.2") as proc:
        yield proc


async def test_snooze_wakes_when_its_time_comes(timed_server: ServerProcess, seeded: Seed,
                                                clock_file: Path) -> None:
    server = timed_server
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "Call me tomorrow"}))[
        "conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    until = int(time.time() * 1000) + 24 * HOUR_MS
    snoozed = await a.request({"type": "snooze", "id": "s1", "conversation_id": conv,
                               "until": until})
    assert snoozed["conversation"]["snoozed_until"] == until
    past = await a.request({"type": "snooze", "id": "s2", "conversation_id": conv,
                            "until": int(time.time() * 1000) - 1000})
    assert past["code"] == "bad_frame"
    # Still snoozed after many routing sweeps; then the server's clock passes the time.
    b, welcome = await agent(server, await login(server, seeded.agent2_email))
    summary = next(c for c in welcome["conversations"] if c["id"] == conv)
    assert summary["snoozed_until"] == until
    clock_file.write_text(str(25 * 3600))  # noqa: ASYNC240 — a few bytes, the test's own file
    woke = await b.next(lambda f: f.get("type") == "conversation"
                        and f["conversation"]["id"] == conv
                        and f["conversation"]["snoozed_until"] is None, timeout=15)
    assert woke["conversation"]["status"] == "waiting"
    for c in (v, a, b):
        await c.close()


async def test_snooze_ends_when_the_visitor_writes(server: ServerProcess, seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "Hi"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "snooze", "id": "s", "conversation_id": conv,
                     "until": int(time.time() * 1000) + HOUR_MS})
    await v.request({"type": "send", "id": "m2", "body": "Actually, one more thing"})
    woke = await a.next(lambda f: f.get("type") == "conversation"
                        and f["conversation"]["snoozed_until"] is None
                        and f["conversation"]["last_seq"] == 2)
    assert woke["conversation"]["id"] == conv
    # Waking by hand, and nothing to snooze once resolved.
    await a.request({"type": "snooze", "id": "s2", "conversation_id": conv,
                     "until": int(time.time() * 1000) + HOUR_MS})
    awake = await a.request({"type": "snooze", "id": "s3", "conversation_id": conv})
    assert awake["conversation"]["snoozed_until"] is None
    await a.request({"type": "resolve", "id": "x", "conversation_id": conv})
    refused = await a.request({"type": "snooze", "id": "s4", "conversation_id": conv,
                               "until": int(time.time() * 1000) + HOUR_MS})
    assert refused["code"] == "resolved"
    oz, _ = await agent(server, await login(server, seeded.other_agent_email))
    foreign = await oz.request({"type": "snooze", "id": "s5", "conversation_id": conv})
    assert foreign["code"] == "not_found"
    for c in (v, a, oz):
        await c.close()


async def test_search_finds_words_notes_and_people_in_ones_own_sites(
        any_server: ServerProcess, any_seeded: Seed) -> None:
    """On SQLite (FTS5) and on PostgreSQL (text search): the same words, snippets and scope."""
    server, seeded = any_server, any_seeded
    v, _ = await visitor(server, seeded.site_id)
    await v.request({"type": "profile", "id": "p", "name": "Maria Silva",
                     "email": "maria@example.com"})
    conv = (await v.request({"type": "send", "id": "m1",
                             "body": "My Trail Runner shoes arrived damaged"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "note", "id": "n", "conversation_id": conv,
                     "body": "Refund approved by Zoë"})
    other, _ = await visitor(server, seeded.site_id)
    await other.request({"type": "send", "id": "m", "body": "Do you sell tents?"})

    async def search(client: object, query: str) -> list[tuple[str, int, str]]:
        result = await client.request({"type": "search", "id": "q", "query": query})  # type: ignore[attr-defined]
        return [(r["conversation"]["id"], r["seq"], r["snippet"]) for r in result["results"]]

    assert await search(a, "trail damag") == [(conv, 1, "My [Trail] Runner shoes arrived "
                                                        "[damaged]")]
    assert await search(a, "zoe refund") == [(conv, 2, "[Refund] approved by [Zoë]")]
    assert [hit[0] for hit in await search(a, "maria@example")] == [conv]
    assert await search(a, "trail tents") == []  # every word must match
    assert await search(a, '"unbalanced OR ( NEAR') == []  # query syntax is not interpreted
    assert await search(a, "100%_") == []
    oz, _ = await agent(server, await login(server, seeded.other_agent_email))
    assert await search(oz, "trail") == [] and await search(oz, "maria") == []
    # Order numbers, addresses and versions: every part of them, as FTS5 splits them (before,
    # PostgreSQL's parser kept "-17" of "A-17", "+17", "v2.1" and "jo@acme.example" whole).
    numbers = (await other.request({
        "type": "send", "id": "m2", "body": "Order A-17 (ORD-2024-33), see "
        "www.acme.example/orders or write to jo@acme.example; +17 days, app v2.1"}))[
        "conversation_id"]
    for query in ("17", "A-17", "a 17", "2024", "ORD-2024-33", "orders", "jo", "acme.example",
                  "jo@acme.example", "+17", "v2", "v2.1"):
        assert [hit[0] for hit in await search(a, query)] == [numbers], query
    assert await search(a, "A-33") == []  # the parts of one, in its order
    for c in (v, a, other, oz):
        await c.close()

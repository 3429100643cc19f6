"""The panel's tools over a real server: internal notes (which never reach a visitor, by any
path), tags, reopen, transfer with a note, canned responses, paginated lists, the visitor's
context, and the refusals for an agent of another site or a non-admin."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.live import Client, Seed, ServerProcess, add_admin, agent, login, open_store, visitor


@pytest.fixture
async def admin_email(db: Path, seeded: Seed) -> str:
    return await add_admin(db)


async def conversation(server: ServerProcess, seeded: Seed) -> tuple[Client, dict[str, Any],
                                                                      Client, str]:
    """A visitor who wrote once; Ana has it open."""
    v, welcome = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "Hello"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "open", "id": "o1", "conversation_id": conv})
    return v, welcome, a, conv


def kinds(client: Client) -> list[str]:
    return [f["kind"] for f in client.frames if f.get("type") == "message"]


async def test_notes_never_reach_the_visitor(server: ServerProcess, seeded: Seed) -> None:
    v, welcome, a, conv = await conversation(server, seeded)
    note = await a.request({"type": "note", "id": "n1", "conversation_id": conv,
                            "body": "VIP customer — be generous"})
    assert note["seq"] == 2
    # A reply with the note's id and words is another message, not a resend of the note (a
    # black-box tester's: it was acknowledged as a duplicate and the visitor never got it).
    same = await a.request({"type": "send", "id": "n1", "conversation_id": conv,
                            "body": "VIP customer — be generous"})
    assert (same["type"], same["code"]) == ("error", "id_conflict"), same
    await a.request({"type": "send", "id": "r1", "conversation_id": conv, "body": "Hi!"})
    # Live: the visitor gets the claim and the reply (seq 3, 4), never seq 2.
    reply = await v.of_type("message", id="r1")
    assert reply["seq"] == 4 and "note" not in kinds(v)
    assert [f["seq"] for f in v.frames if f.get("type") == "message"] == [1, 3, 4]
    # The agents' side has the whole sequence, gap-free.
    assert (await a.of_type("message", seq=2))["body"] == "VIP customer — be generous"
    # Catching up from the start, in another tab, and by "open": still no note.
    v2, _ = await visitor(server, seeded.site_id, token=welcome["token"],
                          conversation_id=conv, last_seq=0, epoch=welcome["epoch"])
    await v2.of_type("message", seq=4)
    v3, _ = await visitor(server, seeded.site_id, token=welcome["token"])
    await v3.request({"type": "open", "id": "op", "conversation_id": conv, "last_seq": 0})
    await v3.of_type("message", seq=4)
    # A note through a transfer, too.
    bo = await login(server, seeded.agent2_email)
    b, _ = await agent(server, bo)
    await b.request({"type": "open", "id": "o2", "conversation_id": conv})
    await a.request({"type": "transfer", "id": "t1", "conversation_id": conv,
                     "agent_id": _agent_id(b), "note": "Wants a refund, order 1234"})
    seen_by_bo = [(f["kind"], f["body"]) for f in await _messages(b, 6)]
    assert ("note", "Wants a refund, order 1234") in seen_by_bo
    transferred = await v.next(lambda f: f.get("type") == "message"
                               and f["kind"] == "transferred")
    assert transferred["seq"] == 6
    await a.request({"type": "send", "id": "late", "conversation_id": conv, "body": "x"})
    for client in (v, v2, v3):
        assert "note" not in kinds(client)
        assert "VIP" not in str(client.frames) and "refund" not in str(client.frames)
    for c in (v, v2, v3, a, b):
        await c.close()


async def test_a_note_mentions_colleagues(server: ServerProcess, seeded: Seed) -> None:
    """A note can be for colleagues (``mentions``): each is told (``mention``) on every panel
    of theirs, once, whether or not they have the conversation open; the note keeps whom it
    was for. A colleague of another site, or no agent at all, is ``not_found``, and nothing
    is written. Visitors never see any of it."""
    v, _, a, conv = await conversation(server, seeded)
    bo = await login(server, seeded.agent2_email)
    b, _ = await agent(server, bo)
    b2, _ = await agent(server, bo)  # a second panel of Bo's
    oz, _ = await agent(server, await login(server, seeded.other_agent_email))
    bo_id, ana_id = _agent_id(b), _agent_id(a)
    body = "@Bo can you check the refund? Order 1234"
    note = await a.request({"type": "note", "id": "n1", "conversation_id": conv, "body": body,
                            "mentions": [bo_id, ana_id, bo_id]})
    assert note["type"] == "ack" and note["message"]["mentions"] == [bo_id]  # (not the author)
    for panel in (b, b2):
        told = await panel.of_type("mention")
        assert told["conversation"]["id"] == conv
        assert (told["message"]["seq"], told["message"]["body"]) == (note["seq"], body)
        assert told["message"]["author"]["id"] == ana_id
    again = await a.request({"type": "note", "id": "n1", "conversation_id": conv, "body": body,
                             "mentions": [bo_id] * 20})  # (one id, 20 times: one)
    assert again["type"] == "ack" and again["duplicate"]
    for other in ([], [_agent_id(oz)]):  # the same id for a note for others: another note
        changed = await a.request({"type": "note", "id": "n1", "conversation_id": conv,
                                   "body": body, "mentions": other})
        assert (changed["type"], changed["code"]) == ("error", "id_conflict"), changed
    for who in (_agent_id(oz), "agt_nobody"):
        refused = await a.request({"type": "note", "id": f"n-{who}", "conversation_id": conv,
                                   "body": "psst", "mentions": [who]})
        assert (refused["type"], refused["code"]) == ("error", "not_found"), refused
    for wrong in ("Bo", [1], [f"agt_{n}" for n in range(21)], [bo_id] * 21):
        refused = await a.request({"type": "note", "id": "n-bad", "conversation_id": conv,
                                   "body": "psst", "mentions": wrong})
        assert (refused["type"], refused["code"]) == ("error", "bad_frame"), refused
    second = await a.request({"type": "note", "id": "n2", "conversation_id": conv,
                              "body": "@Bo and this one", "mentions": [bo_id]})
    await b.of_type("mention", message={**second["message"]})
    # Exactly two mentions reached Bo (none for the resend or the refused notes), none Oz.
    assert [f["message"]["seq"] for f in b.frames if f.get("type") == "mention"] == [
        note["seq"], second["seq"]]
    assert [f["seq"] for f in await _messages(a, second["seq"]) if f["kind"] == "note"] == [
        note["seq"], second["seq"]]  # nothing between them: the refused wrote nothing
    await a.request({"type": "send", "id": "r1", "conversation_id": conv, "body": "Hi!"})
    await v.of_type("message", id="r1")
    assert "mention" not in str(v.frames) and "refund" not in str(v.frames)
    assert not [f for f in oz.frames if f.get("type") == "mention"]

    # Bo's Mentions view: the two notes, newest first, each with its conversation; nobody
    # else's (Ana was mentioned by nobody, Oz works on another site).
    listed = await b.request({"type": "mentions", "id": "m"})
    assert [(m["message"]["seq"], m["message"]["body"]) for m in listed["mentions"]] == [
        (second["seq"], "@Bo and this one"), (note["seq"], body)]
    assert {m["conversation"]["id"] for m in listed["mentions"]} == {conv}
    assert listed["mentions"][0]["message"]["author"]["id"] == ana_id
    assert [m["seen"] for m in listed["mentions"]] == [False, False]  # Bo has not opened it
    await b.request({"type": "open", "id": "bo-opens", "conversation_id": conv})
    listed = await b2.request({"type": "mentions", "id": "m2"})  # (any panel of his)
    assert [m["seen"] for m in listed["mentions"]] == [True, True]
    for other in (a, oz):
        assert (await other.request({"type": "mentions", "id": "m"}))["mentions"] == []
    refused = await v.request({"type": "mentions", "id": "m"})  # not a visitor's frame
    assert refused["type"] == "error"
    for c in (v, a, b, b2, oz):
        await c.close()


def _agent_id(client: Client) -> str:
    welcome = next(f for f in client.frames if f.get("type") == "welcome")
    return str(welcome["agent"]["id"])


async def _messages(client: Client, up_to: int) -> list[dict[str, Any]]:
    """Every message frame up to seq ``up_to``, waiting for the last."""
    await client.next(lambda f: f.get("type") == "message" and f["seq"] == up_to)
    return [f for f in client.frames if f.get("type") == "message"]


async def test_tags_and_filtering(server: ServerProcess, seeded: Seed) -> None:
    v, _, a, conv = await conversation(server, seeded)
    tagged = await a.request({"type": "tag", "id": "t1", "conversation_id": conv,
                              "tag": "refund", "on": True})
    assert tagged["conversation"]["tags"] == ["refund"]
    await a.request({"type": "tag", "id": "t2", "conversation_id": conv, "tag": "vip",
                     "on": True})
    update = await a.next(lambda f: f.get("type") == "conversation"
                          and f["conversation"]["tags"] == ["refund", "vip"])
    assert update["conversation"]["id"] == conv
    other, _ = await visitor(server, seeded.site_id)
    await other.request({"type": "send", "id": "m", "body": "untagged"})
    listed = await a.request({"type": "list", "id": "l1", "tag": "refund"})
    assert [c["id"] for c in listed["conversations"]] == [conv]
    removed = await a.request({"type": "tag", "id": "t3", "conversation_id": conv,
                               "tag": "refund", "on": False})
    assert removed["conversation"]["tags"] == ["vip"]
    assert (await a.request({"type": "list", "id": "l2", "tag": "refund"}))["conversations"] == []
    for bad in ("Refund", "", "x" * 33, "a,b", " lead"):
        refused = await a.request({"type": "tag", "id": "t4", "conversation_id": conv,
                                   "tag": bad, "on": True})
        assert refused["code"] == "bad_frame", bad
    for i in range(19):
        await a.request({"type": "tag", "id": f"m{i}", "conversation_id": conv,
                         "tag": f"t{i}", "on": True})
    full = await a.request({"type": "tag", "id": "over", "conversation_id": conv,
                            "tag": "one-too-many", "on": True})
    assert full["code"] == "too_many"
    for c in (v, a, other):
        await c.close()


async def test_reopen(server: ServerProcess, seeded: Seed) -> None:
    v, _welcome, a, conv = await conversation(server, seeded)
    await a.request({"type": "resolve", "id": "x", "conversation_id": conv})
    b, _ = await agent(server, await login(server, seeded.agent2_email))
    reopened = await b.request({"type": "reopen", "id": "r", "conversation_id": conv})
    assert reopened["conversation"]["status"] == "assigned"
    assert reopened["conversation"]["assignee"]["name"] == "Bo"
    event = await v.next(lambda f: f.get("type") == "message" and f["kind"] == "reopened")
    assert event["author"]["name"] == "Bo"
    again = await b.request({"type": "reopen", "id": "r2", "conversation_id": conv})
    assert again["duplicate"] is True
    # Bo's, open: Ana's reopen did nothing, and is not told it was done (it was duplicate).
    others = await a.request({"type": "reopen", "id": "r-ana", "conversation_id": conv})
    assert others["code"] == "not_resolved", others
    # A visitor has one open conversation at a time: no reopening beside a newer one.
    await b.request({"type": "resolve", "id": "x2", "conversation_id": conv})
    await v.request({"type": "send", "id": "new", "body": "Another question"})
    busy = await b.request({"type": "reopen", "id": "r3", "conversation_id": conv})
    assert busy["code"] == "already_open"
    for c in (v, a, b):
        await c.close()


async def test_canned_responses(server: ServerProcess, seeded: Seed, admin_email: str) -> None:
    a, welcome = await agent(server, await login(server, seeded.agent_email))
    assert welcome["canned"] == []
    mine = await a.request({"type": "canned_save", "id": "c1", "site_id": seeded.site_id,
                            "shortcut": "hi", "body": "Hi {{visitor.first_name}}, I'm "
                            "{{agent.name}}. How can I help?"})
    assert mine["canned"]["shared"] is False and mine["canned"]["shortcut"] == "hi"
    shared = await a.request({"type": "canned_save", "id": "c2", "site_id": seeded.site_id,
                              "shortcut": "refund", "body": "Refunds take 5 days.",
                              "shared": True})
    assert shared["code"] == "forbidden"
    root, _ = await agent(server, await login(server, admin_email))
    made = await root.request({"type": "canned_save", "id": "c3", "site_id": seeded.site_id,
                               "shortcut": "refund", "body": "Refunds take 5 days.",
                               "shared": True})
    assert made["canned"]["shared"] is True
    taken = await root.request({"type": "canned_save", "id": "c4", "site_id": seeded.site_id,
                                "shortcut": "refund", "body": "again", "shared": True})
    assert taken["code"] == "id_conflict"
    # Ana sees her own and the shared one; Bo only the shared one; Oz (another site) neither.
    _, again = await agent(server, await login(server, seeded.agent_email))
    assert sorted(c["shortcut"] for c in again["canned"]) == ["hi", "refund"]
    bo, bo_welcome = await agent(server, await login(server, seeded.agent2_email))
    assert [c["shortcut"] for c in bo_welcome["canned"]] == ["refund"]
    oz, oz_welcome = await agent(server, await login(server, seeded.other_agent_email))
    assert oz_welcome["canned"] == []
    # Nobody changes or deletes what is not theirs.
    mine_id, shared_id = mine["canned"]["id"], made["canned"]["id"]
    for client, target, code in ((bo, mine_id, "not_found"), (oz, mine_id, "not_found"),
                                 (bo, shared_id, "forbidden"), (oz, shared_id, "not_found")):
        refused = await client.request({"type": "canned_delete", "id": "d",
                                        "canned_id": target})
        assert refused["code"] == code
        changed = await client.request({"type": "canned_save", "id": "s",
                                        "canned_id": target, "site_id": seeded.site_id,
                                        "shortcut": "x", "body": "mine now"})
        assert changed["code"] in (code, "not_found")
    foreign = await oz.request({"type": "canned_save", "id": "f", "site_id": seeded.site_id,
                                "shortcut": "x", "body": "y"})
    assert foreign["code"] == "not_found"
    edited = await a.request({"type": "canned_save", "id": "e", "canned_id": mine_id,
                              "site_id": seeded.site_id, "shortcut": "hello", "body": "Hello!"})
    assert edited["canned"]["id"] == mine_id and edited["canned"]["shortcut"] == "hello"
    assert (await a.request({"type": "canned_delete", "id": "d2",
                             "canned_id": mine_id}))["type"] == "ack"
    # Told live (a black-box tester's: a shared one reached open panels only at a reload, so
    # "/refund" went to the visitor as typed): the site's to the site's agents, one's own to
    # one's other panels, a deletion by its id.
    a2, _ = await agent(server, await login(server, seeded.agent_email))
    news = await root.request({"type": "canned_save", "id": "c5", "site_id": seeded.site_id,
                               "shortcut": "hours", "body": "We're open 9-17.", "shared": True})
    for panel in (a2, bo):
        told = await panel.next(lambda f: f["type"] == "canned" and "canned" in f)
        assert told["canned"] == news["canned"]
    own = await a.request({"type": "canned_save", "id": "c6", "site_id": seeded.site_id,
                           "shortcut": "bye", "body": "Bye!"})
    assert (await a2.next(lambda f: f["type"] == "canned" and f.get("canned", {}).get(
        "shortcut") == "bye"))["canned"] == own["canned"]
    await root.request({"type": "canned_delete", "id": "d3", "canned_id": news["canned"]["id"]})
    for panel in (a2, bo):
        assert (await panel.next(lambda f: f["type"] == "canned" and "deleted" in f))[
            "deleted"] == news["canned"]["id"]
    # (Bo was never told of Ana's own; Oz, of another site, of nothing: each has read all
    # that came before its pong.)
    for client in (bo, oz):
        await client.send({"type": "ping", "id": "last"})
        await client.of_type("pong", id="last")
    assert not [f for f in bo.frames if f["type"] == "canned" and "bye" in str(f)]
    assert not [f for f in oz.frames if f["type"] == "canned"]
    for c in (a, a2, root, bo, oz):
        await c.close()


async def test_lists_page_through_everything_once(server: ServerProcess, seeded: Seed) -> None:
    a, _ = await agent(server, await login(server, seeded.agent_email))
    made = []
    for i in range(7):
        v, _ = await visitor(server, seeded.site_id)
        ack = await v.request({"type": "send", "id": "m", "body": f"question {i}"})
        made.append(ack["conversation_id"])
        await a.request({"type": "resolve", "id": f"x{i}", "conversation_id":
                         ack["conversation_id"]})
        await v.close()
    seen: list[str] = []
    page: dict[str, Any] = {"type": "list", "id": "p0", "status": "resolved", "limit": 3}
    while True:
        result = await a.request(page)
        seen += [c["id"] for c in result["conversations"]]
        assert all(c["status"] == "resolved" for c in result["conversations"])
        if result["next"] is None:
            break
        page = {**page, "id": f"p{len(seen)}", **result["next"]}
    assert sorted(seen) == sorted(made) and len(seen) == 7
    assert seen[0] == made[-1]  # most recently active first
    await a.close()


async def test_the_visitors_context(server: ServerProcess, seeded: Seed) -> None:
    v, _welcome = await visitor(server, seeded.site_id)
    await v.send({"type": "context", "url": "https://shop.test/tents?size=2#reviews",
                  "title": "Summit Tent\u00a02P — 👨\u200d👩\u200d👧 family",
                  "referrer": "https://search.test/?q=tent", "language": "pt-PT",
                  "timezone": "Europe/Lisbon"})
    await v.send({"type": "context", "url": "https://shop.test/checkout", "title": "Checkout"})
    await v.send({"type": "context", "url": "https://shop.test/checkout", "title": "Checkout"})
    first = (await v.request({"type": "send", "id": "m1", "body": "Hi"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "resolve", "id": "x", "conversation_id": first})
    second = (await v.request({"type": "send", "id": "m2", "body": "Me again"}))[
        "conversation_id"]
    opened = await a.request({"type": "open", "id": "o", "conversation_id": second})
    assert [p["url"] for p in opened["pages"]] == ["https://shop.test/checkout",
                                                   "https://shop.test/tents?size=2"]
    assert opened["pages"][1]["title"] == "Summit Tent\u00a02P — 👨\u200d👩\u200d👧 family"
    context = opened["visitor"]
    assert context["language"] == "pt-PT" and context["timezone"] == "Europe/Lisbon"
    assert context["referrer"] == "https://search.test/?q=tent"
    assert context["user_agent"].startswith("Python/")  # the websockets client's
    assert [c["id"] for c in opened["earlier"]] == [first]
    # The earlier conversation opens the same way, read-only history included.
    earlier = await a.request({"type": "open", "id": "o2", "conversation_id": first})
    assert earlier["conversation"]["status"] == "resolved"
    for c in (v, a):
        await c.close()


async def test_typing_preview_only_where_the_site_turned_it_on(
        server: ServerProcess, seeded: Seed, db: Path) -> None:
    v, _, a, _ = await conversation(server, seeded)
    await v.send({"type": "typing", "active": True, "text": "my order number is 12"})
    plain = await a.of_type("typing")
    assert plain["active"] is True and "preview" not in plain
    async with open_store(db) as store:
        await store.set_site_profile(seeded.site_id, typing_preview=True)
    await v.send({"type": "typing", "active": True, "text": "my order number is 1234"})
    shown = await a.of_type("typing")
    assert shown["preview"] == "my order number is 1234"
    _, welcome = await visitor(server, seeded.site_id)
    assert welcome["site"]["typing_preview"] is True  # so that the widget discloses it
    for c in (v, a):
        await c.close()


async def test_an_agent_of_another_site_reaches_nothing(server: ServerProcess,
                                                        seeded: Seed) -> None:
    v, _, a, conv = await conversation(server, seeded)
    oz, _ = await agent(server, await login(server, seeded.other_agent_email))
    frames: list[dict[str, Any]] = [
        {"type": "open", "conversation_id": conv},
        {"type": "history", "conversation_id": conv, "before_seq": 5},
        {"type": "send", "conversation_id": conv, "body": "hi"},
        {"type": "note", "conversation_id": conv, "body": "hi"},
        {"type": "claim", "conversation_id": conv},
        {"type": "resolve", "conversation_id": conv},
        {"type": "reopen", "conversation_id": conv},
        {"type": "transfer", "conversation_id": conv, "agent_id": _agent_id(a)},
        {"type": "tag", "conversation_id": conv, "tag": "x", "on": True},
        {"type": "snooze", "conversation_id": conv, "until": int(time.time() * 1000) + 60000},
        {"type": "team", "conversation_id": conv},
    ]
    for i, frame in enumerate(frames):
        refused = await oz.request({**frame, "id": f"f{i}"})
        assert refused.get("code") == "not_found", (frame, refused)
    for ephemeral in ({"type": "read", "conversation_id": conv, "seq": 1},
                      {"type": "typing", "conversation_id": conv, "active": True}):
        await oz.send(ephemeral)
        assert (await oz.of_type("error"))["code"] == "not_found"
    assert (await oz.request({"type": "list", "id": "l"}))["conversations"] == []
    assert (await oz.request({"type": "search", "id": "s", "query": "Hello"}))["results"] == []
    assert (await oz.request({"type": "canned_save", "id": "c", "site_id": seeded.site_id,
                              "shortcut": "x", "body": "y"}))["code"] == "not_found"
    assert "Hello" not in str(oz.frames)
    for c in (v, a, oz):
        await c.close()


async def test_an_agents_own_message_reaches_a_socket_without_the_conversation_open(
        server: ServerProcess, seeded: Seed) -> None:
    """A socket that has not opened the conversation gets none of its frames: its reply, and its
    note, come back in their acks (a resend's ack excepted, as everywhere)."""
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "Hello"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    reply = await a.request({"type": "send", "id": "r1", "conversation_id": conv,
                             "body": "Hi there"})
    assert reply["message"]["body"] == "Hi there" and reply["message"]["seq"] == reply["seq"]
    note = await a.request({"type": "note", "id": "n1", "conversation_id": conv,
                            "body": "regular"})
    assert note["message"]["kind"] == "note" and note["message"]["seq"] == note["seq"]
    again = await a.request({"type": "send", "id": "r1", "conversation_id": conv,
                             "body": "Hi there"})
    assert again["duplicate"] is True and "message" not in again


async def test_a_visited_page_is_announced_as_it_is_stored(server: ServerProcess,
                                                           seeded: Seed) -> None:
    v, _, a, conv = await conversation(server, seeded)
    await v.send({"type": "context", "url": "https://shop.test/tents#top", "title": "Tents"})
    live = (await a.of_type("visited", conversation_id=conv))["page"]
    assert live["url"] == "https://shop.test/tents" and live["title"] == "Tents"
    opened = await a.request({"type": "open", "id": "o2", "conversation_id": conv})
    assert opened["pages"][0] == live  # the same page, at the same time

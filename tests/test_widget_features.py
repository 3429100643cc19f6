"""The widget's server side over a real server: site settings in the welcome, the pre-chat
profile, custom attributes, "seen" receipts, ratings and attachments."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.store import SQLiteStore
from tests.live import Client, Seed, ServerProcess, agent, login, open_store, serving, visitor

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
async def admin_store(db: Path, seeded: Seed) -> AsyncIterator[SQLiteStore]:
    async with open_store(db) as store:
        yield store


@pytest.fixture
def small_uploads(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    with serving(db, LIVECHAT_MAX_UPLOAD_BYTES="1000") as proc:
        yield proc


async def upload(server: ServerProcess, content: bytes, name: str = "photo.png", *,
                 token: str | None = None, cookie: str | None = None,
                 origin: str | None = None) -> httpx.Response:
    headers = {"Origin": origin or server.http, "X-File-Name": name}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    cookies = {"livechat_agent": cookie} if cookie else None
    async with httpx.AsyncClient(cookies=cookies) as http:
        return await http.post(f"{server.http}/api/files", content=content, headers=headers)


async def open_conversation(server: ServerProcess, seeded: Seed) -> tuple[
    Client, dict[str, Any], Client, str
]:
    """A visitor who wrote once, and Ana, who has the conversation open."""
    v, welcome = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "Hello"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "open", "id": "o1", "conversation_id": conv})
    return v, welcome, a, conv


async def test_welcome_carries_the_sites_settings(server: ServerProcess, seeded: Seed,
                                                  admin_store: SQLiteStore) -> None:
    await admin_store.set_site_profile(
        seeded.site_id, greeting="Olá! Como podemos ajudar?", color="#0b7a4b",
        logo="https://acme.test/logo.png", prechat=["name", "email"], offline="form",
        hours="mon-sun 00:00-24:00", tz="UTC")
    v, welcome = await visitor(server, seeded.site_id)
    site = welcome["site"]
    assert site["greeting"] == "Olá! Como podemos ajudar?" and site["color"] == "#0b7a4b"
    assert site["logo"] == "https://acme.test/logo.png"
    assert site["prechat"] == ["name", "email"] and site["offline"] == "form"
    assert site["open"] is True and site["next_change"] is None  # open around the clock
    assert welcome["visitor"] == {"name": None, "email": None}
    # The frame may show images from https hosts (the logo, help articles' pictures), and
    # nothing else from elsewhere.
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{server.http}/widget/frame", params={"site": seeded.site_id})
    assert "img-src 'self' data: https:;" in page.headers["content-security-policy"]
    await v.close()


async def test_closed_outside_business_hours(server: ServerProcess, seeded: Seed,
                                             admin_store: SQLiteStore) -> None:
    await admin_store.set_site_profile(seeded.site_id, hours="", tz="UTC")
    await admin_store.set_site_profile(seeded.site_id, hours="sat 00:00-00:01", tz="UTC")
    v, welcome = await visitor(server, seeded.site_id)
    now_ms = time.time() * 1000
    # Open one minute a week: closed now (barring that minute), and told when it opens.
    if not welcome["site"]["open"]:
        assert now_ms < welcome["site"]["next_change"] <= now_ms + 7 * 86400 * 1000
    await v.close()


async def test_prechat_profile_reaches_the_agent(server: ServerProcess, seeded: Seed) -> None:
    v, first = await visitor(server, seeded.site_id)
    ack = await v.request({"type": "profile", "id": "p1", "name": "Maria Silva",
                           "email": "maria@example.com"})
    assert ack["type"] == "ack"
    conv = (await v.request({"type": "send", "id": "m1", "body": "Olá"}))["conversation_id"]
    a, welcome = await agent(server, await login(server, seeded.agent_email))
    summary = next(c for c in welcome["conversations"] if c["id"] == conv)
    assert summary["visitor"]["name"] == "Maria Silva"
    assert summary["visitor"]["email"] == "maria@example.com"
    assert summary["visitor"]["verified"] is False
    # Reconnecting, the widget knows who this is (and greets them by name).
    again, welcome = await visitor(server, seeded.site_id, token=first["token"])
    assert welcome["visitor"] == {"name": "Maria Silva", "email": "maria@example.com"}
    await again.close()
    bad = await v.request({"type": "profile", "id": "p2", "email": "not an email"})
    assert bad["code"] == "bad_frame"
    for c in (v, a):
        await c.close()


async def test_profile_after_the_conversation_started_updates_the_inbox(
        server: ServerProcess, seeded: Seed) -> None:
    v, _, a, conv = await open_conversation(server, seeded)
    await v.request({"type": "profile", "id": "p1", "name": "Late Name"})
    update = await a.next(lambda f: f.get("type") == "conversation"
                          and f["conversation"]["visitor"]["name"] == "Late Name")
    assert update["conversation"]["id"] == conv
    for c in (v, a):
        await c.close()


async def test_attributes_are_merged_and_shown_to_agents(server: ServerProcess,
                                                          seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    assert (await v.request({"type": "attributes", "id": "s1",
                             "attributes": {"plan": "pro", "seats": 12, "trial": False,
                                            "old": "x"}}))["type"] == "ack"
    await v.request({"type": "attributes", "id": "s2", "attributes": {"old": None, "seats": 13}})
    conv = (await v.request({"type": "send", "id": "m1", "body": "Hi"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    opened = await a.request({"type": "open", "id": "o1", "conversation_id": conv})
    assert opened["visitor"]["attributes"] == {"plan": "pro", "seats": 13, "trial": False}
    for bad, code in (({"bad name!": 1}, "bad_frame"), ({"k": {"nested": 1}}, "bad_frame"),
                      ({"k": [1]}, "bad_frame"), ({"k": "x" * 501}, "too_long"),
                      ({f"k{i}": i for i in range(51)}, "too_many")):
        refused = await v.request({"type": "attributes", "id": "s3", "attributes": bad})
        assert refused["code"] == code, bad
    # At most 50 in all, however they arrive; a refused batch changes nothing.
    for i in range(3):  # 3 + 36
        await v.request({"type": "attributes", "id": f"b{i}",
                         "attributes": {f"k{i}_{j}": j for j in range(12)}})
    over = await v.request({"type": "attributes", "id": "b3",
                            "attributes": {f"k3_{j}": j for j in range(12)}})
    assert over["code"] == "too_many"
    fits = await v.request({"type": "attributes", "id": "b4",
                            "attributes": {f"k4_{j}": j for j in range(11)}})
    assert fits["type"] == "ack"
    assert (await v.request({"type": "attributes", "id": "last",
                             "attributes": {"last": 1}}))["code"] == "too_many"
    for c in (v, a):
        await c.close()


async def test_seen_receipts_both_ways(server: ServerProcess, seeded: Seed) -> None:
    v, first, a, conv = await open_conversation(server, seeded)
    await a.request({"type": "send", "id": "r1", "conversation_id": conv, "body": "Hi!"})
    await v.of_type("message", seq=3)  # joined (2), the reply (3)
    # The agent has read the visitor's message; the visitor is told.
    await a.send({"type": "read", "conversation_id": conv, "seq": 1})
    assert (await v.of_type("read", reader="agent"))["up_to"] == 1
    # The visitor has read the reply; the agent is told. Far beyond the end means the end.
    await v.send({"type": "read", "seq": 999})
    assert (await a.of_type("read", reader="visitor"))["up_to"] == 3
    # Marks never go back, and a repeat is not announced again.
    await v.send({"type": "read", "seq": 2})
    await a.send({"type": "read", "conversation_id": conv, "seq": 3})
    assert (await v.of_type("read", reader="agent"))["up_to"] == 3
    # (Both sides hear every receipt; the visitor's own came once, its repeat not at all.)
    assert [f["up_to"] for f in v.frames
            if f.get("type") == "read" and f["reader"] == "visitor"] == [3]
    # Stored: a reconnecting visitor learns the agent's mark; the agent's inbox the visitor's.
    v2, welcome = await visitor(server, seeded.site_id, token=first["token"])
    assert welcome["conversation"]["agent_read_seq"] == 3
    a2, awelcome = await agent(server, await login(server, seeded.agent2_email))
    summary = next(c for c in awelcome["conversations"] if c["id"] == conv)
    assert summary["visitor_read_seq"] == 3
    # Only a conversation the agent has open.
    refused = await a2.request({"type": "read", "id": "x", "conversation_id": conv, "seq": 1})
    assert refused["code"] == "bad_frame"  # read frames carry no id
    await a2.send({"type": "read", "conversation_id": conv, "seq": 1})
    assert (await a2.of_type("error"))["code"] == "not_found"
    for c in (v, v2, a, a2):
        await c.close()


async def test_rating_after_resolve(server: ServerProcess, seeded: Seed) -> None:
    v, _, a, conv = await open_conversation(server, seeded)
    early = await v.request({"type": "rate", "id": "r0", "conversation_id": conv, "score": 5})
    assert early["code"] == "not_resolved"
    await a.request({"type": "resolve", "id": "x1", "conversation_id": conv})
    ack = await v.request({"type": "rate", "id": "r1", "conversation_id": conv, "score": 4,
                           "comment": "Quick and kind"})
    assert ack["conversation"]["rating"] == {"score": 4, "comment": "Quick and kind"}
    assert ack["duplicate"] is False
    # The rating is an event in the conversation: the agent sees it live.
    rated = await a.next(lambda f: f.get("type") == "message" and f["kind"] == "rated")
    assert rated["score"] == 4 and rated["body"] == "Quick and kind"
    update = await a.next(lambda f: f.get("type") == "conversation"
                          and f["conversation"]["rating"] is not None)
    assert update["conversation"]["rating"]["score"] == 4
    again = await v.request({"type": "rate", "id": "r2", "conversation_id": conv, "score": 4,
                             "comment": "Quick and kind"})
    assert again["duplicate"] is True
    changed = await v.request({"type": "rate", "id": "r3", "conversation_id": conv, "score": 1})
    assert changed["code"] == "already_rated"
    for bad in (0, 6, "5", 4.5):
        refused = await v.request({"type": "rate", "id": "r4", "conversation_id": conv,
                                   "score": bad})
        assert refused["code"] == "bad_frame"
    # Someone else's conversation does not exist, as far as this visitor knows.
    other, _ = await visitor(server, seeded.site_id)
    stranger = await other.request({"type": "rate", "id": "r5", "conversation_id": conv,
                                    "score": 1})
    assert stranger["code"] == "not_found"
    for c in (v, a, other):
        await c.close()


async def test_attachments_from_visitor_to_agent(server: ServerProcess, seeded: Seed) -> None:
    v, welcome, a, conv = await open_conversation(server, seeded)
    token = welcome["token"]
    r = await upload(server, PNG, "screen shot.png", token=token)
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["type"] == "image/png" and meta["size"] == len(PNG)
    assert meta["name"] == "screen shot.png" and meta["url"] == f"/files/{meta['id']}"
    ack = await v.request({"type": "send", "id": "f1", "attachment": meta["id"]})
    assert ack["type"] == "ack"
    message = await a.of_type("message", id="f1")
    assert message["attachment"] == meta and message["body"] == "screen shot.png"
    # With a caption.
    r2 = await upload(server, b"order 1234\n", "order.txt", token=token)
    await v.request({"type": "send", "id": "f2", "attachment": r2.json()["id"],
                     "body": "Here is the order"})
    captioned = await a.of_type("message", id="f2")
    assert captioned["body"] == "Here is the order"
    assert captioned["attachment"]["type"] == "text/plain"

    async with httpx.AsyncClient() as http:
        image = await http.get(server.http + meta["url"])
        text = await http.get(server.http + r2.json()["url"])
        missing = await http.get(server.http + "/files/file_nope")
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert image.headers["content-disposition"].startswith("inline;")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.headers["content-disposition"].startswith('attachment; filename="order.txt"')
    assert missing.status_code == 404

    # An attachment is sent only by whoever uploaded it.
    other, _ = await visitor(server, seeded.site_id)
    stolen = await other.request({"type": "send", "id": "s1", "attachment": meta["id"]})
    assert stolen["code"] == "not_found"
    # An agent can attach files too (cookie, same origin).
    cookie = await login(server, seeded.agent_email)
    r3 = await upload(server, PNG, "answer.png", cookie=cookie)
    assert r3.status_code == 201
    sent = await a.request({"type": "send", "id": "af1", "conversation_id": conv,
                            "attachment": r3.json()["id"]})
    assert sent["type"] == "ack"
    assert (await v.of_type("message", id="af1"))["attachment"]["name"] == "answer.png"
    empty = await v.request({"type": "send", "id": "e1"})
    assert empty["code"] == "bad_frame"
    for c in (v, a, other):
        await c.close()


async def test_uploads_refuse_what_they_should(small_uploads: ServerProcess,
                                               seeded: Seed) -> None:
    server = small_uploads
    v, welcome = await visitor(server, seeded.site_id)
    token = welcome["token"]
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
    assert (await upload(server, svg, "logo.png", token=token)).status_code == 415
    assert (await upload(server, b"MZ" + bytes(100), "setup.pdf", token=token)).status_code == 415
    too_big = await upload(server, PNG + bytes(2000), token=token)
    assert too_big.status_code == 413 and too_big.json()["error"] == "too_large"
    assert (await upload(server, PNG)).status_code == 401
    assert (await upload(server, PNG, token="forged.token")).status_code == 401
    assert (await upload(server, PNG, token=token,
                         origin="https://evil.test")).status_code == 403
    # Flooding: ten at once, then one every six seconds (a fresh visitor: refused uploads
    # above counted too).
    fresh, fresh_welcome = await visitor(server, seeded.site_id)
    codes = [(await upload(server, PNG, token=fresh_welcome["token"])).status_code
             for _ in range(11)]
    assert codes[:10] == [201] * 10 and codes[10] == 429
    for c in (v, fresh):
        await c.close()
    assert "Traceback" not in server.log()


async def test_typically_replies_in(server: ServerProcess, seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    assert welcome["typical_wait"] is None  # no history yet
    conv = (await v.request({"type": "send", "id": "m", "body": "hi"}))["conversation_id"]
    a, _ = await agent(server, await login(server, seeded.agent_email))
    await a.request({"type": "claim", "id": "c", "conversation_id": conv})
    claimed, said = await visitor(server, seeded.site_id)
    assert said["typical_wait"] is None  # a claim is not a reply: "replies in" counts replies
    await a.request({"type": "send", "id": "r1", "conversation_id": conv, "body": "Hi!"})
    later, again = await visitor(server, seeded.site_id)
    assert isinstance(again["typical_wait"], int) and 0 <= again["typical_wait"] < 60
    for c in (v, a, claimed, later):
        await c.close()

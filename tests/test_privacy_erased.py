"""What an erasure reaches beyond the store's rows (docs/api.md, Erasure), each found by a
black-box test: the webhook delivery log (its excerpts held the payloads about the visitor); the
token their browser kept, which brought the erased id back (a hello was welcomed with it, an
upload and a message re-created the visitor); their open widget, which went on as before; the
agents' open panels, which were not told; and the reports, which counted the erasure of an open
conversation as its resolution."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from server.errors import ChatError, Code
from server.store import SQLiteStore
from server.store.privacy import Privacy
from server.store.webhooks import Webhooks
from tests import pg
from tests.api_world import Api
from tests.faults import until
from tests.live import (
    UNLIMITED,
    Client,
    Seed,
    agent,
    api_token,
    login,
    open_store,
    serving,
    visitor,
)
from tests.webhook_receiver import receiving

FAST = {**UNLIMITED, "LIVECHAT_WEBHOOK_ALLOW_PRIVATE": "1", "LIVECHAT_WEBHOOK_POLL": "0.02"}


async def test_an_erased_visitor_leaves_no_delivery_and_cannot_come_back(db: Path,
                                                                         seeded: Seed) -> None:
    with serving(db, **FAST) as server:
        client = Api(server, api_token(db, "webhooks", "conversations:read", "visitors:read",
                                       "visitors:write", "reports:read",
                                       site=seeded.site_id))
        async with receiving() as receiver:
            made = await client("POST", "/api/v1/webhooks", {
                "url": receiver.url, "events": ["conversation.created", "message.created"]})
            hook = made.json()["webhook"]["id"]
            widget, welcome = await visitor(server, seeded.site_id)
            sent = await widget.request({"type": "send", "id": "m1", "body": "order ZQ-771"})
            conversation = sent["conversation_id"]
            ana, _ = await agent(server, await login(server, seeded.agent_email))
            await receiver.until(lambda got: len(got) >= 2)

            async def logged() -> int:
                got = await client("GET", f"/api/v1/webhooks/{hook}/deliveries")
                return len(got.json()["data"])

            async def both_logged() -> bool:
                return await logged() == 2

            await until(both_logged, timeout=10)
            got = await client("GET", f"/api/v1/conversations/{conversation}")
            vid = got.json()["conversation"]["visitor"]["id"]
            report = (await client("GET", "/api/v1/reports")).json()
            erased = await client("DELETE", f"/api/v1/visitors/{vid}")
            assert erased.status_code == 200, erased.text
            # The conversation was open: closed by the erasure, resolved by nobody, so the
            # reports' resolution times do not count it (they counted the erasure's time).
            assert (await client("GET", "/api/v1/reports")).json() == report
            assert report["total"]["resolution"]["count"] == 0

            # Both lines of the delivery log go with the events (they stayed, excerpts and all).
            assert await logged() == 0
            # The open widget is closed as for a token that no longer verifies: it starts a
            # new, empty visitor (docs/protocol.md, 4401).
            assert await widget.closed() == 4401
            assert widget.ws.close_reason == "erased"  # (it said "blocked")
            # The panel is told: the conversation is resolved and emptied.
            told = await ana.next(lambda f: f.get("type") == "conversation"
                                  and f["conversation"]["id"] == conversation
                                  and f["conversation"]["status"] == "resolved")
            assert told["conversation"]["last_message"] == ""
            # The token the browser kept is refused, everywhere a visitor's token is taken.
            again = await Client.open(f"{server.ws}/ws/visitor", origin=server.http)
            await again.send({"type": "hello", "v": 1, "site": seeded.site_id,
                              "token": welcome["token"]})
            assert await again.closed() == 4401
            assert not [f for f in again.frames if f.get("type") == "welcome"]
            headers = {"Origin": server.http, "Authorization": f"Bearer {welcome['token']}"}
            async with httpx.AsyncClient(base_url=server.http) as http:
                upload = await http.post("/api/files", content=b"hello", headers={
                    **headers, "X-File-Name": "a.txt"})
                assert upload.status_code == 401, upload.text
                searched = await http.post("/widget/kb/events", headers={"Origin": server.http},
                                           json={"token": welcome["token"], "type": "search",
                                                 "q": "refund"})
                assert searched.status_code == 401, searched.text
            assert (await client("GET", f"/api/v1/visitors/{vid}")).status_code == 404
            # The visitor the conversation is left with leads nowhere: it was listed, readable,
            # exportable and editable, and a CRM's write-back put a name on every erased
            # conversation (a black-box tester).
            kept = await client("GET", f"/api/v1/conversations/{conversation}")
            placeholder = kept.json()["conversation"]["visitor"]["id"]
            assert placeholder.startswith("erased_")
            for method, path, body in (
                    ("GET", f"/api/v1/visitors/{placeholder}", None),
                    ("GET", f"/api/v1/visitors/{placeholder}/export", None),
                    ("PATCH", f"/api/v1/visitors/{placeholder}", {"name": "Re Attached"}),
                    ("DELETE", f"/api/v1/visitors/{placeholder}", None)):
                assert (await client(method, path, body)).status_code == 404, (method, path)
            listed = (await client("GET", "/api/v1/visitors")).json()["data"]
            assert placeholder not in {v["id"] for v in listed}
            assert not (await client("GET", "/api/v1/visitors", query="erased")).json()["data"]
            # Without it, a new visitor, with another id.
            fresh, hello = await visitor(server, seeded.site_id)
            assert hello["conversation"] is None
            assert (await fresh.request({"type": "send", "id": "m1", "body": "hi"}))["type"] \
                == "ack"
            for socket in (fresh, ana):
                await socket.close()
    # What is kept of the id names no one: a digest, not the id.
    rows = pg.rows(db, "SELECT digest FROM erased_visitors")
    assert rows == [(hashlib.sha256(vid.encode()).hexdigest(),)]
    assert not pg.rows(db, "SELECT 1 FROM visitors WHERE id = ?", (vid,))
    # Retention still deletes its skeleton in time (it has no resolved_at to go by).
    async with open_store(db, clock=lambda: time.time() + 3 * 86_400) as store:
        privacy = Privacy(store)
        await privacy.set_retention(seeded.site_id, 2)
        assert await privacy.sweep() == (1, [])
    assert not pg.rows(db, "SELECT 1 FROM conversations WHERE id = ?", (conversation,))


async def test_a_frame_on_its_way_does_not_make_the_erased_visitor_again(
        store: SQLiteStore) -> None:
    """Between an erasure's commit and their sockets' closing (or for as long as they live,
    after an erasure from the command line), a message, form or page of the erased visitor
    made their row again under the erased id (a reviewer found it). Refused now, on both
    stores; a verified visitor's id is the site's user's, and may come back."""
    site = await store.create_site("Acme", ["https://acme.test"])
    privacy = Privacy(store)
    for visitor_id in ("vis_gone", "usr_back"):
        await store.append_visitor_message(site.id, visitor_id, "m1", "hello")
        await privacy.erase([site.id], visitor_id, "test")
    for write in (store.append_visitor_message(site.id, "vis_gone", "m2", "still here?"),
                  store.set_visitor_attributes(site.id, "vis_gone", {"plan": "x"})):
        with pytest.raises(ChatError) as info:
            await write
        assert info.value.code == Code.NOT_FOUND
    assert await store.visitor("vis_gone") is None
    assert await store.was_erased("vis_gone") and not await store.was_erased("vis_other")
    again = await store.append_visitor_message(site.id, "usr_back", "m2", "signed in again")
    assert again.created and (await store.visitor("usr_back")) is not None


async def test_a_delivery_in_flight_at_the_erasure_is_not_logged(store: SQLiteStore) -> None:
    """An event being sent while its visitor was erased was logged when its answer came, the
    receiver's answer (often the payload) in the line's excerpt, after the erasure had deleted
    the event and its lines (a reviewer found it). An event deleted meanwhile is not logged."""
    site = await store.create_site("Acme", ["https://acme.test"])
    hooks = Webhooks(store)
    endpoint, _ = await hooks.create(site.id, "https://hooks.acme.test/in",
                                     ["conversation.created", "message.created"])
    await store.append_visitor_message(site.id, "vis_fly", "m1", "my order ZQ-9")
    [due] = await hooks.claim(10, 60_000)  # being sent now
    await Privacy(store).erase([site.id], "vis_fly", "test")
    assert await hooks.record(due, 200, 9, '{"echo": "my order ZQ-9"}', None, 1000,
                              86_400_000) == ("gone", False)
    assert await hooks.deliveries(endpoint.id) == []
    # A failed attempt is not logged either.
    assert (await hooks.record(due, 500, 9, "my order ZQ-9", "500", 1000, 86_400_000))[0] \
        == "gone"
    assert await hooks.deliveries(endpoint.id) == []

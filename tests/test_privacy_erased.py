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

from server.store.privacy import Privacy
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

            # The delivery log kept both deliveries, excerpts and all.
            assert await logged() == 0
            # The open widget is closed as for a token that no longer verifies: it starts a
            # new, empty visitor (docs/protocol.md, 4401).
            assert await widget.closed() == 4401
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

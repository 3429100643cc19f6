"""The REST API (docs/api.md) against a real server: tokens made with the CLI, scopes, the rate
limit, every conversation action seen live by the panel's and the widget's sockets, idempotent
sends and pagination. Tenancy and the OpenAPI document: tests/test_api_contract.py."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from server.endpoints.api_base import encode_cursor
from tests import api_world
from tests.api_world import Api, World, check, cli, new_conversation
from tests.live import (
    Seed,
    ServerProcess,
    add_admin,
    api_token,
    login,
    serving,
)

server, world = api_world.server, api_world.world  # the fixtures


# --- tokens --------------------------------------------------------------------------------



async def test_tokens_from_the_cli_shown_once_stored_hashed_and_revoked(
        server: ServerProcess, db: Path, seeded: Seed) -> None:
    made = cli(db, "token", "create", "--site", seeded.site_id, "--scope",
               "conversations:read", "--name", "CRM")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"lc\.tok_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{40,}", token)
    assert "shown once" in made.stderr
    token_id, secret = token.split(".")[1:]
    # The secret is nowhere in the database; its id is.
    raw = await asyncio.to_thread(lambda: db.read_bytes() + Path(f"{db}-wal").read_bytes())
    assert secret.encode() not in raw and token_id.encode() in raw
    api = Api(server, token)
    listing = cli(db, "token", "list", "--json")
    [row] = orjson.loads(listing.stdout)
    assert row["id"] == token_id and row["last_used_at"] is None and "token" not in row
    assert secret not in listing.stdout
    ok = await api("GET", "/api/v1/conversations")
    assert ok.status_code == 200, ok.text
    [row] = orjson.loads(cli(db, "token", "list", "--json").stdout)
    assert row["last_used_at"] is not None and row["scopes"] == ["conversations:read"]
    assert "never" not in cli(db, "token", "list").stdout
    assert orjson.loads(cli(db, "token", "list", "--site", seeded.site_id, "--json").stdout
                        )[0]["id"] == token_id
    unknown = cli(db, "token", "list", "--site", "site_nope")  # (it listed nothing, exit 0)
    assert (unknown.returncode, unknown.stderr) == (2, "livechat: no such site: site_nope\n")
    revoked = cli(db, "token", "revoke", token_id)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked {token_id}")
    # Twice changes nothing, and says so (it said "revoked" again).
    again = cli(db, "token", "revoke", token_id)
    assert again.returncode == 0 and re.fullmatch(
        rf"{token_id} was already revoked on \d{{4}}-\d\d-\d\d \d\d:\d\d UTC",
        again.stdout.strip()), again.stdout
    gone = await api("GET", "/api/v1/conversations")
    assert gone.status_code == 401 and gone.json()["error"] == "unauthorized"
    assert "revoked" in cli(db, "token", "list").stdout
    # Refusals of the CLI: unknown scope, admin on a site token, no such site.
    for args in (("--site", seeded.site_id, "--scope", "everything"),
                 ("--site", seeded.site_id, "--scope", "admin"),
                 ("--site", "site_nope", "--scope", "conversations:read")):
        refused = cli(db, "token", "create", *args)
        assert refused.returncode == 2 and "livechat:" in refused.stderr, refused


async def test_bearer_only_and_scopes(world: World, db: Path) -> None:
    server = world.api.server
    async with httpx.AsyncClient(base_url=server.http) as http:
        for headers in ({}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer"},
                        {"Authorization": "Bearer lc.tok_x.y"},
                        {"Authorization": "Bearer " + world.api.token[:-2] + "xx"}):
            r = await http.get("/api/v1/conversations", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"] == "unauthorized" and "Bearer" in r.headers[
                "www-authenticate"]
            check("Error", r.json())
    reader = Api(server, api_token(db, "conversations:read", site=world.seed.site_id))
    sent = await reader("POST", f"/api/v1/conversations/{world.conversation_id}/messages",
                        {"body": "no", "agent_id": world.ana_id})
    assert sent.status_code == 403 and sent.json()["error"] == "forbidden"
    assert (await reader("GET", "/api/v1/visitors")).status_code == 403
    # A site's token never reaches the installation's records.
    for path in ("/api/v1/sites", "/api/v1/agents", "/api/v1/teams", "/api/v1/canned"):
        r = await world.api("GET", path)
        assert r.status_code == 403 and r.json()["error"] == "forbidden", path


async def test_rate_limit_per_token_with_retry_after(db: Path, seeded: Seed) -> None:
    with serving(db, LIVECHAT_API_RATE_PER_SECOND="0.1", LIVECHAT_API_RATE_BURST="3") as server:
        one = Api(server, api_token(db, "conversations:read", site=seeded.site_id))
        two = Api(server, api_token(db, "conversations:read", site=seeded.site_id))
        answers = [(await one("GET", "/api/v1/conversations")).status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        limited = await one("GET", "/api/v1/conversations")
        assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
        assert limited.headers["retry-after"] == "10"
        # Per token: another token is not held back by the first's.
        assert (await two("GET", "/api/v1/conversations")).status_code == 200


# --- conversations -------------------------------------------------------------------------


async def test_send_as_an_agent_is_live_and_idempotent(world: World) -> None:
    path = f"/api/v1/conversations/{world.conversation_id}/messages"
    key = {"Idempotency-Key": "crm-reply-1"}
    sent = await world.api("POST", path, {"body": "From the CRM", "agent_id": world.ana_id},
                           key)
    assert sent.status_code == 201, sent.text
    check("SendResult", sent.json())
    message = sent.json()["message"]
    assert message["id"] == "crm-reply-1" and message["author"]["name"] == "Ana"
    assert sent.json()["conversation"]["assignee"]["id"] == world.ana_id  # the reply claimed it
    # Both sides see it at once, through the same path as a panel's reply.
    seen = await world.ana.of_type("message", seq=message["seq"])
    assert seen["body"] == "From the CRM"
    heard = await world.widget.of_type("message", seq=message["seq"])
    assert heard["body"] == "From the CRM" and "id" not in heard["author"]
    again = await world.api("POST", path, {"body": "From the CRM", "agent_id": world.ana_id},
                            key)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["message"]["seq"] == message["seq"]
    conflict = await world.api("POST", path, {"body": "Something else",
                                              "agent_id": world.ana_id}, key)
    assert conflict.status_code == 409 and conflict.json()["error"] == "id_conflict"
    # A note's key and words, then a reply with the same: not the note again (the reply was
    # answered as its duplicate, and never reached the visitor).
    notes = f"/api/v1/conversations/{world.conversation_id}/notes"
    same = {"body": "Call back at 5", "agent_id": world.ana_id}
    assert (await world.api("POST", notes, same, {"Idempotency-Key": "hook-7"})).status_code == 201
    reply = await world.api("POST", path, same, {"Idempotency-Key": "hook-7"})
    assert reply.status_code == 409 and reply.json()["error"] == "id_conflict", reply.text
    # Bo cannot answer Ana's conversation, as on the socket.
    bo = await world.api("POST", path, {"body": "me too", "agent_id": world.bo_id})
    assert bo.status_code == 409 and bo.json()["error"] == "not_assignee"
    # Input is checked as the socket checks it.
    for body, code in (({"body": "  ", "agent_id": world.ana_id}, "bad_request"),
                       ({"body": "x" * 4001, "agent_id": world.ana_id}, "too_long"),
                       ({"body": "a\u0000b", "agent_id": world.ana_id}, "bad_text"),
                       ({"body": "hi", "agent_id": world.ana_id, "extra": 1}, "bad_request"),
                       ({"body": "hi"}, "bad_request"),
                       ({"body": "hi", "agent_id": "agent_nope"}, "not_found")):
        r = await world.api("POST", path, body)
        assert r.json()["error"] == code, (body, r.text)
    bad_key = await world.api("POST", path, {"body": "x", "agent_id": world.ana_id},
                              {"Idempotency-Key": "spaces are not ids"})
    assert bad_key.status_code == 400
    async with httpx.AsyncClient(base_url=world.api.server.http) as http:
        broken = await http.post(path, content=b'{"body": "x",',
                                 headers={"Authorization": f"Bearer {world.api.token}"})
    assert broken.status_code == 400 and broken.json()["error"] == "bad_request"


async def test_every_conversation_action(world: World) -> None:
    api, cid = world.api, world.conversation_id
    base = f"/api/v1/conversations/{cid}"
    assigned = await api("POST", base + "/assign", {"agent_id": world.bo_id})
    assert assigned.status_code == 200, assigned.text
    check("ConversationResult", assigned.json())
    assert assigned.json()["conversation"]["assignee"]["id"] == world.bo_id
    await world.ana.next(lambda f: f.get("type") == "message" and f["kind"] == "joined")
    reassigned = await api("POST", base + "/assign", {"agent_id": world.ana_id})
    assert reassigned.json()["conversation"]["assignee"]["id"] == world.ana_id
    await world.ana.next(lambda f: f.get("type") == "message" and f["kind"] == "transferred")
    moved = await api("POST", base + "/transfer", {"agent_id": world.bo_id,
                                                   "by_agent_id": world.ana_id,
                                                   "note": "Bo knows billing"})
    assert moved.json()["conversation"]["assignee"]["id"] == world.bo_id
    note = await world.ana.next(lambda f: f.get("type") == "message" and f["kind"] == "note")
    assert note["body"] == "Bo knows billing"
    refused = await api("POST", base + "/transfer", {"agent_id": world.ana_id,
                                                     "by_agent_id": world.ana_id})
    assert refused.status_code == 409 and refused.json()["error"] == "not_assignee"
    noted = await api("POST", base + "/notes", {"body": "VIP customer",
                                                "agent_id": world.bo_id})
    assert noted.status_code == 201 and noted.json()["message"]["kind"] == "note"
    # A note for a colleague: they are told (docs/protocol.md, mention); another id is 404.
    for_ana = await api("POST", base + "/notes", {"body": "@Ana please call them",
                                                  "agent_id": world.bo_id,
                                                  "mentions": [world.ana_id]})
    assert for_ana.status_code == 201 and for_ana.json()["message"]["mentions"] == [world.ana_id]
    told = await world.ana.of_type("mention")
    assert told["message"]["seq"] == for_ana.json()["message"]["seq"]
    unknown = await api("POST", base + "/notes", {"body": "psst", "agent_id": world.bo_id,
                                                  "mentions": ["agt_nobody"]})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    tagged = await api("POST", base + "/tags", {"tag": "billing"})
    assert tagged.json()["conversation"]["tags"] == ["billing"]
    assert tagged.json()["duplicate"] is False
    # A tag it has, or removing one it has not, changes nothing: a duplicate (it said false).
    assert (await api("POST", base + "/tags", {"tag": "billing"})).json()["duplicate"] is True
    assert (await api("DELETE", base + "/tags/vip")).json()["duplicate"] is True
    assert (await api("POST", base + "/tags", {"tag": "Not A Tag"})).status_code == 400
    far = await api("POST", base + "/snooze", {"until": 4_102_444_800_000})  # (2100)
    assert far.status_code == 400 and far.json()["error"] == "bad_request"
    until = int(time.time() * 1000) + 30 * 86_400_000
    snoozed = await api("POST", base + "/snooze", {"until": until})
    assert snoozed.json()["conversation"]["snoozed_until"] == until
    woke = await api("POST", base + "/snooze", {"until": None})
    assert woke.json()["conversation"]["snoozed_until"] is None
    untagged = await api("DELETE", base + "/tags/billing")
    assert untagged.status_code == 200 and untagged.json()["conversation"]["tags"] == []
    assert untagged.json()["duplicate"] is False
    resolved = await api("POST", base + "/resolve", {"agent_id": world.bo_id})
    assert resolved.json()["conversation"]["status"] == "resolved"
    await world.widget.next(lambda f: f.get("type") == "message" and f["kind"] == "resolved")
    again = await api("POST", base + "/resolve", {"agent_id": world.bo_id})
    assert again.json()["duplicate"] is True
    closed = await api("POST", base + "/messages", {"body": "late", "agent_id": world.bo_id})
    assert closed.status_code == 409 and closed.json()["error"] == "resolved"
    reopened = await api("POST", base + "/reopen", {"agent_id": world.ana_id})
    assert reopened.json()["conversation"]["status"] == "assigned"
    assert reopened.json()["conversation"]["assignee"]["id"] == world.ana_id
    got = await api("GET", base)
    check("ConversationResult", got.json())
    assert got.json()["conversation"]["status"] == "assigned"


async def test_messages_by_seq_and_conversations_filtered_and_paged(world: World) -> None:
    api, cid = world.api, world.conversation_id
    for n in range(5):
        r = await api("POST", f"/api/v1/conversations/{cid}/messages",
                      {"body": f"reply {n}", "agent_id": world.ana_id})
        assert r.status_code == 201
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await api("GET", f"/api/v1/conversations/{cid}/messages", **params)
        check("MessagePage", page.json())
        seen += [m["seq"] for m in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, len(seen) + 1)) and len(seen) == 7  # hello, joined, 5 replies
    tail = await api("GET", f"/api/v1/conversations/{cid}/messages", after_seq=5)
    assert [m["seq"] for m in tail.json()["data"]] == [6, 7]
    # A second conversation on site A, waiting.
    other, second, _ = await new_conversation(api.server, world.seed.site_id, "second")
    await other.close()
    everything = await api("GET", "/api/v1/conversations")
    check("ConversationPage", everything.json())
    ids = [c["id"] for c in everything.json()["data"]]
    assert ids == [second, cid]  # newest activity first; site B's is not there
    assert [c["id"] for c in (await api("GET", "/api/v1/conversations",
                                        status="waiting")).json()["data"]] == [second]
    assert [c["id"] for c in (await api("GET", "/api/v1/conversations",
                                        assignee=world.ana_id)).json()["data"]] == [cid]
    assert [c["id"] for c in (await api("GET", "/api/v1/conversations",
                                        assignee="none")).json()["data"]] == [second]
    first = (await api("GET", "/api/v1/conversations", limit=1)).json()
    assert [c["id"] for c in first["data"]] == [second] and first["next_cursor"]
    rest = (await api("GET", "/api/v1/conversations", limit=1,
                      cursor=first["next_cursor"])).json()
    assert [c["id"] for c in rest["data"]] == [cid]
    newest = max(c["updated_at"] for c in everything.json()["data"])
    assert [c["id"] for c in (await api("GET", "/api/v1/conversations",
                                        updated_since=newest)).json()["data"]] == [second]
    for bad in ({"status": "open"}, {"limit": 0}, {"limit": 500}, {"cursor": "garbage"},
                {"limit": "\u00b2"}, {"updated_since": "\u0663"},  # digits, not ASCII: were 500s
                {"nope": 1}, {"updated_since": "yesterday"},
                # A cursor written by hand with a number past 64 bits was a 500 (a black-box
                # tester), a negative one a page.
                {"cursor": encode_cursor(2**63, "a")}, {"cursor": encode_cursor(-1, "a")}):
        r = await api("GET", "/api/v1/conversations", **bad)
        assert r.status_code == 400 and r.json()["error"] == "bad_request", bad
    for bad_seq in (2**63, -1):
        r = await api("GET", f"/api/v1/conversations/{cid}/messages",
                      cursor=encode_cursor(bad_seq))
        assert r.status_code == 400 and r.json()["error"] == "bad_request", bad_seq
    # A filter given twice is refused, not read as its last value.
    twice = await api("GET", "/api/v1/conversations?status=waiting&status=resolved")
    assert twice.status_code == 400 and twice.json()["error"] == "bad_request", twice.text


async def test_visitors(world: World) -> None:
    api, vid = world.api, world.visitor_id
    changed = await api("PATCH", f"/api/v1/visitors/{vid}",
                        {"name": "Zoë Quill", "email": "zoe@example.test",
                         "attributes": {"plan": "pro", "seats": 4}})
    assert changed.status_code == 200, changed.text
    check("VisitorResult", changed.json())
    assert changed.json()["visitor"]["attributes"] == {"plan": "pro", "seats": 4}
    # The panel's inbox shows the new name.
    await world.ana.next(lambda f: f.get("type") == "conversation"
                         and f["conversation"]["visitor"]["name"] == "Zoë Quill")
    dropped = await api("PATCH", f"/api/v1/visitors/{vid}", {"attributes": {"seats": None}})
    assert dropped.json()["visitor"]["attributes"] == {"plan": "pro"}
    # Any case of any letter: SQLite's lower() knew only A-Z, and "иван" did not find "Иван"
    # (a black-box tester).
    await api("PATCH", f"/api/v1/visitors/{vid}", {"name": "Иван Ёлкин"})
    for query in ("иван", "ИВАН", "ёлкин"):
        got = (await api("GET", "/api/v1/visitors", query=query)).json()["data"]
        assert [v["id"] for v in got] == [vid], query
    await api("PATCH", f"/api/v1/visitors/{vid}", {"name": "Zoë Quill"})
    found = await api("GET", "/api/v1/visitors", query="zoË")
    check("VisitorPage", found.json())
    assert [v["id"] for v in found.json()["data"]] == [vid]
    assert (await api("GET", "/api/v1/visitors", query="%")).json()["data"] == []
    assert (await api("GET", f"/api/v1/visitors/{vid}")).json()["visitor"]["name"] == "Zoë Quill"
    convs = await api("GET", f"/api/v1/visitors/{vid}/conversations")
    assert [c["id"] for c in convs.json()["data"]] == [world.conversation_id]
    bad = await api("PATCH", f"/api/v1/visitors/{vid}", {"email": "not an email"})
    assert bad.status_code == 400


async def test_admin_scope_and_reports(world: World, db: Path) -> None:
    admin = Api(world.api.server, api_token(db, "admin"))
    sites = await admin("GET", "/api/v1/sites")
    check("SiteList", sites.json())
    assert {s["name"] for s in sites.json()["data"]} == {"Acme", "Other Co"}
    assert "identity_secret" in sites.json()["data"][0]
    site = await admin("GET", f"/api/v1/sites/{world.seed.site_id}")
    check("SiteResult", site.json())
    agents = await admin("GET", "/api/v1/agents")
    check("AgentList", agents.json())
    assert {a["name"] for a in agents.json()["data"]} >= {"Ana", "Bo", "Oz"}
    assert all("password_hash" not in a for a in agents.json()["data"])
    check("TeamList", (await admin("GET", "/api/v1/teams")).json())
    check("CannedList", (await admin("GET", "/api/v1/canned")).json())
    # An admin token sees every site's conversations.
    everything = await admin("GET", "/api/v1/conversations")
    assert {c["id"] for c in everything.json()["data"]} == {world.conversation_id,
                                                           world.other_conversation_id}
    # Reports: the panel's numbers for the same question.
    cookie = await login(world.api.server, await add_admin(db, "boss@acme.test"))
    async with httpx.AsyncClient(base_url=world.api.server.http,
                                 cookies={"livechat_agent": cookie}) as http:
        panel = (await http.get("/api/reports", params={"site": world.seed.site_id})).json()
    ours = await world.api("GET", "/api/v1/reports")
    check("Report", ours.json())
    assert ours.json() == panel
    csv = await world.api("GET", "/api/v1/reports", format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    knowledge = await world.api("GET", "/api/v1/reports", format="csv", report="knowledge_base")
    assert knowledge.text.startswith("kind,id,text,lang,views,"), knowledge.text
    assert "livechat-knowledge-base-" in knowledge.headers["content-disposition"]
    assert (await world.api("GET", "/api/v1/reports", report="sales")).status_code == 400
    denied = await world.api("GET", "/api/v1/reports", site=world.seed.other_site_id)
    assert denied.status_code == 404


async def test_a_body_is_read_strictly_where_none_is_taken_too(world: World) -> None:
    """A black-box tester's: a handoff, a webhook's enable and a redelivery took any body, even
    one that is not JSON (a field sent to them, thought used, was ignored); and ``{}`` woke a
    snoozed conversation or took its team away. Each is ``400 bad_request``; nothing changes."""
    api, base = world.api, f"/api/v1/conversations/{world.conversation_id}"
    async with httpx.AsyncClient(base_url=api.server.http) as http:
        for body in (b"garbage", b'{"agent_id": "agent_x"}', b"[]"):
            refused = await http.post(base + "/handoff", content=body, headers={
                "Authorization": f"Bearer {api.token}", "Content-Type": "application/json"})
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == "bad_request", refused.text
    until = int(time.time() * 1000) + 3_600_000
    assert (await api("POST", base + "/snooze", {"until": until})).status_code == 200
    for action in ("/snooze", "/team"):
        refused = await api("POST", base + action, {})
        assert refused.status_code == 400 and "is required" in refused.text, refused.text
    read = await api("GET", base)
    assert read.json()["conversation"]["snoozed_until"] == until
    assert (await api("POST", base + "/snooze", {"until": None})).status_code == 200

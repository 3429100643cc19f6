"""The REST API (docs/api.md) against a real server: tokens made with the CLI, scopes, the rate
limit, every conversation action seen live by the panel's and the widget's sockets, idempotent
sends, pagination, tenancy on every route, and the OpenAPI document against the routes."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest

from server.endpoints.api_v1 import OPERATIONS
from server.openapi import SCHEMAS
from tests.live import (
    ROOT,
    UNLIMITED,
    Client,
    Seed,
    ServerProcess,
    add_admin,
    agent,
    api_token,
    login,
    open_store,
    server_env,
    serving,
    visitor,
)

ALL = ("conversations:read", "conversations:write", "visitors:read", "visitors:write",
       "reports:read", "webhooks", "articles:read", "articles:write")


@pytest.fixture
def server(db: Path, seeded: Seed) -> Iterator[ServerProcess]:
    with serving(db, **UNLIMITED) as proc:
        yield proc


def check(schema: str, data: Any) -> None:
    """``data`` matches the document's schema of that name (references resolved)."""
    jsonschema.validate(data, {"$ref": f"#/components/schemas/{schema}",
                               "components": {"schemas": SCHEMAS}})


@dataclass
class Api:
    server: ServerProcess
    token: str

    async def __call__(self, method: str, path: str, body: Any = None,
                       headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.http) as http:
            return await http.request(
                method, path, json=body, params=params or None,
                headers={"Authorization": f"Bearer {self.token}", **(headers or {})})


@dataclass
class World:
    """Site A with a conversation (Ana's panel and the visitor's widget open on it), site B with
    one of its own."""

    seed: Seed
    api: Api
    ana: Client
    ana_id: str
    bo_id: str
    widget: Client
    conversation_id: str
    visitor_id: str
    other_conversation_id: str
    other_visitor_id: str


async def _conversation(server: ServerProcess, site_id: str, text: str) -> tuple[Client, str,
                                                                                 str]:
    """A visitor's new conversation: the widget's socket, its id and the visitor's id."""
    client, _ = await visitor(server, site_id)
    ack = await client.request({"type": "send", "id": "m1", "body": text})
    assert ack["type"] == "ack", ack
    async with open_store(server.db) as store:
        found = await store.conversation(ack["conversation_id"])
    assert found is not None
    return client, found.id, found.visitor_id


@pytest.fixture
async def world(server: ServerProcess, db: Path, seeded: Seed) -> AsyncIterator[World]:
    ana, welcome = await agent(server, await login(server, seeded.agent_email))
    ids = {a["name"]: a["id"] for a in welcome["agents"]}
    widget, conversation_id, visitor_id = await _conversation(server, seeded.site_id, "hello A")
    other, other_conversation_id, other_visitor_id = await _conversation(
        server, seeded.other_site_id, "hello B")
    await other.close()
    opened = await ana.request({"type": "open", "id": "o1", "conversation_id": conversation_id})
    assert opened["type"] == "ack"
    token = api_token(db, *ALL, site=seeded.site_id)
    yield World(seeded, Api(server, token), ana, welcome["agent"]["id"], ids["Bo"], widget,
                conversation_id, visitor_id, other_conversation_id, other_visitor_id)
    await ana.close()
    await widget.close()


# --- tokens --------------------------------------------------------------------------------


def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args, "--db", str(db)],
                          env=server_env(db), capture_output=True, text=True, cwd=ROOT)


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
    tagged = await api("POST", base + "/tags", {"tag": "billing"})
    assert tagged.json()["conversation"]["tags"] == ["billing"]
    assert tagged.json()["duplicate"] is False
    # A tag it has, or removing one it has not, changes nothing: a duplicate (it said false).
    assert (await api("POST", base + "/tags", {"tag": "billing"})).json()["duplicate"] is True
    assert (await api("DELETE", base + "/tags/vip")).json()["duplicate"] is True
    assert (await api("POST", base + "/tags", {"tag": "Not A Tag"})).status_code == 400
    until = 4_102_444_800_000
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
    other, second, _ = await _conversation(api.server, world.seed.site_id, "second")
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
                {"nope": 1}, {"updated_since": "yesterday"}):
        r = await api("GET", "/api/v1/conversations", **bad)
        assert r.status_code == 400 and r.json()["error"] == "bad_request", bad
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


# --- tenancy, on every route ---------------------------------------------------------------


def _bodies(world: World) -> dict[str, Any]:
    return {"body": "x", "agent_id": world.ana_id, "by_agent_id": world.ana_id, "tag": "t",
            "team_id": None, "until": None, "name": "N", "email": "n@x.test",
            "attributes": {"a": "b"}, "note": "n", "site_id": world.seed.other_site_id,
            "url": "https://93.184.215.14/hook", "events": ["message.created"], "days": 5,
            "scopes": ["reports:read"], "lang": "en", "title": "T", "status": "draft",
            "category": "", "keywords": "", "slug": "s", "translation_of": None}


async def _article(admin: Api, site_id: str) -> str:
    """A draft article of the site, made with the installation's token."""
    made = await admin("POST", "/api/v1/articles", {"site_id": site_id, "lang": "en",
                                                    "title": "Returns", "body": "Send it back."})
    assert made.status_code == 201, made.text
    return str(made.json()["article"]["id"])


async def test_a_site_token_touches_nothing_of_another_site(world: World, db: Path) -> None:
    """Every operation of the table, aimed at site B's records with site A's most powerful
    token: 404 (or 403 for the installation's), and site B's records unchanged."""
    admin = Api(world.api.server, api_token(db, "admin"))
    hook = await admin("POST", "/api/v1/webhooks", {
        "site_id": world.seed.other_site_id, "url": "https://93.184.215.14/b",
        "events": ["message.created"]})
    assert hook.status_code == 201, hook.text
    other_article = await _article(admin, world.seed.other_site_id)
    other = {"conversation_id": world.other_conversation_id,
             "visitor_id": world.other_visitor_id, "site_id": world.seed.other_site_id,
             "tag": "t", "webhook_id": hook.json()["webhook"]["id"], "event_id": "evt_x",
             "token_id": "tok_x", "article_id": other_article}
    fields = _bodies(world)
    reached = 0
    for op in OPERATIONS:
        path = op.path.format(**other)
        body = ({k: fields[k] for k in op.body} if op.body is not None else None)
        r = await world.api(op.method, path, body)
        if op.scope == "admin":
            assert r.status_code == 403, (op.method, path)
        elif "{" in op.path or (op.body and "site_id" in op.body):
            assert r.status_code == 404 and r.json()["error"] == "not_found", (op.method, path,
                                                                               r.text)
            reached += 1
        else:
            assert r.status_code == 200, (op.method, path, r.text)
            text = r.text
            assert world.other_conversation_id not in text and world.other_visitor_id not in text
            assert other_article not in text
    assert reached >= 10
    # Filters naming site B find nothing either.
    for params in ({"site": world.seed.other_site_id},):
        assert (await world.api("GET", "/api/v1/conversations", **params)).status_code == 404
    untouched = (await admin("GET", f"/api/v1/conversations/{world.other_conversation_id}"))
    conversation = untouched.json()["conversation"]
    assert conversation["status"] == "waiting" and conversation["tags"] == []
    assert conversation["last_seq"] == 1
    assert (await admin("GET", f"/api/v1/visitors/{world.other_visitor_id}")).json()[
        "visitor"]["attributes"] == {}
    assert (await admin("GET", "/api/v1/webhooks")).json()["data"] == [hook.json()["webhook"]]
    article = (await admin("GET", f"/api/v1/articles/{other_article}")).json()["article"]
    assert article["title"] == "Returns" and article["status"] == "draft"


# --- the document --------------------------------------------------------------------------


async def test_openapi_document_matches_the_routes(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.api.server.http) as http:
        doc = (await http.get("/api/v1/openapi.json")).json()
        assert doc["openapi"] == "3.1.0"
        served = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
        table = {(op.method, op.path) for op in OPERATIONS}
        assert served == table
        # Every route of the app under /api/v1 is in the document (and only the document itself
        # and the JSON catch-all are not).
        from server.app import create_app
        from server.config import Settings

        app = create_app(Settings(secret_keys=("x" * 32,)))
        routes = set()
        for route in app.routes:
            path = getattr(route, "path", "")
            if path.startswith("/api/v1"):
                for method in getattr(route, "methods", None) or ():
                    if method != "HEAD":
                        routes.add((method, path))
        extra = {(m, p) for m, p in routes - table
                 if p not in ("/api/v1/openapi.json", "/api/v1/{rest:path}")}
        assert extra == set() and table <= routes
        # The JSON catch-all: unknown path and method.
        missing = await http.get("/api/v1/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        wrong = await http.put(f"/api/v1/conversations/{world.conversation_id}")
        assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    # Each operation documents its scope, its errors and its body's fields.
    for op in OPERATIONS:
        entry = doc["paths"][op.path][op.method.lower()]
        assert entry["x-scope"] == op.scope
        assert {"401", "403", "404", "429"} <= set(entry["responses"])
        if op.body is not None:
            schema = entry["requestBody"]["content"]["application/json"]["schema"]
            assert set(schema["properties"]) == set(op.body)
    jsonschema.validators.Draft202012Validator.check_schema(
        {"$defs": doc["components"]["schemas"]})
    # Every kind of message the store writes, follow-ups' check-ins and emails' records too.
    assert set(doc["components"]["schemas"]["Message"]["properties"]["kind"]["enum"]) == {
        "text", "joined", "resolved", "transferred", "requeued", "rated", "note", "reopened",
        "email", "checkin"}


def test_fuzzed_by_schemathesis_against_the_served_document(db: Path, seeded: Seed,
                                                            tmp_path: Path) -> None:
    """schemathesis generates requests from /api/v1/openapi.json (valid and invalid ones, and
    sequences that follow the answers): no 5xx, every answer matches its documented schema and
    status, invalid input is refused, methods not documented are 405 with ``Allow``.

    Left out: ``positive_data_acceptance`` — a schema cannot say "a cursor this API gave", "a
    date that exists" or "an id that exists", so some schema-valid requests are rightly 400."""
    with serving(db, **UNLIMITED) as server:
        token = api_token(db, "admin")
        run = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "run",
             f"{server.http}/api/v1/openapi.json", "-H", f"Authorization: Bearer {token}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--max-examples", "25", "--seed", "15", "--no-color"],
            capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        assert f"{len(OPERATIONS)}/{len(OPERATIONS)}" in run.stdout  # every operation tested


def test_every_operation_and_setting_is_in_docs_api_md() -> None:
    doc = (ROOT / "docs" / "api.md").read_text()
    for op in OPERATIONS:
        assert f"`{op.method} {op.path}`" in doc, (op.method, op.path)
    for name in ("LIVECHAT_API_RATE_PER_SECOND", "LIVECHAT_API_RATE_BURST",
                 "LIVECHAT_WEBHOOK_ALLOW_PRIVATE", "LIVECHAT_WEBHOOK_TIMEOUT",
                 "LIVECHAT_WEBHOOK_RETRY_BASE", "LIVECHAT_WEBHOOK_MAX_AGE",
                 "LIVECHAT_WEBHOOK_LEASE", "LIVECHAT_WEBHOOK_POLL",
                 "LIVECHAT_RETENTION_INTERVAL", "LIVECHAT_WEBHOOK_CONCURRENCY"):
        assert name in doc and name in (ROOT / "README.md").read_text()
    for code in ("unauthorized", "forbidden", "not_found", "id_conflict", "rate_limited",
                 "bad_request", "method_not_allowed", "unavailable", "bad_url"):
        assert f"`{code}`" in doc
    from server.store.api_tokens import SCOPES
    from server.store.webhooks import EVENTS

    for name in (*SCOPES, *EVENTS):
        assert f"| `{name}` |" in doc, name


async def test_property_a_token_reaches_only_its_site_and_its_scopes(world: World,
                                                                     db: Path) -> None:
    """For any set of scopes a site's token may carry, any operation, aimed at its own site's
    records or at another site's: refused with 403 exactly when the scope is missing; another
    site's records are 403 or 404, never touched."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from server.store.api_tokens import SCOPES, ApiTokens

    site_scopes = [s for s in SCOPES if s != "admin"]
    admin = Api(world.api.server, api_token(db, "admin"))
    hook = (await admin("POST", "/api/v1/webhooks", {
        "site_id": world.seed.other_site_id, "url": "https://93.184.215.14/p",
        "events": ["message.created"]})).json()["webhook"]["id"]
    tokens: dict[frozenset[str], str] = {}
    async with open_store(db) as store:
        made = ApiTokens(store)
        for mask in range(1, 2 ** len(site_scopes)):
            scopes = frozenset(s for i, s in enumerate(site_scopes) if mask >> i & 1)
            tokens[scopes] = (await made.create(world.seed.site_id, "p", sorted(scopes)))[1]
    own_article = await _article(admin, world.seed.site_id)
    other_article = await _article(admin, world.seed.other_site_id)
    ids = {
        "own": {"conversation_id": world.conversation_id, "visitor_id": world.visitor_id,
                "site_id": world.seed.site_id, "tag": "t", "webhook_id": "whk_none",
                "event_id": "evt_none", "token_id": "tok_none", "article_id": own_article},
        "other": {"conversation_id": world.other_conversation_id,
                  "visitor_id": world.other_visitor_id, "site_id": world.seed.other_site_id,
                  "tag": "t", "webhook_id": hook, "event_id": "evt_none",
                  "token_id": "tok_none", "article_id": other_article},
    }
    fields = _bodies(world)
    # Writes that would end the conversation or the visitor for the examples after them are
    # aimed at records that do not exist on the own site (the scope check comes first anyway).
    ending = {"erase_visitor", "resolve", "delete_article"}
    server = world.api.server

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(scopes=st.sampled_from(sorted(tokens, key=sorted)),
           op=st.sampled_from(OPERATIONS), target=st.sampled_from(["own", "other"]))
    def check(scopes: frozenset[str], op: Any, target: str) -> None:
        values = dict(ids[target])
        if target == "own" and op.operation_id in ending:
            values.update(conversation_id="conv_none", visitor_id="vis_none",
                          article_id="art_none")
        body = {k: fields[k] for k in op.body} if op.body is not None else None
        if target == "own" and body and "site_id" in body:
            body["site_id"] = world.seed.site_id
        with httpx.Client(base_url=server.http) as http:
            r = http.request(op.method, op.path.format(**values), json=body,
                             headers={"Authorization": f"Bearer {tokens[scopes]}"})
        allowed = op.scope in scopes
        assert r.status_code < 500, (op.method, op.path, r.text)
        assert (r.status_code == 403) == (not allowed), (sorted(scopes), op.path, r.text)
        if target == "other" and allowed and ("{" in op.path or (body and "site_id" in body)):
            assert r.status_code == 404, (op.method, op.path, r.text)
        if target == "other" and r.status_code == 200:  # a list: nothing of site B in it
            assert world.other_conversation_id not in r.text
            assert world.other_visitor_id not in r.text and hook not in r.text
            assert other_article not in r.text

    await asyncio.to_thread(check)
    conversation = (await admin("GET", f"/api/v1/conversations/{world.other_conversation_id}"
                                )).json()["conversation"]
    assert conversation["status"] == "waiting" and conversation["tags"] == []
    assert conversation["last_seq"] == 1 and conversation["snoozed_until"] is None
    visitor_b = (await admin("GET", f"/api/v1/visitors/{world.other_visitor_id}")).json()
    assert visitor_b["visitor"]["attributes"] == {} and visitor_b["visitor"]["name"] is None
    assert (await admin("GET", f"/api/v1/webhooks/{hook}")).json()["webhook"]["active"]
    assert (await admin("GET", f"/api/v1/sites/{world.seed.other_site_id}/retention")).json()[
        "days"] is None
    article = (await admin("GET", f"/api/v1/articles/{other_article}")).json()["article"]
    assert article["title"] == "Returns" and article["status"] == "draft"


async def test_the_panel_calls_the_api_with_an_admins_session_only(world: World,
                                                                   db: Path) -> None:
    server = world.api.server
    root = await login(server, await add_admin(db, "boss@acme.test"))
    ana = await login(server, world.seed.agent_email)
    async with httpx.AsyncClient(base_url=server.http, cookies={"livechat_agent": root}) as http, \
            httpx.AsyncClient(base_url=server.http, cookies={"livechat_agent": ana}) as as_ana, \
            httpx.AsyncClient(base_url=server.http) as bare:
        listed = await http.get("/api/v1/tokens")
        assert listed.status_code == 200, listed.text
        # A site that is not one is not_found, as everywhere in the API (it was an empty list).
        nowhere = await http.get("/api/v1/tokens", params={"site": "site_nope"})
        assert (nowhere.status_code, nowhere.json()["error"]) == (404, "not_found"), nowhere.text
        mine = await http.get("/api/v1/tokens", params={"site": world.seed.site_id})
        assert mine.status_code == 200, mine.text
        made = await http.post("/api/v1/tokens",
                               json={"name": "From the panel", "scopes": ["reports:read"],
                                     "site_id": world.seed.site_id},
                               headers={"Origin": server.http})
        assert made.status_code == 201, made.text
        check("TokenCreated", made.json())
        assert made.json()["token"]["created_by"] is not None
        forged = await http.post("/api/v1/tokens",
                                 json={"name": "x", "scopes": ["admin"]},
                                 headers={"Origin": "https://evil.test"})
        assert forged.status_code == 403 and forged.json()["error"] == "forbidden_origin"
        agent_only = await as_ana.get("/api/v1/tokens")
        assert agent_only.status_code == 401
        secret = made.json()["secret"]
        reports = await bare.get("/api/v1/reports",
                                 headers={"Authorization": f"Bearer {secret}"})
        assert reports.status_code == 200
        revoked = await http.delete(f"/api/v1/tokens/{made.json()['token']['id']}",
                                    headers={"Origin": server.http})
        assert revoked.json()["token"]["revoked_at"] is not None
        assert (await bare.get("/api/v1/reports", headers={
            "Authorization": f"Bearer {secret}"})).status_code == 401
        bad = await world.api("POST", "/api/v1/tokens", {"name": "n", "scopes": ["admin"]})
        assert bad.status_code == 403  # a site's token cannot make tokens

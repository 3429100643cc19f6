"""The REST API's contract (docs/api.md) against a real server: tenancy on every route, the
OpenAPI document against the routes (and schemathesis against it), docs/api.md against the
operations and settings, and the panel's use of the API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from server.endpoints.api_v1 import OPERATIONS
from tests import api_world
from tests.api_world import Api, World, check
from tests.live import (
    ROOT,
    UNLIMITED,
    Seed,
    add_admin,
    api_token,
    login,
    open_store,
    serving,
)

server, world = api_world.server, api_world.world  # the fixtures


# --- tenancy, on every route ---------------------------------------------------------------


def _bodies(world: World) -> dict[str, Any]:
    return {"body": "x", "agent_id": world.ana_id, "by_agent_id": world.ana_id, "tag": "t",
            "team_id": None, "until": None, "name": "N", "email": "n@x.test",
            "attributes": {"a": "b"}, "note": "n", "site_id": world.seed.other_site_id,
            "url": "https://93.184.215.14/hook", "events": ["message.created"], "days": 5,
            "scopes": ["reports:read"], "lang": "en", "title": "T", "status": "draft",
            "category": "", "keywords": "", "slug": "s", "translation_of": None,
            "mentions": [world.ana_id]}


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
        # One made with an installation's admin token says so (it said nobody).
        admin_token = api_token(db, "admin")
        by_token = await Api(server, admin_token)("POST", "/api/v1/tokens", {
            "name": "CRM", "scopes": ["reports:read"]})
        assert by_token.json()["token"]["created_by"] == f"token {admin_token.split('.')[1]}"
        assert by_token.json()["token"]["site_id"] is None

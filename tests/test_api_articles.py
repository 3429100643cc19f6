"""``/api/v1/articles`` (docs/api.md, Articles) against a real server: a docs pipeline writes,
translates, publishes, lists, searches and deletes a site's articles with a token; what it
publishes is what the widget finds; bad input is a 400 that writes nothing; another site's
articles are out of reach."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.live import Seed, ServerProcess, api_token, open_store, serving
from tests.test_api import Api, check

RW = ("articles:read", "articles:write")


async def _agent_id(db: Path, email: str) -> str:
    async with open_store(db) as store:
        agent = await store.agent_by_email(email)
    assert agent is not None
    return agent.id


async def test_a_docs_pipeline_keeps_the_articles_of_its_site(server: ServerProcess, db: Path,
                                                              seeded: Seed) -> None:
    api = Api(server, api_token(db, *RW, site=seeded.site_id))
    ana = await _agent_id(db, seeded.agent_email)
    body = "Send it **back** within 30 days. <script>alert(1)</script>\n\n" + "More. " * 15_000
    made = await api("POST", "/api/v1/articles", {
        "lang": "en", "title": "Returns and refunds", "body": body, "category": "Orders",
        "keywords": "money back", "agent_id": ana})
    assert made.status_code == 201, made.text
    check("ArticleSaved", made.json())
    article = made.json()["article"]
    # a body over the API's usual 64 KiB is taken; its HTML is the sanitised rendering
    assert len(body) > 64 * 1024 and article["body"] == body
    assert article["html"].startswith("<p>Send it <strong>back</strong> within 30 days. "
                                      "&lt;script&gt;alert(1)&lt;/script&gt;</p>")
    assert article["site_id"] == seeded.site_id and article["status"] == "draft"
    assert article["slug"] == "returns-and-refunds" and article["author_id"] == ana
    assert article["author"] == "Ana"

    translated = await api("POST", "/api/v1/articles", {
        "lang": "pt_BR", "title": "Devoluções", "body": "Devolva em 30 dias.",
        "translation_of": article["id"], "status": "published"})
    assert translated.status_code == 201, translated.text
    pt = translated.json()["article"]
    assert pt["lang"] == "pt-br" and pt["group_id"] == article["group_id"]
    assert pt["slug"] == "devolucoes" and pt["author_id"] is None  # no agent_id: no author

    # only the fields given change; the slug stays with its links
    changed = await api("PATCH", f"/api/v1/articles/{article['id']}",
                        {"title": "Returns", "status": "published"})
    assert changed.status_code == 200, changed.text
    check("ArticleSaved", changed.json())
    after = changed.json()["article"]
    assert (after["title"], after["slug"], after["status"]) == ("Returns", "returns-and-refunds",
                                                                "published")
    assert after["body"] == body and after["keywords"] == "money back"
    assert after["author_id"] == ana  # kept: this change named nobody

    got = await api("GET", f"/api/v1/articles/{article['id']}")
    check("ArticleResult", got.json())
    assert [t["id"] for t in got.json()["translations"]] == [pt["id"]]

    # lists: by category and title, pages by cursor, filters
    extra = await api("POST", "/api/v1/articles", {"lang": "en", "title": "Another draft",
                                                   "body": "Nothing yet."})
    assert extra.status_code == 201
    listed = await api("GET", "/api/v1/articles")
    check("ArticlePage", listed.json())
    assert [a["title"] for a in listed.json()["data"]] == ["Another draft", "Devoluções",
                                                           "Returns"]
    seen, cursor = [], None
    while True:
        page = (await api("GET", "/api/v1/articles", limit=2,
                          **({"cursor": cursor} if cursor else {}))).json()
        seen += [a["id"] for a in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["id"] for a in listed.json()["data"]]
    drafts = (await api("GET", "/api/v1/articles", status="draft")).json()["data"]
    assert [a["title"] for a in drafts] == ["Another draft"]
    portuguese = (await api("GET", "/api/v1/articles", lang="PT-br")).json()["data"]
    assert [a["id"] for a in portuguese] == [pt["id"]]
    found = (await api("GET", "/api/v1/articles", query="money back refund",
                       site=seeded.site_id)).json()
    assert found["data"][0]["id"] == article["id"] and found["next_cursor"] is None
    # as long a query as the widget's search takes (docs/knowledge-base.md: 200 characters)
    long_query = ("money back refund " * 12)[:200]
    assert (await api("GET", "/api/v1/articles", query=long_query,
                      site=seeded.site_id)).json()["data"][0]["id"] == article["id"]
    too_long = await api("GET", "/api/v1/articles", query=long_query + "x", site=seeded.site_id)
    assert too_long.status_code == 400, too_long.text

    # what it published is what visitors find in the widget
    async with httpx.AsyncClient(base_url=server.http) as http:
        widget = (await http.get("/widget/kb/search", params={
            "site": seeded.site_id, "q": "money back", "lang": "en"})).json()
    assert [a["id"] for a in widget["articles"]] == [article["id"]]

    # a search can be of drafts only, and finds a language's family
    draft_hits = (await api("GET", "/api/v1/articles", query="draft nothing",
                            status="draft")).json()["data"]
    assert [a["title"] for a in draft_hits] == ["Another draft"]
    family = (await api("GET", "/api/v1/articles", query="devolva", lang="pt")).json()["data"]
    assert [a["id"] for a in family] == [pt["id"]]  # pt-br, found from pt

    deleted = await api("DELETE", f"/api/v1/articles/{article['id']}")
    assert deleted.json() == {"deleted": True}
    assert (await api("GET", f"/api/v1/articles/{article['id']}")).status_code == 404
    assert (await api("GET", f"/api/v1/articles/{pt['id']}")).status_code == 200  # stays


async def test_bad_input_is_a_400_and_writes_nothing(server: ServerProcess, db: Path,
                                                     seeded: Seed) -> None:
    api = Api(server, api_token(db, *RW, site=seeded.site_id))
    good: dict[str, Any] = {"lang": "en", "title": "Shipping", "body": "We ship."}
    made = (await api("POST", "/api/v1/articles", good)).json()["article"]
    other_agent = await _agent_id(db, seeded.other_agent_email)
    for bad, error in (
            ({**good, "lang": "english"}, "bad_request"),
            ({**good, "lang": " en"}, "bad_request"),
            ({**good, "title": "t" * 201}, "bad_request"),
            ({**good, "title": "   "}, "bad_request"),
            ({**good, "title": 5}, "bad_request"),
            ({**good, "body": "b" * 100_001}, "bad_request"),
            ({**good, "body": "nul\x00"}, "bad_request"),
            ({**good, "category": "c" * 81}, "bad_request"),
            ({**good, "keywords": "k" * 501}, "bad_request"),
            ({**good, "slug": "s" * 81}, "bad_request"),
            ({**good, "status": "live"}, "bad_request"),
            ({**good, "author": "me"}, "bad_request"),
            ({"lang": "en", "title": "No body"}, "bad_request"),
            ({**good, "lang": "en", "translation_of": made["id"]}, "bad_request"),  # en taken
            ({**good, "translation_of": "art_nope"}, "not_found"),
            ({**good, "agent_id": other_agent}, "not_found"),  # not an agent of this site
            ({**good, "site_id": seeded.other_site_id}, "not_found")):
        r = await api("POST", "/api/v1/articles", bad)
        assert r.json()["error"] == error, (bad, r.text)
        assert r.status_code == {"not_found": 404}.get(error, 400)
    for bad in ({"site_id": seeded.site_id}, {"translation_of": made["id"]}, {"title": ""},
                {"status": None, "body": 1}):
        r = await api("PATCH", f"/api/v1/articles/{made['id']}", bad)
        assert r.status_code == 400, (bad, r.text)
    async with httpx.AsyncClient(base_url=server.http) as http:
        lone = await http.post("/api/v1/articles", content=b'{"lang": "en", "title": "\\ud800",'
                               b' "body": "b"}', headers={"Authorization": f"Bearer {api.token}",
                                                          "Content-Type": "application/json"})
    assert lone.status_code == 400 and lone.json()["error"] == "bad_text", lone.text
    too_big = await api("POST", "/api/v1/articles", {**good, "body": "x" * 1_400_000})
    assert too_big.status_code == 413 and too_big.json()["error"] == "too_large"
    for params in ({"lang": "english"}, {"status": "live"}, {"query": "x", "cursor": "AA"},
                   {"cursor": "nonsense"}):
        r = await api("GET", "/api/v1/articles", **params)
        assert r.status_code == 400, (params, r.text)
    assert [a["id"] for a in (await api("GET", "/api/v1/articles")).json()["data"]] == [
        made["id"]]
    assert (await api("GET", f"/api/v1/articles/{made['id']}")).json()["article"] == made


async def test_long_titles_in_any_script_page_and_long_bodies_fit(server: ServerProcess,
                                                                   db: Path,
                                                                   seeded: Seed) -> None:
    """A page's cursor holds its last article's category and title: the longest of them, in a
    script of several bytes a character, still make a cursor the API takes back; and a body
    of 100,000 characters is taken even when every character is sent as a JSON escape."""
    api = Api(server, api_token(db, *RW, site=seeded.site_id))
    made = []
    for n, script in enumerate(("Ω", "中", "😀", "\u0007")):
        r = await api("POST", "/api/v1/articles", {
            "lang": "en", "title": script * 199 + str(n), "category": script * 80,
            "body": "b"})
        assert r.status_code == 201, r.text
        made.append(r.json()["article"]["id"])
    seen, cursor = [], None
    while True:
        r = await api("GET", "/api/v1/articles", limit=1, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        seen += [a["id"] for a in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(made)
    escaped = json.dumps({"lang": "ru", "title": "Возврат", "body": "ж" * 50_000 + "😀" * 50_000})
    assert len(escaped) > 512 * 1024  # every character a \\u escape (the emoji two)
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.post("/api/v1/articles", content=escaped, headers={
            "Authorization": f"Bearer {api.token}", "Content-Type": "application/json"})
    assert r.status_code == 201, r.text[:300]
    assert len(r.json()["article"]["body"]) == 100_000


async def test_scopes_and_sites(db: Path, seeded: Seed) -> None:
    with serving(db) as server:
        admin = Api(server, api_token(db, "admin"))
        theirs = (await admin("POST", "/api/v1/articles", {
            "site_id": seeded.other_site_id, "lang": "en", "title": "Theirs",
            "body": "B's."})).json()["article"]
        reader = Api(server, api_token(db, "articles:read", site=seeded.site_id))
        assert (await reader("GET", "/api/v1/articles")).json()["data"] == []
        r = await reader("POST", "/api/v1/articles", {"lang": "en", "title": "T", "body": "b"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        other = Api(server, api_token(db, "conversations:read", site=seeded.site_id))
        assert (await other("GET", "/api/v1/articles")).status_code == 403
        writer = Api(server, api_token(db, *RW, site=seeded.site_id))
        for method, body in (("GET", None), ("PATCH", {"title": "Mine"}), ("DELETE", None)):
            r = await writer(method, f"/api/v1/articles/{theirs['id']}", body)
            assert r.status_code == 404 and r.json()["error"] == "not_found"
        assert (await writer("GET", "/api/v1/articles", site=seeded.other_site_id)
                ).status_code == 404
        for path in ("/api/v1/articles/%00", f"/api/v1/articles/{theirs['id']}%00"):
            r = await writer("GET", path)  # (refused before any route: docs/security.md)
            assert r.status_code == 400 and r.json()["error"] == "bad_request", r.text
        # an installation's token names the site, and needs one for a search
        r = await admin("POST", "/api/v1/articles", {"lang": "en", "title": "T", "body": "b"})
        assert r.status_code == 400 and "site_id" in r.json()["message"]
        assert (await admin("GET", "/api/v1/articles", query="theirs")).status_code == 400
        every = (await admin("GET", "/api/v1/articles")).json()["data"]
        assert [a["id"] for a in every] == [theirs["id"]]
        assert (await admin("GET", f"/api/v1/articles/{theirs['id']}")).json()[
            "article"]["title"] == "Theirs"

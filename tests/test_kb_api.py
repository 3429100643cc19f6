"""The knowledge base over HTTP against a real server process (the admin routes, the agents'
search, the widget's routes, the help centre) and from the command line."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import httpx
import orjson

from tests.live import (
    Seed,
    ServerProcess,
    add_admin,
    login,
    open_store,
    seed,
    serving,
    visitor_token,
)
from tests.test_cli import livechat
from tests.test_kb import _TAGS, PAYLOADS, _Tags


async def test_admins_write_articles_and_nobody_else_does(server: ServerProcess,
                                                          seeded: Seed) -> None:
    email = await add_admin(server.db)
    cookie = await login(server, email)
    agent_cookie = await login(server, seeded.agent_email)
    own = {"Origin": server.http}
    async with httpx.AsyncClient(base_url=server.http, headers=own) as http:
        new = {"site_id": seeded.site_id, "lang": "en", "title": "Returns", "status": "published",
               "body": "Send it **back**. <script>alert(1)</script>", "category": "Orders",
               "keywords": "refund, money back"}
        # not signed in; an agent; another origin: refused, nothing written
        assert (await http.post("/api/admin/articles", json=new)).status_code == 401
        http.cookies.set("livechat_agent", agent_cookie)
        r = await http.post("/api/admin/articles", json=new)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        http.cookies.set("livechat_agent", cookie)
        r = await http.post("/api/admin/articles", json=new, headers={"Origin": "http://evil.test"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden_origin"
        r = await http.post("/api/admin/articles", json=new)
        assert r.status_code == 201, r.text
        art = r.json()["article"]
        assert art["html"] == ("<p>Send it <strong>back</strong>. "
                               "&lt;script&gt;alert(1)&lt;/script&gt;</p>\n")
        assert art["slug"] == "returns" and art["author"] == "Root"
        assert art["keywords"] == "refund, money back"
        for bad, code in (({**new, "lang": "klingon!"}, 400), ({**new, "title": ""}, 400),
                          ({**new, "extra": 1}, 400), ({**new, "site_id": "site_nope"}, 404),
                          ({**new, "title": 5}, 400), ({**new, "keywords": "k" * 501}, 400),
                          ({**new, "translation_of": "art_x"}, 404)):
            r = await http.post("/api/admin/articles", json=bad)
            assert r.status_code == code, (bad, r.text)
            assert set(r.json()) == {"error", "message"}
        r = await http.post("/api/admin/articles", content=b"{" * 10, headers={
            "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "bad_request"
        r = await http.post("/api/admin/articles", content=b"x" * (1400 * 1024))
        assert r.status_code == 413
        # a translation, an update (only the fields sent change), the list, one article
        r = await http.post("/api/admin/articles", json={
            "site_id": seeded.site_id, "lang": "pt", "title": "Devoluções", "body": "Devolva.",
            "translation_of": art["id"]})
        pt = r.json()["article"]
        assert pt["group_id"] == art["group_id"] and pt["status"] == "draft"
        r = await http.patch(f"/api/admin/articles/{art['id']}",
                             json={"title": "Returns (30 days)"})
        assert r.status_code == 200 and r.json()["article"]["body"].startswith("Send it")
        assert r.json()["article"]["slug"] == "returns"
        assert r.json()["article"]["keywords"] == "refund, money back"  # kept
        assert (await http.patch("/api/admin/articles/art_nope", json={})).status_code == 404
        for moving in ({"site_id": seeded.other_site_id}, {"translation_of": pt["id"]}):
            r = await http.patch(f"/api/admin/articles/{art['id']}", json=moving)
            assert r.status_code == 400, r.text
        listed = (await http.get(f"/api/admin/articles?site={seeded.site_id}")).json()
        assert [a["title"] for a in listed["articles"]] == ["Devoluções", "Returns (30 days)"]
        assert listed["help_url"] == f"{server.http}/help/{seeded.site_id}"
        assert "body" not in listed["articles"][0]
        one = (await http.get(f"/api/admin/articles/{art['id']}")).json()
        assert [t["lang"] for t in one["translations"]] == ["pt"]
        found = (await http.get(f"/api/admin/articles?site={seeded.site_id}&q=devolu")).json()
        assert [a["id"] for a in found["articles"]] == [pt["id"]]  # drafts too, for admins
        r = await http.post("/api/admin/articles/preview", json={"body": "[x](javascript:1) *y*"})
        assert r.json() == {"html": '<p><a target="_blank" rel="noopener noreferrer nofollow">'
                                    'x</a> <em>y</em></p>\n'}  # the link loses its href
        r = await http.put(f"/api/admin/sites/{seeded.site_id}/help", json={"slug": "acme"})
        assert r.json() == {"slug": "acme", "url": f"{server.http}/help/acme"}
        r = await http.put(f"/api/admin/sites/{seeded.other_site_id}/help", json={"slug": "acme"})
        assert r.status_code == 400
        # agents find published articles of their own sites only, with the help-centre link
        http.cookies.set("livechat_agent", agent_cookie)
        r = await http.get(f"/api/agent/articles?site={seeded.site_id}&q=return")
        assert [(a["title"], a["url"]) for a in r.json()["articles"]] == [
            ("Returns (30 days)", f"{server.http}/help/acme/en/returns")]
        assert (await http.get(f"/api/agent/articles?site={seeded.site_id}&q=devolu")
                ).json()["articles"] == []
        r = await http.get(f"/api/agent/articles?site={seeded.other_site_id}&q=return")
        assert r.status_code == 403
        http.cookies.set("livechat_agent", cookie)
        assert (await http.delete(f"/api/admin/articles/{pt['id']}")).status_code == 200
        assert (await http.delete(f"/api/admin/articles/{pt['id']}")).status_code == 404


async def test_agents_look_up_the_article_a_help_centre_link_names(
        tmp_path: Path) -> None:
    """``/api/agent/articles/by-url`` (the panel's cards): a published article of one of the
    agent's sites, by its help-centre address (the site's address or its key)."""
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    async with open_store(db) as store:
        art = await store.articles.save(seeded.site_id, lang="en", title="Returns",
                                        body="Send it back.", status="published")
        await store.articles.save(seeded.site_id, lang="en", title="Refund secrets",
                                  body="draft")
        await store.articles.save(seeded.other_site_id, lang="en", title="Shipping",
                                  body="Other site.", status="published")
        await store.articles.set_help_slug(seeded.site_id, "acme")
    with serving(db) as server:
        cookie = await login(server, seeded.agent_email)
        origin = server.http
        async with httpx.AsyncClient(base_url=origin) as http:
            async def ask(site: str, url: str) -> httpx.Response:
                return await http.get("/api/agent/articles/by-url",
                                      params={"site": site, "url": url})

            link = f"{origin}/help/acme/en/returns"
            r = await ask(seeded.site_id, link)
            assert r.status_code == 401 and r.json()["error"] == "unauthorized"
            http.cookies.set("livechat_agent", cookie)
            r = await ask(seeded.site_id, link)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            found = r.json()["article"]
            assert (found["id"], found["title"], found["url"]) == (art.id, "Returns", link)
            assert found["excerpt"] == "Send it back." and "body" not in found
            # by the site's key too (the help centre redirects it): the article's own address
            by_key = await ask(seeded.site_id, f"{origin}/help/{seeded.site_id}/en/returns")
            assert by_key.json()["article"]["url"] == link
            # another site's: refused (it is not the agent's), or not found (asked as this one)
            r = await ask(seeded.other_site_id, f"{origin}/help/{seeded.other_site_id}"
                                                "/en/shipping")
            assert r.status_code == 403 and r.json()["error"] == "forbidden"
            for url in (f"{origin}/help/{seeded.other_site_id}/en/shipping",
                        f"{origin}/help/{seeded.other_site_id}/en/returns",  # not its address
                        f"{origin}/help/acme/en/refund-secrets",  # a draft
                        f"{origin}/help/acme/en/nope", f"{origin}/help/acme/pt/returns",
                        "http://evil.test/help/acme/en/returns",  # not this server
                        f"{origin}/help/acme/en/returns?x=1", f"{origin}/help/acme/en/returns/",
                        f"{origin}/help/acme/en", f"{origin}/help/acme", "", "x" * 3000,
                        f"{origin}/help/%2500/en/returns", f"{origin}/help/acme/en/returns%00"):
                r = await ask(seeded.site_id, url)
                assert r.status_code == 404, (url, r.text)
                assert set(r.json()) == {"error", "message"}


def test_the_cli_creates_updates_and_lists_articles(tmp_path: Path) -> None:
    db = tmp_path / "kb.db"
    site = livechat("site", "create", "Acme", db=db).stdout.split()[2]
    made = livechat("article", "create", "--site", site, "--lang", "en", "--title", "Returns",
                    "--body-file", "-", "--category", "Orders", "--json", db=db,
                    stdin="Send it **back**.\n<iframe src=https://evil.test></iframe>")
    assert made.returncode == 0, made.stderr
    art = orjson.loads(made.stdout)
    assert art["status"] == "draft" and art["html"].startswith("<p>Send it <strong>back")
    assert "<iframe" not in art["html"]
    pt = livechat("article", "create", "--site", site, "--lang", "pt", "--title", "Devoluções",
                  "--translation-of", art["id"], "--publish", "--json", db=db)
    assert orjson.loads(pt.stdout)["group_id"] == art["group_id"]
    up = livechat("article", "update", art["id"], "--publish", "--title", "Returns policy",
                  "--keywords", "refund, money back", db=db)
    assert up.returncode == 0
    assert f"{art['id']}  published  en  /returns  Returns policy" in up.stdout
    listed = orjson.loads(livechat("article", "list", "--site", site, "--json", db=db).stdout)
    assert [(a["lang"], a["status"]) for a in listed] == [("pt", "published"),
                                                          ("en", "published")]
    kept = livechat("article", "update", art["id"], "--category", "Orders", "--json", db=db)
    assert orjson.loads(kept.stdout)["keywords"] == "refund, money back"
    assert livechat("article", "list", "--lang", "pt", db=db).stdout.count("\n") == 1
    bad = livechat("article", "create", "--site", site, "--lang", "english!", "--title", "x",
                   db=db)
    assert bad.returncode == 2 and "language" in bad.stderr and "Traceback" not in bad.stderr
    missing = livechat("article", "update", "art_nope", "--draft", db=db)
    assert missing.returncode == 1 and "no article art_nope" in missing.stderr
    nosite = livechat("article", "create", "--site", "site_nope", "--lang", "en", "--title", "x",
                      db=db)
    assert nosite.returncode == 1 and "no such site" in nosite.stderr
    made_slug = livechat("site", "help-centre", site, "acme", db=db)
    assert made_slug.stdout == "help centre: /help/acme\n"
    taken = livechat("site", "help-centre",
                     livechat("site", "create", "B", db=db).stdout.split()[2], "acme", db=db)
    assert taken.returncode == 2 and "another site's" in taken.stderr



async def test_the_widget_reads_published_articles_and_tells_what_visitors_did(
        tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    async with open_store(db) as store:
        art = await store.articles.save(seeded.site_id, lang="en", title="Returns",
                                        body="Send it back.", status="published")
        draft = await store.articles.save(seeded.site_id, lang="en", title="Refund secrets",
                                          body="draft")
        await store.articles.save(seeded.site_id, lang="pt", title="Devoluções",
                                  body="Devolva.", status="published", translation_of=art.id)
        other = await store.articles.save(seeded.other_site_id, lang="en", title="Returns",
                                          body="Other site.", status="published")
    token = visitor_token(seeded.site_id, "vis_kb1")
    with serving(db, LIVECHAT_KB_REQUESTS_PER_IP="40") as server:
        async with httpx.AsyncClient(base_url=server.http) as http:
            found = (await http.get("/widget/kb/search", params={
                "site": seeded.site_id, "q": "retur", "lang": "en-GB"})).json()["articles"]
            assert [(a["id"], a["title"]) for a in found] == [(art.id, "Returns")]
            assert "body" not in found[0] and "html" not in found[0]
            # the visitor's language; a language the site has no article in: every language
            pt = (await http.get("/widget/kb/search", params={
                "site": seeded.site_id, "q": "devolva", "lang": "pt"})).json()["articles"]
            assert [a["title"] for a in pt] == ["Devoluções"]
            fr = (await http.get("/widget/kb/search", params={
                "site": seeded.site_id, "q": "devolva", "lang": "fr"})).json()["articles"]
            assert [a["title"] for a in fr] == ["Devoluções"]
            assert (await http.get("/widget/kb/search", params={
                "site": seeded.site_id, "q": "secrets"})).json()["articles"] == []
            for params, code in (({"site": "site_nope", "q": "x"}, 404),
                                 ({"site": seeded.site_id, "q": "x" * 201}, 400),
                                 ({"site": seeded.site_id, "q": "x", "limit": "99"}, 400)):
                r = await http.get("/widget/kb/search", params=params)
                assert r.status_code == code and set(r.json()) == {"error", "message"}
            one = await http.get(f"/widget/kb/articles/{art.id}",
                                 params={"site": seeded.site_id})
            assert one.json()["article"]["html"] == "<p>Send it back.</p>\n"
            assert one.json()["article"]["url"] == (
                f"{server.http}/help/{seeded.site_id}/en/returns")
            assert "body" not in one.json()["article"]
            for article_id, site in ((draft.id, seeded.site_id), (other.id, seeded.site_id),
                                     ("art_nope", seeded.site_id)):
                r = await http.get(f"/widget/kb/articles/{article_id}", params={"site": site})
                assert r.status_code == 404
            # an agent's link: found by its language and slug, in this site's help centre only
            # (the other site has an article at /en/returns too)
            link = {"site": seeded.site_id, "lang": "en", "slug": "returns"}
            for address, code in ((None, 200), (seeded.site_id, 200),
                                  (seeded.other_site_id, 404), ("nowhere", 404)):
                r = await http.get("/widget/kb/article", params={
                    **link, **({"address": address} if address else {})})
                assert r.status_code == code, (address, r.text)
                assert code == 404 or r.json()["article"]["id"] == art.id
            own = {"Origin": server.http}

            async def tell(body: object, headers: dict[str, str] | None = None) -> httpx.Response:
                return await http.post("/widget/kb/events", json=body,
                                       headers=own if headers is None else headers)

            assert (await tell({"token": token, "type": "search", "q": "warranty"})).json() == {
                "ok": True}
            assert (await tell({"token": token, "type": "view", "article": art.id})
                    ).status_code == 200
            assert (await tell({"token": token, "type": "vote", "article": art.id,
                                "helpful": False})).status_code == 200
            refused = [
                ({"token": token, "type": "view", "article": art.id},
                 {"Origin": "http://evil.test"}, 403),
                ({"token": "forged", "type": "view", "article": art.id}, None, 401),
                ({"type": "view", "article": art.id}, None, 401),
                ({"token": token, "type": "view", "article": other.id}, None, 404),
                ({"token": token, "type": "view", "article": draft.id}, None, 404),
                ({"token": token, "type": "vote", "article": art.id}, None, 400),
                ({"token": token, "type": "view", "article": art.id, "helpful": True}, None, 400),
                ({"token": token, "type": "search", "q": ""}, None, 400),
                ({"token": token, "type": "explode"}, None, 400),
                ({"token": token, "type": "view", "article": art.id, "x": 1}, None, 400),
            ]
            for body, headers, code in refused:
                r = await tell(body, headers)
                assert r.status_code == code, (body, r.text)
            async with open_store(db) as store:
                stats = await store.articles.stats([seeded.site_id], 0, 2**62)
            assert stats["searches"] == 1 and stats["no_results"][0]["query"] == "warranty"
            assert stats["not_helpful"] == 1 and stats["articles"][0]["views"] == 1
            # the address's budget for the minute runs out: 429 with Retry-After
            statuses = [(await http.get("/widget/kb/search", params={
                "site": seeded.site_id, "q": "x"})) for _ in range(40)]
            assert statuses[-1].status_code == 429
            assert statuses[-1].json()["error"] == "rate_limited"
            assert int(statuses[-1].headers["retry-after"]) >= 1


async def test_the_help_centre_is_server_rendered_indexable_and_inert(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    seeded = await seed(db)
    async with open_store(db) as store:
        await store.set_site_profile(seeded.site_id, color="#0b7a4b")
        a = store.articles
        art = await a.save(seeded.site_id, lang="en", title="Returns & refunds", category="Orders",
                           status="published", body="Send it **back** within 30 days.\n\n"
                           + "\n\n".join(PAYLOADS))
        await a.save(seeded.site_id, lang="pt", title="Devoluções", category="Encomendas",
                     status="published", body="Devolva em 30 dias.", translation_of=art.id)
        await a.save(seeded.site_id, lang="en", title="Opening hours", status="published",
                     body="Mon-Fri.")
        await a.save(seeded.site_id, lang="en", title="Secret draft", body="draft")
        await a.set_help_slug(seeded.site_id, "acme")
    with serving(db) as server:
        async with httpx.AsyncClient(base_url=server.http) as http:
            r = await http.get("/help/acme", headers={"Accept-Language": "pt-PT,pt;q=0.9,en;q=0.5"})
            assert r.status_code == 302 and r.headers["location"] == f"{server.http}/help/acme/pt"
            r = await http.get("/help/acme", headers={"Accept-Language": "de"})
            assert r.headers["location"] == f"{server.http}/help/acme/en"
            r = await http.get(f"/help/{seeded.site_id}/en/returns-refunds?x=1")
            assert r.status_code == 301 and r.headers["location"] == (
                "/help/acme/en/returns-refunds?x=1")

            home = await http.get("/help/acme/en")
            assert home.status_code == 200
            csp = home.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp
            assert "frame-ancestors 'none'" in csp
            page = home.text
            assert "<title>Acme · Help centre</title>" in page
            assert f'<link rel="canonical" href="{server.http}/help/acme/en">' in page
            assert f'hreflang="pt" href="{server.http}/help/acme/pt"' in page
            assert f'href="{server.http}/help/acme/en/category/orders">Orders</a>' in page
            assert "Returns &amp; refunds" in page and "Opening hours" in page
            assert "Secret draft" not in page and "<script" not in page.lower()

            crawled = await http.get("/help/acme/en/returns-refunds",
                                     headers={"User-Agent": "Googlebot/2.1"})
            assert crawled.status_code == 200  # served, not counted as a view
            one = await http.get("/help/acme/en/returns-refunds")
            page = one.text
            assert '<html lang="en" dir="ltr">' in page
            assert "<title>Returns &amp; refunds · Acme</title>" in page
            assert '<meta name="description" content="Send it back within 30 days.' in page
            assert (f'<link rel="canonical" href="{server.http}/help/acme/en/returns-refunds">'
                    in page)
            assert f'href="{server.http}/help/acme/pt/devolucoes"' in page
            assert "<strong>back</strong>" in page
            body = page[page.index('<div class="body">'):page.index("</article>")]
            parser = _Tags()
            parser.feed(body)
            assert {tag for tag, _ in parser.seen} <= _TAGS | {"div"}
            for _, attrs in parser.seen:
                for name, value in attrs:
                    assert not name.startswith("on")
                    if name in ("href", "src"):
                        assert (value or "").startswith(("https://", "http://", "mailto:"))

            pt = (await http.get("/help/acme/pt/devolucoes")).text
            assert '<html lang="pt" dir="ltr">' in pt and "Atualizado" in pt
            assert "Início do centro de ajuda" in pt

            cat = await http.get("/help/acme/en/category/orders")
            assert cat.status_code == 200 and "<h1>Orders</h1>" in cat.text
            assert "Opening hours" not in cat.text

            found = await http.get("/help/acme/en/search", params={"q": "refúnd"})
            assert "Articles found: 1" in found.text and "returns-refunds" in found.text
            assert found.headers["cache-control"] == "no-store"
            missing = await http.get("/help/acme/en/search", params={"q": "<b>warranty</b>"})
            assert "No articles match" in missing.text and "<b>warranty" not in missing.text
            assert "&lt;b&gt;warranty&lt;/b&gt;" in missing.text

            css = await http.get("/help/acme/theme.css")
            assert "--accent: #0b7a4b;" in css.text and css.headers["content-type"].startswith(
                "text/css")
            assert (await http.get("/widget/static/help.css")).status_code == 200

            sitemap = await http.get("/help/acme/sitemap.xml")
            assert sitemap.headers["content-type"].startswith("application/xml")
            locs = [e.text for e in ElementTree.fromstring(sitemap.text).iter(
                "{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
            assert f"{server.http}/help/acme/en/returns-refunds" in locs
            assert f"{server.http}/help/acme/pt" in locs and len(locs) == 5

            # "Did this answer your question?", without a script: a form, then back (303)
            assert '<form class="vote" method="post"' in page
            vote_url = "/help/acme/en/returns-refunds/vote"
            r = await http.post(vote_url, data={"helpful": "no"},
                                headers={"Origin": server.http})
            assert r.status_code == 303
            assert r.headers["location"] == f"{server.http}/help/acme/en/returns-refunds?voted=1"
            thanks = await http.get("/help/acme/en/returns-refunds?voted=1")
            assert "Thanks for telling us." in thanks.text
            assert 'class="vote" method' not in thanks.text
            for data, headers, code in (({"helpful": "no"}, {"Origin": "http://evil.test"}, 403),
                                        ({"helpful": "maybe"}, {"Origin": server.http}, 400),
                                        ({"helpful": "yes"}, {}, 403)):
                r = await http.post(vote_url, data=data, headers=headers)
                assert r.status_code == code, (data, headers, r.text)
            r = await http.post("/help/acme/en/secret-draft/vote", data={"helpful": "yes"},
                                headers={"Origin": server.http})
            assert r.status_code == 404

            for path in ("/help/nope", "/help/acme/en/secret-draft", "/help/acme/en/nope",
                         "/help/acme/xx", "/help/acme/en/category/nope"):
                r = await http.get(path)
                assert r.status_code == 404, path
        async with open_store(db) as store:
            stats = await store.articles.stats([seeded.site_id], 0, 2**62)
        assert [m["query"] for m in stats["no_results"]] == ["<b>warranty</b>"]
        assert stats["articles"][0]["views"] == 1  # (the thanks page is not a view)
        assert (stats["helpful"], stats["not_helpful"]) == (0, 1)


async def test_the_reports_carry_the_knowledge_base(server: ServerProcess, seeded: Seed) -> None:
    async with open_store(server.db) as store:
        a = store.articles
        art = await a.save(seeded.site_id, lang="en", title="=Returns", body="Back.",
                           status="published")
        other = await a.save(seeded.other_site_id, lang="en", title="Elsewhere", body="x",
                             status="published")
        await a.record(seeded.site_id, "search", query="=HYPERLINK(1)", results=0)
        await a.record(seeded.site_id, "search", query="returns", results=1)
        await a.record(seeded.site_id, "view", article_id=art.id, visitor_id="v1")
        await a.record(seeded.site_id, "suggestion_opened", article_id=art.id, visitor_id="v1")
        await a.record(seeded.site_id, "vote", article_id=art.id, visitor_id="v1", helpful=True)
        await a.record(seeded.other_site_id, "view", article_id=other.id, visitor_id="v9")
    cookie = await login(server, await add_admin(server.db))
    async with httpx.AsyncClient(base_url=server.http) as http:
        http.cookies.set("livechat_agent", cookie)
        report = (await http.get("/api/reports", params={"site": seeded.site_id})).json()
        k = report["knowledge_base"]
        assert (k["searches"], k["searches_without_result"], k["views"]) == (2, 1, 1)
        assert (k["suggestions_opened"], k["suggestions_accepted"]) == (1, 1)
        assert (k["helpful"], k["not_helpful"], k["helpful_percent"]) == (1, 0, 100.0)
        assert k["no_results"][0]["query"] == "=hyperlink(1)"
        everything = (await http.get("/api/reports")).json()["knowledge_base"]
        assert everything["views"] == 2  # every site of the admin
        csv = await http.get("/api/reports", params={"site": seeded.site_id, "format": "csv",
                                                    "report": "knowledge_base"})
        assert csv.headers["content-type"].startswith("text/csv")
        assert "livechat-knowledge-base-" in csv.headers["content-disposition"]
        assert csv.text.split("\r\n") == [
            "kind,id,text,lang,views,suggestions_opened,helpful,not_helpful,searches,"
            "suggestions_accepted",
            f"article,{art.id},'=Returns,en,1,1,1,0,,",
            "no_result,,'=hyperlink(1),,,,,,1,",
            "total,,,,1,1,1,0,2,1",
            ""]
        agent_cookie = await login(server, seeded.agent_email)
        http.cookies.set("livechat_agent", agent_cookie)
        assert (await http.get("/api/reports")).status_code == 403

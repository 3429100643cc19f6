"""Issue 10, inputs and hardening: every input the review found reaching a traceback answers a
4xx or a documented code, and what a visitor or a stranger may see is no more than they need.
Each test runs against a real server on loopback; the ``server`` fixture fails the test if a
traceback reaches the log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.live import (
    Seed,
    ServerProcess,
    add_admin,
    agent,
    login,
    visitor,
)

DEEP = b"[" * 3000 + b"]" * 3000


async def admin_cookie(server: ServerProcess) -> str:
    return await login(server, await add_admin(server.db))


@pytest.mark.parametrize("path", ["/api/agent/login", "/api/agent/accept"])
async def test_deep_json_to_unauthenticated_endpoints_is_a_400(server: ServerProcess,
                                                               path: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(server.http + path, content=DEEP,
                            headers={"Origin": server.http, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_request"


async def test_deep_json_and_oversize_bodies_to_admin_endpoints(server: ServerProcess,
                                                                seeded: Seed) -> None:
    cookie = await admin_cookie(server)
    async with httpx.AsyncClient(cookies={"livechat_agent": cookie}) as http:
        headers = {"Origin": server.http}
        r = await http.patch(f"{server.http}/api/admin/sites/{seeded.site_id}", content=DEEP,
                             headers=headers)
        assert r.status_code == 400
        r = await http.post(f"{server.http}/api/admin/teams", content=b"{" + b" " * 70000 + b"}",
                            headers=headers)
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        # A body longer than it says is cut off at the limit, not buffered whole.
        r = await http.post(f"{server.http}/api/agent/login", content=b"x" * 200_000,
                            headers=headers)
        assert r.status_code == 413


@pytest.mark.parametrize("tz", ["Europe", "America", "x" * 300, "../../etc/passwd", "UTC\x00"])
async def test_time_zones_are_checked_against_the_iana_list(server: ServerProcess,
                                                            seeded: Seed, tz: str) -> None:
    cookie = await admin_cookie(server)
    async with httpx.AsyncClient(cookies={"livechat_agent": cookie}) as http:
        r = await http.get(f"{server.http}/api/reports", params={"tz": tz})
        assert r.status_code == 400, r.text
        r = await http.patch(f"{server.http}/api/admin/sites/{seeded.site_id}",
                             json={"hours": "mon-fri 09:00-18:00", "tz": tz},
                             headers={"Origin": server.http})
        assert r.status_code == 400, r.text
        ok = await http.get(f"{server.http}/api/reports", params={"tz": "Europe/Lisbon"})
        assert ok.status_code == 200
    v, _ = await visitor(server, seeded.site_id)
    await v.send({"type": "context", "timezone": "Europe"})
    assert (await v.of_type("error"))["code"] == "bad_frame"
    await v.close()


@pytest.mark.parametrize("raw, code", [
    ('{"type": "attributes", "id": "a", "attributes": {"n": 123456789012345678901234567890}}',
     "bad_frame"),
    ('{"type": "attributes", "id": "a", "attributes": {"n": -9223372036854775809}}', "bad_frame"),
    ('{"type": "attributes", "id": "a", "attributes": {"n": 1e999}}', "bad_json"),
    ('{"type": "attributes", "id": "a", "attributes": {"n": -1e999}}', "bad_json"),
    ('{"type": "open", "id": "a", "conversation_id": "c", "last_seq": 1e999}', "bad_json"),
    ('{"type": "attributes", "id": "a", "attributes": {"n": "a\\u0000b"}}', "bad_text"),
    ('{"type": "attributes", "id": "a", "attributes": {"n\\ud800": "b"}}', "bad_text"),
    ('{"type": "attributes", "id": "a", "attributes": {"n\\u0000": "b"}}', "bad_frame"),
    ('{"type": "typing", "active": true, "text": "a\\u0000b"}', "bad_text"),
])
async def test_numbers_the_store_cannot_hold_and_nul_get_their_codes(
        server: ServerProcess, seeded: Seed, raw: str, code: str) -> None:
    v, _ = await visitor(server, seeded.site_id)
    await v.send(raw)
    error = await v.of_type("error")
    assert error["code"] == code, error
    ok = await v.request({"type": "attributes", "id": "fine", "attributes": {
        "n": 9223372036854775807, "m": -9223372036854775808, "f": 1.5}})
    assert ok["type"] == "ack"
    with sqlite3.connect(server.db) as db:
        (attributes,) = db.execute("SELECT attributes FROM visitors").fetchone()
    assert orjson.loads(attributes) == {"n": 9223372036854775807, "m": -9223372036854775808,
                                        "f": 1.5}
    await v.close()


async def test_invalid_utf8_in_a_text_frame_closes_1007_without_a_traceback(
        server: ServerProcess, seeded: Seed) -> None:
    for _ in range(3):
        v, _ = await visitor(server, seeded.site_id)
        await v.ws.send(b'{"type": "ping", "id": "\xff\xfe"}', text=True)
        assert await v.closed() == 1007
    assert "Traceback" not in server.log()


async def test_health_does_not_count_connections(server: ServerProcess, seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    async with httpx.AsyncClient() as http:
        body = (await http.get(f"{server.http}/healthz")).json()
    assert set(body) == {"status", "store", "broker", "email"}  # (email: on or off)
    await v.close()


async def test_pages_may_connect_only_to_this_server(server: ServerProcess,
                                                     seeded: Seed) -> None:
    async with httpx.AsyncClient() as http:
        for path in ("/agent", f"/widget/frame?site={seeded.site_id}", "/agent/reset"):
            r = await http.get(server.http + path)
            assert r.status_code == 200, path
            policy = dict(p.strip().split(" ", 1) for p in
                          r.headers["content-security-policy"].split(";"))
            sources = policy["connect-src"].split()
            assert sources == ["'self'", f"ws://127.0.0.1:{server.port}"], (path, sources)


def test_database_secret_and_uploads_are_private(tmp_path: Path) -> None:
    db = tmp_path / "private" / "chat.db"
    # No keys given: the server makes its own key file beside the database.
    proc = ServerProcess(db, env={"LIVECHAT_UPLOADS": str(tmp_path / "up")})
    with serving_no_keys(proc):
        async def go() -> None:
            async with httpx.AsyncClient() as http:
                assert (await http.get(proc.http + "/healthz")).status_code == 200
        asyncio.run(go())
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()}
    assert modes["chat.db"] == 0o600
    assert modes["chat.db.secret"] == 0o600
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("chat.db")), modes
    assert stat.S_IMODE((tmp_path / "up").stat().st_mode) == 0o700
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


class serving_no_keys:
    """``serving`` for a server that makes its own secret (LIVECHAT_SECRET_KEYS unset)."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc

    def __enter__(self) -> ServerProcess:
        import subprocess
        import sys

        from tests.live import ROOT

        p = self.proc
        p.log_path = p.db.parent.parent / f"server-{p.port}.log"
        env = {k: v for k, v in os.environ.items() if k != "LIVECHAT_SECRET_KEYS"}
        env.update({"LIVECHAT_DB": str(p.db), "PYTHONPATH": str(ROOT),
                    **{k: v for k, v in p.env.items() if v}})
        with open(p.log_path, "ab") as log:
            p.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(p.port),
                 "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT,
                cwd=p.db.parent.parent)
        p.wait_ready()
        return p

    def __exit__(self, *exc: object) -> None:
        self.proc.stop()
        assert "Traceback" not in self.proc.log(), self.proc.log()


async def test_visitors_never_see_agents_internal_ids(server: ServerProcess,
                                                      seeded: Seed) -> None:
    v, first = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "hi"}))["conversation_id"]
    ana, ana_welcome = await agent(server, await login(server, seeded.agent_email))
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    await ana.send({"type": "typing", "conversation_id": conv, "active": True})
    typing = await v.of_type("typing")
    assert typing["author"] == {"type": "agent", "name": "Ana"}
    await ana.request({"type": "send", "id": "r1", "conversation_id": conv, "body": "hello"})
    live = [await v.of_type("message", seq=2), await v.of_type("message", seq=3)]
    # And on a reconnect, from the store.
    v2, welcome = await visitor(server, seeded.site_id, token=first["token"])
    caught_up = [await v2.of_type("message", seq=2), await v2.of_type("message", seq=3)]
    for frame in live + caught_up:
        assert frame["author"]["type"] == "agent"
        assert "id" not in frame["author"] or frame["author"]["id"] is None, frame
        assert frame["author"]["name"] == "Ana"
    assignee = welcome["conversation"]["assignee"]
    assert assignee["name"] == "Ana" and set(assignee) <= {"name", "avatar", "bot"}
    # The picture's address is a one-way hash of the account: it names no id.
    for frame in [*live, *caught_up, {"author": assignee}]:
        picture = frame["author"].get("avatar", "")
        assert picture.startswith("/avatars/") and ana_welcome["agent"]["id"] not in picture
    for c in (v, v2, ana):
        await c.close()


async def test_a_visitor_gets_neither_its_own_typing_nor_agent_only_frames(
        server: ServerProcess, seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "hi"}))["conversation_id"]
    other_tab, _ = await visitor(server, seeded.site_id, token=welcome["token"])
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    await ana.request({"type": "open", "id": "o", "conversation_id": conv})
    await v.send({"type": "typing", "active": True})
    assert (await ana.of_type("typing"))["author"]["type"] == "visitor"
    for tab in (v, other_tab):
        await tab.send({"type": "ping", "id": "p"})
        await tab.of_type("pong")
    await ana.request({"type": "send", "id": "r", "conversation_id": conv, "body": "yes?"})
    await v.of_type("message", seq=3)
    await other_tab.of_type("message", seq=3)
    for tab in (v, other_tab):
        kinds = {f["type"] for f in tab.frames}
        assert "typing" not in kinds and "presence" not in kinds, tab.frames
    for c in (v, other_tab, ana):
        await c.close()


async def test_only_other_tabs_get_the_new_conversation_frame(server: ServerProcess,
                                                              seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    other_tab, _ = await visitor(server, seeded.site_id, token=welcome["token"])
    ack = await v.request({"type": "send", "id": "m1", "body": "hi"})
    assert (await other_tab.of_type("conversation"))["conversation"]["id"] == ack[
        "conversation_id"]
    await v.of_type("message", seq=1)
    await v.send({"type": "ping", "id": "p"})
    await v.of_type("pong")
    assert not [f for f in v.frames if f["type"] == "conversation"]
    for c in (v, other_tab):
        await c.close()


async def test_a_visitors_last_seq_does_not_count_notes(server: ServerProcess,
                                                        seeded: Seed) -> None:
    v, welcome = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "hi"}))["conversation_id"]
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    await ana.request({"type": "note", "id": "n1", "conversation_id": conv, "body": "secret"})
    v2, again = await visitor(server, seeded.site_id, token=welcome["token"])
    assert again["conversation"]["last_seq"] == 1
    opened = await v2.request({"type": "open", "id": "o", "conversation_id": conv})
    assert opened["conversation"]["last_seq"] == 1
    # The agent's summary counts everything (agents receive the note).
    inbox = (await ana.request({"type": "open", "id": "o2", "conversation_id": conv}))
    assert inbox["conversation"]["last_seq"] == 2
    for c in (v, v2, ana):
        await c.close()


async def test_the_twenty_first_tag_is_too_many_not_too_long(server: ServerProcess,
                                                             seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "hi"}))["conversation_id"]
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    for i in range(20):
        assert (await ana.request({"type": "tag", "id": f"t{i}", "conversation_id": conv,
                                   "tag": f"tag{i}", "on": True}))["type"] == "ack"
    refused = await ana.request({"type": "tag", "id": "t20", "conversation_id": conv,
                                 "tag": "tag20", "on": True})
    assert refused["code"] == "too_many"
    for c in (v, ana):
        await c.close()


async def test_a_resent_transfer_gets_its_original_ack(server: ServerProcess,
                                                       seeded: Seed) -> None:
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "hi"}))["conversation_id"]
    ana, welcome = await agent(server, await login(server, seeded.agent_email))
    bo_id = next(a["id"] for a in welcome["agents"] if a["name"] == "Bo")
    await ana.request({"type": "claim", "id": "c", "conversation_id": conv})
    frame = {"type": "transfer", "id": "tr", "conversation_id": conv, "agent_id": bo_id}
    first = await ana.request(frame)
    assert first["type"] == "ack" and first["duplicate"] is False
    again = await ana.request({**frame, "id": "tr2"})
    assert again["type"] == "ack" and again["duplicate"] is True
    assert again["conversation"]["assignee"]["id"] == bo_id
    for c in (v, ana):
        await c.close()


async def test_sigterm_closes_sockets_with_a_documented_code(tmp_path: Path,
                                                             seeded: Seed, db: Path) -> None:
    from server.errors import Close

    proc = ServerProcess(db).start()
    try:
        v, _ = await visitor(proc, seeded.site_id)
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        code = await v.closed()
        assert code is not None and code in {int(c) for c in Close}
        assert Close(code).reconnect
    finally:
        proc.stop()


async def test_teams_belong_to_a_site(server: ServerProcess, seeded: Seed) -> None:
    cookie = await admin_cookie(server)
    async with httpx.AsyncClient(cookies={"livechat_agent": cookie}) as http:
        headers = {"Origin": server.http}
        ours = (await http.post(f"{server.http}/api/admin/teams", headers=headers, json={
            "name": "Support", "site_id": seeded.site_id, "members": []})).json()["team"]
        theirs = (await http.post(f"{server.http}/api/admin/teams", headers=headers, json={
            "name": "Support", "site_id": seeded.other_site_id, "members": []})).json()["team"]
        assert ours["site_id"] == seeded.site_id and theirs["site_id"] == seeded.other_site_id
        # A member must work on the team's site.
        agents = (await http.get(f"{server.http}/api/admin/agents")).json()["agents"]
        oz = next(a["id"] for a in agents if a["name"] == "Oz")
        r = await http.patch(f"{server.http}/api/admin/teams/{ours['id']}", headers=headers,
                             json={"name": "Support", "members": [oz]})
        assert r.status_code == 400
        r = await http.post(f"{server.http}/api/admin/teams", headers=headers,
                            json={"name": "No site", "members": []})
        assert r.status_code == 400
    v, _ = await visitor(server, seeded.site_id)
    conv = (await v.request({"type": "send", "id": "m1", "body": "hi"}))["conversation_id"]
    ana, welcome = await agent(server, await login(server, seeded.agent_email))
    assert [t["id"] for t in welcome["teams"]] == [ours["id"]]
    refused = await ana.request({"type": "team", "id": "t", "conversation_id": conv,
                                 "team_id": theirs["id"]})
    assert refused["code"] == "not_found"
    assert (await ana.request({"type": "team", "id": "t2", "conversation_id": conv,
                               "team_id": ours["id"]}))["type"] == "ack"
    for c in (v, ana):
        await c.close()


async def test_a_nul_character_in_an_address_is_a_400_on_both_stores(
        backend: str, tmp_path: Path) -> None:
    """``%00`` in a path or a query, or a NUL in a JSON body: PostgreSQL refuses NUL in text,
    and the knowledge base's routes (the widget's search and articles, the help centre, the
    admin's articles), the admin's sites, teams and canned responses and the sign-in answered
    500 or dropped the connection there. Refused at the edge now, the same on both stores."""
    async with boss_on(backend, tmp_path) as (server, site, http):
        for url in (f"/widget/kb/search?site={site}&q=a%00b",
                    "/widget/kb/search?site=%00&q=x",
                    f"/widget/kb/articles/art%00?site={site}",
                    f"/widget/kb/article?site={site}&lang=en&slug=a%00",
                    "/help/%00", "/help/%00/en", "/help/%00/en/x",
                    f"/help/{site}/en/search?q=a%00", "/api/admin/articles?site=%00",
                    "/api/admin/articles/%00", "/api/reports?site=%00",
                    "/widget/config?site=%00", "/files/%00", "/api/v1/visitors/%00",
                    f"/api/agent/articles?site={site}&q=%00"):
            r = await http.get(url)
            assert r.status_code == 400, (url, r.status_code, r.text[:200])
            assert r.json() == {"error": "bad_request",
                                "message": "a NUL character in the address"}
        assert (await http.get(f"/help/{site}/sitemap.xml")).status_code == 200
        # ... and in any JSON body (the REST API's field rules give their own codes)
        own = {"Origin": server.http}
        article = {"site_id": site, "lang": "en", "title": "T", "body": "b"}
        for method, path, bad in (
                ("POST", "/api/admin/articles", {**article, "translation_of": "a\x00"}),
                ("POST", "/api/admin/articles", {**article, "site_id": "site\x00"}),
                ("POST", "/api/admin/sites", {"name": "a\x00b",
                                              "allowed_origins": ["https://x.test"]}),
                ("PATCH", f"/api/admin/sites/{site}", {"name": "a\x00b"}),
                ("POST", "/api/admin/teams", {"site_id": site, "name": "t\x00"}),
                ("POST", "/api/admin/articles/preview", {"body": "a",
                                                         "deep": [{"n\x00": 1}]}),
                ("POST", "/api/agent/login", {"email": "a\x00@x.test",
                                              "password": "p"})):
            r = await http.request(method, path, json=bad, headers=own)
            assert r.status_code == 400, (path, bad, r.text[:200])
            assert r.json() == {"error": "bad_request",
                                "message": "a NUL character in a string"}
        widget, welcome = await visitor(server, site)
        await widget.close()
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{server.ws}/ws/visitor?site=%00",
                               origin="http://shop.test"):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
        for event in ({"type": "search", "q": "a\x00b"},
                      {"type": "view", "article": "art\x00"}):
            r = await http.post("/widget/kb/events", headers=own,
                                json={"token": welcome["token"], **event})
            assert r.status_code == 400, (event, r.text[:200])


async def test_a_lone_surrogate_in_a_json_body_is_a_400_on_both_stores(
        backend: str, tmp_path: Path) -> None:
    """A black-box tester's: ``\\ud800`` in the sign-in's, the invitation's, the reset's, the
    widget's help events' or the admin's bodies answered 500 with a traceback (or Python's
    own words: "'utf-8' codec can't encode…"), and on PostgreSQL the connection was dropped.
    Refused where a NUL is, with its own words; nothing is written."""
    async with boss_on(backend, tmp_path) as (server, site, http):
        _, welcome = await visitor(server, site)
        own = {"Origin": server.http, "Content-Type": "application/json"}
        bad = "\\ud800"  # (as the JSON text has it: an escape Python cannot encode)
        before = (await http.get("/api/admin/sites")).json()
        for method, path, body in (
                ("POST", "/api/agent/login",
                 f'{{"email": "a{bad}@x.test", "password": "password123"}}'),
                ("POST", "/api/agent/accept",
                 f'{{"token": "{bad}", "password": "password123"}}'),
                ("POST", "/api/agent/reset",
                 f'{{"token": "{bad}", "password": "password123"}}'),
                ("POST", "/widget/kb/events",
                 f'{{"token": "{welcome["token"]}", "type": "view", "article": "{bad}"}}'),
                ("POST", "/widget/kb/events", f'{{"token": "{welcome["token"]}", '
                 f'"type": "search", "q": "zz", "lang": "e{bad}"}}'),
                ("PATCH", f"/api/admin/sites/{site}",
                 f'{{"color": "#112233", "greeting": "hi{bad}"}}'),
                ("PATCH", f"/api/admin/sites/{site}", f'{{"name": "a{bad}"}}'),
                ("POST", "/api/admin/teams", f'{{"site_id": "{site}", "name": "{bad}"}}'),
                ("POST", "/api/admin/articles/preview", f'{{"body": "{bad}"}}'),
                ("POST", "/api/admin/agents", f'{{"email": "cy@acme.test", '
                 f'"name": "C{bad}", "sites": ["{site}"]}}'),
                ("POST", "/api/admin/teams", f'{{"site_id": "{site}", "name": "t", '
                 f'"{bad}": 1}}')):
            r = await http.request(method, path, content=body, headers=own)
            assert r.status_code == 400, (path, body, r.status_code, r.text[:200])
            assert r.json() == {"error": "bad_request",
                                "message": "a lone surrogate in a string"}, path
        assert (await http.get("/api/admin/sites")).json() == before
        assert (await http.get("/api/agent/me")).status_code == 200  # (still served)


@contextlib.asynccontextmanager
async def boss_on(backend: str, tmp_path: Path) -> AsyncIterator[
        tuple[ServerProcess, str, httpx.AsyncClient]]:
    """A server on ``backend``'s store, its site's id, and an HTTP client signed in as an
    admin (``boss@acme.test``)."""
    from tests import pg
    from tests.live import UNLIMITED, seed, serving

    with contextlib.ExitStack() as stack:
        where = pg.store_url(backend, tmp_path, stack)
        seeded = await seed(where, ["http://shop.test"])
        await add_admin(where, "boss@acme.test")
        env = {**UNLIMITED, **({"LIVECHAT_DATABASE_URL": where} if backend != "sqlite" else {})}
        with serving(tmp_path / "chat.db" if backend != "sqlite" else Path(where),
                     **env) as server:
            cookie = await login(server, "boss@acme.test")
            async with httpx.AsyncClient(base_url=server.http,
                                         cookies={"livechat_agent": cookie}) as http:
                yield server, seeded.site_id, http

"""Data rights against a real server: a visitor's export holds everything (checked item by item),
an erasure leaves none of the visitor's unique strings in the SQLite file (its bytes scanned after
a VACUUM) while reports count the same, and retention deletes exactly what is due (a fake clock
moves a month ahead)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.api_world import Api
from tests.browser import png
from tests.faults import until
from tests.live import (
    ROOT,
    UNLIMITED,
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

#: Strings only this visitor's data contains: none may be left after the erasure.
SECRETS = {"name": "Zephyrine Quallsworth", "email": "zephyrine.q@unique-mail.test",
           "message": "my passport number is XK99210473", "reply": "thanks Zephyrine",
           "note": "Zephyrine called about XK99210473", "attribute": "plan-ultraviolet-42",
           "page": "http://shop.test/orders/8814271", "file": "zephyrine-invoice.png",
           "comment": "Zephyrine was helped nicely",
           "search": "refund for order ZQ55501982"}


async def kb_activity(server: ServerProcess, site_id: str, token: str, query: str) -> str:
    """The visitor searched the help articles (finding nothing), read one and voted: the
    knowledge base's events about them. Returns the article's id."""
    async with open_store(server.db) as store:
        article = await store.articles.save(site_id, lang="en", title="Shipping times",
                                            body="Two days.", status="published")
    async with httpx.AsyncClient(base_url=server.http, headers={"Origin": server.http}) as http:
        for event in ({"type": "search", "q": query}, {"type": "view", "article": article.id},
                      {"type": "vote", "article": article.id, "helpful": True}):
            r = await http.post("/widget/kb/events", json={"token": token, **event})
            assert r.status_code == 200, r.text
    return article.id


async def upload(server: ServerProcess, token: str, content: bytes, name: str) -> str:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{server.http}/api/files", content=content, headers={
            "Origin": server.http, "Authorization": f"Bearer {token}", "X-File-Name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def a_visitor_with_everything(server: ServerProcess, seeded: Seed) -> dict[str, Any]:
    """A visitor who gave a name, email, attributes and a page, searched and read the help
    articles, sent a file, was answered and noted about, and rated: every kind of data held
    about a visitor."""
    widget, welcome = await visitor(server, seeded.site_id)
    await widget.request({"type": "profile", "id": "p", "name": SECRETS["name"],
                          "email": SECRETS["email"]})
    await widget.request({"type": "attributes", "id": "a",
                          "attributes": {"plan": SECRETS["attribute"]}})
    await widget.send({"type": "context", "url": SECRETS["page"], "title": "Order"})
    article = await kb_activity(server, seeded.site_id, welcome["token"], SECRETS["search"])
    image = png(8, 8)
    file_id = await upload(server, welcome["token"], image, SECRETS["file"])
    first = await widget.request({"type": "send", "id": "m1", "body": SECRETS["message"],
                                  "attachment": file_id})
    conversation = first["conversation_id"]
    ana, _ = await agent(server, await login(server, seeded.agent_email))
    await ana.request({"type": "send", "id": "r1", "conversation_id": conversation,
                       "body": SECRETS["reply"]})
    await ana.request({"type": "note", "id": "n1", "conversation_id": conversation,
                       "body": SECRETS["note"]})
    await ana.request({"type": "resolve", "id": "x", "conversation_id": conversation})
    rated = await widget.request({"type": "rate", "id": "rate", "conversation_id": conversation,
                                  "score": 5, "comment": SECRETS["comment"]})
    assert rated["type"] == "ack", rated
    await widget.close()
    await ana.close()
    return {"conversation": conversation, "file": file_id, "image": image, "article": article}


async def visitor_id_of(api: Api, conversation: str) -> str:
    got = await api("GET", f"/api/v1/conversations/{conversation}")
    return str(got.json()["conversation"]["visitor"]["id"])


async def test_export_holds_everything(db: Path, seeded: Seed, tmp_path: Path) -> None:
    with serving(db, **UNLIMITED) as server:
        made = await a_visitor_with_everything(server, seeded)
        api = Api(server, api_token(db, "visitors:read", "conversations:read",
                                    site=seeded.site_id))
        vid = await visitor_id_of(api, made["conversation"])
        r = await api("GET", f"/api/v1/visitors/{vid}/export")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert f"visitor-{vid}.zip" in r.headers["content-disposition"]
        other = Api(server, api_token(db, "visitors:read", site=seeded.other_site_id))
        assert (await other("GET", f"/api/v1/visitors/{vid}/export")).status_code == 404
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    data = orjson.loads(archive.read("visitor.json"))
    assert data["visitor"]["name"] == SECRETS["name"]
    assert data["visitor"]["email"] == SECRETS["email"]
    assert data["visitor"]["attributes"] == {"plan": SECRETS["attribute"]}
    assert [p["url"] for p in data["pages"]] == [SECRETS["page"]]
    [conversation] = data["conversations"]
    assert conversation["rating"] == {"score": 5, "comment": SECRETS["comment"]}
    bodies = {m["kind"]: m["body"] for m in conversation["messages"]}
    assert bodies["note"] == SECRETS["note"]
    texts = [m["body"] for m in conversation["messages"] if m["kind"] == "text"]
    assert texts == [SECRETS["message"], SECRETS["reply"]]
    [file] = data["files"]
    assert file["name"] == SECRETS["file"] and file["id"] == made["file"]
    assert archive.read(file["file"]) == made["image"]
    searched, viewed, voted = data["knowledge_base"]
    assert (searched["kind"], searched["query"], searched["results"]) == (
        "search", SECRETS["search"], 0)
    assert (viewed["kind"], viewed["article_id"]) == ("view", made["article"])
    assert (voted["kind"], voted["article_id"], voted["helpful"]) == (
        "vote", made["article"], True)
    # The command line writes the same.
    out = tmp_path / "export.zip"
    done = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "server", "visitor", "export", vid, "--out", str(out), "--db",
        str(db)], env=server_env(db), capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    again = zipfile.ZipFile(out)
    cli_data = orjson.loads(again.read("visitor.json"))
    assert cli_data["conversations"] == data["conversations"]
    assert cli_data["knowledge_base"] == data["knowledge_base"]
    assert again.read(file["file"]) == made["image"]


async def test_erasure_leaves_nothing_of_the_visitor(db: Path, seeded: Seed) -> None:
    with serving(db, **UNLIMITED) as server:
        made = await a_visitor_with_everything(server, seeded)
        api = Api(server, api_token(db, "visitors:read", "visitors:write", "conversations:read",
                                    "reports:read", site=seeded.site_id))
        vid = await visitor_id_of(api, made["conversation"])
        # Found by search before (the index holds the words).
        admin_cookie = await login(server, await add_admin(db, "boss@acme.test"))
        async with httpx.AsyncClient(base_url=server.http,
                                     cookies={"livechat_agent": admin_cookie}) as http:
            before = (await http.get("/api/reports")).json()["total"]
        report_before = (await api("GET", "/api/v1/reports")).json()
        other = Api(server, api_token(db, "visitors:write", site=seeded.other_site_id))
        assert (await other("DELETE", f"/api/v1/visitors/{vid}")).status_code == 404
        erased = await api("DELETE", f"/api/v1/visitors/{vid}")
        assert erased.status_code == 200, erased.text
        assert erased.json()["erased"]["conversations"] == 1
        assert erased.json()["erased"]["files"] == 1
        assert (await api("DELETE", f"/api/v1/visitors/{vid}")).status_code == 404
        assert (await api("GET", f"/api/v1/visitors/{vid}")).status_code == 404
        # Reports count the conversation as before (anonymously).
        async with httpx.AsyncClient(base_url=server.http,
                                     cookies={"livechat_agent": admin_cookie}) as http:
            after = (await http.get("/api/reports")).json()["total"]
        assert after == before
        report_after = (await api("GET", "/api/v1/reports")).json()
        # ... the knowledge base's too, but for the words of the visitor's search
        missed = report_before["knowledge_base"].pop("no_results")
        assert [m["query"] for m in missed] == [SECRETS["search"].lower()]
        assert report_after["knowledge_base"].pop("no_results") == []
        assert report_after == report_before
        kept = (await api("GET", f"/api/v1/conversations/{made['conversation']}")).json()
        assert kept["conversation"]["visitor"]["id"] != vid
        # Changed by the erasure: a sync by `updated_since` finds it, resolved and emptied.
        at = erased.json()["erased"]["at"]
        assert kept["conversation"]["updated_at"] == at
        synced = (await api("GET", "/api/v1/conversations", updated_since=at - 1)).json()["data"]
        assert [(c["id"], c["status"], c["last_message"]) for c in synced] == [
            (made["conversation"], "resolved", "")]
        assert kept["conversation"]["rating"] == {"score": 5, "comment": None}
        record = (await api("GET", "/api/v1/erasures")).json()["data"]
        assert len(record) == 1 and record[0]["erased_by"].startswith("token tok_")
        assert vid not in orjson.dumps(record).decode()
        assert not (Path(f"{db}-files") / made["file"]).exists()
        # Search finds nothing of it.
        ana, _ = await agent(server, await login(server, seeded.agent_email))
        found = await ana.request({"type": "search", "id": "s", "query": "XK99210473"})
        assert found["results"] == []
        await ana.close()
        # Nor in the files' free space or write-ahead logs, while the server runs (a black-box
        # tester read the words there minutes after the erasure).
        _none_left(await asyncio.to_thread(_bytes_of, db), vid, made["file"])
    await asyncio.to_thread(_vacuum, db)
    _none_left(await asyncio.to_thread(_bytes_of, db), vid, made["file"])


def _none_left(raw: bytes, visitor_id: str, file_id: str) -> None:
    for what, text in {**SECRETS, "visitor id": visitor_id, "file id": file_id,
                       "index word": "xk99210473", "name word": "quallsworth"}.items():
        assert text.encode() not in raw, what
        assert text.lower().encode() not in raw.lower(), what


def _vacuum(db: Path) -> None:
    """The database and its search index (a file of its own), free pages dropped."""
    for path in (db, Path(f"{db}-search")):
        conn = sqlite3.connect(path)
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


def _bytes_of(db: Path) -> bytes:
    files = [Path(f"{db}{suffix}") for suffix in ("", "-wal", "-search", "-search-wal")]
    assert files[2].exists()  # (the search index is looked at too)
    return b"".join(p.read_bytes() for p in files if p.exists())


async def test_retention_deletes_exactly_what_is_due(db: Path, seeded: Seed,
                                                     tmp_path: Path) -> None:
    offset = tmp_path / "clock"
    offset.write_text("0")
    env = {**UNLIMITED, "LIVECHAT_CLOCK_OFFSET_FILE": str(offset),
           "LIVECHAT_RETENTION_INTERVAL": "0.1"}
    with serving(db, **env) as server:
        api = Api(server, api_token(db, "visitors:read", "visitors:write", "conversations:read",
                                    "conversations:write", site=seeded.site_id))
        other_api = Api(server, api_token(db, "conversations:read",
                                          site=seeded.other_site_id))
        assert (await api("GET", f"/api/v1/sites/{seeded.site_id}/retention")).json()[
            "days"] is None
        set_ = await api("PUT", f"/api/v1/sites/{seeded.site_id}/retention", {"days": 30})
        assert set_.json() == {"site_id": seeded.site_id, "days": 30}
        assert (await api("PUT", f"/api/v1/sites/{seeded.other_site_id}/retention",
                          {"days": 1})).status_code == 404
        assert (await api("PUT", f"/api/v1/sites/{seeded.site_id}/retention",
                          {"days": 0})).status_code == 400
        # `days` is the whole body: one left out is refused, not taken as "keep for ever".
        forgot = await api("PUT", f"/api/v1/sites/{seeded.site_id}/retention", {})
        assert (forgot.status_code, forgot.json()["error"]) == (400, "bad_request"), forgot.text
        assert (await api("GET", f"/api/v1/sites/{seeded.site_id}/retention")).json()[
            "days"] == 30
        ana, welcome = await agent(server, await login(server, seeded.agent_email))
        ana_id = welcome["agent"]["id"]
        await ana.close()

        async def conversation(site: str, text: str, resolve: bool,
                               attach: bool = False) -> tuple[str, str | None]:
            widget, welcome = await visitor(server, site)
            file_id = (await upload(server, welcome["token"], png(4, 4), "a.png")
                       if attach else None)
            sent = await widget.request({"type": "send", "id": "m", "body": text,
                                         "attachment": file_id})
            await widget.close()
            if resolve:  # (through the API: the clock moves past Ana's session)
                done = await api("POST", f"/api/v1/conversations/{sent['conversation_id']}"
                                         "/resolve", {"agent_id": ana_id})
                assert done.status_code == 200, done.text
            return sent["conversation_id"], file_id

        async def searched(site: str, query: str) -> None:  # the help articles, in the widget
            widget, welcome = await visitor(server, site)
            await widget.close()
            await kb_activity(server, site, welcome["token"], query)

        old, old_file = await conversation(seeded.site_id, "old resolved", True, attach=True)
        still_open, _ = await conversation(seeded.site_id, "old but open", False)
        other_site, _ = await conversation(seeded.other_site_id, "other site", False)
        await searched(seeded.site_id, "old question")
        await searched(seeded.other_site_id, "other question")
        await asyncio.to_thread(offset.write_text, str(31 * 86400))  # a month later
        recent, _ = await conversation(seeded.site_id, "recent resolved", True)
        await searched(seeded.site_id, "recent question")

        async def gone() -> bool:
            return (await api("GET", f"/api/v1/conversations/{old}")).status_code == 404

        await until(gone)
        for kept in (still_open, recent):
            assert (await api("GET", f"/api/v1/conversations/{kept}")).status_code == 200
        assert (await other_api("GET", f"/api/v1/conversations/{other_site}")).status_code == 200
        assert old_file is not None and not (Path(f"{db}-files") / old_file).exists()
        # The CLI sets it too; off keeps everything from now on.
        done = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "server", "site", "retention", seeded.site_id, "--days", "off",
            "--db", str(db)], env=server_env(db), capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0 and "for ever" in done.stdout
        for bad in ("-5", "0", "soon"):  # said in the options' own words, not a Python error
            refused = await asyncio.to_thread(subprocess.run, [
                sys.executable, "-m", "server", "site", "retention", seeded.site_id, "--days",
                bad, "--db", str(db)], env=server_env(db), capture_output=True, text=True,
                cwd=ROOT)
            assert refused.returncode == 2, refused.stderr
            assert "--days is 1 to 36500, or off" in refused.stderr, refused.stderr
        assert (await api("GET", f"/api/v1/sites/{seeded.site_id}/retention")).json()[
            "days"] is None
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?",
                            (old,)).fetchone()[0] == 0
        # The knowledge base's events older than a month went too (the site's only).
        events = conn.execute("SELECT site_id, kind, query FROM kb_events WHERE kind = "
                              "'search' ORDER BY site_id, created_at").fetchall()
    assert sorted(events) == sorted([(seeded.site_id, "search", "recent question"),
                                     (seeded.other_site_id, "search", "other question")])


async def test_erasure_and_retention_take_the_email_rows_too(tmp_path: Path) -> None:
    """Issues 14 and 15 met on main: a conversation with email jobs (which hold the visitor's
    address) and a follow-up must be erased and swept like the rest — before, the follow-up's
    foreign key made the retention sweep fail, and the jobs outlived the erasure."""
    from server.store import SQLiteStore
    from server.store.followups import FollowUps
    from server.store.outbox import Outbox
    from server.store.privacy import Privacy

    now = [1_000_000.0]
    db = tmp_path / "p.db"
    store = SQLiteStore(db, clock=lambda: now[0])
    await store.open()
    try:
        site = (await store.create_site("Acme", ["https://acme.test"])).id
        agent = await store.create_agent("ana@acme.test", "Ana", "x", "admin", [site])
        bo = await store.create_agent("bo@acme.test", "Bo", "x", "agent", [site])
        outbox = Outbox(store, delay_ms=0, new_key=lambda: "k")
        later = FollowUps(store, outbox)
        rights = Privacy(store)
        convs = []
        for visitor in ("erased", "kept-a-month"):
            conv = (await store.append_visitor_message(site, visitor, "m", "hi")).conversation.id
            with sqlite3.connect(db) as raw:  # what email wrote about this conversation
                raw.execute("INSERT INTO email_jobs(id, kind, dedupe, site_id, conversation_id, "
                            "recipient, not_before, created_at) VALUES (?, 'transcript', ?, ?, "
                            "?, 'maria@example.test', 0, 0)", (f"j-{visitor}", visitor, site,
                                                                 conv))
                raw.execute("INSERT INTO email_threads(conversation_id, reply_key, created_at) "
                            "VALUES (?, ?, 0)", (conv, f"key{visitor}"))
                raw.execute("INSERT INTO email_inbound(id, message_key, recipient, raw, door, "
                            "state, created_at) VALUES (?, ?, ?, ?, 'smtp', 'done', 0)",
                            (f"in-{visitor}", f"mk-{visitor}",
                             f"r.key{visitor}.abc.def@reply.test", b"From: maria"))
            await store.add_note(agent, [site], conv, "n", "@Bo see this", [bo.id])  # a mention
            await store.resolve(agent, [site], conv)
            await later.schedule(agent, [site], conv, int(now[0] * 1000) + 86_400_000, "ok?")
            convs.append(conv)

        with sqlite3.connect(db) as raw:  # a reply to another thread is not theirs to take
            raw.execute("INSERT INTO email_inbound(id, message_key, recipient, raw, door, state, "
                        "created_at) VALUES ('in-other', 'mk-other', "
                        "'r.keyerasedx.abc.def@reply.test', x'00', 'smtp', 'done', 0)")
        await rights.erase([site], "erased", agent.id)
        await rights.set_retention(site, 1)
        now[0] += 3 * 86_400
        deleted, _ = await rights.sweep()
        assert deleted >= 1
        with sqlite3.connect(db) as raw:
            for table in ("email_jobs", "email_threads", "follow_ups", "note_mentions"):
                left = raw.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                assert left == 0, (table, left)
            assert raw.execute("SELECT id FROM email_inbound").fetchall() == [("in-other",)]
    finally:
        await store.close()

"""Emails to agents, through a real server and a real SMTP server: the invitation (the link an
admin was shown, now also emailed), and password resets asked for by an admin or by the agent
("forgot password"), which say nothing about who is an agent."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from tests.live import (
    ADMIN_EMAIL,
    ROOT,
    SECRET,
    ServerProcess,
    add_admin,
    free_port,
    login,
    open_store,
    seed,
    serving,
)
from tests.mailsink import MailSink
from tests.test_admin import call
from tests.test_email import email_env, start, text_of


def link_in(mail: EmailMessage) -> str:
    found = re.search(r"(http://\S+/agent\S*[#][a-z]+=\S+)", text_of(mail, "plain"))
    assert found, text_of(mail, "plain")
    return found.group(1)


async def test_invitation_and_password_reset_emails(tmp_path: Path) -> None:
    db, clock = tmp_path / "agents.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    await add_admin(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock, LIVECHAT_EMAIL_FROM="Acme <chat@acme.test>"))
        try:
            admin = await login(server, ADMIN_EMAIL)
            invited = await call(server, "POST", "/api/admin/agents", admin, {
                "email": "cy@acme.test", "name": "Cy", "sites": [seeded.site_id]})
            assert invited.status_code == 201 and invited.json()["emailed"] is True
            [mail] = await sink.wait_for(1)
            assert mail["To"] == "cy@acme.test"
            assert mail["Subject"] == "You're invited to answer chats"
            assert mail["From"] == "Acme <chat@acme.test>"
            link = link_in(mail)
            assert link.startswith(f"{server.http}/agent#invite=")
            accepted = await call(server, "POST", "/api/agent/accept", body={
                "token": link.split("#invite=", 1)[1], "password": "a good long password"})
            assert accepted.status_code == 200

            # Forgot password: an unknown address is answered alike, and gets nothing.
            for address in ("nobody@acme.test", "cy@acme.test"):
                asked = await call(server, "POST", "/api/agent/forgot", body={"email": address})
                assert asked.status_code == 202
                assert asked.json() == {"status": "sent if the address is an agent's"}
            mails = await sink.wait_for(2)
            assert [m["To"] for m in mails] == ["cy@acme.test", "cy@acme.test"]
            assert mails[1]["Subject"] == "Reset your password"
            reset = link_in(mails[1])
            assert reset.startswith(f"{server.http}/agent/reset#token=")
            done = await call(server, "POST", "/api/agent/reset", body={
                "token": reset.split("#token=", 1)[1], "password": "another long password"})
            assert done.status_code == 200
            # Asked again at once: one email per 15 minutes; an admin's reset link is emailed.
            await call(server, "POST", "/api/agent/forgot", body={"email": "cy@acme.test"})
            agents = (await call(server, "GET", "/api/admin/agents", admin)).json()["agents"]
            cy = next(a for a in agents if a["email"] == "cy@acme.test")
            by_admin = await call(server, "POST", f"/api/admin/agents/{cy['id']}/reset", admin)
            assert by_admin.json()["emailed"] is True
            mails = await sink.wait_for(3)
            assert mails[2]["Subject"] == "Reset your password" and len(mails) == 3
            foreign = await call(server, "POST", "/api/agent/forgot",
                                 body={"email": "cy@acme.test"}, origin="http://evil.test")
            assert foreign.status_code == 403
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()
    with serving(db) as plain:  # email off: the admin is shown the link only
        admin = await login(plain, ADMIN_EMAIL)
        invited = await call(plain, "POST", "/api/admin/agents", admin, {
            "email": "di@acme.test", "name": "Di", "sites": [seeded.site_id]})
        assert invited.json()["emailed"] is False and invited.json()["invite_url"]
        off = await call(plain, "POST", "/api/agent/forgot", body={"email": "cy@acme.test"})
        assert off.status_code == 404 and off.json()["error"] == "email_off"


async def test_assigned_while_offline_and_the_daily_digest(tmp_path: Path) -> None:
    import time as time_

    from server.auth import hash_password
    from tests.live import PASSWORD, agent, visitor
    from tests.test_email import advance, offline_visitor, open_conversation

    db, clock = tmp_path / "notices.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    await add_admin(db)
    async with open_store(db) as store:
        await store.create_agent("quiet@acme.test", "Quiet Admin", hash_password(PASSWORD),
                                 "admin", [])
    # The server's clock at half past the hour (the digest hour), whenever the test runs.
    now = time_.time()
    clock.write_text(str(now - now % 3600 + 1800 - now))
    hour = time_.gmtime(now).tm_hour
    async with MailSink() as sink:
        # (Presence lasts longer than the day the clock is moved by: Bo stays online.)
        server = start(db, email_env(sink, clock, LIVECHAT_ROUTING_INTERVAL="0.3",
                                     LIVECHAT_EMAIL_DIGEST_HOUR=str(hour),
                                     LIVECHAT_PRESENCE_TTL="864000"))
        try:
            quiet = await login(server, "quiet@acme.test")
            off = await call(server, "POST", "/api/agent/email-prefs", quiet, {"digest": False})
            assert off.json() == {"assigned": True, "digest": False, "mentioned": True}
            bad = await call(server, "POST", "/api/agent/email-prefs", quiet, {"digest": "no"})
            assert bad.status_code == 400
            # A visitor whose name is markup; Ana hands the conversation to Bo, who is offline.
            _, conv = await offline_visitor(server, seeded.site_id, "x@example.test", "Help?",
                                            language="en", name="<img src=x onerror=alert(1)>")
            ana = await open_conversation(server, seeded.agent_email, conv)
            await ana.request({"type": "send", "id": "a1", "conversation_id": conv,
                               "body": "One moment"})
            bo_id = await agent_id(server, "bo@acme.test")
            assert (await ana.request({"type": "transfer", "id": "t1", "conversation_id": conv,
                                       "agent_id": bo_id}))["type"] == "ack"
            advance(clock, 200)
            mail = await sink.first(lambda m: m["To"] == "bo@acme.test")
            assert mail["Subject"] == ("A conversation was assigned to you: "
                                       "<img src=x onerror=alert(1)>")
            html = text_of(mail, "html")
            assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
            # Bo online: no email for the next one; Bo switched it off: no job at all.
            bo = await login(server, "bo@acme.test")
            bo_socket, _ = await agent(server, bo)
            _, conv2 = await offline_visitor(server, seeded.site_id, "y@example.test", "Hi")
            await ana.request({"type": "open", "id": "o2", "conversation_id": conv2})
            await ana.request({"type": "claim", "id": "c2", "conversation_id": conv2})
            await ana.request({"type": "transfer", "id": "t2", "conversation_id": conv2,
                               "agent_id": bo_id})
            assert (await call(server, "POST", "/api/agent/email-prefs", bo,
                               {"assigned": False})).json()["assigned"] is False
            _, conv3 = await offline_visitor(server, seeded.site_id, "z@example.test", "Hey")
            await ana.request({"type": "open", "id": "o3", "conversation_id": conv3})
            await ana.request({"type": "claim", "id": "c3", "conversation_id": conv3})
            await ana.request({"type": "transfer", "id": "t3", "conversation_id": conv3,
                               "agent_id": bo_id})

            # Nobody answers Mia today; tomorrow at the digest hour, Root hears of it (jobs go
            # in order of their time: Bo's, still online, are looked at before the digest).
            mia, _ = await visitor(server, seeded.site_id)
            await mia.request({"type": "send", "id": "m", "body": "Anyone there? <b>hi</b>"})
            advance(clock, 24 * 3600)
            digest = await sink.first(lambda m: "missed conversation" in str(m["Subject"]))
            assert digest["To"] == "root@acme.test"
            plain = text_of(digest, "plain")
            assert "Anyone there? <b>hi</b>" in plain and "One moment" not in plain
            assert "<b>hi</b>" not in text_of(digest, "html")
            async with open_store(db) as store:
                rows = await store._all("SELECT kind, conversation_id, state FROM email_jobs "
                                        "WHERE kind = 'assigned' ORDER BY created_at")
            assert [(r[1], r[2]) for r in rows] == [(conv, "sent"), (conv2, "skipped")]
            async with open_store(db) as store:
                # Bo's notice is not one of the conversation's emails: no "emailed" event for
                # it, and the visitor's next email does not answer it (In-Reply-To).
                events = await store._all("SELECT data FROM messages WHERE conversation_id = ? "
                                          "AND kind = 'email'", (conv,))
                assert not [e for e in events if "bo@acme.test" in e[0]], events
                notice = await store._all("SELECT message_id FROM email_jobs WHERE kind = "
                                          "'assigned' AND conversation_id = ?", (conv,))
                threads = await store._all("SELECT last_message_id FROM email_threads WHERE "
                                           "conversation_id = ?", (conv,))
                assert notice[0][0] and notice[0][0] not in [t[0] for t in threads], threads
            assert not [m for m in sink.received if m["To"] == "quiet@acme.test"]
            await bo_socket.close()
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


async def agent_id(server: ServerProcess, email: str) -> str:
    async with open_store(server.db) as store:
        found = await store.agent_by_email(email)
    assert found is not None
    return found.id


async def test_doctor_checks_the_smtp_server(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    await seed(db)

    async def doctor(smtp_url: str) -> tuple[int | None, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server", "--db", str(db), "doctor", "--json",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LIVECHAT_SECRET_KEYS": SECRET,
                 "LIVECHAT_PUBLIC_URL": "https://chat.acme.test", "LIVECHAT_SMTP_URL": smtp_url,
                 "LIVECHAT_EMAIL_REPLY_DOMAIN": "reply.acme.test"})
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode()

    async with MailSink() as sink:
        _, out = await doctor(sink.url)
    email = [f for f in json.loads(out) if f["topic"] == "email"]
    assert email == [{"level": "ok", "topic": "email", "fix": "",
                      "message": f"{sink.url} answers; replies to reply.acme.test"}]
    code, out = await doctor(f"smtp://user:secret-pass@127.0.0.1:{free_port()}")
    email = [f for f in json.loads(out) if f["topic"] == "email"]
    assert code == 2 and email[0]["level"] == "error"
    assert "secret-pass" not in out and "user:***@127.0.0.1" in email[0]["message"]


async def test_a_note_mentioning_a_colleague_away_is_emailed(tmp_path: Path) -> None:
    """A colleague's note with Bo's ``@`` reaches Bo by email when no panel of his is open
    ``LIVECHAT_EMAIL_DELAY`` later: once per note (a resend is the same note), linking to the
    conversation; not while he is online, not once he switched it off."""
    from tests.faults import until
    from tests.live import agent
    from tests.test_email import advance, offline_visitor, open_conversation

    db, clock = tmp_path / "mentions.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock, LIVECHAT_PRESENCE_TTL="864000"))
        try:
            _, conv = await offline_visitor(server, seeded.site_id, "x@example.test", "Help?",
                                            name="<b>Eve</b>")
            ana = await open_conversation(server, seeded.agent_email, conv)
            bo_id = await agent_id(server, seeded.agent2_email)
            body = "@Bo can you check\nthe <i>refund</i>?"

            async def note(note_id: str) -> dict[str, object]:
                done = await ana.request({"type": "note", "id": note_id, "conversation_id": conv,
                                          "body": body, "mentions": [bo_id]})
                assert done["type"] == "ack", done
                return done

            await note("n1")
            await note("n1")  # a resend: the same note, the same email
            advance(clock, 200)
            mail = await sink.first(lambda m: m["To"] == seeded.agent2_email)
            assert mail["Subject"] == "Ana mentioned you: <b>Eve</b>"
            plain = text_of(mail, "plain").replace("\r\n", "\n")
            assert "Ana mentioned you in a note on the conversation with <b>Eve</b>" in plain
            assert "\u201c@Bo can you check\nthe <i>refund</i>?\u201d" in plain
            assert f"{server.http}/agent#conversation={conv}" in plain
            html = text_of(mail, "html")
            assert "<i>refund" not in html and "&lt;i&gt;refund&lt;/i&gt;" in html

            # Bo online: not emailed. Switched off: no job at all.
            bo = await login(server, seeded.agent2_email)
            bo_socket, _ = await agent(server, bo)
            second = await note("n2")
            advance(clock, 200)

            async def second_decided() -> bool:
                async with open_store(db) as store:
                    rows = await store._all(
                        "SELECT state FROM email_jobs WHERE dedupe = ?",
                        (f"mention:{conv}:{second['seq']}:{bo_id}",))
                return bool(rows) and rows[0][0] != "pending"

            # While Bo is still online (the worker decides when the job is due, not at once).
            await until(second_decided)
            assert (await call(server, "POST", "/api/agent/email-prefs", bo,
                               {"mentioned": False})).json() == {
                "assigned": True, "digest": True, "mentioned": False}
            await note("n3")
            bad = await call(server, "POST", "/api/agent/email-prefs", bo, {"mentioned": 1})
            assert bad.status_code == 400
            # Bo away again, and on again.
            await bo_socket.close()
            assert (await call(server, "POST", "/api/agent/email-prefs", bo,
                               {"mentioned": True})).json()["mentioned"] is True
            fourth = await note("n4")
            advance(clock, 200)
            await sink.first(lambda m: m["To"] == seeded.agent2_email and m is not mail)
            async with open_store(db) as store:
                rows = await store._all("SELECT dedupe, state FROM email_jobs WHERE kind = "
                                        "'mention' ORDER BY created_at")
            # (The fourth's state may not say "sent" yet: its email is here, which is the point.)
            assert [r[1] for r in rows][:2] == ["sent", "skipped"], rows
            assert rows[2][0] == f"mention:{conv}:{fourth['seq']}:{bo_id}"
            assert len([m for m in sink.received if m["To"] == seeded.agent2_email]) == 2
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


async def test_an_assignment_answered_live_is_not_emailed(tmp_path: Path) -> None:
    """Bo, online, is handed two conversations and answers one before he signs off: the
    "assigned to you" email goes for the other only (it said the answered one was waiting)."""
    from tests.faults import until
    from tests.live import agent
    from tests.test_email import advance, offline_visitor, open_conversation

    db, clock = tmp_path / "assigned.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock, LIVECHAT_PRESENCE_TTL="864000"))
        try:
            bo_id = await agent_id(server, seeded.agent2_email)
            bo_socket, _ = await agent(server, await login(server, seeded.agent2_email))
            convs = []
            for address, name in (("x@example.test", "Xena"), ("y@example.test", "Yuri")):
                _, conv = await offline_visitor(server, seeded.site_id, address, "Help?",
                                                name=name)
                ana = await open_conversation(server, seeded.agent_email, conv)
                assert (await ana.request({"type": "claim", "id": "c", "conversation_id": conv})
                        )["type"] == "ack"
                assert (await ana.request({"type": "transfer", "id": "t", "conversation_id": conv,
                                           "agent_id": bo_id, "note": f"{name} wants a refund"})
                        )["type"] == "ack"
                await ana.close()
                convs.append(conv)
            answered, waiting = convs
            assert (await bo_socket.request({"type": "open", "id": "o",
                                             "conversation_id": answered}))["type"] == "ack"
            assert (await bo_socket.request({"type": "send", "id": "b1", "body": "On it!",
                                             "conversation_id": answered}))["type"] == "ack"
            await bo_socket.close()
            advance(clock, 200)

            mail = await sink.first(lambda m: m["To"] == seeded.agent2_email)
            assert mail["Subject"] == "A conversation was assigned to you: Yuri"
            # With the note the colleague wrote for him (a black-box tester missed it).
            assert "Ana's note: \u201cYuri wants a refund\u201d" in text_of(mail, "plain")

            async def decided() -> list[tuple[str, str, str | None]]:
                async with open_store(db) as store:
                    return [tuple(r) for r in await store._all(
                        "SELECT conversation_id, state, last_error FROM email_jobs "
                        "WHERE kind = 'assigned' AND state != 'pending' ORDER BY created_at")]

            async def both_decided() -> bool:
                return len(await decided()) == 2

            await until(both_decided)
            assert await decided() == [
                (answered, "skipped", "the agent has written in it since"),
                (waiting, "sent", None)]
            assert len([m for m in sink.received if m["To"] == seeded.agent2_email]) == 1
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()

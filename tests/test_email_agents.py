"""Emails to agents, through a real server and a real SMTP server: the invitation (the link an
admin was shown, now also emailed), and password resets asked for by an admin or by the agent
("forgot password"), which say nothing about who is an agent."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from tests.live import ADMIN_EMAIL, add_admin, login, seed, serving
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

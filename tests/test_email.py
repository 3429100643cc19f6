"""Email as a channel of the conversation, against a real server process and a real SMTP server
(aiosmtpd, tests/mailsink.py): the offline message answered by email after the delay (one email
per burst, in the visitor's language, threaded, escaped, with one-click unsubscribe), the
visitor's reply through each of the three doors, refused addresses, retries, permanent
failures, a kill -9 with jobs in the outbox, and two processes sharing one outbox."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from server.mail import addresses
from tests.live import (
    ROOT,
    SECRET,
    Client,
    ServerProcess,
    add_admin,
    agent,
    free_port,
    health,
    login,
    open_store,
    seed,
    server_env,
    serving,
    visitor,
)
from tests.mailsink import MailSink

DOMAIN = "reply.test"
INBOUND_SECRET = "inbound-secret-0123456789"


def email_env(sink: MailSink, clock: Path, **extra: str) -> dict[str, str]:
    return {"LIVECHAT_SMTP_URL": sink.url, "LIVECHAT_EMAIL_REPLY_DOMAIN": DOMAIN,
            "LIVECHAT_CLOCK_OFFSET_FILE": str(clock), "LIVECHAT_EMAIL_POLL": "0.2", **extra}


def start(db: Path, env: dict[str, str], port: int | None = None) -> ServerProcess:
    server = ServerProcess(db, env=env) if port is None else ServerProcess(db, env=env, port=port)
    server.env["LIVECHAT_PUBLIC_URL"] = server.http
    return server.start()


def advance(clock: Path, seconds: float) -> None:
    clock.write_text(str(float(clock.read_text() or 0) + seconds))


def text_of(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


async def offline_visitor(server: ServerProcess, site_id: str, email: str, body: str,
                          language: str = "de-DE", name: str = "Eve") -> tuple[Client, str]:
    """The offline form as the widget sends it: context, profile (name, email), the message."""
    v, _ = await visitor(server, site_id)
    await v.send({"type": "context", "language": language, "url": "http://shop.test/pricing",
                  "title": "Pricing"})
    assert (await v.request({"type": "profile", "id": "p1", "name": name,
                             "email": email}))["type"] == "ack"
    ack = await v.request({"type": "send", "id": "m1", "body": body})
    return v, str(ack["conversation_id"])


async def open_conversation(server: ServerProcess, email: str, conv: str) -> Client:
    a, _ = await agent(server, await login(server, email))
    assert (await a.request({"type": "open", "id": "o1", "conversation_id": conv}))[
        "type"] == "ack"
    return a


async def email_event(a: Client, conv: str, status: str) -> dict[str, Any]:
    frame = await a.next(lambda f: f.get("type") == "message" and f.get("kind") == "email"
                         and f.get("conversation_id") == conv
                         and f["email"]["status"] == status, timeout=20)
    return frame


async def test_offline_message_answered_by_email_and_replied_to_by_each_door(
        tmp_path: Path) -> None:
    db, clock = tmp_path / "mail.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    listen = free_port()
    async with open_store(db) as store:
        await store.set_site_profile(seeded.site_id, email_from="Acme Support <help@acme.test>",
                                     color="#ffcc00", logo="https://acme.test/logo.png")
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock, LIVECHAT_SMTP_LISTEN=f"127.0.0.1:{listen}",
                                     LIVECHAT_EMAIL_INBOUND_SECRET=INBOUND_SECRET))
        try:
            assert (await health(server))["email"] == "on"
            v, conv = await offline_visitor(server, seeded.site_id, "eve@example.test",
                                            "Do you ship to <Lisbon>?")
            await v.close()  # she leaves
            ana = await open_conversation(server, seeded.agent_email, conv)
            for n, body in enumerate(["Yes, we do!", "<script>alert(1)</script> & more"]):
                await ana.request({"type": "send", "id": f"a{n}", "conversation_id": conv,
                                   "body": body})
            assert sink.received == []  # within the delay: nothing yet
            advance(clock, 200)  # past LIVECHAT_EMAIL_DELAY (120 s)
            [mail] = await sink.wait_for(1)
            sent = await email_event(ana, conv, "sent")
            assert sent["email"] == {"status": "sent", "to": "eve@example.test",
                                     "kind": "reply", "count": 2}
            # One email for the burst, in German, from the site's sender, threaded.
            assert mail["Subject"] == "Neue Antwort von Acme"
            assert parseaddr(str(mail["From"])) == ("Acme Support", "help@acme.test")
            assert sink.envelopes[0] == ("help@acme.test", ["eve@example.test"])
            assert mail["Content-Language"] == "de"
            assert mail["Message-ID"].endswith(f"@{DOMAIN}>")
            assert mail["References"] == f"<conversation.{conv}@{DOMAIN}>"
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            # On the wire as RFC 2369 has it (a mail client offers one-click unsubscribe only
            # for a plain <URI>, not one in RFC 2047 encoded words).
            raw = sink.raw[sink.received.index(mail)]
            assert b"\nList-Unsubscribe: <http://" in raw, raw[:2000]
            plain, html = text_of(mail, "plain"), text_of(mail, "html")
            assert "Yes, we do!" in plain and "<script>alert(1)</script> & more" in plain
            assert "http://shop.test/pricing" in plain  # back to the chat, where she was
            assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" \
                in html
            assert "#ffcc00" in html and 'src="https://acme.test/logo.png"' in html
            assert "Chat fortsetzen" in html
            reply_to = parseaddr(str(mail["Reply-To"]))[1]
            assert reply_to.endswith("@" + DOMAIN) and len(reply_to.split("@")[0]) <= 64

            # Door 1: she replies by SMTP to the built-in listener; the agent sees it live.
            async def reply(text: str, message_id: str, sender: str = "eve@example.test",
                            to: str = reply_to) -> EmailMessage:
                answer = EmailMessage()
                answer["From"] = f"Eve <{sender}>"
                answer["To"] = to
                answer["Subject"] = "Re: " + str(mail["Subject"])
                answer["Message-ID"] = message_id
                answer["In-Reply-To"] = mail["Message-ID"]
                answer["References"] = f"{mail['References']} {mail['Message-ID']}"
                answer.set_content(f"{text}\n\nAm Mo., 1. Dez. 2026 um 10:00 schrieb Acme "
                                   f"<{reply_to}>:\n> Yes, we do!\n")
                return answer

            first = await reply("Danke! Und nach Porto?", "<r1@example.test>")
            await aiosmtplib.send(first, hostname="127.0.0.1", port=listen)
            got = await ana.next(lambda f: f.get("type") == "message"
                                 and str(f.get("id")).startswith("email:"), timeout=20)
            assert got["body"] == "Danke! Und nach Porto?"  # the quoted history stripped
            assert got["conversation_id"] == conv
            # Redelivered (same Message-ID): not doubled. The next reply arrives alone.
            await aiosmtplib.send(first, hostname="127.0.0.1", port=listen)
            await aiosmtplib.send(await reply("Second", "<r2@example.test>"),
                                  hostname="127.0.0.1", port=listen)
            got = await ana.next(lambda f: f.get("type") == "message"
                                 and str(f.get("id")).startswith("email:"), timeout=20)
            assert got["body"] == "Second"
            # Attachments, within the upload rules: an image is kept; markup is not.
            with_files = await reply("Here is a photo", "<r5@example.test>")
            with_files.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, maintype="image",
                                      subtype="png", filename="tent.png")
            with_files.add_attachment(b"<html><script>alert(1)</script></html>",
                                      maintype="text", subtype="html", filename="evil.html")
            await aiosmtplib.send(with_files, hostname="127.0.0.1", port=listen)
            got = await ana.next(lambda f: f.get("type") == "message"
                                 and str(f.get("id")).startswith("email:"), timeout=20)
            assert got["body"] == "Here is a photo"
            assert got["attachment"]["name"] == "tent.png"
            assert got["attachment"]["type"] == "image/png"
            async with httpx.AsyncClient() as http:
                kept = await http.get(server.http + got["attachment"]["url"])
            assert kept.status_code == 200 and kept.content.startswith(b"\x89PNG")

            # Refused at the door: forged, altered, expired, and another visitor's address.
            key = reply_to.split(".")[1]
            local = reply_to.split("@")[0]
            altered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + DOMAIN
            forged = [f"r.{key}.zzzzzz.aaaaaaaaaaaaaaaa@{DOMAIN}", altered,
                      addresses.reply_address([SECRET], key, (await store_visitor(db, conv)),
                                              int(time.time()) - 10, DOMAIN),
                      f"nobody@{DOMAIN}", "eve@elsewhere.test"]
            for address in forged:
                with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                    await aiosmtplib.send(await reply("forged", "<f@example.test>", to=address),
                                          hostname="127.0.0.1", port=listen)
                assert refused.value.recipients[0].code == 550, address
            # Another visitor (Mallory), writing to Eve's address: refused at DATA.
            with pytest.raises(aiosmtplib.SMTPResponseException) as refused_data:
                await aiosmtplib.send(await reply("hijack", "<h@example.test>",
                                                  sender="mallory@example.test"),
                                      hostname="127.0.0.1", port=listen)
            assert refused_data.value.code == 550
            assert "inbound email refused" in server.log()

            # Door 2: an MTA's pipe (livechat inbound-email).
            piped = await reply("By pipe", "<r3@example.test>")
            code, err = await pipe(db, reply_to, piped.as_bytes())
            assert code == 0, err
            got = await ana.next(lambda f: f.get("type") == "message"
                                 and str(f.get("id")).startswith("email:"), timeout=20)
            assert got["body"] == "By pipe"
            code, err = await pipe(db, forged[0], piped.as_bytes())
            assert code == 67 and b"refused" in err
            # Machines answering for Eve are refused as unreadable (65), so nothing loops: an
            # out-of-office, and a delivery report (a bounce) sent from her own address.
            away = await reply("I am away until Monday.", "<oo@example.test>")
            away["Auto-Submitted"] = "auto-replied"
            bounce = await reply("Delivery failed", "<dsn@example.test>")
            bounce.make_mixed()
            bounce.replace_header("Content-Type", bounce["Content-Type"].replace(
                "multipart/mixed", "multipart/report; report-type=delivery-status"))
            # A mail system's bounce comes from its own address, not Eve's: still automatic
            # (it was refused as another sender, 67).
            daemon = await reply("Undeliverable", "<md@example.test>",
                                 sender="MAILER-DAEMON@mx.example.test")
            for automatic in (away, bounce, daemon):
                code, err = await pipe(db, reply_to, automatic.as_bytes())
                assert code == 65 and b"automatic" in err, (code, err)
            # A reply with nothing in it but the quote is refused at the door, and said (it was
            # queued, then dropped without a word).
            empty = await reply("", "<empty@example.test>")
            code, err = await pipe(db, reply_to, empty.as_bytes())
            assert code == 65 and b"nothing to read" in err, (code, err)

            # Door 3: a provider's signed HTTP post.
            posted = (await reply("By HTTP", "<r4@example.test>")).as_bytes()
            stamp = str(int(time.time()) + 200)  # the server's clock is 200 s ahead
            signature = hmac.new(INBOUND_SECRET.encode(), stamp.encode() + b"." + posted,
                                 hashlib.sha256).hexdigest()
            async with httpx.AsyncClient() as http:
                bad = await http.post(f"{server.http}/api/email/inbound", content=posted,
                                      headers={"X-Livechat-Timestamp": stamp,
                                               "X-Livechat-Signature": "0" * 64})
                assert bad.status_code == 401 and bad.json()["error"] == "bad_signature"
                good = await http.post(f"{server.http}/api/email/inbound", content=posted,
                                       headers={"X-Livechat-Timestamp": stamp,
                                                "X-Livechat-Signature": signature,
                                                "Content-Type": "message/rfc822"})
                assert good.status_code == 202 and good.json() == {"status": "queued"}
                got = await ana.next(lambda f: f.get("type") == "message"
                                     and str(f.get("id")).startswith("email:"), timeout=20)
                assert got["body"] == "By HTTP"

                # One-click unsubscribe (RFC 8058), honoured: no further email is queued.
                link = str(mail["List-Unsubscribe"]).strip("<>")
                page = await http.get(link)
                assert page.status_code == 200 and "eve@example.test" in page.text
                done = await http.post(link, content=b"List-Unsubscribe=One-Click",
                                       headers={"Content-Type":
                                                "application/x-www-form-urlencoded"})
                assert done.status_code == 200 and "eve@example.test" in done.text
            await ana.request({"type": "send", "id": "a9", "conversation_id": conv,
                               "body": "Anything else?"})
            async with open_store(db) as store:
                jobs = await store_jobs(store, conv)
            assert [j for j in jobs if j[1] == "pending"] == []
            assert len(sink.received) == 1
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


async def pipe(db: Path, recipient: str, raw: bytes) -> tuple[int | None, bytes]:
    """``livechat inbound-email --recipient … < raw``, as Postfix's pipe runs it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "inbound-email", "--recipient", recipient,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=server_env(db, LIVECHAT_EMAIL_REPLY_DOMAIN=DOMAIN), cwd=ROOT)
    _, err = await asyncio.wait_for(proc.communicate(raw), 60)
    return proc.returncode, err


async def store_visitor(db: Path, conv: str) -> str:
    async with open_store(db) as store:
        found = await store.conversation(conv)
        assert found is not None
        return found.visitor_id


async def store_jobs(store: Any, conv: str) -> list[tuple[str, str]]:
    rows = await store._all("SELECT id, state FROM email_jobs WHERE conversation_id = ?",
                            (conv,))
    return [(r[0], r[1]) for r in rows]


async def test_seen_replies_are_not_emailed_and_email_off_says_so(tmp_path: Path) -> None:
    db, clock = tmp_path / "seen.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock))
        try:
            v, conv = await offline_visitor(server, seeded.site_id, "sam@example.test", "Hi",
                                            language="fr")
            ana = await open_conversation(server, seeded.agent_email, conv)
            ack = await ana.request({"type": "send", "id": "a1", "conversation_id": conv,
                                     "body": "Hello Sam"})
            await v.send({"type": "read", "seq": ack["seq"]})  # she saw it in the widget
            await ana.of_type("read", conversation_id=conv, reader="visitor")
            advance(clock, 200)  # that reply was seen: its job is dropped, nothing sent
            await ana.request({"type": "send", "id": "a2", "conversation_id": conv,
                               "body": "Anything else, Sam?"})
            advance(clock, 200)
            [mail] = await sink.wait_for(1)
            assert (await email_event(ana, conv, "sent"))["email"]["count"] == 1
            plain = text_of(mail, "plain")
            assert "Anything else, Sam?" in plain and "Hello Sam" not in plain
            assert mail["Subject"] == "Nouvelle réponse de Acme"
            assert mail["From"] == "Acme <noreply@reply.test>"  # no sender set: the default
        finally:
            server.stop()
    with serving(db) as plain:
        assert (await health(plain))["email"] == "off"


async def test_transcripts_on_request_and_on_resolve_with_visitor_html_inert(
        tmp_path: Path) -> None:
    db, clock = tmp_path / "transcript.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with open_store(db) as store:
        await store.set_site_profile(seeded.site_id, email_transcript=True)
    payload = '<img src=x onerror="alert(1)">'
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock))
        try:
            v, conv = await offline_visitor(server, seeded.site_id, "ines@example.test",
                                            f"Hello {payload}", language="pt-BR",
                                            name=f"<b>{payload}</b>")
            ana = await open_conversation(server, seeded.agent_email, conv)
            await ana.request({"type": "send", "id": "a1", "conversation_id": conv,
                               "body": "Olá Inês"})
            # The visitor asks for it from the widget: sent now (no delay), once per point.
            assert (await v.request({"type": "transcript", "id": "t1",
                                     "conversation_id": conv}))["type"] == "ack"
            assert (await v.request({"type": "transcript", "id": "t2",
                                     "conversation_id": conv}))["type"] == "ack"
            [mail] = await sink.wait_for(1)
            assert mail["Subject"] == "A sua conversa com Acme"
            assert mail["Auto-Submitted"] == "auto-generated"
            plain = text_of(mail, "plain").replace("\r\n", "\n")
            html = text_of(mail, "html")
            assert f"Você:\nHello {payload}" in plain and "Ana:\nOlá Inês" in plain
            assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
            assert (await email_event(ana, conv, "sent"))["email"]["kind"] == "transcript"
            # The agent sends one (the conversation moved on: a new email).
            await ana.request({"type": "send", "id": "a2", "conversation_id": conv,
                               "body": "Mais alguma coisa?"})
            assert (await ana.request({"type": "transcript", "id": "t3",
                                       "conversation_id": conv}))["type"] == "ack"
            await sink.wait_for(2)
            # The site sends one on resolve (more was written since the last one: one asked
            # right before the resolve is not sent again, tests/test_store_features.py).
            await v.request({"type": "send", "id": "v2", "body": "Não, obrigada!"})
            await ana.request({"type": "resolve", "id": "r1", "conversation_id": conv})
            mails = await sink.wait_for(3)
            assert "Não, obrigada!" in text_of(mails[2], "plain")
            assert mails[2]["Subject"] == "A sua conversa com Acme"
            # A visitor who left no address cannot have one.
            other, _ = await visitor(server, seeded.site_id)
            conv2 = (await other.request({"type": "send", "id": "m", "body": "hi"}))[
                "conversation_id"]
            refused = await other.request({"type": "transcript", "id": "t",
                                           "conversation_id": conv2})
            assert refused["type"] == "error" and refused["code"] == "no_email"
            # Nor another visitor's conversation.
            refused = await other.request({"type": "transcript", "id": "t4",
                                           "conversation_id": conv})
            assert refused["code"] == "not_found"
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()
    with serving(db) as plain_server:  # email off
        v, welcome = await visitor(plain_server, seeded.site_id)
        assert welcome["email"] is False
        conv3 = (await v.request({"type": "send", "id": "m", "body": "hi"}))["conversation_id"]
        refused = await v.request({"type": "transcript", "id": "t", "conversation_id": conv3})
        assert refused["code"] == "no_email"


async def test_the_rating_is_asked_by_email_of_visitors_who_left_before_rating(
        tmp_path: Path) -> None:
    db, clock = tmp_path / "rating.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock))
        try:
            # Ana rates in the widget before the delay: she is not asked again by email.
            ana_v, ana_conv = await offline_visitor(server, seeded.site_id, "ana@example.test",
                                                    "Hi", language="en")
            agent_ = await open_conversation(server, seeded.agent_email, ana_conv)
            await agent_.request({"type": "resolve", "id": "r1", "conversation_id": ana_conv})
            assert (await ana_v.request({"type": "rate", "id": "s", "conversation_id": ana_conv,
                                         "score": 5}))["type"] == "ack"
            # Bo leaves before rating.
            bo_v, bo_conv = await offline_visitor(server, seeded.site_id, "bo@example.test",
                                                  "Olá", language="es-MX")
            await bo_v.close()
            await agent_.request({"type": "open", "id": "o2", "conversation_id": bo_conv})
            await agent_.request({"type": "resolve", "id": "r2", "conversation_id": bo_conv})
            advance(clock, 200)
            [mail] = await sink.wait_for(1)
            assert mail["To"] == "bo@example.test"
            assert mail["Subject"] == "¿Qué tal fue tu conversación con Acme?"
            async with open_store(db) as store:
                assert [s for _, s in await store_jobs(store, ana_conv)] == ["skipped"]
            links = [line.split(": ", 1)[1] for line in text_of(mail, "plain").splitlines()
                     if " de 5: http" in line]
            assert len(links) == 5 and links[3].endswith("&score=4")
            async with httpx.AsyncClient() as http:
                page = await http.get(links[3])  # opening the link rates nothing
                assert page.status_code == 200 and 'value="4" checked' in page.text
                async with open_store(db) as store:
                    before = await store.conversation(bo_conv)
                assert before is not None and before.rating is None
                forged = await http.post(links[3].replace("t=", "t=x"),
                                         data={"score": "4"})
                assert forged.status_code == 400
                done = await http.post(links[3], data={"score": "4",
                                                       "comment": "<b>Muy bien</b>"})
                assert done.status_code == 200 and "4/5" in done.text
                assert "<b>Muy" not in done.text
                again = await http.post(links[3], data={"score": "2"})
                assert again.status_code == 409
            rated = await agent_.next(lambda f: f.get("type") == "message"
                                      and f.get("kind") == "rated"
                                      and f.get("conversation_id") == bo_conv)
            assert rated["score"] == 4 and rated["body"] == "<b>Muy bien</b>"
            # The reports count it, with the rating given in the widget.
            cookie = await login(server, await add_admin(db))
            async with httpx.AsyncClient(cookies={"livechat_agent": cookie}) as http:
                report = await http.get(f"{server.http}/api/reports")
            assert report.json()["total"]["satisfaction"]["ratings"] == 2
            assert report.json()["total"]["satisfaction"]["average"] == 4.5
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


def test_a_sites_sender_and_transcripts_from_the_command_line(tmp_path: Path) -> None:
    import asyncio as asyncio_

    from tests.test_cli import livechat

    db = tmp_path / "cli.db"
    seeded = asyncio_.run(seed(db))
    done = livechat("site", "set", seeded.site_id, "--email-from",
                    "Acme Support <support@acme.example>", "--email-transcript", "on", db=db)
    assert done.returncode == 0, done.stderr
    assert "email from:   Acme Support <support@acme.example>" in done.stdout
    assert "transcript on resolve: on" in done.stdout
    bad = livechat("site", "set", seeded.site_id, "--email-from", "not an address", db=db)
    assert bad.returncode == 2 and "email-from is an address" in bad.stderr
    injected = livechat("site", "set", seeded.site_id, "--email-from",
                        "a@b.example\nBcc: x@y.example", db=db)
    assert injected.returncode == 2
    cleared = livechat("site", "set", seeded.site_id, "--email-from", "", db=db)
    assert "email from:   (LIVECHAT_EMAIL_FROM)" in cleared.stdout

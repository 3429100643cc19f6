"""A file in an email (docs/email.md): by its name, linked. Before, the reply email and the
transcript showed a bare address after the words, without the file's name when the message had
words too, and no link in the HTML part (a black-box tester found it)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.browser import png
from tests.live import seed, visitor
from tests.mailsink import MailSink
from tests.test_email import email_env, start, text_of


async def test_a_file_in_a_transcript_is_named_and_linked(tmp_path: Path) -> None:
    db, clock = tmp_path / "files.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock))
        try:
            v, welcome = await visitor(server, seeded.site_id)
            await v.request({"type": "profile", "id": "p", "email": "ines@example.test"})
            async with httpx.AsyncClient(base_url=server.http) as http:
                made = await http.post("/api/files", content=png(4, 4), headers={
                    "Origin": server.http, "Authorization": f"Bearer {welcome['token']}",
                    "X-File-Name": "r%C3%A9ponse%20%26%20co.png"})
            assert made.status_code == 201, made.text
            file = made.json()
            sent = await v.request({"type": "send", "id": "m1", "body": "here is a picture",
                                    "attachment": file["id"]})
            await v.request({"type": "send", "id": "m2", "attachment": file["id"]})
            assert (await v.request({"type": "transcript", "id": "t",
                                     "conversation_id": sent["conversation_id"]}))["type"] \
                == "ack"
            [mail] = await sink.wait_for(1)
            url = f"{server.http}{file['url']}"
            plain = text_of(mail, "plain").replace("\r\n", "\n")
            assert f"here is a picture\nréponse & co.png: {url}" in plain, plain
            assert plain.count(f"réponse & co.png: {url}") == 2, plain  # alone: not named twice
            html = text_of(mail, "html")
            assert f'<a href="{url}">réponse &amp; co.png</a>' in html, html
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()

"""A site whose page embeds the chat, served by a server that sends email to a real SMTP sink
(tests/mailsink.py), for the browser tests of email."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live import Seed, ServerProcess, customer_page, free_port, open_store, seed
from tests.mailsink import MailSink
from tests.test_email import email_env, start


@dataclass
class EmailingSite:
    """A site's page embedding the chat, served by a server that sends email to ``sink``, and
    whose clock can be moved on (``advance``)."""
    chat: ServerProcess
    seeded: Seed
    page_url: str
    sink: MailSink
    clock: Path


@contextlib.asynccontextmanager
async def emailing_site(tmp_path: Path, prepare: Callable[[Any, str], Awaitable[Any]],
                        **env: str) -> AsyncIterator[EmailingSite]:
    """``prepare(store, site_id)`` before the server starts (the site's profile, a bot); the
    server's log is checked for tracebacks when it stops."""
    db, clock = tmp_path / "chat.db", tmp_path / "clock"
    clock.write_text("0")
    page_port = free_port()
    seeded = await seed(db, [f"http://127.0.0.1:{page_port}"])
    async with open_store(db) as store:
        await prepare(store, seeded.site_id)
    async with MailSink() as sink:
        chat = start(db, email_env(sink, clock, **env))
        try:
            with customer_page(db, chat, seeded.site_id, page_port) as page_url:
                yield EmailingSite(chat, seeded, page_url, sink, clock)
        finally:
            chat.stop()
        assert "Traceback" not in chat.log(), chat.log()

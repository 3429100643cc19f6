"""A real SMTP server for tests (aiosmtpd in the test's own event loop, on a free port) that
keeps what it receives and lets a test await it; it can refuse (4xx or 5xx) or hold a delivery
at RCPT until released."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.live import free_port


class MailSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[EmailMessage] = []
        #: Each received email's bytes as they came (``received``'s order).
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        #: Answer every RCPT with this (e.g. "451 4.3.0 busy", "550 5.1.1 no such user");
        #: None accepts.
        self.refuse: str | None = None
        self.refusals = 0
        self.refused = asyncio.Event()
        #: While set, a RCPT waits for ``release`` (``held`` is set when one waits).
        self.hold = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> MailSink:
        sink = self

        class Handler:
            async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                                  address: str, options: list[str]) -> str:
                if sink.hold:
                    sink.held.set()
                    await sink.release.wait()
                if sink.refuse is not None:
                    sink.refusals += 1
                    sink.refused.set()
                    return sink.refuse
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: SMTP, session: Session,
                                  envelope: Envelope) -> str:
                raw = envelope.original_content or b""
                message = BytesParser(policy=policy.default).parsebytes(raw)
                assert isinstance(message, EmailMessage)
                async with sink._changed:
                    sink.received.append(message)
                    sink.raw.append(raw)
                    sink.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
                    sink._changed.notify_all()
                return "250 OK"

        handler = Handler()

        def factory() -> Any:
            return SMTP(handler, enable_SMTPUTF8=True, hostname="sink.test")

        self._server = await asyncio.get_running_loop().create_server(
            factory, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Once at least ``count`` emails have arrived: all of them."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.received) >= count)
            return list(self.received)

    async def first(self, predicate: Callable[[EmailMessage], bool],
                    timeout: float = 20.0) -> EmailMessage:
        """The first email received (or to come) for which ``predicate`` holds."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: any(predicate(m) for m in self.received))
            return next(m for m in self.received if predicate(m))

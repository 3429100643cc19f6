"""The built-in SMTP listener for replies (``LIVECHAT_SMTP_LISTEN``, aiosmtpd), served in the
app's own event loop. It accepts mail only for the reply domain's signed addresses: a forged,
expired or foreign address is refused at RCPT (550), a sender who is not the conversation's
visitor at DATA (550); a reply is acknowledged (250) only once it is queued in the store, so a
crash never loses one the sending server thinks delivered. The store unavailable: 451, the
sending server tries again later."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from server.errors import Unavailable
from server.mail import addresses, inbound
from server.mail.service import Mail

log = logging.getLogger("livechat.email")


class _Handler:
    def __init__(self, mail: Mail) -> None:
        self.mail = mail

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        try:
            await self.mail.check_address(address)
        except addresses.Refused as exc:
            log.warning("inbound email refused (smtp door, RCPT): %s", exc)
            return "550 5.1.1 No such reply address here"
        except Unavailable:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode("utf-8", "surrogateescape")
        try:
            for rcpt in envelope.rcpt_tos:
                await self.mail.accept(raw, "smtp", rcpt)
        except addresses.Refused:
            return "550 5.7.1 Not accepted for this address"
        except inbound.Unreadable:
            return "550 5.6.0 Message not accepted"
        except Unavailable:
            return "451 4.3.0 Try again later"
        return "250 Message accepted"


async def serve(mail: Mail, listen: str) -> asyncio.Server:
    """Start listening on ``host:port``; the caller closes the server."""
    host, _, port = listen.rpartition(":")
    handler = _Handler(mail)

    def factory() -> Any:
        return SMTP(handler, data_size_limit=inbound.MAX_BYTES, enable_SMTPUTF8=True,
                    hostname=mail.settings.email_reply_domain, ident="livechat", timeout=60)

    # reuse_port: with several worker processes each listens, and the kernel shares the mail.
    server = await asyncio.get_running_loop().create_server(
        factory, host.strip("[]") or None, int(port), reuse_port=True)
    log.info("SMTP listener for replies on %s", listen)
    return server

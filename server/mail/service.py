"""Email at work in a process: the doors replies come in by, and the worker that sends the
outbox and reads the replies into their conversations (docs/email.md).

Every process runs a worker; jobs are claimed (``server.store.outbox``), so two processes never
send the same one, and a process that dies mid-send loses its claim when the lease runs out.
Sending is at-least-once only in one window — after the SMTP server accepted the message and
before the job is marked sent — and the email sent again then has the same ``Message-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from server.auth import VisitorIdentity, normalize_origin
from server.chat import Chat
from server.config import Settings
from server.errors import ChatError, Unavailable
from server.files import safe_name, sniff, typed_name
from server.mail import addresses, compose, inbound, smtp, to_agents
from server.mail.words import language, words
from server.parsing import valid_email
from server.store import Change, Conversation, Message, Site
from server.store.filestore import FileStore, LocalFiles
from server.store.followups import FollowUps
from server.store.outbox import (
    RATING,
    REPLY,
    TRANSCRIBED,
    Inbound,
    Job,
    Outbox,
    Thread,
)
from server.tasks import reraise_cancel

if TYPE_CHECKING:
    from server.store.facade import Aggregates

log = logging.getLogger("livechat.email")
_MAX_BACKOFF = 3600.0


@dataclass(frozen=True, slots=True)
class Accepted:
    queued: bool  # False: the same email was received before
    conversation_id: str


class Mail:
    """``chat`` (server.chat.Chat) is needed to read replies into conversations and tell agents
    about emails; the CLI's door works without it (the server's worker reads what it queued)."""

    def __init__(self, settings: Settings, store: Aggregates, clock: Callable[[], float],
                 chat: Chat | None = None, *, files: FileStore | None = None) -> None:
        self.settings = settings
        self.store = store
        #: Where attachments received by email are kept (the uploads folder by default).
        self.files: FileStore = files or LocalFiles(settings.uploads_path())
        self.clock = clock
        self.chat = chat
        self.outbox = Outbox(store, delay_ms=int(settings.email_delay * 1000),
                             new_key=addresses.new_key, enabled=settings.email_on)
        self.follow_ups = FollowUps(store, self.outbox)
        #: Whether an agent has a panel open on a site (set by the app; None: never).
        self.agent_online: Callable[[str, str], Awaitable[bool]] | None = None
        self._digest_day = ""
        self.smtp = smtp.parse_url(settings.smtp_url) if settings.smtp_url else None
        self.worker_id = f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self.outbox.on_job = self._wake.set
        public = urlsplit(settings.public_url)
        self.domain = settings.email_reply_domain or public.hostname or "localhost"

    @property
    def on(self) -> bool:
        return self.smtp is not None

    def install(self) -> None:
        self.outbox.install()

    # --- the doors -----------------------------------------------------------------------

    async def check_address(self, address: str) -> Thread:
        """The conversation a reply address names, or ``addresses.Refused``."""
        domain = self.settings.email_reply_domain
        if not domain:
            raise addresses.Refused("inbound email is off")
        parsed = addresses.parse(address, domain)
        thread = await self.outbox.thread_by_key(parsed.key)
        if thread is None:
            raise addresses.Refused("forged or altered")  # (no such key: same answer)
        addresses.check(self.settings.secret_keys, parsed, thread.visitor_id, self.clock())
        return thread

    async def accept(self, raw: bytes, door: str, recipient: str | None = None) -> Accepted:
        """Check a received reply and queue it (durably) for the worker. ``recipient``: the
        envelope's (SMTP, an MTA's pipe); else the first reply address among the headers'.
        Raises ``addresses.Refused`` (not ours, forged, expired, another sender),
        ``inbound.Unreadable`` or ``Unavailable``; each refusal is logged."""
        try:
            reply = inbound.read(raw)
            rcpt = recipient or next(
                (a for a in reply.recipients
                 if a.endswith("@" + self.settings.email_reply_domain.lower())), "")
            if not rcpt:
                raise addresses.Refused("no reply address among the recipients")
            thread = await self.check_address(rcpt)
            # (Before the sender: a bounce comes from a mail system's address, not the
            # visitor's, and is refused as what it is.)
            if reply.auto:
                raise inbound.Unreadable("an automatic reply")
            visitor = await self.store.visitor(thread.visitor_id)
            if visitor is None or not visitor.email or (
                    visitor.email.strip().lower() != reply.sender):
                raise addresses.Refused("the sender is not the conversation's visitor")
            if not reply.text.strip() and not reply.attachments:
                raise inbound.Unreadable("nothing to read (no text besides the quote, no file)")
        except (addresses.Refused, inbound.Unreadable) as exc:
            log.warning("inbound email refused (%s door): %s", door, exc)
            raise
        queued = await self.outbox.receive(reply.message_key, rcpt, raw, door)
        return Accepted(queued, thread.conversation_id)

    # --- the worker ----------------------------------------------------------------------

    async def run(self) -> None:
        """Send due jobs and read queued replies, until cancelled."""
        lease = int(self.settings.email_lease * 1000)
        while True:
            self._wake.clear()
            try:
                busy = False
                if self.on:
                    for job in await self.outbox.claim(self.worker_id, lease):
                        busy = True
                        await self._send(job)
                for item in await self.outbox.claim_inbound(self.worker_id, lease):
                    busy = True
                    await self._read(item)
            except Unavailable:
                busy = False  # the store logs its outage once; the next round retries
            except Exception as exc:
                reraise_cancel()
                log.error("email worker round failed (%s); retrying", type(exc).__name__,
                          exc_info=exc)
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.email_poll):
                        await self._wake.wait()

    def wake(self) -> None:
        self._wake.set()

    async def wake_follow_ups(self, online: Callable[[str], Awaitable[bool]]) -> None:
        """Send the check-ins whose time has come (called by the sweep that wakes snoozes):
        in the widget when ``online(visitor_id)``, else by email too (when email is on).
        The day's digests are queued here too, once the digest hour has come."""
        for follow_up, visitor_id in await self.follow_ups.due():
            email = self.on and not await online(visitor_id)
            await self._publish(await self.follow_ups.send(follow_up, email))
        await self._queue_digests()

    async def _queue_digests(self) -> None:
        hour = self.settings.email_digest_hour
        if not self.on or hour < 0:
            return
        now = datetime.fromtimestamp(self.clock(), UTC)
        day = now.date().isoformat()
        if now.hour < hour or day == self._digest_day:
            return
        await self.outbox.digests(day)  # (unique per admin and day, across processes)
        self._digest_day = day

    async def _publish(self, change: Change | None) -> None:
        if change is not None and self.chat is not None:
            await self.chat.publish(change)

    async def _send(self, job: Job) -> None:
        try:
            built = await self._build(job)
        except Exception as exc:
            reraise_cancel()
            log.error("email %s could not be built (%s)", job.id, type(exc).__name__,
                      exc_info=exc)
            await self._failed(job, f"could not be built ({type(exc).__name__})")
            return
        if isinstance(built, str):
            await self.outbox.skipped(job, self.worker_id, built)
            return
        message, envelope_from, upto, count = built
        assert self.smtp is not None
        try:
            await smtp.send(self.smtp, message, envelope_from, [job.recipient])
        except smtp.Permanent as exc:
            log.warning("email %s refused for good: %s", job.id, exc.reason)
            await self._failed(job, exc.reason)
            return
        except smtp.Passing as exc:
            now = self.clock()
            if now - job.created_at / 1000 >= self.settings.email_give_up:
                log.warning("email %s given up after %d attempts: %s", job.id, job.attempts,
                            exc.reason)
                await self._failed(job, f"gave up after {job.attempts} attempts: {exc.reason}")
                return
            delay = min(_MAX_BACKOFF, self.settings.email_retry * 2 ** max(0, job.attempts - 1))
            log.info("email %s not sent yet (%s); retrying in %.0f s", job.id, exc.reason, delay)
            await self.outbox.retry(job, self.worker_id, exc.reason, int((now + delay) * 1000))
            return
        log.info("email %s sent (%s)", job.id, job.kind)
        await self._publish(await self.outbox.sent(job, self.worker_id, self.message_id(job),
                                                   upto, count))

    async def _failed(self, job: Job, reason: str) -> None:
        await self._publish(await self.outbox.failed(job, self.worker_id, reason))

    def message_id(self, job: Job) -> str:
        return f"{job.id}@{self.domain}"

    def sender(self, site: Site) -> str:
        return (site.profile.email_from or self.settings.email_from
                or formataddr((compose.header_text(site.name), f"noreply@{self.domain}")))

    async def chat_url(self, site: Site, visitor_id: str) -> str:
        """Back to the chat: the visitor's last page on the site (the widget is there), else the
        site's first origin, else this server."""
        allowed = set(site.allowed_origins)
        for page in await self.store.visitor_pages(visitor_id):  # the newest first
            parts = urlsplit(page.url)
            if parts.scheme in ("https", "http") and normalize_origin(
                    f"{parts.scheme}://{parts.netloc}") in allowed:
                return page.url
        return site.allowed_origins[0] if site.allowed_origins else self.settings.public_url

    async def _build(self, job: Job) -> str | tuple[EmailMessage, str, int, int]:
        """The email of a job, or why there is none to send now (a string)."""
        if not valid_email(job.recipient):  # (one kept before addresses were checked as now)
            return "not an email address"
        if job.kind in to_agents.KINDS:
            return await to_agents.build(self, job)
        assert job.conversation_id is not None
        conv = await self.store.conversation(job.conversation_id)
        site = await self.store.site(job.site_id)
        thread = await self.outbox.thread(job.conversation_id)
        if conv is None or site is None or thread is None:
            return "the conversation is gone"
        if await self.outbox.unsubscribed(site.id, job.recipient):
            return "unsubscribed"
        visitor = await self.store.visitor(conv.visitor_id)
        lang = visitor.language if visitor else None
        w = words(lang)
        lines: list[compose.Line] = []
        agent_name = None
        rating_links = None
        if job.kind == RATING:
            if conv.rating is not None or conv.status != "resolved":
                return "rated already, or reopened"
            token = quote(addresses.rating_token(self.settings.secret_keys, conv.id,
                                                 conv.visitor_id, language(lang)))
            rating_links = [f"{self.settings.public_url}/email/rate?t={token}&score={n}"
                            for n in range(1, 6)]
            messages = []
        elif job.kind == REPLY:
            start = max(thread.emailed_seq, conv.visitor_read_seq)
            messages = [m for m in await self._messages(conv, start)
                        if m.kind in TRANSCRIBED and m.author_type == "agent"]
            if not messages:
                return "seen"
            agent_name = messages[-1].author_name
        else:
            # What the visitor saw: the texts, and follow-ups' check-ins (an agent's words).
            messages = [m for m in await self._messages(conv, 0)
                        if m.kind in TRANSCRIBED and not m.private]
            if not messages:
                return "nothing to send"
        for m in messages:
            body, file = m.body, None
            if m.data and isinstance(m.data.get("attachment"), dict):
                # The file by its name, linked (before, a bare address, and no name when the
                # message had words too: a black-box tester).
                sent = m.data["attachment"]
                name, url = str(sent.get("name", "")), str(sent.get("url", ""))
                if url.startswith("/"):
                    file = (name or url, f"{self.settings.public_url}{url}")
                    body = "" if body == name else body  # (a file alone: its name is its body)
            author = w["you"] if m.author_type == "visitor" else (m.author_name or site.name)
            lines.append(compose.Line(author, body, m.author_type == "visitor", file))
        upto = messages[-1].seq if messages else 0
        expires = int(self.clock()) + self.settings.email_reply_max_age
        reply_to = (addresses.reply_address(self.settings.secret_keys, thread.reply_key,
                                            conv.visitor_id, expires,
                                            self.settings.email_reply_domain)
                    if self.settings.email_reply_domain else None)
        token = addresses.unsubscribe_token(self.settings.secret_keys, site.id, job.recipient,
                                            language(lang))
        envelope = compose.Envelope(
            sender=self.sender(site), recipient=job.recipient,
            message_id=self.message_id(job),
            in_reply_to=(thread.last_message_id if thread.last_message_id
                         != self.message_id(job) else None),
            root_id=f"conversation.{conv.id}@{self.domain}", reply_to=reply_to,
            chat_url=await self.chat_url(site, conv.visitor_id),
            unsubscribe_url=f"{self.settings.public_url}/email/unsubscribe?t={quote(token)}",
            sent_at=self.clock())
        brand = compose.Brand(site.name, site.profile.color, site.profile.logo)
        message = compose.build(job.kind, lang, brand, envelope, lines, agent_name,
                                rating_links)
        return message, parseaddr(envelope.sender)[1], upto, len(lines)

    async def _messages(self, conv: Conversation, after: int) -> list[Message]:
        out: list[Message] = []
        while True:
            page = await self.store.messages_after(conv.id, after, 200)
            out.extend(page)
            if len(page) < 200:
                return out
            after = page[-1].seq

    async def _keep_files(self, thread: Thread,
                          files: tuple[tuple[str, bytes], ...]) -> list[str]:
        """A reply's attachments, kept as the visitor's uploads within the upload rules (the
        accepted types judged by their bytes, ``LIVECHAT_MAX_UPLOAD_BYTES`` each, the
        visitor's ``LIVECHAT_UPLOAD_QUOTA``); the ids of those kept, the others logged."""
        kept: list[str] = []
        for name, content in files:
            kind = sniff(content)
            room = (self.settings.upload_quota_bytes
                    - await self.store.uploaded_bytes(thread.visitor_id))
            if kind is None or len(content) > min(self.settings.max_upload_bytes, room):
                log.info("an email attachment was not kept (%s)",
                         "not an accepted type" if kind is None else "too large or over quota")
                continue
            file_id = "file_" + secrets.token_urlsafe(18)
            await self.files.put_bytes(file_id, content)
            await self.store.add_attachment(thread.site_id, thread.visitor_id,
                                            typed_name(safe_name(name), kind), kind,
                                            len(content), file_id)
            kept.append(file_id)
        return kept

    async def _read(self, item: Inbound) -> None:
        """A queued reply into its conversation, as the visitor's message (idempotent: the
        message's id comes from the email's Message-ID)."""
        try:
            reply = inbound.read(item.raw)
            thread = await self.check_address(item.recipient)
        except (addresses.Refused, inbound.Unreadable) as exc:  # (checked at the door)
            await self.outbox.inbound_done(item, self.worker_id, "refused", str(exc))
            return
        text = reply.text[: self.settings.max_text_chars].strip()
        files = await self._keep_files(thread, reply.attachments)
        if not text and not files:  # (its files were all refused, each logged)
            log.warning("inbound email refused (%s door): no text, and no file kept", item.door)
            await self.outbox.inbound_done(item, self.worker_id, "refused", "no text")
            return
        assert self.chat is not None
        # (An answer to a check-in reopens its conversation: in the append itself.)
        who = VisitorIdentity(thread.site_id, thread.visitor_id)
        # The text with the first file, then a message per further file: each with an id from
        # the Message-ID, so that a second reading adds nothing.
        sends = [(text, files[0] if files else None)] + [("", f) for f in files[1:]]
        try:
            for n, (body, attachment) in enumerate(sends):
                await self.chat.visitor_send(
                    who, f"email:{item.message_key[:40]}" + (f":{n}" if n else ""), body,
                    attachment)
        except ChatError as exc:
            await self.outbox.inbound_done(item, self.worker_id, "refused", exc.code.value)
            return
        await self.outbox.inbound_done(item, self.worker_id, "done")
        log.info("email reply read into the conversation (%s door)", item.door)

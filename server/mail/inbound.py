"""A reply by email, read: who sent it, to which reply address, and what they wrote, with the
quoted history and the signature stripped (mail-parser-reply, which knows the "On … wrote:"
lines of many mail clients and languages). Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

#: mail-parser-reply's languages among the widget's (English is always included).
_PARSER = EmailReplyParser(languages=["en", "de", "fr", "es", "pt"])
#: Larger emails are refused at the door (the text of a reply is far smaller).
MAX_BYTES = 10 * 1024 * 1024
#: Files kept from one reply at most (the rest are dropped).
MAX_ATTACHMENTS = 5


class Unreadable(Exception):
    """Not an email we can take (no sender, no text, too large)."""


@dataclass(frozen=True, slots=True)
class Reply:
    message_key: str  # sha256 of the Message-ID (or of the whole email, without one)
    message_id: str | None
    sender: str  # the From address, lower case
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To addresses
    text: str  # what they wrote, without quotes and signature
    auto: bool  # an auto-reply (Auto-Submitted, an out-of-office, a bounce)
    #: Attached files (name, bytes), at most MAX_ATTACHMENTS; judged by the upload rules later.
    attachments: tuple[tuple[str, bytes], ...] = ()


class _Text(HTMLParser):
    """The text of an HTML part (for emails without a plain part)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "blockquote"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def message_key(message_id: str | None, raw: bytes) -> str:
    seed = message_id.strip().encode() if message_id else raw
    return hashlib.sha256(seed).hexdigest()


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is not None:
        return str(part.get_content())
    part = msg.get_body(preferencelist=("html",))
    if part is not None:
        return html_text(str(part.get_content()))
    return ""


def strip_reply(text: str) -> str:
    """What the sender wrote above the quoted history, without their signature."""
    text = text.replace("\r\n", "\n")
    replies = _PARSER.read(text).replies
    body = replies[0].body if replies else text
    # A "-- " signature the parser kept, and quoted lines left at the end.
    body = re.split(r"\n-- ?\n", "\n" + body, maxsplit=1)[0]
    lines = body.strip().split("\n")
    while lines and lines[-1].startswith(">"):
        lines.pop()
    return "\n".join(lines).strip()


def read(raw: bytes) -> Reply:
    if len(raw) > MAX_BYTES:
        raise Unreadable("too large")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        sender = parseaddr(str(msg.get("From", "")))[1].strip().lower()
        fields = [str(v) for name in ("To", "Cc", "Delivered-To", "X-Original-To")
                  for v in msg.get_all(name, [])]
        recipients = tuple(a.strip().lower() for _, a in getaddresses(fields) if a)
        message_id = str(msg.get("Message-ID", "")).strip() or None
        body = _body(msg)
        files: list[tuple[str, bytes]] = []
        for part in msg.iter_attachments():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload and len(files) < MAX_ATTACHMENTS:
                files.append((str(part.get_filename() or "attachment"), payload))
    except (ValueError, LookupError, TypeError, AssertionError) as exc:
        raise Unreadable(f"malformed ({type(exc).__name__})") from None
    if not sender or "@" not in sender:
        raise Unreadable("no sender")
    auto = (str(msg.get("Auto-Submitted", "no")).lower() != "no"
            or msg.get("X-Autoreply") is not None
            or str(msg.get("Precedence", "")).lower() in ("bulk", "junk", "auto_reply")
            or sender.startswith(("mailer-daemon@", "postmaster@"))
            # A delivery or read report (RFC 6522: bounces, receipts), whoever it is from.
            or msg.get_content_type() == "multipart/report")
    return Reply(message_key(message_id, raw), message_id, sender, recipients,
                 strip_reply(body), auto, tuple(files))

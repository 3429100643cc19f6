"""Sending one email over SMTP (aiosmtplib), configured by ``LIVECHAT_SMTP_URL``.

``smtp://user:pass@host:587`` speaks STARTTLS when the server offers it (and requires it when
credentials are given: a password never goes out in the clear); ``smtps://…:465`` is TLS from
the first byte. A failure is ``Permanent`` when the server answered 5xx (the address or the
message is refused: retrying will not help) and ``Passing`` otherwise (4xx, a refused or dropped
connection, a timeout), which the outbox retries with backoff.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib


class SmtpError(ValueError):
    """A malformed ``LIVECHAT_SMTP_URL``."""


class SendFailed(Exception):
    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Permanent(SendFailed):
    """The server refused for good (5xx)."""


class Passing(SendFailed):
    """Worth trying again later (4xx, no connection, a timeout)."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool  # TLS from the start (smtps)
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0


def parse_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpError("the scheme is smtp:// (STARTTLS) or smtps:// (TLS)")
    if not parts.hostname:
        raise SmtpError("no host")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise SmtpError("the port is a number") from None
    return SmtpConfig(parts.hostname, port, parts.scheme == "smtps",
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)


def _answer(exc: aiosmtplib.SMTPException) -> tuple[int | None, str]:
    """The server's answer: its code (None if it gave none) and its words. A refusal of the
    recipients is one per address: the first with the lowest code (a passing 4xx first)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = min(exc.recipients, key=lambda r: r.code)
    code = getattr(exc, "code", None)
    return (code if isinstance(code, int) and code > 0 else None,
            str(getattr(exc, "message", "") or ""))


def flatten(message: EmailMessage, utf8: bool = False) -> bytes:
    """The email's bytes, with header lines up to RFC 5322's 998 characters. At the standard
    library's 78 a long header without spaces (``List-Unsubscribe: <https://…?t=…>``) is
    written as RFC 2047 encoded words, which mail clients do not read as a URI: one-click
    unsubscribe (RFC 8058) would not be offered."""
    policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    return message.as_bytes(policy=policy.clone(max_line_length=998))


async def send(config: SmtpConfig, message: EmailMessage, sender: str,
               recipients: list[str]) -> None:
    """Deliver ``message`` to ``recipients`` (the envelope), or raise ``Permanent`` / ``Passing``.
    The reason never carries the password."""
    utf8 = not all(address.isascii() for address in (sender, *recipients))
    try:
        await aiosmtplib.send(
            flatten(message, utf8), sender=sender, recipients=recipients,
            mail_options=["SMTPUTF8"] if utf8 else None, hostname=config.host,
            port=config.port, username=config.username, password=config.password,
            use_tls=config.tls,
            # smtps: TLS already; with credentials STARTTLS is required; else used if offered.
            start_tls=False if config.tls else (True if config.username else None),
            validate_certs=True, timeout=config.timeout)
    except aiosmtplib.SMTPException as exc:
        code, words = _answer(exc)
        reason = f"{code} {words or type(exc).__name__}" if code else (
            f"{type(exc).__name__}: {exc}")
        if code is not None and 500 <= code < 600:
            raise Permanent(reason[:300], code) from None
        raise Passing(reason[:300], code) from None
    except (OSError, TimeoutError) as exc:
        raise Passing(f"{type(exc).__name__}: {exc}"[:300]) from None

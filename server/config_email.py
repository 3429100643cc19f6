"""The email settings' checks (docs/email.md), part of ``Settings.validate``: each setting
malformed or contradicting another is a ``ConfigError`` naming it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from server.config import MIN_SECRET_CHARS, ConfigError, valid_port

if TYPE_CHECKING:
    from server.config import Settings


def check_email(settings: Settings) -> None:
    """Refuse (``ConfigError``) the first email setting that is malformed or contradicts
    another."""
    from server.mail.smtp import SmtpError, parse_url  # (no import cycle at module load)
    if settings.smtp_url:
        try:
            parse_url(settings.smtp_url)
        except SmtpError as exc:
            raise ConfigError(f"LIVECHAT_SMTP_URL: {exc}") from None
        if not settings.public_url:
            raise ConfigError("email needs LIVECHAT_PUBLIC_URL: its links (the chat, "
                              "unsubscribe) must be absolute")
    if settings.email_reply_domain and not re.fullmatch(
            r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", settings.email_reply_domain):
        raise ConfigError("LIVECHAT_EMAIL_REPLY_DOMAIN is a domain name (reply.example.com)")
    if ((settings.smtp_listen or settings.email_inbound_secret)
            and not settings.email_reply_domain):
        raise ConfigError("inbound email needs LIVECHAT_EMAIL_REPLY_DOMAIN")
    if settings.smtp_listen and not (
            re.fullmatch(r"\[?[0-9A-Za-z.:_-]*\]?:\d{1,5}", settings.smtp_listen)
            and valid_port(settings.smtp_listen.rpartition(":")[2])):
        raise ConfigError("LIVECHAT_SMTP_LISTEN is host:port, the port 1 to 65535 "
                          "(0.0.0.0:2525)")
    if settings.email_from:
        from server.site_profile import check_email_from
        try:
            check_email_from(settings.email_from)
        except ValueError:
            raise ConfigError("LIVECHAT_EMAIL_FROM is an address, or a name and <address> "
                              "(Acme Support <support@acme.example>), on one line") from None
    if settings.email_inbound_secret and len(settings.email_inbound_secret) < MIN_SECRET_CHARS:
        raise ConfigError("LIVECHAT_EMAIL_INBOUND_SECRET needs 16+ characters")
    if min(settings.email_delay, settings.email_retry, settings.email_give_up,
           settings.email_lease, settings.email_poll) < 0 \
            or min(settings.email_lease, settings.email_poll) == 0:
        raise ConfigError("email delays and intervals must be positive")
    if not -1 <= settings.email_digest_hour <= 23:
        raise ConfigError("LIVECHAT_EMAIL_DIGEST_HOUR is 0-23 (UTC), or -1 for none")
    if settings.email_reply_max_age < 60:
        raise ConfigError("LIVECHAT_EMAIL_REPLY_MAX_AGE must be at least 60 seconds")

"""Signed addresses: the reply address that names a conversation, and unsubscribe tokens. Pure.

A reply address is ``r.<key>.<expiry>.<mac>@<LIVECHAT_EMAIL_REPLY_DOMAIN>``: ``key`` is the
conversation's random reply key (``email_threads``: 10 base32 letters), ``expiry`` a Unix time
in base 36, and ``mac`` the first 80 bits of HMAC-SHA256(secret, key | visitor id | expiry) in
base32 — all lower case (mail systems may fold the case of a local part), 36 characters in all
(an SMTP local part may have 64). The visitor's id is in the MAC, not the address: an address
is good for that visitor's conversation only. A forged, altered or expired one is refused
(``Refused``), and the reason is logged, never the address's owner told.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

_LOCAL = re.compile(r"r\.([a-z2-7]{10})\.([0-9a-z]{1,8})\.([a-z2-7]{16})")
UNSUBSCRIBE_SALT = "livechat.email-unsubscribe.v1"
RATING_SALT = "livechat.email-rating.v1"


class Refused(Exception):
    """A reply address that is not ours, forged, altered or expired (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    key: str
    expires: int
    mac: str


def new_key() -> str:
    """A conversation's reply key: 50 random bits, base32, lower case."""
    return base64.b32encode(secrets.token_bytes(10)).decode()[:10].lower()


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _mac(secret: str, key: str, visitor_id: str, expires: int) -> str:
    digest = hmac.new(secret.encode(), f"reply|{key}|{visitor_id}|{expires}".encode(),
                      hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def reply_address(secrets_: Sequence[str], key: str, visitor_id: str, expires: int,
                  domain: str) -> str:
    """The address replies to an email go to (signed with the newest key)."""
    return f"r.{key}.{_b36(expires)}.{_mac(secrets_[0], key, visitor_id, expires)}@{domain}"


def parse(address: str, domain: str) -> ReplyAddress:
    """The parts of a reply address of ``domain`` (not yet checked: see ``check``)."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if host.lower() != domain.lower():
        raise Refused("not the reply domain")
    match = _LOCAL.fullmatch(local.lower())
    if match is None:
        raise Refused("not a reply address")
    return ReplyAddress(match[1], int(match[2], 36), match[3])


def check(secrets_: Sequence[str], address: ReplyAddress, visitor_id: str, now: float) -> None:
    """Raise ``Refused`` unless the address was signed by one of our keys for this visitor's
    conversation and has not expired."""
    if not any(hmac.compare_digest(_mac(s, address.key, visitor_id, address.expires),
                                   address.mac) for s in secrets_):
        raise Refused("forged or altered")
    if address.expires < now:
        raise Refused("expired")


def _unsubscriber(secrets_: Sequence[str]) -> URLSafeSerializer:
    # itsdangerous signs with the last key and verifies with all of them.
    return URLSafeSerializer(list(reversed(secrets_)), salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(secrets_: Sequence[str], site_id: str, address: str, lang: str) -> str:
    """For the unsubscribe link: the site and the address (good for as long as the key)."""
    return str(_unsubscriber(secrets_).dumps([site_id, address.lower(), lang]))


def read_unsubscribe(secrets_: Sequence[str], token: str) -> tuple[str, str, str]:
    """(site id, address, language) of a token, or ``Refused``."""
    try:
        data = _unsubscriber(secrets_).loads(token)
    except BadSignature:
        raise Refused("a forged unsubscribe token") from None
    if (not isinstance(data, list) or len(data) != 3
            or not all(isinstance(x, str) for x in data)):
        raise Refused("a malformed unsubscribe token")
    return data[0], data[1], data[2]


def rating_token(secrets_: Sequence[str], conversation_id: str, visitor_id: str,
                 lang: str) -> str:
    """For the rating links of an email: the conversation and its visitor."""
    serializer = URLSafeSerializer(list(reversed(secrets_)), salt=RATING_SALT)
    return str(serializer.dumps([conversation_id, visitor_id, lang]))


def read_rating(secrets_: Sequence[str], token: str) -> tuple[str, str, str]:
    """(conversation id, visitor id, language) of a rating token, or ``Refused``."""
    try:
        data = URLSafeSerializer(list(reversed(secrets_)), salt=RATING_SALT).loads(token)
    except BadSignature:
        raise Refused("a forged rating token") from None
    if (not isinstance(data, list) or len(data) != 3
            or not all(isinstance(x, str) for x in data)):
        raise Refused("a malformed rating token")
    return data[0], data[1], data[2]

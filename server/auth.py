"""Tokens, passwords and origins. Pure functions and small classes; no I/O besides the clock.

Tokens are itsdangerous timed signatures. Each kind has its own salt (a token minted for one
purpose never verifies for another), an expiry, and a list of keys: the first key of
``Settings.secret_keys`` signs, all of them verify, so a key can be rotated without logging
everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from server.inputs import one_line_name, utf8_text
from server.parsing import valid_email

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class VisitorIdentity:
    site_id: str
    visitor_id: str
    #: For a verified user: when the site's signed identity expires (Unix seconds). The visitor
    #: token carries it, and stops verifying then: an identity does not outlive its signature.
    expires: int | None = None


@dataclass(frozen=True, slots=True)
class AgentSession:
    agent_id: str
    #: Bumped in the store when an agent's sessions must end (password change, deactivation).
    generation: int
    #: The server-side session (a row in the store): signing out deletes it.
    session_id: str = ""


class TokenError(Exception):
    """The token is forged, expired, malformed or was minted for another purpose."""


class Tokens:
    VISITOR = "livechat.visitor.v1"
    AGENT = "livechat.agent-session.v1"
    INVITE = "livechat.invite.v1"
    RESET = "livechat.password-reset.v1"

    def __init__(self, keys: Sequence[str], clock: Clock) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._clock = clock
        clock_ = clock

        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock_())

        # itsdangerous signs with the last key of the list and verifies with all of them.
        ordered = list(reversed(keys))
        self._visitor = URLSafeTimedSerializer(ordered, salt=self.VISITOR, signer=ClockSigner)
        self._agent = URLSafeTimedSerializer(ordered, salt=self.AGENT, signer=ClockSigner)
        self._invite = URLSafeTimedSerializer(ordered, salt=self.INVITE, signer=ClockSigner)
        self._reset = URLSafeTimedSerializer(ordered, salt=self.RESET, signer=ClockSigner)

    def visitor_token(self, identity: VisitorIdentity) -> str:
        payload: dict[str, object] = {"s": identity.site_id, "v": identity.visitor_id}
        if identity.expires is not None:
            payload["x"] = identity.expires
        return self._visitor.dumps(payload)

    def visitor(self, token: str, max_age: int) -> VisitorIdentity:
        data = self._load(self._visitor, token, max_age)
        site, visitor, expires = data.get("s"), data.get("v"), data.get("x")
        if not isinstance(site, str) or not isinstance(visitor, str) or (
                expires is not None and type(expires) is not int):
            raise TokenError("malformed visitor token")
        if expires is not None and expires < self._clock():
            raise TokenError("the signed identity behind this token expired")
        return VisitorIdentity(site, visitor, expires)

    def agent_token(self, session: AgentSession) -> str:
        return self._agent.dumps({"a": session.agent_id, "g": session.generation,
                                  "s": session.session_id})

    def agent(self, token: str, max_age: int) -> AgentSession:
        data = self._load(self._agent, token, max_age)
        agent, generation, session = data.get("a"), data.get("g"), data.get("s")
        if not isinstance(agent, str) or type(generation) is not int or not (
                isinstance(session, str) and session):
            raise TokenError("malformed session")
        return AgentSession(agent, generation, session)

    def reset_token(self, session: AgentSession) -> str:
        """A link to choose a new password: good once (the generation moves on when used)."""
        return self._reset.dumps({"a": session.agent_id, "g": session.generation})

    def reset(self, token: str, max_age: int) -> AgentSession:
        data = self._load(self._reset, token, max_age)
        agent, generation = data.get("a"), data.get("g")
        if not isinstance(agent, str) or type(generation) is not int:
            raise TokenError("malformed reset link")
        return AgentSession(agent, generation)

    def invite_token(self, session: AgentSession) -> str:
        """A link to set one's password: good once (the generation moves on when used)."""
        return self._invite.dumps({"a": session.agent_id, "g": session.generation})

    def invite(self, token: str, max_age: int) -> AgentSession:
        data = self._load(self._invite, token, max_age)
        agent, generation = data.get("a"), data.get("g")
        if not isinstance(agent, str) or type(generation) is not int:
            raise TokenError("malformed invite")
        return AgentSession(agent, generation)

    @staticmethod
    def _load(serializer: URLSafeTimedSerializer, token: str, max_age: int) -> dict[str, Any]:
        try:
            data = serializer.loads(token, max_age=max_age)
        except BadSignature as exc:  # SignatureExpired is a subclass
            raise TokenError(type(exc).__name__) from None
        if not isinstance(data, dict):
            raise TokenError("malformed token")
        return data


# --- verified identity (the site owner's backend vouches for its logged-in users) -----------


def identity_hash(secret: str, user_id: str, expires: int) -> str:
    """What the site's backend computes: hex HMAC-SHA256 of ``"<user id>:<expires>"`` with the
    site's identity secret (``expires`` in Unix seconds). docs/embedding.md has the snippets."""
    message = f"{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def identity_valid(secret: str, user_id: str, expires: int, given: str, now: float,
                   max_lifetime: float = float("inf")) -> bool:
    """Constant-time check of a hash from the widget, and of its expiry: in the future, and at
    most ``max_lifetime`` seconds away (a hash good for years would be a password)."""
    if not now <= expires <= now + max_lifetime:
        return False
    return hmac.compare_digest(identity_hash(secret, user_id, expires), given.lower())


@dataclass(frozen=True, slots=True)
class Claims:
    """What a site's backend vouched for, from a signed identity token."""

    user_id: str
    expires: int
    name: str | None = None
    email: str | None = None




#: How far ahead of ours a site backend's clock may be: a JWT's ``nbf`` up to this many
#: seconds in the future is taken.
NBF_LEEWAY = 60


def identity_claims(secret: str, token: str, now: float, max_lifetime: float) -> Claims:
    """Check a JWT signed with HS256 by the site's backend (PyJWT; no other algorithm is
    accepted, ``none`` least of all) and return its claims: ``sub`` (the user id, 1–256
    printable characters), ``exp`` (in the future, at most ``max_lifetime`` seconds away),
    and optionally ``name`` (≤ 100 characters), ``email`` and ``nbf`` (not valid before, up to
    ``NBF_LEEWAY`` ahead). Raises TokenError."""
    try:
        data = jwt.decode(token, secret, algorithms=["HS256"],
                          options={"require": ["sub", "exp"], "verify_exp": False,
                                   "verify_iat": False, "verify_nbf": False,
                                   # (An ``aud`` was refused for want of an audience to match;
                                   # the secret is the site's own, which says whom it is for.)
                                   "verify_aud": False})
    except jwt.PyJWTError as exc:
        raise TokenError(type(exc).__name__) from None
    sub, exp, name, email = data.get("sub"), data.get("exp"), data.get("name"), data.get("email")
    if not isinstance(sub, str) or not 0 < len(sub) <= 256 or not sub.isprintable():
        raise TokenError("sub must be 1-256 printable characters")
    # (A NumericDate may have a fraction, RFC 7519: one was refused. A black-box tester.)
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or \
            not now <= exp <= now + max_lifetime:
        raise TokenError("exp must be in the future, within the maximum lifetime")
    nbf = data.get("nbf")  # (PyJWT's check uses its own clock: ours is injected)
    if nbf is not None and (type(nbf) not in (int, float) or nbf > now + NBF_LEEWAY):
        raise TokenError("nbf must be a time no later than now")
    if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 100
                             or "\x00" in name):
        raise TokenError("name must be 1-100 characters")
    if any(isinstance(value, str) and not utf8_text(value) for value in (name, email)):
        raise TokenError("name and email must be Unicode text (a lone surrogate is not)")
    if email is not None and (not isinstance(email, str) or not valid_email(email)):
        raise TokenError("email is not an email address")
    if name is not None:  # (signed: shown without what would turn it around)
        name = one_line_name(name) or None
    return Claims(sub, math.ceil(exp), name, email)  # (not before its own time)


def verified_visitor_id(site_id: str, user_id: str) -> str:
    """The same visitor for the same user of a site, on any device."""
    digest = hashlib.sha256(f"{site_id}\x00{user_id}".encode()).digest()
    return "usr_" + base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


# --- passwords ------------------------------------------------------------------------------

# scrypt with n=2**14, r=8 (16 MiB, tens of milliseconds): OWASP's minimum for scrypt.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash to check against when the email is unknown, so that the answer takes as long.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


# --- origins --------------------------------------------------------------------------------


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case with default ports dropped, or None if not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origin_allowed(origin: str | None, allowed: Sequence[str]) -> bool:
    """Exact match after normalisation. A missing Origin header is refused."""
    if not origin:
        return False
    normalized = normalize_origin(origin)
    return normalized is not None and normalized in {normalize_origin(a) for a in allowed}


def new_id(prefix: str) -> str:
    """A server-minted id: prefix, then 128 random bits in URL-safe base64."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"

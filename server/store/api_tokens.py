"""API tokens: who may call ``/api/v1`` (server/endpoints/api_v1.py), kept by the store.

A token is shown once, when it is made: ``lc.<id>.<secret>``. Only the SHA-256 of the secret is
stored (a token is 256 random bits, so a fast hash is enough; nothing is left to guess slowly).
A token belongs to one site, or (``site_id`` None, admins only) to the whole installation; it
carries scopes (``SCOPES``); it is revoked, never deleted, so that its row still says who made it.

Built on the SQLite store's write path (one writer, group commit) and its reader; the SQL is plain
standard SQL so that another store can run it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.auth import new_id
from server.store.base import DB

if TYPE_CHECKING:
    from server.store.facade import Aggregates

#: Every scope a token may carry. ``admin`` grants every other scope as well, and the
#: installation's sites, agents, teams and canned responses.
SCOPES = ("conversations:read", "conversations:write", "visitors:read", "visitors:write",
          "reports:read", "webhooks", "articles:read", "articles:write", "admin")
#: The time between two writes of a token's ``last_used_at`` (ms): not one write per request.
LAST_USED_EVERY_MS = 60_000
_PREFIX = "lc"
_COLS = "id, site_id, name, scopes, created_by, created_at, last_used_at, revoked_at"


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    #: None: every site of the installation (made by an admin, or on the command line).
    site_id: str | None
    name: str
    scopes: frozenset[str]
    #: The agent who made it, or None (the command line).
    created_by: str | None
    created_at: int
    last_used_at: int | None = None
    revoked_at: int | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "site_id": self.site_id, "name": self.name,
                "scopes": sorted(self.scopes), "created_by": self.created_by,
                "created_at": self.created_at, "last_used_at": self.last_used_at,
                "revoked_at": self.revoked_at}


def _token(row: Sequence[Any]) -> ApiToken:
    return ApiToken(row[0], row[1], row[2], frozenset(row[3].split()), row[4], row[5], row[6],
                    row[7])


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """(id, secret) of a token string, or None when it is not one of ours."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1].startswith("tok_"):
        return None
    return parts[1], parts[2]


def check_scopes(scopes: Sequence[str]) -> frozenset[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r} (scopes: {', '.join(SCOPES)})")
    if not scopes:
        raise ValueError(f"a token needs at least one scope ({', '.join(SCOPES)})")
    return frozenset(scopes)


class ApiTokens:
    """The tokens, on the store's connections."""

    def __init__(self, store: Aggregates) -> None:
        self._store = store

    def _now(self) -> int:
        return int(self._store.clock() * 1000)

    async def create(self, site_id: str | None, name: str, scopes: Sequence[str],
                     created_by: str | None = None) -> tuple[ApiToken, str]:
        """A new token and its string (shown once: only its hash is kept). A site token may not
        carry ``admin``: that scope is the installation's."""
        wanted = check_scopes(scopes)
        if site_id is not None and "admin" in wanted:
            raise ValueError("the admin scope is for installation-wide tokens (no --site)")
        name = name.strip()
        if not 0 < len(name) <= 100:
            raise ValueError("a token needs a name of 1 to 100 characters")
        token_id, secret, now = new_id("tok"), secrets.token_urlsafe(32), self._now()

        def op(db: DB) -> ApiToken:
            if site_id is not None and db.execute("SELECT 1 FROM sites WHERE id = ?",
                                                  (site_id,)).fetchone() is None:
                raise ValueError(f"no such site: {site_id}")
            db.execute(
                "INSERT INTO api_tokens(id, site_id, name, scopes, secret_hash, created_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, site_id, name, " ".join(sorted(wanted)), _digest(secret), created_by,
                 now))
            return ApiToken(token_id, site_id, name, wanted, created_by, now)

        made = await self._store.submit(op)
        return made, f"{_PREFIX}.{token_id}.{secret}"

    async def list(self, site_ids: Sequence[str] | None = None) -> list[ApiToken]:
        """Every token (revoked ones too), newest first; ``site_ids``: only those sites'."""
        rows = await self._store.read_all(
            f"SELECT {_COLS} FROM api_tokens ORDER BY created_at DESC, id")
        found = [_token(row) for row in rows]
        if site_ids is not None:
            found = [t for t in found if t.site_id in site_ids]
        return found

    async def get(self, token_id: str) -> ApiToken | None:
        row = await self._store.read_one(f"SELECT {_COLS} FROM api_tokens WHERE id = ?",
                                         (token_id,))
        return _token(row) if row else None

    async def revoke(self, token_id: str) -> ApiToken:
        """Revoked at once on every process (each request reads the token); twice is a no-op."""
        now = self._now()

        def op(db: DB) -> ApiToken:
            db.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                       (now, token_id))
            row = db.execute(f"SELECT {_COLS} FROM api_tokens WHERE id = ?",
                             (token_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such token: {token_id}")
            return _token(row)

        return await self._store.submit(op)

    async def authenticate(self, token: str) -> ApiToken | None:
        """The live token a string names, its secret compared in constant time; None for any
        other string (malformed, unknown, wrong secret, revoked)."""
        parsed = parse(token)
        if parsed is None:
            return None
        token_id, secret = parsed
        row = await self._store.read_one(
            f"SELECT {_COLS}, secret_hash FROM api_tokens WHERE id = ?", (token_id,))
        if row is None or not hmac.compare_digest(row[8], _digest(secret)):
            return None
        found = _token(row)
        return None if found.revoked_at is not None else found

    async def touch(self, token: ApiToken) -> None:
        """Record a use (at most once a minute per token: not one write per request)."""
        now = self._now()
        if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY_MS:
            return

        def op(db: DB) -> None:
            db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token.id))

        await self._store.submit(op)


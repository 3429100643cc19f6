"""What is known of a visitor: who they say (or the site vouches) they are, their
browser, the pages they visit, their address."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from server.errors import ChatError, Code
from server.store.base import (
    CONV_COLS,
    CONV_FROM,
    DB,
    ERASED_LOOKUP,
    ERASED_PREFIX,
    VERIFIED,
    Base,
    conv_row,
    ensure_visitor,
    erased_digest,
    kept_erased,
    visitor_row,
)
from server.store.models import (
    Conversation,
    Page,
    Visitor,
)

_MAX_ATTRIBUTES = 50
_MAX_PAGES = 50



class VisitorStore(Protocol):
    """What ``Visitors`` offers (``server.store.Store`` is every such protocol)."""

    async def upsert_visitor(self, site_id: str, visitor_id: str, external_id: str,
                             name: str | None, email: str | None, *,
                             signed: bool = False) -> None: ...
    async def visitor(self, visitor_id: str) -> Visitor | None: ...
    async def was_erased(self, visitor_id: str) -> bool: ...
    async def set_visitor_profile(self, site_id: str, visitor_id: str, name: str | None,
                                  email: str | None,
                                  attributes: dict[str, Any] | None = None,
                                  ) -> Conversation | None: ...
    async def set_visitor_attributes(self, site_id: str, visitor_id: str,
                                     attributes: dict[str, Any]) -> None: ...
    async def visitor_conversations(self, visitor_id: str,
                                    limit: int = 20) -> list[Conversation]: ...
    async def set_visitor_context(self, site_id: str, visitor_id: str, *,
                                  user_agent: str | None, language: str | None,
                                  timezone: str | None, referrer: str | None,
                                  page: tuple[str, str] | None) -> int | None: ...
    async def visitor_pages(self, visitor_id: str) -> list[Page]: ...
    async def note_visitor_ip(self, visitor_id: str, ip: str) -> None: ...


class Visitors(Base):
    async def upsert_visitor(self, site_id: str, visitor_id: str, external_id: str,
                             name: str | None, email: str | None, *, signed: bool = False) -> None:
        """Record who a verified visitor is (what the site's backend vouched for).

        ``signed``: the name and email are covered by the signature (a JWT), and replace what
        was known. Otherwise only the user id is (the older hash): a name or email given beside
        it is kept as the visitor's own word, and the visitor no longer shows as verified while
        it is shown, unless signed values are already known (those are kept). A name or email
        that changes is a ``visitor.updated``, as from a form."""
        now = self._now()

        def op(db: DB) -> None:
            db.execute(
                "INSERT INTO visitors(id, site_id, created_at, external_id, verified) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT(id) DO UPDATE SET "
                "external_id = excluded.external_id, verified = 1",
                (visitor_id, site_id, now, external_id))
            before = _profile(db, visitor_id)
            if signed:
                db.execute("UPDATE visitors SET name = ?, email = ?, claims_signed = 1 "
                           "WHERE id = ?", (name, email, visitor_id))
            elif name is not None or email is not None:
                db.execute("UPDATE visitors SET name = coalesce(?, name), "
                           "email = coalesce(?, email), claims_signed = 0 "
                           "WHERE id = ? AND claims_signed = 0", (name, email, visitor_id))
            self._announce(db, site_id, visitor_id, before)

        await self._submit(op)

    async def visitor(self, visitor_id: str) -> Visitor | None:
        """The visitor; None for an erasure's placeholder, which leads nowhere (its id starts
        with ``erased_``: server/store/privacy.py), so the API neither shows nor changes it."""
        if visitor_id.startswith(ERASED_PREFIX):
            return None
        row = await self._one(
            f"SELECT id, site_id, name, email, {VERIFIED}, attributes, user_agent, language, "
            "timezone, referrer FROM visitors v WHERE id = ?",
            (visitor_id,))
        return visitor_row(row) if row else None

    async def was_erased(self, visitor_id: str) -> bool:
        """Whether this visitor was erased (server/store/privacy.py keeps a digest of the id;
        never for a verified visitor: ``kept_erased``)."""
        return kept_erased(visitor_id) and await self._one(
            ERASED_LOOKUP, (erased_digest(visitor_id),)) is not None

    async def set_visitor_profile(self, site_id: str, visitor_id: str, name: str | None,
                                  email: str | None,
                                  attributes: dict[str, Any] | None = None,
                                  ) -> Conversation | None:
        """What a visitor typed into the pre-chat or offline form. A verified visitor's name and
        email come from the site's backend and are not overwritten. ``attributes`` are merged
        in the same transaction (the REST API's ``PATCH`` of both: one change, one
        ``visitor.updated``, and nothing written when the attributes are refused). Returns the
        visitor's open conversation (its summary changed), if any."""
        now = self._now()

        def op(db: DB) -> Conversation | None:
            ensure_visitor(db, site_id, visitor_id, now)
            before = _profile(db, visitor_id)
            db.execute(
                "UPDATE visitors SET name = coalesce(?, name), email = coalesce(?, email) "
                "WHERE id = ? AND verified = 0", (name, email, visitor_id))
            if attributes is not None:
                _merge_attributes(db, visitor_id, attributes)
            self._announce(db, site_id, visitor_id, before)
            row = db.execute("SELECT id FROM conversations WHERE visitor_id = ? "
                             "AND status != 'resolved'", (visitor_id,)).fetchone()
            return self._load_conversation(db, row[0]) if row else None

        return await self._submit(op)

    async def set_visitor_attributes(self, site_id: str, visitor_id: str,
                                     attributes: dict[str, Any]) -> None:
        """Merge custom attributes the site sent (``LiveChat('set', …)``); a null removes one."""
        now = self._now()

        def op(db: DB) -> None:
            ensure_visitor(db, site_id, visitor_id, now)
            before = _profile(db, visitor_id)
            _merge_attributes(db, visitor_id, attributes)
            self._announce(db, site_id, visitor_id, before)

        await self._submit(op)

    def _announce(self, db: DB, site_id: str, visitor_id: str, before: Any) -> None:
        """``on_visitor`` (``visitor.updated``), in the write's transaction, when the name, email
        or attributes changed: not for a page load that sets what is already known, nor for a
        ``PATCH`` of the same values, nor for a verified visitor's ignored name."""
        if self.on_visitor is not None and _profile(db, visitor_id) != before:
            self.on_visitor(db, site_id, visitor_id)

    async def visitor_conversations(self, visitor_id: str, limit: int = 20) -> list[
        Conversation
    ]:
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.visitor_id = ? "
            "ORDER BY c.created_at DESC LIMIT ?", (visitor_id, limit))
        return [conv_row(r) for r in rows]

    async def set_visitor_context(self, site_id: str, visitor_id: str, *,
                                  user_agent: str | None, language: str | None,
                                  timezone: str | None, referrer: str | None,
                                  page: tuple[str, str] | None) -> int | None:
        """What the visitor's browser reports, and the page they are on (kept: the last 50).
        Returns the time the page was recorded at (ms), or None when there was no new page (none
        given, or the one they were on already: a reload, another tab)."""
        now = self._now()

        def op(db: DB) -> int | None:
            ensure_visitor(db, site_id, visitor_id, now)
            db.execute(
                "UPDATE visitors SET user_agent = coalesce(?, user_agent), "
                "language = coalesce(?, language), timezone = coalesce(?, timezone), "
                "referrer = coalesce(referrer, ?) WHERE id = ?",
                (user_agent, language, timezone, referrer, visitor_id))
            if page is None:
                return None
            last = db.execute("SELECT url, at FROM visitor_pages WHERE visitor_id = ? "
                              "ORDER BY at DESC LIMIT 1", (visitor_id,)).fetchone()
            if last is not None and last[0] == page[0]:
                return None  # a reload, or a second tab on the same page
            # Each page later than the last, even within one millisecond: their order is the
            # order the visitor went (and which one is "the last" stays certain).
            at = now if last is None else max(now, int(last[1]) + 1)
            db.execute("INSERT INTO visitor_pages VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       (visitor_id, at, page[0], page[1]))
            db.execute(
                "DELETE FROM visitor_pages WHERE visitor_id = ? AND at < (SELECT at FROM "
                "visitor_pages WHERE visitor_id = ? ORDER BY at DESC LIMIT 1 OFFSET ?)",
                (visitor_id, visitor_id, _MAX_PAGES - 1))
            return at

        return await self._submit(op)

    async def visitor_pages(self, visitor_id: str) -> list[Page]:
        rows = await self._all("SELECT url, title, at FROM visitor_pages WHERE visitor_id = ? "
                               "ORDER BY at DESC", (visitor_id,))
        return [Page(r[0], r[1], r[2]) for r in rows]

    async def note_visitor_ip(self, visitor_id: str, ip: str) -> None:
        """The address a visitor (with a row) last came from: what an address block blocks."""
        if (await self._one("SELECT 1 FROM visitors WHERE id = ? AND "
                            "(last_ip IS NULL OR last_ip != ?)", (visitor_id, ip))) is None:
            return  # no row yet, or nothing new: no write

        def op(db: DB) -> None:
            db.execute("UPDATE visitors SET last_ip = ? WHERE id = ?", (ip, visitor_id))

        await self._submit(op)


def _profile(db: DB, visitor_id: str) -> Any:
    """What ``visitor.updated`` tells: the visitor's name, email and attributes."""
    return tuple(db.execute("SELECT name, email, attributes FROM visitors WHERE id = ?",
                            (visitor_id,)).fetchone())


def _merge_attributes(db: DB, visitor_id: str, attributes: dict[str, Any]) -> None:
    """Merge ``attributes`` into the visitor's (a null removes one); more than
    ``_MAX_ATTRIBUTES`` in all is refused."""
    known = orjson.loads(db.execute("SELECT attributes FROM visitors WHERE id = ?",
                                    (visitor_id,)).fetchone()[0])
    for key, value in attributes.items():
        if value is None:
            known.pop(key, None)
        else:
            known[key] = value
    if len(known) > _MAX_ATTRIBUTES:
        raise ChatError(Code.TOO_MANY, f"at most {_MAX_ATTRIBUTES} attributes")
    db.execute("UPDATE visitors SET attributes = ? WHERE id = ?",
               (orjson.dumps(known).decode(), visitor_id))

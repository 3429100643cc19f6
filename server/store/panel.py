"""Panel state: tags, canned responses, snooze, and the panel's conversation lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from server.errors import ChatError, Code
from server.store.activity import newest_first
from server.store.base import (
    CANNED_COLS,
    DB,
    INTEGRITY,
    Base,
    canned_row,
    conv_row,
    skip_locked,
)
from server.store.followups import MAX_AHEAD_DAYS, MAX_AHEAD_MS
from server.store.models import (
    Agent,
    Canned,
    Conversation,
)

_MAX_TAGS = 20



class PanelStore(Protocol):
    """What ``Panel`` offers (``server.store.Store`` is every such protocol)."""

    async def set_tag(self, site_ids: Sequence[str], conversation_id: str, tag: str,
                      on: bool) -> Conversation: ...
    async def canned(self, agent: Agent, site_ids: Sequence[str]) -> list[Canned]: ...
    async def save_canned(self, agent: Agent, site_ids: Sequence[str], canned_id: str | None,
                          site_id: str, shortcut: str, body: str, shared: bool) -> Canned: ...
    async def delete_canned(self, agent: Agent, site_ids: Sequence[str],
                            canned_id: str) -> None: ...
    async def conversation_list(self, site_ids: Sequence[str], *, status: str | None = None,
                                tag: str | None = None, before: tuple[int, str] | None = None,
                                limit: int = 50) -> list[Conversation]: ...
    async def snooze(self, site_ids: Sequence[str], conversation_id: str,
                     until: int | None) -> Conversation: ...
    async def wake_snoozed(self) -> list[Conversation]: ...


class Panel(Base):
    async def set_tag(self, site_ids: Sequence[str], conversation_id: str, tag: str,
                      on: bool) -> Conversation:
        """Add or remove one tag (tags are state, not events: no seq). Adding a tag the
        conversation has, or removing one it has not, changes nothing (not even its time)."""
        now = self._now()

        def op(db: DB) -> Conversation:
            self._authorized(db, conversation_id, site_ids)
            if on:
                # (The tag itself not counted: adding it again is not a 21st.)
                if db.execute("SELECT count(*) FROM conversation_tags WHERE conversation_id = ? "
                              "AND tag != ?", (conversation_id, tag)).fetchone()[0] >= _MAX_TAGS:
                    raise ChatError(Code.TOO_MANY, f"at most {_MAX_TAGS} tags")
                changed = db.execute("INSERT INTO conversation_tags VALUES (?, ?) "
                                     "ON CONFLICT DO NOTHING", (conversation_id, tag)).rowcount
            else:
                changed = db.execute("DELETE FROM conversation_tags WHERE conversation_id = ? "
                                     "AND tag = ?", (conversation_id, tag)).rowcount
            if changed:
                db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                           (now, conversation_id))
            return self._load_conversation(db, conversation_id)

        return await self._submit(op)

    async def canned(self, agent: Agent, site_ids: Sequence[str]) -> list[Canned]:
        """The site-wide responses of these sites, and the agent's own."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {CANNED_COLS} FROM canned WHERE site_id IN ({marks}) AND (owner_id IS NULL OR "
            "owner_id = ?) ORDER BY shortcut, owner_id IS NULL, id", (*site_ids, agent.id))
        return [canned_row(r) for r in rows]

    async def save_canned(self, agent: Agent, site_ids: Sequence[str], canned_id: str | None,
                          site_id: str, shortcut: str, body: str, shared: bool) -> Canned:
        """Create or change a canned response. Shared ones are the site admins' to manage."""
        now = self._now()
        if shared and agent.role != "admin":
            raise ChatError(Code.FORBIDDEN, "only admins manage shared responses")
        if site_id not in site_ids:
            raise ChatError(Code.NOT_FOUND, "no such site")
        owner = None if shared else agent.id

        def op(db: DB) -> Canned:
            if canned_id is not None:
                self._own_canned(db, agent, site_ids, canned_id)
            new_id = canned_id or self._ids("canned")
            try:
                db.execute(
                    "INSERT INTO canned VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "site_id = excluded.site_id, owner_id = excluded.owner_id, "
                    "shortcut = excluded.shortcut, body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    (new_id, site_id, owner, shortcut, body, now))
            except INTEGRITY:
                raise ChatError(Code.ID_CONFLICT, f"/{shortcut} is taken") from None
            return Canned(new_id, site_id, owner, shortcut, body, now)

        return await self._submit(op)

    async def delete_canned(self, agent: Agent, site_ids: Sequence[str], canned_id: str) -> None:
        def op(db: DB) -> None:
            self._own_canned(db, agent, site_ids, canned_id)
            db.execute("DELETE FROM canned WHERE id = ?", (canned_id,))

        await self._submit(op)

    def _own_canned(self, db: DB, agent: Agent, site_ids: Sequence[str],
                    canned_id: str) -> Canned:
        row = db.execute(f"SELECT {CANNED_COLS} FROM canned WHERE id = ?", (canned_id,)).fetchone()
        canned = canned_row(row) if row else None
        if canned is None or canned.site_id not in site_ids or (
                canned.owner_id is not None and canned.owner_id != agent.id):
            raise ChatError(Code.NOT_FOUND, "no such canned response")
        if canned.owner_id is None and agent.role != "admin":
            raise ChatError(Code.FORBIDDEN, "only admins manage shared responses")
        return canned

    async def conversation_list(self, site_ids: Sequence[str], *, status: str | None = None,
                                tag: str | None = None, before: tuple[int, str] | None = None,
                                limit: int = 50) -> list[Conversation]:
        """Conversations of these sites, newest activity first, a page at a time (``before``:
        the ``updated_at`` and ``id`` of the last one of the previous page)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        where = [f"c.site_id IN ({marks})"]
        params: list[Any] = [*site_ids]
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM conversation_tags t WHERE "
                         "t.conversation_id = c.id AND t.tag = ?)")
            params.append(tag)
        if before is not None:
            where.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            params.extend((before[0], before[0], before[1]))
        rows = await self._all(*newest_first(where, params, status, limit))
        return [conv_row(r) for r in rows]

    async def snooze(self, site_ids: Sequence[str], conversation_id: str,
                     until: int | None) -> Conversation:
        """Out of the inbox until ``until`` (ms, at most ``MAX_AHEAD_DAYS`` ahead, as a
        follow-up), or back now with None."""
        now = self._now()

        def op(db: DB) -> Conversation:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status == "resolved" and until is not None:
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            if until is not None and not now < until <= now + MAX_AHEAD_MS:
                raise ChatError(Code.BAD_FRAME, "snooze until a time in the future, within "
                                f"{MAX_AHEAD_DAYS} days")
            db.execute("UPDATE conversations SET snoozed_until = ?, updated_at = ? WHERE id = ?",
                       (until, now, conversation_id))
            return self._load_conversation(db, conversation_id)

        return await self._submit(op)

    async def wake_snoozed(self) -> list[Conversation]:
        """Conversations whose snooze has run out, woken (each once, whichever process). A read
        first: the routers call this on every sweep, and usually nothing is due."""
        now = self._now()
        if await self._one("SELECT 1 FROM conversations WHERE snoozed_until <= ? LIMIT 1",
                           (now,)) is None:
            return []

        def op(db: DB) -> list[Conversation]:
            rows = db.execute(
                "UPDATE conversations SET snoozed_until = NULL, updated_at = ? WHERE id IN "
                "(SELECT id FROM conversations WHERE snoozed_until IS NOT NULL AND "
                f"snoozed_until <= ?{skip_locked(db)}) RETURNING id", (now, now)).fetchall()
            return [self._load_conversation(db, r[0]) for r in rows]

        return await self._submit(op)

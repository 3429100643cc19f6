"""The REST API's reads that the panel does not need: conversations filtered every way an
integration asks (assignee, team, updated since), visitors found by name or email, and a site's
shared canned responses. Keyset pagination (never OFFSET): each page starts after the last row
of the one before, so rows written meanwhile neither repeat nor go missing.

Plain standard SQL on the store's reader (``LIKE … ESCAPE``, ``IN``, row comparisons spelled
out), so that another store can run it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.store.activity import newest_first
from server.store.base import ERASED_PREFIX, VERIFIED, conv_row, visitor_row
from server.store.models import Canned, Conversation, Visitor

if TYPE_CHECKING:
    from server.store.facade import Aggregates


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    status: str | None = None
    #: An agent id, or "none" for conversations nobody has.
    assignee: str | None = None
    team: str | None = None
    tag: str | None = None
    #: Only conversations changed at or after this (ms).
    updated_since: int | None = None
    visitor: str | None = None


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ApiReads:
    def __init__(self, store: Aggregates) -> None:
        self._store = store

    async def conversations(self, site_ids: Sequence[str], where: ConversationFilter,
                            after: tuple[int, str] | None, limit: int) -> list[Conversation]:
        """Newest activity first; ``after``: (updated_at, id) of the previous page's last."""
        if not site_ids:
            return []
        sql = [f"c.site_id IN ({_marks(site_ids)})"]
        params: list[Any] = [*site_ids]
        if where.assignee == "none":
            sql.append("c.assignee_id IS NULL")
        elif where.assignee is not None:
            sql.append("c.assignee_id = ?")
            params.append(where.assignee)
        if where.team is not None:
            sql.append("c.team_id = ?")
            params.append(where.team)
        if where.tag is not None:
            sql.append("EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id "
                       "AND t.tag = ?)")
            params.append(where.tag)
        if where.updated_since is not None:
            sql.append("c.updated_at >= ?")
            params.append(where.updated_since)
        if where.visitor is not None:
            sql.append("c.visitor_id = ?")
            params.append(where.visitor)
        if after is not None:
            sql.append("(c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))")
            params.extend((after[0], after[0], after[1]))
        rows = await self._store.read_all(*newest_first(sql, params, where.status, limit))
        return [conv_row(row) for row in rows]

    async def visitors(self, site_ids: Sequence[str], query: str, after: str | None,
                       limit: int) -> list[Visitor]:
        """Visitors whose name, email or id contains ``query`` (any case), by id."""
        if not site_ids:
            return []
        params: list[Any] = [*site_ids]
        # (Not an erasure's placeholder: it leads nowhere. server/store/privacy.py)
        sql = [f"site_id IN ({_marks(site_ids)})", "substr(id, 1, ?) != ?"]
        params.extend([len(ERASED_PREFIX), ERASED_PREFIX])
        if query:
            sql.append("(lower(coalesce(name, '')) LIKE ? ESCAPE '\\' OR "
                       "lower(coalesce(email, '')) LIKE ? ESCAPE '\\' OR "
                       "lower(id) LIKE ? ESCAPE '\\')")
            params.extend([_like(query)] * 3)
        if after is not None:
            sql.append("id > ?")
            params.append(after)
        rows = await self._store.read_all(
            f"SELECT id, site_id, name, email, {VERIFIED}, attributes, user_agent, language, "
            f"timezone, referrer FROM visitors v WHERE {' AND '.join(sql)} ORDER BY id LIMIT ?",
            (*params, limit))
        return [visitor_row(row) for row in rows]

    async def shared_canned(self, site_ids: Sequence[str]) -> list[Canned]:
        if not site_ids:
            return []
        rows = await self._store.read_all(
            "SELECT id, site_id, owner_id, shortcut, body, updated_at FROM canned "
            f"WHERE owner_id IS NULL AND site_id IN ({_marks(site_ids)}) "
            "ORDER BY site_id, shortcut", tuple(site_ids))
        return [Canned(*row) for row in rows]

"""The rows reports are made of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.reports import Row as ReportRow
from server.store.base import (
    Base,
)


class ReportStore(Protocol):
    """What ``Reports`` offers (``server.store.Store`` is every such protocol)."""

    async def report_rows(self, site_ids: Sequence[str], start: int, end: int,
                          agent_id: str | None = None,
                          team_id: str | None = None) -> list[ReportRow]: ...


class Reports(Base):
    async def report_rows(self, site_ids: Sequence[str], start: int, end: int,
                          agent_id: str | None = None,
                          team_id: str | None = None) -> list[ReportRow]:
        """One row per conversation of these sites started in [start, end) (ms)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            "SELECT c.id, c.site_id, c.created_at, c.first_assigned_at, "
            "(SELECT min(m.created_at) FROM messages m WHERE m.conversation_id = c.id "
            "AND m.author_type = 'agent' AND m.kind = 'text'), c.resolved_at, c.rating, "
            f"c.assignee_id FROM conversations c WHERE c.site_id IN ({marks}) "
            "AND c.created_at >= ? AND c.created_at < ? "
            "AND (CAST(? AS TEXT) IS NULL OR c.assignee_id = ?) "
            "AND (CAST(? AS TEXT) IS NULL OR c.team_id = ?) ORDER BY c.created_at",
            (*site_ids, start, end, agent_id, agent_id, team_id, team_id))
        return [ReportRow(*r) for r in rows]

"""The rows reports are made of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.reports import Row as ReportRow
from server.store.base import (
    Base,
)
from server.store.people import BOT_FIRST, HANDED, PERSON_JOIN, PERSON_REPLY


class ReportStore(Protocol):
    """What ``Reports`` offers (``server.store.Store`` is every such protocol)."""

    async def report_rows(self, site_ids: Sequence[str], start: int, end: int,
                          agent_id: str | None = None,
                          team_id: str | None = None) -> list[ReportRow]: ...


class Reports(Base):
    async def report_rows(self, site_ids: Sequence[str], start: int, end: int,
                          agent_id: str | None = None,
                          team_id: str | None = None) -> list[ReportRow]:
        """One row per conversation of these sites started in [start, end) (ms), with what
        people did in it and what its bot did, from its events (server/store/people.py)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT c.id, c.site_id, c.created_at, {PERSON_JOIN}, {PERSON_REPLY}, "
            f"c.resolved_at, c.rating, c.assignee_id, {BOT_FIRST}, {HANDED} "
            f"FROM conversations c WHERE c.site_id IN ({marks}) "
            "AND c.created_at >= ? AND c.created_at < ? "
            "AND (CAST(? AS TEXT) IS NULL OR c.assignee_id = ?) "
            "AND (CAST(? AS TEXT) IS NULL OR c.team_id = ?) ORDER BY c.created_at",
            (*site_ids, start, end, agent_id, agent_id, team_id, team_id))
        return [ReportRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9])
                for r in rows]

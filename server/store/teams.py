"""Teams of a site, and the team a conversation is given to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.errors import ChatError, Code
from server.store.base import (
    DB,
    INTEGRITY,
    Base,
)
from server.store.models import (
    Conversation,
    Team,
)


class TeamStore(Protocol):
    """What ``Teams`` offers (``server.store.Store`` is every such protocol)."""

    async def teams(self, site_ids: Sequence[str] | None = None) -> list[Team]: ...
    async def save_team(self, team_id: str | None, name: str, members: Sequence[str],
                        site_id: str | None = None) -> Team: ...
    async def delete_team(self, team_id: str) -> None: ...
    async def assign_team(self, site_ids: Sequence[str], conversation_id: str,
                          team_id: str | None) -> Conversation: ...


class Teams(Base):
    async def teams(self, site_ids: Sequence[str] | None = None) -> list[Team]:
        """Teams of these sites (None: every site's)."""
        where, params = "", tuple(site_ids or ())
        if site_ids is not None:
            where = f"WHERE t.site_id IN ({','.join('?' * len(site_ids)) or 'NULL'})"
            params = tuple(site_ids)
        rows = await self._all(
            "SELECT t.id, t.name, (SELECT group_concat(agent_id, ',') FROM team_members m "
            f"WHERE m.team_id = t.id), t.site_id FROM teams t {where} ORDER BY t.name, t.site_id",
            params)
        return [Team(r[0], r[1], tuple(sorted(r[2].split(","))) if r[2] else (), r[3])
                for r in rows]

    async def save_team(self, team_id: str | None, name: str, members: Sequence[str],
                        site_id: str | None = None) -> Team:
        """Create a team of ``site_id`` (required for a new team), or change one (its site stays).
        Members must work on the team's site (admins work on every site)."""
        name = name.strip()
        if not 0 < len(name) <= 60:
            raise ValueError("a team name is 1 to 60 characters")
        if team_id is None and not site_id:
            raise ValueError("a team needs a site")
        now = self._now()

        def op(db: DB) -> Team:
            tid = team_id or self._ids("team")
            site = site_id
            if team_id is not None:
                row = db.execute("SELECT site_id FROM teams WHERE id = ?", (team_id,)).fetchone()
                if row is None:
                    raise ValueError(f"no such team: {team_id}")
                site = row[0]
            elif db.execute("SELECT 1 FROM sites WHERE id = ?", (site,)).fetchone() is None:
                raise ValueError("no such site")
            known = {r[0] for r in db.execute(
                "SELECT a.id FROM agents a WHERE a.role = 'admin' OR EXISTS (SELECT 1 FROM "
                "agent_sites s WHERE s.agent_id = a.id AND s.site_id = ?)", (site,))}
            if set(members) - known:
                raise ValueError("every member must be an agent of the team's site")
            try:
                db.execute("INSERT INTO teams(id, site_id, name, created_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                           (tid, site, name, now))
            except INTEGRITY:
                raise ValueError(f"this site has a team called {name!r}") from None
            db.execute("DELETE FROM team_members WHERE team_id = ?", (tid,))
            db.executemany("INSERT INTO team_members VALUES (?, ?)",
                           [(tid, m) for m in sorted(set(members))])
            return Team(tid, name, tuple(sorted(set(members))), str(site))

        return await self._submit(op)

    async def delete_team(self, team_id: str) -> None:
        def op(db: DB) -> None:
            db.execute("UPDATE conversations SET team_id = NULL WHERE team_id = ?", (team_id,))
            db.execute("DELETE FROM team_members WHERE team_id = ?", (team_id,))
            if db.execute("DELETE FROM teams WHERE id = ?", (team_id,)).rowcount != 1:
                raise ValueError(f"no such team: {team_id}")

        await self._submit(op)

    async def assign_team(self, site_ids: Sequence[str], conversation_id: str,
                          team_id: str | None) -> Conversation:
        now = self._now()

        def op(db: DB) -> Conversation:
            conv = self._authorized(db, conversation_id, site_ids)
            if team_id is not None and db.execute(
                    "SELECT 1 FROM teams WHERE id = ? AND site_id = ?",
                    (team_id, conv.site_id)).fetchone() is None:
                raise ChatError(Code.NOT_FOUND, "no such team on this conversation's site")
            db.execute("UPDATE conversations SET team_id = ?, updated_at = ? WHERE id = ?",
                       (team_id, now, conversation_id))
            return self._load_conversation(db, conversation_id)

        return await self._submit(op)

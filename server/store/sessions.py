"""Agents' signed-in sessions, kept on the server so that signing out ends one for real."""

from __future__ import annotations

from typing import Protocol

from server.store.base import (
    AGENT_COLS_A,
    DB,
    Base,
    agent_row,
)
from server.store.models import (
    Agent,
)


class SessionStore(Protocol):
    """What ``Sessions`` offers (``server.store.Store`` is every such protocol)."""

    async def create_session(self, agent_id: str, max_age: int) -> str: ...
    async def session_agent(self, session_id: str) -> Agent | None: ...
    async def end_session(self, session_id: str) -> None: ...
    async def end_sessions(self, agent_id: str) -> list[str]: ...
    async def change_password(self, agent_id: str, password_hash: str) -> list[str]: ...


class Sessions(Base):
    # --- agent sessions ---------------------------------------------------------------------

    async def create_session(self, agent_id: str, max_age: int) -> str:
        """A new signed-in session of the agent, valid ``max_age`` seconds (expired ones of
        every agent are deleted on the way)."""
        now = self._now()
        session_id = self._ids("sess")

        def op(db: DB) -> str:
            db.execute("DELETE FROM agent_sessions WHERE expires_at <= ?", (now,))
            db.execute("INSERT INTO agent_sessions VALUES (?, ?, ?, ?)",
                       (session_id, agent_id, now, now + max_age * 1000))
            return session_id

        return await self._submit(op)

    async def session_agent(self, session_id: str) -> Agent | None:
        """The agent of a live session (not signed out, not expired), else None."""
        row = await self._one(
            f"SELECT {AGENT_COLS_A} FROM agent_sessions s JOIN agents a ON a.id = s.agent_id "
            "WHERE s.id = ? AND s.expires_at > ?", (session_id, self._now()))
        return agent_row(row) if row else None

    async def end_session(self, session_id: str) -> None:
        def op(db: DB) -> None:
            db.execute("DELETE FROM agent_sessions WHERE id = ?", (session_id,))

        await self._submit(op)

    async def end_sessions(self, agent_id: str) -> list[str]:
        """Sign the agent out everywhere; the ids of the sessions ended."""

        def op(db: DB) -> list[str]:
            rows = db.execute("DELETE FROM agent_sessions WHERE agent_id = ? RETURNING id",
                              (agent_id,)).fetchall()
            return [r[0] for r in rows]

        return await self._submit(op)

    async def change_password(self, agent_id: str, password_hash: str) -> list[str]:
        """A new password: every session ends (the generation moves on, the rows go); the ids
        of the sessions ended."""

        def op(db: DB) -> list[str]:
            if db.execute("UPDATE agents SET password_hash = ?, session_generation = "
                          "session_generation + 1 WHERE id = ? AND active = 1",
                          (password_hash, agent_id)).rowcount != 1:
                raise ValueError("no such active agent")
            rows = db.execute("DELETE FROM agent_sessions WHERE agent_id = ? RETURNING id",
                              (agent_id,)).fetchall()
            return [r[0] for r in rows]

        return await self._submit(op)

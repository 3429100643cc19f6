"""The directory: sites and agents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from server import site_profile
from server.auth import normalize_origin
from server.store.base import (
    AGENT_COLS,
    DB,
    INTEGRITY,
    SITE_COLS,
    Base,
    agent_row,
    site_row,
)
from server.store.models import (
    Agent,
    Role,
    Site,
)


def site_name(name: str) -> str:
    """A site's name as stored (without the spaces around it); a ``ValueError`` if it is blank
    or longer than 100 characters."""
    if not 0 < len(name.strip()) <= 100:
        raise ValueError("a site name is 1 to 100 characters")
    return name.strip()


class DirectoryStore(Protocol):
    """What ``Directory`` offers (``server.store.Store`` is every such protocol)."""

    async def site(self, site_id: str) -> Site | None: ...
    async def sites(self) -> list[Site]: ...
    async def agent(self, agent_id: str) -> Agent | None: ...
    async def agent_by_email(self, email: str) -> Agent | None: ...
    async def agents(self) -> list[Agent]: ...
    async def agent_site_ids(self, agent: Agent) -> list[str]: ...
    async def site_agents(self, site_ids: Sequence[str]) -> list[Agent]: ...
    async def create_site(self, name: str, allowed_origins: Sequence[str]) -> Site: ...
    async def create_agent(
        self, email: str, name: str, password_hash: str, role: Role, site_ids: Sequence[str]
    ) -> Agent: ...
    async def set_site_options(
        self, site_id: str, *, auto_assign: bool | None = None,
        identity_secret: str | None = None, identity_mode: str | None = None,
        allowed_origins: Sequence[str] | None = None, name: str | None = None,
    ) -> Site: ...
    async def set_agent_capacity(self, agent_id: str, capacity: int) -> None: ...
    async def set_site_profile(self, site_id: str, **changes: Any) -> Site: ...
    async def update_agent(self, agent_id: str, *, name: str | None = None,
                           role: str | None = None, site_ids: Sequence[str] | None = None,
                           capacity: int | None = None, active: bool | None = None) -> Agent: ...
    async def set_password(self, agent_id: str, generation: int,
                           password_hash: str) -> Agent: ...
    async def set_agent_avatar(self, agent_id: str, file: str | None,
                               content_type: str | None) -> tuple[Agent, str | None]:
        """Set (or, with None, remove) the agent's picture; returns the agent and the file the
        new one replaced, which the caller deletes."""
        ...
    async def agent_sites(self) -> dict[str, list[str]]: ...


class Directory(Base):
    async def site(self, site_id: str) -> Site | None:
        row = await self._one(f"SELECT {SITE_COLS} FROM sites WHERE id = ?", (site_id,))
        return site_row(row) if row else None

    async def sites(self) -> list[Site]:
        return [site_row(r) for r in await self._all(
            f"SELECT {SITE_COLS} FROM sites ORDER BY created_at, id")]

    async def agent(self, agent_id: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE id = ?", (agent_id,))
        return agent_row(row) if row else None

    async def agent_by_email(self, email: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE email = ?",
                              (email.strip(),))
        return agent_row(row) if row else None

    async def agents(self) -> list[Agent]:
        rows = await self._all(f"SELECT {AGENT_COLS} FROM agents ORDER BY created_at, id")
        return [agent_row(r) for r in rows]

    async def site_agents(self, site_ids: Sequence[str]) -> list[Agent]:
        """Active agents who work on any of these sites (admins work on all)."""
        marks = ",".join("?" * len(site_ids)) or "NULL"
        rows = await self._all(
            f"SELECT {AGENT_COLS} FROM agents a WHERE a.active = 1 AND (a.role = 'admin' "
            "OR EXISTS (SELECT 1 FROM agent_sites s WHERE s.agent_id = a.id "
            f"AND s.site_id IN ({marks}))) "
            "ORDER BY a.name, a.id", tuple(site_ids),
        )
        return [agent_row(r) for r in rows]

    async def agent_site_ids(self, agent: Agent) -> list[str]:
        if agent.role == "admin":
            rows = await self._all("SELECT id FROM sites ORDER BY id")
        else:
            rows = await self._all(
                "SELECT site_id FROM agent_sites WHERE agent_id = ? ORDER BY site_id", (agent.id,)
            )
        return [r[0] for r in rows]

    async def create_site(self, name: str, allowed_origins: Sequence[str]) -> Site:
        site = Site(self._ids("site"), site_name(name), tuple(allowed_origins), self._now())

        def op(db: DB) -> Site:
            db.execute(
                "INSERT INTO sites(id, name, allowed_origins, created_at) VALUES (?, ?, ?, ?)",
                (site.id, site.name, orjson.dumps(list(site.allowed_origins)).decode(),
                 site.created_at),
            )
            return site

        return await self._submit(op)

    async def create_agent(
        self, email: str, name: str, password_hash: str, role: Role, site_ids: Sequence[str]
    ) -> Agent:
        agent = Agent(self._ids("agent"), email.strip(), name, password_hash, role, True, 0,
                      self._now())

        def op(db: DB) -> Agent:
            if db.execute("SELECT 1 FROM agents WHERE lower(email) = lower(?)",
                          (agent.email,)).fetchone():
                raise ValueError(f"an agent with the email {agent.email} exists")
            try:
                db.execute(
                    "INSERT INTO agents(id, email, name, password_hash, role, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (agent.id, agent.email, agent.name, agent.password_hash, agent.role,
                     agent.created_at),
                )
                db.executemany(
                    "INSERT INTO agent_sites(agent_id, site_id) VALUES (?, ?)",
                    [(agent.id, s) for s in site_ids],
                )
            except INTEGRITY as exc:
                raise ValueError(f"cannot create agent: {exc}") from None
            return agent

        return await self._submit(op)

    async def set_site_profile(self, site_id: str, **changes: Any) -> Site:
        """Change what the site shows visitors (``server.site_profile.change`` checks it)."""

        def op(db: DB) -> Site:
            row = db.execute(f"SELECT {SITE_COLS} FROM sites WHERE id = ?",
                                     (site_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such site: {site_id}")
            profile = site_profile.change(site_row(row).profile, **changes)
            db.execute("UPDATE sites SET settings = ? WHERE id = ?",
                       (orjson.dumps(profile.to_json()).decode(), site_id))
            return site_row(db.execute(f"SELECT {SITE_COLS} FROM sites WHERE id = ?",
                                     (site_id,)).fetchone())

        return await self._submit(op)

    async def update_agent(self, agent_id: str, *, name: str | None = None,
                           role: str | None = None, site_ids: Sequence[str] | None = None,
                           capacity: int | None = None, active: bool | None = None) -> Agent:
        """Change what is given. Deactivating ends every session of the agent (the session
        generation moves on, so their cookie stops working)."""
        if role not in (None, "admin", "agent"):
            raise ValueError("role is admin or agent")
        if capacity is not None and not 0 <= capacity <= 100:
            raise ValueError("capacity is 0 to 100")

        def op(db: DB) -> Agent:
            row = db.execute(f"SELECT {AGENT_COLS} FROM agents WHERE id = ?",
                             (agent_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such agent: {agent_id}")
            for column, value in (("name", name), ("role", role), ("capacity", capacity)):
                if value is not None:
                    db.execute(f"UPDATE agents SET {column} = ? WHERE id = ?", (value, agent_id))
            if active is not None and active != bool(row[5]):
                db.execute("UPDATE agents SET active = ?, session_generation = "
                           "session_generation + 1 WHERE id = ?", (int(active), agent_id))
            if site_ids is not None:
                known = {r[0] for r in db.execute("SELECT id FROM sites")}
                if set(site_ids) - known:
                    raise ValueError("no such site")
                db.execute("DELETE FROM agent_sites WHERE agent_id = ?", (agent_id,))
                db.executemany("INSERT INTO agent_sites VALUES (?, ?)",
                               [(agent_id, s) for s in site_ids])
            return agent_row(db.execute(f"SELECT {AGENT_COLS} FROM agents WHERE id = ?",
                                     (agent_id,)).fetchone())

        return await self._submit(op)

    async def set_agent_avatar(self, agent_id: str, file: str | None,
                               content_type: str | None) -> tuple[Agent, str | None]:
        """The agent's picture is now ``file`` (None: none); the agent, and the file it
        replaced (for the caller to delete)."""

        def op(db: DB) -> tuple[Agent, str | None]:
            row = db.execute("SELECT avatar_file FROM agents WHERE id = ?", (agent_id,)).fetchone()
            if row is None:
                raise ValueError(f"no such agent: {agent_id}")
            db.execute("UPDATE agents SET avatar_file = ?, avatar_type = ? WHERE id = ?",
                       (file, content_type, agent_id))
            agent = agent_row(db.execute(f"SELECT {AGENT_COLS} FROM agents WHERE id = ?",
                                      (agent_id,)).fetchone())
            return agent, row[0]

        return await self._submit(op)

    async def set_password(self, agent_id: str, generation: int, password_hash: str) -> Agent:
        """Set a password with an invite (or reset) made for ``generation``; the generation
        moves on, so that the link works once and older sessions end."""

        def op(db: DB) -> Agent:
            cur = db.execute(
                "UPDATE agents SET password_hash = ?, session_generation = session_generation + 1 "
                "WHERE id = ? AND session_generation = ? AND active = 1",
                (password_hash, agent_id, generation))
            if cur.rowcount != 1:
                raise ValueError("this link was used already, or the account is inactive")
            db.execute("DELETE FROM agent_sessions WHERE agent_id = ?", (agent_id,))
            return agent_row(db.execute(f"SELECT {AGENT_COLS} FROM agents WHERE id = ?",
                                     (agent_id,)).fetchone())

        return await self._submit(op)

    async def agent_sites(self) -> dict[str, list[str]]:
        """Agent id -> the sites they are given (admins work on all, whatever is listed)."""
        out: dict[str, list[str]] = {}
        for agent_id, site_id in await self._all(
                "SELECT agent_id, site_id FROM agent_sites ORDER BY site_id"):
            out.setdefault(agent_id, []).append(site_id)
        return out

    async def set_site_options(
        self, site_id: str, *, auto_assign: bool | None = None,
        identity_secret: str | None = None, identity_mode: str | None = None,
        allowed_origins: Sequence[str] | None = None, name: str | None = None,
    ) -> Site:
        """Change what is given; ``identity_secret=""`` removes the secret."""
        if name is not None:
            name = site_name(name)
        if allowed_origins is not None:
            bad = [o for o in allowed_origins if normalize_origin(o) is None]
            if bad:
                raise ValueError(f"not an origin (scheme://host[:port]): {bad[0]}")
        if identity_mode not in (None, "optional", "mandatory"):
            raise ValueError("identity mode is optional or mandatory")

        def op(db: DB) -> Site:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ValueError(f"no such site: {site_id}")
            if auto_assign is not None:
                db.execute("UPDATE sites SET auto_assign = ? WHERE id = ?",
                           (int(auto_assign), site_id))
            if identity_secret is not None:
                db.execute("UPDATE sites SET identity_secret = ? WHERE id = ?",
                           (identity_secret or None, site_id))
            if identity_mode is not None:
                db.execute("UPDATE sites SET identity_mode = ? WHERE id = ?",
                           (identity_mode, site_id))
            if name is not None:
                db.execute("UPDATE sites SET name = ? WHERE id = ?", (name, site_id))
            if allowed_origins is not None:
                db.execute("UPDATE sites SET allowed_origins = ? WHERE id = ?",
                           (orjson.dumps(list(allowed_origins)).decode(), site_id))
            site = site_row(db.execute(f"SELECT {SITE_COLS} FROM sites WHERE id = ?",
                                     (site_id,)).fetchone())
            if site.identity_mode == "mandatory" and not site.identity_secret:
                raise ValueError("mandatory identity needs an identity secret")
            return site

        return await self._submit(op)

    async def set_agent_capacity(self, agent_id: str, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity cannot be negative")

        def op(db: DB) -> None:
            if db.execute("UPDATE agents SET capacity = ? WHERE id = ?",
                          (capacity, agent_id)).rowcount != 1:
                raise ValueError(f"no such agent: {agent_id}")

        await self._submit(op)

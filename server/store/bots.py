"""Bots: a site's first responder (server/bots.py). A bot is an agent account whose id starts
with ``bot_`` (that is how visitors and agents are shown that a bot is answering), which nobody
can sign in to, and which works on one site. Plain standard SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.auth import new_id
from server.errors import ChatError, Code
from server.store.base import DB
from server.store.models import NO_PASSWORD, Agent, Change, is_bot

if TYPE_CHECKING:
    from server.store.facade import Aggregates

__all__ = ["Bots", "is_bot"]


class Bots:
    def __init__(self, store: Aggregates) -> None:
        self._store = store

    def _now(self) -> int:
        return int(self._store.clock() * 1000)

    async def create(self, site_id: str, name: str) -> Agent:
        """The site's bot (one per site: a second replaces the first as first responder)."""
        name = name.strip()
        if not 0 < len(name) <= 100:
            raise ValueError("a bot needs a name of 1 to 100 characters")
        bot_id, now = new_id("bot"), self._now()

        def op(db: DB) -> Agent:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ValueError(f"no such site: {site_id}")
            db.execute("INSERT INTO agents(id, email, name, password_hash, role, active, "
                       "created_at, capacity) VALUES (?, ?, ?, ?, 'agent', 1, ?, 0)",
                       (bot_id, f"{bot_id.lower()}@bots.invalid", name, NO_PASSWORD, now))
            db.execute("INSERT INTO agent_sites(agent_id, site_id) VALUES (?, ?)",
                       (bot_id, site_id))
            db.execute("DELETE FROM site_bots WHERE site_id = ?", (site_id,))
            db.execute("INSERT INTO site_bots(site_id, agent_id, created_at) VALUES (?, ?, ?)",
                       (site_id, bot_id, now))
            return Agent(bot_id, f"{bot_id.lower()}@bots.invalid", name, NO_PASSWORD, "agent",
                         True, 0, now, 0)

        return await self._store.submit(op)

    async def remove(self, site_id: str) -> None:
        """No bot answers first any more (conversations it has stay with it until handed off)."""
        def op(db: DB) -> None:
            db.execute("DELETE FROM site_bots WHERE site_id = ?", (site_id,))

        await self._store.submit(op)

    async def for_site(self, site_id: str) -> Agent | None:
        row = await self._store.read_one("SELECT agent_id FROM site_bots WHERE site_id = ?",
                                         (site_id,))
        return await self._store.agent(row[0]) if row else None

    async def all(self) -> list[tuple[str, Agent]]:
        """(site id, bot) of every site that has one."""
        found = []
        for site_id, agent_id in await self._store.read_all(
                "SELECT site_id, agent_id FROM site_bots ORDER BY site_id"):
            agent = await self._store.agent(agent_id)
            if agent is not None:
                found.append((site_id, agent))
        return found

    async def handoff(self, site_ids: list[str], conversation_id: str) -> Change:
        """A conversation a bot has goes to the human queue (waiting, nobody assigned), with a
        ``requeued`` event by the bot carrying ``handoff: true``; the bot's exchange stays in
        the conversation. One that no bot has: ``not_assignee``."""
        now = self._now()
        store = self._store

        def op(db: DB) -> Change:
            found = db.execute("SELECT site_id FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
            if found is None or found[0] not in site_ids:
                raise ChatError(Code.NOT_FOUND, "no such conversation")
            conv = store.load_conversation(db, conversation_id)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            if not is_bot(conv.assignee_id):
                if conv.status == "waiting":  # handed off already (a resend)
                    return Change(conv, (), duplicate=True)
                raise ChatError(Code.NOT_ASSIGNEE, "a person has the conversation, not a bot")
            db.execute("UPDATE conversations SET status = 'waiting', assignee_id = NULL, "
                       "updated_at = ? WHERE id = ?", (now, conversation_id))
            event = store.append(db, conversation_id, None, "requeued", "agent",
                                 conv.assignee_id, conv.assignee_name, "", now,
                                 {"handoff": True})
            return Change(store.load_conversation(db, conversation_id), (event,))

        return await store.submit(op)

"""Bots: a site's first responder (server/bots.py). A bot is an agent account whose id starts
with ``bot_`` (that is how visitors and agents are shown that a bot is answering), which nobody
can sign in to, and which works on one site. Plain standard SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.auth import new_id
from server.errors import ChatError, Code
from server.store.base import DB
from server.store.models import BOT_PREFIX, NO_PASSWORD, Agent, Change, is_bot

if TYPE_CHECKING:
    from server.store.facade import Aggregates

__all__ = ["Bots", "is_bot"]

#: A visitor's message older than this before the cut-off is not handed off for the bot's
#: silence (ms): one left in a conversation a bot held long before (say, before an upgrade
#: brought the timeout) is not news for people.
UNANSWERED_HORIZON_MS = 3_600_000
#: At most so many handed off at each routing sweep (the next sweep takes the rest).
UNANSWERED_PER_SWEEP = 100

#: One column of conversation ``c``'s latest text (a visitor's or an agent's message, not an
#: event or a note).
_LAST_TEXT = ("(SELECT m.{} FROM messages m WHERE m.conversation_id = c.id AND m.kind = 'text' "
              "ORDER BY m.seq DESC LIMIT 1)")
#: When its bot was given conversation ``c`` (a claim, a transfer, an assignment): the bot's
#: time runs from then at the earliest.
_GIVEN = ("(SELECT max(m.created_at) FROM messages m WHERE m.conversation_id = c.id "
          "AND m.kind IN ('joined', 'transferred') AND m.author_id = c.assignee_id)")


def _unanswered(where: str) -> str:
    """(site id, id, when the visitor wrote) of the conversations ``c`` meeting ``where`` that a
    bot has, whose latest
    text is the visitor's, written before the cut-off and after the horizon, and which the bot
    had since before the cut-off. Parameters: ``where``'s, then horizon, cut-off, horizon,
    cut-off. (Every message moves ``updated_at``: the conversations quiet since the horizon
    are left out first.)"""
    return (
        f"SELECT site_id, id, at FROM (SELECT c.site_id, c.id, {_LAST_TEXT.format('author_type')} "
        f"AS who, {_LAST_TEXT.format('created_at')} AS at, {_GIVEN} AS given "
        f"FROM conversations c WHERE {where} AND c.status = 'assigned' AND c.assignee_id IN "
        f"(SELECT id FROM agents WHERE substr(id, 1, {len(BOT_PREFIX)}) = '{BOT_PREFIX}') "
        "AND c.updated_at >= ?) AS held "
        "WHERE who = 'visitor' AND at < ? AND at >= ? AND coalesce(given, 0) < ?")


class Bots:
    def __init__(self, store: Aggregates) -> None:
        self._store = store

    def now(self) -> int:
        return int(self._store.clock() * 1000)

    async def create(self, site_id: str, name: str) -> Agent:
        """The site's bot (one per site: a second replaces the first as first responder)."""
        name = name.strip()
        if not 0 < len(name) <= 100:
            raise ValueError("a bot needs a name of 1 to 100 characters")
        bot_id, now = new_id("bot"), self.now()

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

    async def remove(self, site_id: str) -> bool:
        """No bot answers first any more (conversations it has stay with it until handed off);
        False when none did."""
        def op(db: DB) -> bool:
            return db.execute("DELETE FROM site_bots WHERE site_id = ?", (site_id,)).rowcount > 0

        return await self._store.submit(op)

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

    async def unanswered(self, before: int) -> list[tuple[str, str]]:
        """(site id, conversation id) of conversations a bot has whose latest text is the
        visitor's, written before ``before`` (ms) and within ``UNANSWERED_HORIZON_MS`` of it,
        and which the bot had by then: the bot has not answered. At most
        ``UNANSWERED_PER_SWEEP``, oldest first."""
        horizon = before - UNANSWERED_HORIZON_MS
        return [(r[0], r[1]) for r in await self._store.read_all(
            _unanswered("1 = 1") + " ORDER BY at, id LIMIT ?",
            (horizon, before, horizon, before, UNANSWERED_PER_SWEEP))]

    async def handoff(self, site_ids: list[str], conversation_id: str,
                      unanswered_before: int | None = None) -> Change:
        """A conversation a bot has goes to the human queue (waiting, nobody assigned), with a
        ``requeued`` event by the bot carrying ``handoff: true``; the bot's exchange stays in
        the conversation. One that no bot has: ``not_assignee``.

        With ``unanswered_before`` (ms), only if the bot has still not answered the visitor's
        latest text, written before then (``unanswered``); the event then also carries
        ``timeout: true``. Otherwise nothing changes (``duplicate``)."""
        now = self.now()
        store = self._store

        def op(db: DB) -> Change:
            found = db.execute("SELECT site_id FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
            if found is None or found[0] not in site_ids:
                raise ChatError(Code.NOT_FOUND, "no such conversation")
            # Held (PostgreSQL) until the commit: a bot's answer, a person's claim or another
            # machine's handoff of the same conversation waits, and is decided after this one.
            conv = store.load_conversation(db, conversation_id, lock=True)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            queued = now
            if unanswered_before is not None:
                horizon = unanswered_before - UNANSWERED_HORIZON_MS
                left = db.execute(_unanswered("c.id = ?"), (conversation_id, horizon,
                                  unanswered_before, horizon, unanswered_before)).fetchone()
                if left is None:
                    return Change(conv, (), duplicate=True)  # answered, or taken, meanwhile
                # In the queue from when the visitor's message had waited the whole timeout:
                # visitors handed off by one sweep keep the order they wrote in.
                queued = int(left[2]) + now - unanswered_before
            if not is_bot(conv.assignee_id):
                if conv.status == "waiting":  # handed off already (a resend)
                    return Change(conv, (), duplicate=True)
                raise ChatError(Code.NOT_ASSIGNEE, "a person has the conversation, not a bot")
            # It reaches people now: behind those already waiting for them (``queued_at``).
            db.execute("UPDATE conversations SET status = 'waiting', assignee_id = NULL, "
                       "updated_at = ?, queued_at = ? WHERE id = ?",
                       (now, queued, conversation_id))
            data: dict[str, bool] = {"handoff": True}
            if unanswered_before is not None:
                data["timeout"] = True
            event = store.append(db, conversation_id, None, "requeued", "agent",
                                 conv.assignee_id, conv.assignee_name, "", now, data)
            return Change(store.load_conversation(db, conversation_id), (event,))

        return await store.submit(op)

"""Notes that mention an agent (the panel's *Mentions* view): each mention is a row of
``note_mentions``, written with its note (server/store/conversations.py, ``add_note``), seen
once the agent opens its conversation or reads past the note, and deleted with its conversation
(server/store/privacy.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.store.base import CONV_COLS, CONV_FROM, DB, MSG_COLS, Base, conv_row, message_row
from server.store.models import Conversation, Message

#: A note that mentions the agent, its conversation as it is now, and whether the agent has
#: opened the conversation since.
Mention = tuple[Message, Conversation, bool]

#: How many of an agent's latest mentions the view lists.
LISTED = 50
_MSG = ", ".join("m." + column.strip() for column in MSG_COLS.split(","))


class MentionStore(Protocol):
    """What ``Mentions`` offers (``server.store.Store`` is every such protocol)."""

    async def mentions_of(self, agent_id: str, site_ids: Sequence[str],
                          limit: int = LISTED) -> list[Mention]: ...
    async def mentions_seen(self, agent_id: str, conversation_id: str,
                            up_to: int | None = None) -> bool: ...
    async def mention_seen(self, agent_id: str, conversation_id: str, seq: int) -> bool: ...


def record_mentions(db: DB, conversation_id: str, seq: int, agent_ids: Sequence[str],
                    at: int) -> None:
    """In the note's transaction: who it mentions."""
    db.executemany("INSERT INTO note_mentions(agent_id, conversation_id, seq, created_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   [(agent_id, conversation_id, seq, at) for agent_id in agent_ids])


class Mentions(Base):
    async def mentions_of(self, agent_id: str, site_ids: Sequence[str],
                          limit: int = LISTED) -> list[Mention]:
        """The notes that mention the agent, newest first, each with its conversation as it is
        now: only those of ``site_ids`` (an agent taken off a site no longer sees its notes)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {_MSG}, n.seen_at IS NOT NULL FROM note_mentions n JOIN messages m ON "
            "m.conversation_id = n.conversation_id AND m.seq = n.seq JOIN conversations c ON "
            f"c.id = n.conversation_id WHERE n.agent_id = ? AND c.site_id IN ({marks}) "
            "ORDER BY n.created_at DESC, n.conversation_id DESC, n.seq DESC LIMIT ?",
            (agent_id, *site_ids, limit))
        notes = [(message_row(row[:-1]), bool(row[-1])) for row in rows]
        ids = sorted({note.conversation_id for note, _ in notes})
        if not ids:
            return []
        found = {row[0]: conv_row(row) for row in await self._all(
            f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.id IN ({','.join('?' * len(ids))})",
            tuple(ids))}
        return [(note, found[note.conversation_id], seen) for note, seen in notes
                if note.conversation_id in found]

    async def mentions_seen(self, agent_id: str, conversation_id: str,
                            up_to: int | None = None) -> bool:
        """The agent opened the conversation (``up_to`` None), or read it up to ``up_to`` with
        it open: its notes for them (up to there) are seen. A write only when one was not:
        most openings and reads have none. Whether one was new."""
        where = "conversation_id = ? AND agent_id = ? AND seen_at IS NULL"
        params: tuple[object, ...] = (conversation_id, agent_id)
        if up_to is not None:
            where, params = where + " AND seq <= ?", (*params, up_to)
        if await self._one(f"SELECT 1 FROM note_mentions WHERE {where}", params):
            now = self._now()

            def op(db: DB) -> None:
                db.execute(f"UPDATE note_mentions SET seen_at = ? WHERE {where}", (now, *params))

            await self._submit(op)
            return True
        return False

    async def mention_seen(self, agent_id: str, conversation_id: str, seq: int) -> bool:
        return bool(await self._one(
            "SELECT 1 FROM note_mentions WHERE conversation_id = ? AND seq = ? AND agent_id = ? "
            "AND seen_at IS NOT NULL", (conversation_id, seq, agent_id)))

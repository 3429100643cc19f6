"""Notes that mention an agent (the panel's *Mentions* view): each mention is a row of
``note_mentions``, written with its note (server/store/conversations.py, ``add_note``) and
deleted with its conversation (server/store/privacy.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.store.base import CONV_COLS, CONV_FROM, DB, MSG_COLS, Base, conv_row, message_row
from server.store.models import Conversation, Message

#: How many of an agent's latest mentions the view lists.
LISTED = 50
_MSG = ", ".join("m." + column.strip() for column in MSG_COLS.split(","))


class MentionStore(Protocol):
    """What ``Mentions`` offers (``server.store.Store`` is every such protocol)."""

    async def mentions_of(self, agent_id: str, site_ids: Sequence[str],
                          limit: int = LISTED) -> list[tuple[Message, Conversation]]: ...


def record_mentions(db: DB, conversation_id: str, seq: int, agent_ids: Sequence[str],
                    at: int) -> None:
    """In the note's transaction: who it mentions."""
    db.executemany("INSERT INTO note_mentions(agent_id, conversation_id, seq, created_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   [(agent_id, conversation_id, seq, at) for agent_id in agent_ids])


class Mentions(Base):
    async def mentions_of(self, agent_id: str, site_ids: Sequence[str],
                          limit: int = LISTED) -> list[tuple[Message, Conversation]]:
        """The notes that mention the agent, newest first, each with its conversation as it is
        now: only those of ``site_ids`` (an agent taken off a site no longer sees its notes)."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {_MSG} FROM note_mentions n JOIN messages m ON m.conversation_id = "
            "n.conversation_id AND m.seq = n.seq JOIN conversations c ON c.id = "
            f"n.conversation_id WHERE n.agent_id = ? AND c.site_id IN ({marks}) "
            "ORDER BY n.created_at DESC, n.conversation_id DESC, n.seq DESC LIMIT ?",
            (agent_id, *site_ids, limit))
        notes = [message_row(row) for row in rows]
        ids = sorted({note.conversation_id for note in notes})
        if not ids:
            return []
        found = {row[0]: conv_row(row) for row in await self._all(
            f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.id IN ({','.join('?' * len(ids))})",
            tuple(ids))}
        return [(note, found[note.conversation_id]) for note in notes
                if note.conversation_id in found]

"""Conversations and their messages: the write path (``seq``, idempotency, claims)
and the reads a (re)connecting client makes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.errors import ChatError, Code
from server.store.activity import OPEN
from server.store.base import (
    CONV_COLS,
    CONV_FROM,
    DB,
    MSG_COLS,
    Base,
    conv_row,
    ensure_visitor,
    file_name,
    message_row,
)
from server.store.followups import reopen_for_answer
from server.store.mentions import record_mentions
from server.store.models import (
    Agent,
    Change,
    Conversation,
    Message,
    is_bot,
)

#: The most open conversations an agent's panel is sent (``welcome``, ``inbox``): docs/protocol.md.
OPEN_LIMIT = 10_000


class ConversationStore(Protocol):
    """What ``Conversations`` offers (``server.store.Store`` is every such protocol)."""

    async def conversation(self, conversation_id: str) -> Conversation | None: ...
    async def current_conversation(self, visitor_id: str) -> Conversation | None: ...
    async def open_conversations(self, site_ids: Sequence[str],
                                 limit: int = OPEN_LIMIT) -> list[Conversation]: ...
    async def messages_after(self, conversation_id: str, after_seq: int, limit: int = 200) -> list[
        Message
    ]: ...
    async def messages_before(self, conversation_id: str, before_seq: int, limit: int = 50) -> list[
        Message
    ]: ...
    async def append_visitor_message(
        self, site_id: str, visitor_id: str, client_msg_id: str, body: str,
        attachment_id: str | None = None,
    ) -> Change: ...
    async def append_agent_message(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, client_msg_id: str,
        body: str, attachment_id: str | None = None,
    ) -> Change: ...
    async def claim(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str
    ) -> Change: ...
    async def resolve(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str
    ) -> Change: ...
    async def transfer(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, to_agent_id: str,
        note: str | None = None,
    ) -> Change: ...
    async def mark_read(self, conversation_id: str, reader: str, seq: int) -> int | None: ...
    async def rate(self, visitor_id: str, conversation_id: str, score: int,
                   comment: str | None) -> Change: ...
    async def add_note(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       client_msg_id: str, body: str,
                       mentions: Sequence[str] = ()) -> Change: ...
    async def reopen(self, agent: Agent, site_ids: Sequence[str],
                     conversation_id: str) -> Change: ...


class Conversations(Base):
    async def conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.id = ?",
                              (conversation_id,))
        return conv_row(row) if row else None

    async def current_conversation(self, visitor_id: str) -> Conversation | None:
        """The visitor's open conversation, else their most recent one, else None."""
        row = await self._one(
            f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.visitor_id = ? "
            "ORDER BY c.status = 'resolved', c.created_at DESC LIMIT 1",
            (visitor_id,),
        )
        return conv_row(row) if row else None

    async def open_conversations(self, site_ids: Sequence[str],
                                 limit: int = OPEN_LIMIT) -> list[Conversation]:
        """Every open conversation of these sites, for the panel's inbox: up to ``limit``, the
        assigned ones first, then the waiting ones, oldest first. (It stopped at 500, the oldest
        first: past that an agent's own newest conversation was missing after a reload, and
        every count was wrong. A black-box test found it.)"""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.site_id IN ({marks}) "
            f"AND {OPEN} ORDER BY c.status = 'waiting', c.queued_at, c.id LIMIT ?",
            (*site_ids, limit),
        )
        return [conv_row(r) for r in rows]

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int = 200) -> list[
        Message
    ]:
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return [message_row(r) for r in rows]

    async def messages_before(self, conversation_id: str, before_seq: int, limit: int = 50) -> list[
        Message
    ]:
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT ?",
            (conversation_id, before_seq, limit),
        )
        return [message_row(r) for r in reversed(rows)]

    # --- writes: the conversation ------------------------------------------------------------

    async def append_visitor_message(
        self, site_id: str, visitor_id: str, client_msg_id: str, body: str,
        attachment_id: str | None = None,
    ) -> Change:
        """Append to the visitor's open conversation. When there is none, a check-in awaiting
        the visitor's answer reopens its conversation (a ``reopened`` event, then the message:
        ``server.store.followups``), else a new conversation is opened.

        Idempotent on ``client_msg_id`` per visitor: a resend returns the stored message with
        ``duplicate=True``; the same id with another body raises ``id_conflict``.
        """
        now = self._now()

        def op(db: DB) -> Change:
            # One read finds the visitor's open conversation and any conversation of theirs
            # holding a message with this id (a resend). The resend is found through the
            # visitor's conversations and the one unique index on (conversation, client id): a
            # second index on (author, client id) for this alone cost a random page in every
            # commit, and a read of its own cost the loop about 10 µs per message
            # (docs/benchmarks.md). Anyone's message with the id is found, as the index has it:
            # an agent's, in the conversation written to, makes the id taken.
            rows = db.execute(
                "SELECT c.id, c.status != 'resolved', m.author_type FROM conversations c "
                "LEFT JOIN messages m ON m.conversation_id = c.id AND m.client_msg_id = ? "
                "WHERE c.visitor_id = ? AND (c.status != 'resolved' OR m.author_type IS NOT NULL)",
                (client_msg_id, visitor_id),
            ).fetchall()
            if any(author == "visitor" for _, _, author in rows):
                old = message_row(db.execute(
                    f"SELECT {MSG_COLS} FROM messages WHERE conversation_id IN (SELECT id FROM "
                    "conversations WHERE visitor_id = ?) AND client_msg_id = ? "
                    "AND author_type = 'visitor'", (visitor_id, client_msg_id)).fetchone())
                return self._duplicate(db, old, body, attachment_id)
            current = next((row[0] for row in rows if row[1]), None)
            # No open conversation: a check-in awaiting the visitor's answer reopens its own.
            reopened = reopen_for_answer(self, db, visitor_id, now) if current is None else None
            created = current is None and reopened is None
            conversation_id = current if current is not None else (
                reopened[0] if reopened is not None else self._ids("conv"))
            if any(row[0] == conversation_id and row[2] is not None for row in rows):
                raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
            if created:
                # The visitor's row is made with their first conversation, not per message: an
                # open conversation's visitor exists (its foreign key says so).
                ensure_visitor(db, site_id, visitor_id, now)
                db.execute(
                    "INSERT INTO conversations(id, site_id, visitor_id, status, created_at, "
                    "updated_at, queued_at) VALUES (?, ?, ?, 'waiting', ?, ?, ?)",
                    (conversation_id, site_id, visitor_id, now, now, now),
                )
            data = self._attachment_data(db, attachment_id, visitor_id)
            # (A snoozed conversation comes back as soon as the visitor writes: _append.)
            message, summary = self._append_summary_begin(
                db, conversation_id, client_msg_id, "text", "visitor", visitor_id, None,
                body or file_name(data), now, data)()
            return Change(summary, (reopened[1], message) if reopened else (message,), created)

        return await self._submit(op, quick=True)

    async def append_agent_message(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, client_msg_id: str,
        body: str, attachment_id: str | None = None,
    ) -> Change:
        """An agent's reply. A reply to a waiting conversation claims it first (the ``joined``
        event comes before the reply), but never for a bot; a conversation assigned to someone
        else is refused."""
        now = self._now()

        def op(db: DB) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            old = db.execute(
                f"SELECT {MSG_COLS} FROM messages WHERE conversation_id = ? AND client_msg_id = ?",
                (conversation_id, client_msg_id),
            ).fetchone()
            if old is not None:
                # (The same id and words as the agent's note is another message: a reply, which
                # the visitor would never get if it were taken as the note again.)
                if old[5] != agent.id or old[3] != "text":
                    raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
                return self._duplicate(db, message_row(old), body, attachment_id)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            appended: list[Message] = []
            if conv.assignee_id is None and is_bot(agent.id):
                # A bot is given its conversations when they open (server/bots.py); one waiting
                # is for people — handed off, or never the bot's. A slow bot's late reply took a
                # handed-off conversation back from the queue (a black-box tester).
                raise ChatError(Code.NOT_ASSIGNEE, "this conversation waits for a person")
            if conv.assignee_id is None:
                appended.extend(self._claim(db, conv, agent.id, agent.name, now))
            elif conv.assignee_id != agent.id:
                raise ChatError(Code.NOT_ASSIGNEE, "the conversation is assigned to someone else")
            data = self._attachment_data(db, attachment_id, agent.id)
            reply, summary = self._append_summary_begin(
                db, conversation_id, client_msg_id, "text", "agent", agent.id, agent.name,
                body or file_name(data), now, data)()
            return Change(summary, (*appended, reply))

        return await self._submit(op, quick=True)

    async def claim(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        """Compare-and-set: exactly one agent wins a waiting conversation. Claiming one's own
        conversation again is a no-op; anyone else's raises ``already_claimed``."""
        now = self._now()

        def op(db: DB) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.assignee_id == agent.id:
                return Change(conv, (), duplicate=True)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            events = self._claim(db, conv, agent.id, agent.name, now)
            return Change(self._load_conversation(db, conversation_id), tuple(events))

        return await self._submit(op)

    async def resolve(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        """By the assignee or an admin; a waiting conversation may be resolved by any agent of
        the site (spam, or already answered elsewhere). Resolving twice is a no-op."""
        now = self._now()

        def op(db: DB) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status == "resolved":
                return Change(conv, (), duplicate=True)
            if conv.assignee_id not in (None, agent.id) and agent.role != "admin":
                raise ChatError(Code.NOT_ASSIGNEE, "the conversation is assigned to someone else")
            db.execute(
                "UPDATE conversations SET status = 'resolved', resolved_at = ?, updated_at = ? "
                "WHERE id = ?",
                (now, now, conversation_id),
            )
            event = self._append(db, conversation_id, None, "resolved", "agent", agent.id,
                                 agent.name, "", now)
            return Change(self._load_conversation(db, conversation_id), (event,))

        return await self._submit(op)

    async def transfer(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       to_agent_id: str, note: str | None = None) -> Change:
        """Hand an open conversation to another active agent of its site (the assignee or an
        admin may; a waiting conversation may be handed by any agent of the site)."""
        now = self._now()

        def op(db: DB) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status == "resolved":
                raise ChatError(Code.RESOLVED, "the conversation is resolved")
            if conv.assignee_id == to_agent_id:  # done already (a resend after a lost ack)
                return Change(conv, (), duplicate=True)
            # (Any agent of the site may take a conversation over from its bot.)
            if (conv.assignee_id not in (None, agent.id) and agent.role != "admin"
                    and not conv.assignee_id.startswith("bot_")):
                raise ChatError(Code.NOT_ASSIGNEE, "the conversation is assigned to someone else")
            target = db.execute(
                "SELECT a.id, a.name FROM agents a WHERE a.id = ? AND a.active = 1 AND "
                "(a.role = 'admin' OR EXISTS (SELECT 1 FROM agent_sites s "
                "WHERE s.agent_id = a.id AND s.site_id = ?))",
                (to_agent_id, conv.site_id),
            ).fetchone()
            if target is None:
                raise ChatError(Code.NOT_FOUND, "no such agent for this site")
            if conv.assignee_id == target[0]:
                return Change(conv, (), duplicate=True)
            db.execute(
                "UPDATE conversations SET status = 'assigned', assignee_id = ?, updated_at = ? "
                "WHERE id = ?", (target[0], now, conversation_id),
            )
            events = []
            if note:  # for the colleague taking over; never for the visitor
                events.append(self._append(db, conversation_id, None, "note", "agent", agent.id,
                                           agent.name, note, now))
            events.append(self._append(db, conversation_id, None, "transferred", "agent",
                                       target[0], target[1], "", now))
            return Change(self._load_conversation(db, conversation_id), tuple(events))

        return await self._submit(op)

    async def mark_read(self, conversation_id: str, reader: str, seq: int) -> int | None:
        """The visitor or an agent (``reader``) has seen up to ``seq``. Returns the new read
        mark when it moved forward, else None (receipts only ever move forward)."""
        column = {"visitor": "visitor_read_seq", "agent": "agent_read_seq"}[reader]

        def op(db: DB) -> int | None:
            row = db.execute(
                f"UPDATE conversations SET {column} = "
                "CASE WHEN ? < last_seq THEN ? ELSE last_seq END "
                f"WHERE id = ? AND {column} < ? AND {column} < last_seq RETURNING {column}",
                (seq, seq, conversation_id, seq),
            ).fetchone()
            if row is None:
                return None
            if reader == "agent":  # what is left unseen: usually nothing, a short range
                db.execute(
                    "UPDATE conversations SET unread = (SELECT count(*) FROM messages m "
                    "WHERE m.conversation_id = ? AND m.seq > ? AND m.author_type = 'visitor' "
                    "AND m.kind = 'text') WHERE id = ?", (conversation_id, row[0], conversation_id))
            return int(row[0])

        return await self._submit(op, quick=True)

    async def rate(self, visitor_id: str, conversation_id: str, score: int,
                   comment: str | None) -> Change:
        """The visitor's satisfaction with a resolved conversation, once. The same rating sent
        again is a duplicate; a different one is refused."""
        now = self._now()

        def op(db: DB) -> Change:
            conv = self._load_conversation_or_none(db, conversation_id, lock=True)
            if conv is None or conv.visitor_id != visitor_id:
                raise ChatError(Code.NOT_FOUND, "no such conversation")
            if conv.status != "resolved":
                raise ChatError(Code.NOT_RESOLVED, "rate a conversation once it is resolved")
            if conv.rating is not None:
                if (conv.rating, conv.rating_comment) == (score, comment):
                    return Change(conv, (), duplicate=True)
                raise ChatError(Code.ALREADY_RATED, "this conversation is already rated")
            db.execute("UPDATE conversations SET rating = ?, rating_comment = ? WHERE id = ?",
                       (score, comment, conversation_id))
            event = self._append(db, conversation_id, None, "rated", "visitor", visitor_id, None,
                                 comment or "", now, {"score": score})
            return Change(self._load_conversation(db, conversation_id), (event,))

        return await self._submit(op)

    async def add_note(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       client_msg_id: str, body: str,
                       mentions: Sequence[str] = ()) -> Change:
        """An internal note: in the conversation's sequence for agents, never sent to the
        visitor (server/hub.py). Any agent of the site may write one, in any state.
        ``mentions``: colleagues it is for, active agents of the conversation's site (the note
        keeps them, as ``data.mentions``, the author left out); any other is ``not_found``, and
        nothing is written."""
        now = self._now()
        mentioned = [m for m in mentions if m != agent.id]

        def op(db: DB) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            old = db.execute(
                f"SELECT {MSG_COLS} FROM messages WHERE conversation_id = ? AND client_msg_id = ?",
                (conversation_id, client_msg_id),
            ).fetchone()
            if old is not None:
                first = message_row(old)
                if old[5] != agent.id or old[3] != "note" or list(
                        (first.data or {}).get("mentions", [])) != mentioned:
                    raise ChatError(Code.ID_CONFLICT, "that id was used for another message")
                return self._duplicate(db, first, body)
            if mentioned:
                marks = ",".join("?" * len(mentioned))
                found = {r[0] for r in db.execute(
                    f"SELECT a.id FROM agents a WHERE a.id IN ({marks}) AND a.active = 1 AND "
                    "(a.role = 'admin' OR EXISTS (SELECT 1 FROM agent_sites s WHERE "
                    "s.agent_id = a.id AND s.site_id = ?))", (*mentioned, conv.site_id))}
                if len(found) < len(mentioned):
                    raise ChatError(Code.NOT_FOUND, "no such agent on this conversation's site")
            note = self._append(db, conversation_id, client_msg_id, "note", "agent", agent.id,
                                agent.name, body, now,
                                {"mentions": mentioned} if mentioned else None)
            record_mentions(db, conversation_id, note.seq, mentioned, now)
            return Change(self._load_conversation(db, conversation_id), (note,))

        return await self._submit(op)

    async def reopen(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        """A resolved conversation becomes the reopening agent's again. Refused while the
        visitor has another open conversation (a visitor has one at a time). Open and the
        agent's already: a repeat (``duplicate``); open otherwise: ``not_resolved``."""
        now = self._now()

        def op(db: DB) -> Change:
            conv = self._authorized(db, conversation_id, site_ids)
            if conv.status != "resolved":
                if conv.status == "assigned" and conv.assignee_id == agent.id:
                    return Change(conv, (), duplicate=True)
                raise ChatError(Code.NOT_RESOLVED, "the conversation is open: assign it instead")
            busy = db.execute("SELECT 1 FROM conversations WHERE visitor_id = ? AND status != "
                              "'resolved'", (conv.visitor_id,)).fetchone()
            if busy:
                raise ChatError(Code.ALREADY_OPEN,
                                "the visitor has another open conversation")
            db.execute(
                "UPDATE conversations SET status = 'assigned', assignee_id = ?, resolved_at = "
                "NULL, updated_at = ?, queued_at = ? WHERE id = ?",
                (agent.id, now, now, conversation_id))
            event = self._append(db, conversation_id, None, "reopened", "agent", agent.id,
                                 agent.name, "", now)
            return Change(self._load_conversation(db, conversation_id), (event,))

        return await self._submit(op)

"""Follow-ups: an agent schedules a check-in on a resolved conversation (docs/email.md).

Contract:

* At most one pending follow-up per conversation: scheduling again moves it; at most
  ``MAX_AHEAD_DAYS`` (365) days ahead.
* States: ``pending`` -> ``sent`` (the check-in is in the conversation) -> ``answered`` (the
  visitor's answer reopened it); or ``cancelled`` (by an agent); or ``skipped``: at its time
  the visitor had a conversation open (another, where their answer would go, or this one,
  reopened by an agent), so it was not sent.
* ``send_due`` is compare-and-set (``UPDATE … WHERE state = 'pending'``) inside one write
  transaction with the check-in message it appends (and, for a visitor not on the site, the
  email job): whichever process wakes it, a follow-up is sent once, and a crash never leaves
  one marked sent without its message.
* ``reopen_for_answer`` reopens the conversation a check-in was sent on (within 30 days), when
  its visitor writes again and has no other open conversation: the answer lands in it, assigned
  to the agent who scheduled the check-in. It runs inside the visitor's append
  (``server.store.conversations``), only when the visitor has no open conversation: the usual
  message costs nothing for it. (Before, every visitor message first read ``follow_ups`` through
  the reader's thread: a tenth of the event loop's busy time at saturation, docs/benchmarks.md.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.errors import ChatError, Code
from server.store.base import DB, Base
from server.store.models import Agent, Change, Conversation, Message

if TYPE_CHECKING:
    from server.store.facade import Aggregates
    from server.store.outbox import Outbox

_COLS = "id, conversation_id, site_id, agent_id, due_at, body, state, created_at, done_at"
#: The longest a check-in may be scheduled ahead: 365 days, in ms (docs/protocol.md).
MAX_AHEAD_DAYS = 365
MAX_AHEAD_MS = MAX_AHEAD_DAYS * 24 * 3600 * 1000
#: A check-in answered later than this (30 days) no longer reopens its conversation.
ANSWER_WITHIN_MS = 30 * 24 * 3600 * 1000


def reopen_for_answer(store: Base, db: DB, visitor_id: str,
                      now: int) -> tuple[str, Message] | None:
    """(Inside the append of a visitor who has no open conversation.) When a check-in awaits
    their answer, its conversation is reopened — assigned to the check-in's agent, or waiting
    when that agent is no longer active — and the follow-up marked answered: the conversation's
    id and the ``reopened`` event, for the visitor's message to follow. None otherwise."""
    row = db.execute(
        "SELECT f.conversation_id, f.agent_id, a.name, a.active FROM follow_ups f "
        "JOIN agents a ON a.id = f.agent_id WHERE f.visitor_id = ? AND "
        "f.state = 'sent' AND f.due_at >= ? ORDER BY f.done_at DESC LIMIT 1",
        (visitor_id, now - ANSWER_WITHIN_MS)).fetchone()
    if row is None:
        return None
    conversation_id, agent_id, agent_name, active = row
    db.execute("UPDATE follow_ups SET state = 'answered' WHERE conversation_id = ? AND "
               "state = 'sent'", (conversation_id,))
    status, assignee = ("assigned", agent_id) if active else ("waiting", None)
    # (Waiting, it is behind everyone who was waiting already: ``queued_at``.)
    db.execute("UPDATE conversations SET status = ?, assignee_id = ?, resolved_at = NULL, "
               "updated_at = ?, queued_at = ? WHERE id = ?",
               (status, assignee, now, now, conversation_id))
    event = store._append(db, conversation_id, None, "reopened", "agent", agent_id,
                          agent_name, "", now)
    return conversation_id, event


@dataclass(frozen=True, slots=True)
class FollowUp:
    id: str
    conversation_id: str
    site_id: str
    agent_id: str
    due_at: int
    body: str
    state: str
    created_at: int
    done_at: int | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "conversation_id": self.conversation_id, "at": self.due_at,
                "body": self.body, "state": self.state}


def _follow_up(row: Sequence[Any]) -> FollowUp:
    return FollowUp(*row)


class FollowUps:
    def __init__(self, store: Aggregates, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox

    async def schedule(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       at: int, body: str) -> FollowUp:
        now = self.store._now()
        if not now < at <= now + MAX_AHEAD_MS:
            raise ChatError(Code.BAD_FRAME,
                            f"a follow-up is in the future, within {MAX_AHEAD_DAYS} days")

        def op(db: DB) -> FollowUp:
            conv = self.store._authorized(db, conversation_id, site_ids)
            if conv.status != "resolved":
                raise ChatError(Code.NOT_RESOLVED, "schedule a follow-up once it is resolved")
            row = db.execute("SELECT id FROM follow_ups WHERE conversation_id = ? AND "
                             "state = 'pending'", (conversation_id,)).fetchone()
            if row is not None:
                db.execute("UPDATE follow_ups SET due_at = ?, body = ?, agent_id = ? "
                           "WHERE id = ?", (at, body, agent.id, row[0]))
                follow_id = row[0]
            else:
                follow_id = self.store._ids("fu")
                db.execute(f"INSERT INTO follow_ups({_COLS}, visitor_id) VALUES (?, ?, ?, ?, "
                           "?, ?, 'pending', ?, NULL, ?)",
                           (follow_id, conversation_id, conv.site_id, agent.id, at, body, now,
                            conv.visitor_id))
            return _follow_up(db.execute(f"SELECT {_COLS} FROM follow_ups WHERE id = ?",
                                         (follow_id,)).fetchone())

        return await self.store._submit(op)

    async def cancel(self, agent: Agent, site_ids: Sequence[str], follow_up_id: str) -> None:
        def op(db: DB) -> None:
            row = db.execute("SELECT site_id, agent_id FROM follow_ups WHERE id = ? AND "
                             "state = 'pending'", (follow_up_id,)).fetchone()
            if row is None or row[0] not in site_ids or (
                    row[1] != agent.id and agent.role != "admin"):
                raise ChatError(Code.NOT_FOUND, "no such follow-up")
            db.execute("UPDATE follow_ups SET state = 'cancelled', done_at = ? WHERE id = ?",
                       (self.store._now(), follow_up_id))

        await self.store._submit(op)

    async def upcoming(self, agent_id: str) -> list[tuple[FollowUp, Conversation]]:
        """The agent's pending follow-ups, soonest first, with their conversations."""
        rows = await self.store._all(f"SELECT {_COLS} FROM follow_ups WHERE agent_id = ? AND "
                                     "state = 'pending' ORDER BY due_at, id LIMIT 200",
                                     (agent_id,))
        out = []
        for row in rows:
            follow_up = _follow_up(row)
            conversation = await self.store.conversation(follow_up.conversation_id)
            if conversation is not None:
                out.append((follow_up, conversation))
        return out

    async def due(self) -> list[tuple[FollowUp, str]]:
        """Pending follow-ups whose time has come, with their visitor ids (a read)."""
        rows = await self.store._all(
            f"SELECT {', '.join('f.' + c.strip() for c in _COLS.split(','))}, c.visitor_id "
            "FROM follow_ups f JOIN conversations c ON c.id = f.conversation_id "
            "WHERE f.state = 'pending' AND f.due_at <= ? ORDER BY f.due_at LIMIT 100",
            (self.store._now(),))
        return [(_follow_up(r[:9]), r[9]) for r in rows]

    async def send(self, follow_up: FollowUp, email: bool) -> Change | None:
        """The check-in, in the conversation (and, with ``email``, its email job due now);
        None when another process sent it first, or it was cancelled or moved, or when it is
        skipped (its visitor has a conversation open, this one or another)."""
        now = self.store._now()

        def op(db: DB) -> Change | None:
            # Decided here, at delivery, in the compare-and-set's transaction: a visitor who
            # has a conversation open (waiting or assigned) now is not sent it: ``skipped``.
            # Another one they started since, their answer could not reach this one's (their
            # messages go to the open one); this one, reopened by an agent, they are talking in
            # already. A conversation resolved again by then does not stop it.
            talking = db.execute(
                "SELECT 1 FROM conversations o JOIN conversations c ON c.visitor_id = "
                "o.visitor_id WHERE o.id = ? AND c.status != 'resolved'",
                (follow_up.conversation_id,)).fetchone()
            won = db.execute("UPDATE follow_ups SET state = ?, done_at = ? WHERE id = ? "
                             "AND state = 'pending' AND due_at <= ? RETURNING id",
                             ("skipped" if talking else "sent", now, follow_up.id,
                              now)).fetchone()
            if won is None or talking:
                return None
            agent = db.execute("SELECT name FROM agents WHERE id = ?",
                               (follow_up.agent_id,)).fetchone()
            message = self.store._append(db, follow_up.conversation_id, None, "checkin",
                                         "agent", follow_up.agent_id,
                                         agent[0] if agent else None, follow_up.body, now)
            if email:
                self.outbox.checkin_email(db, message)
            return Change(self.store._load_conversation(db, follow_up.conversation_id),
                          (message,))

        return await self.store._submit(op)

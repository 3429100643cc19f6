"""The panel's follow-ups: schedule a check-in on a resolved conversation, cancel one, list
one's own (docs/email.md). Scoped by the session's sites, like every panel tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server import protocol
from server.errors import ChatError, Code
from server.mail.words import words
from server.protocol import CancelFollowUp, FollowUp, ListFollowUps
from server.store.followups import FollowUps

if TYPE_CHECKING:
    from .agent import AgentSession


def _follow_ups(s: AgentSession) -> FollowUps:
    if s.ctx.mail is None:
        raise ChatError(Code.INTERNAL, "follow-ups are not available")
    return s.ctx.mail.follow_ups


async def schedule(s: AgentSession, frame: FollowUp) -> bytes:
    """Without a ``body``, the check-in says the usual words in the visitor's language."""
    body = frame.body
    if body is None or not body.strip():
        conversation = await s.ctx.store.conversation(frame.conversation_id)
        visitor = (await s.ctx.store.visitor(conversation.visitor_id)
                   if conversation is not None else None)
        body = words(visitor.language if visitor else None)["checkin"]
    follow_up = await _follow_ups(s).schedule(s.agent, s.site_ids, frame.conversation_id,
                                              frame.at, body)
    return protocol.ack(frame.id, follow_up=follow_up.public())


async def cancel(s: AgentSession, frame: CancelFollowUp) -> bytes:
    await _follow_ups(s).cancel(s.agent, s.site_ids, frame.follow_up_id)
    return protocol.ack(frame.id)


async def upcoming(s: AgentSession, frame: ListFollowUps) -> bytes:
    listed = await _follow_ups(s).upcoming(s.agent.id)
    return protocol.ack(frame.id, follow_ups=[
        {**f.public(), "conversation": c.summary()} for f, c in listed
        if c.site_id in s.site_ids])

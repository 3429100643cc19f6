"""The agent panel's tools beyond the chat itself: notes, tags, teams, snooze, reopen, search,
lists and canned responses. One function per frame type, each scoped by the session's sites
(never by a field of the frame); ``TOOLS`` maps the frame types to them for
``AgentSession.handle``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from server import protocol
from server.protocol import (
    AssignTeam,
    DeleteCanned,
    ListConversations,
    Note,
    Reopen,
    SaveCanned,
    Search,
    Snooze,
    Tag,
)

if TYPE_CHECKING:
    from .agent import AgentSession


async def note(s: AgentSession, frame: Note) -> bytes:
    change = await s.ctx.chat.note(s.agent, s.site_ids, frame.conversation_id, frame.id,
                                   frame.body)
    return protocol.ack(frame.id, conversation_id=frame.conversation_id,
                        seq=change.messages[-1].seq, duplicate=change.duplicate)


async def tag(s: AgentSession, frame: Tag) -> bytes:
    conversation = await s.ctx.chat.tag(s.site_ids, frame.conversation_id, frame.tag, frame.on)
    return protocol.ack(frame.id, conversation=conversation.summary())


async def team(s: AgentSession, frame: AssignTeam) -> bytes:
    conversation = await s.ctx.chat.assign_team(s.site_ids, frame.conversation_id,
                                                frame.team_id)
    return protocol.ack(frame.id, conversation=conversation.summary())


async def snooze(s: AgentSession, frame: Snooze) -> bytes:
    conversation = await s.ctx.chat.snooze(s.site_ids, frame.conversation_id, frame.until)
    return protocol.ack(frame.id, conversation=conversation.summary())


async def reopen(s: AgentSession, frame: Reopen) -> bytes:
    change = await s.ctx.chat.reopen(s.agent, s.site_ids, frame.conversation_id)
    return protocol.ack(frame.id, conversation=change.conversation.summary(),
                        duplicate=change.duplicate)


async def search(s: AgentSession, frame: Search) -> bytes:
    hits = await s.ctx.store.search(s.site_ids, frame.query, frame.limit)
    return protocol.ack(frame.id, results=[h.public() for h in hits])


async def list_conversations(s: AgentSession, frame: ListConversations) -> bytes:
    before = (frame.before, frame.before_id or "") if frame.before is not None else None
    found = await s.ctx.store.conversation_list(s.site_ids, status=frame.status, tag=frame.tag,
                                                before=before, limit=frame.limit)
    last = found[-1] if len(found) == frame.limit else None
    return protocol.ack(frame.id, conversations=[c.summary() for c in found],
                        next={"before": last.updated_at, "before_id": last.id} if last else None)


async def save_canned(s: AgentSession, frame: SaveCanned) -> bytes:
    canned = await s.ctx.store.save_canned(s.agent, s.site_ids, frame.canned_id, frame.site_id,
                                           frame.shortcut, frame.body, frame.shared)
    return protocol.ack(frame.id, canned=canned.public())


async def delete_canned(s: AgentSession, frame: DeleteCanned) -> bytes:
    await s.ctx.store.delete_canned(s.agent, s.site_ids, frame.canned_id)
    return protocol.ack(frame.id)


Tool = Callable[["AgentSession", Any], Awaitable[bytes]]
TOOLS: dict[type, Tool] = {
    Note: note, Tag: tag, AssignTeam: team, Snooze: snooze, Reopen: reopen, Search: search,
    ListConversations: list_conversations, SaveCanned: save_canned, DeleteCanned: delete_canned,
}

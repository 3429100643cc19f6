"""The agent panel's tools beyond the chat itself: notes, tags, teams, snooze, reopen, search,
lists, canned responses and the block list. One function per frame type, each scoped by the
session's sites (never by a field of the frame); ``TOOLS`` maps the frame types to them for
``AgentSession.handle``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from server import protocol
from server.broker import tell
from server.channels import (
    agent_channel,
    close_order,
    site_channel,
    status_channel,
    visitor_channel,
)
from server.errors import Close
from server.protocol import (
    AssignTeam,
    Block,
    CancelFollowUp,
    DeleteCanned,
    FollowUp,
    ListBlocks,
    ListConversations,
    ListFollowUps,
    ListMentions,
    Note,
    Reopen,
    SaveCanned,
    Search,
    Snooze,
    Tag,
    Unblock,
)
from server.store.models import Canned

from . import follow_ups

if TYPE_CHECKING:
    from .agent import AgentSession


async def note(s: AgentSession, frame: Note) -> None:
    sent = await s.ctx.chat.note(s.agent, s.site_ids, frame.conversation_id, frame.id,
                                 frame.body, s.conn, frame.mentions)
    change = sent.change
    seq = change.messages[-1].seq
    s.conn.ack(frame.conversation_id, seq,
               protocol.ack(frame.id, conversation_id=frame.conversation_id, seq=seq,
                            duplicate=change.duplicate,
                            **protocol.own(change.messages[-1].frame(), sent.in_ack)))


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


HOUR_MS = 3600 * 1000
#: An address block lasts this long unless the agent says (addresses change hands).
ADDRESS_HOURS = 24


async def block(s: AgentSession, frame: Block) -> bytes:
    """Block the conversation's visitor (and their address), then close their sockets."""
    now = int(s.ctx.clock() * 1000)
    until = now + frame.hours * HOUR_MS if frame.hours else None
    address_until = now + (frame.hours or ADDRESS_HOURS) * HOUR_MS if frame.address else None
    made = await s.ctx.store.block(s.agent, s.site_ids, frame.conversation_id, until=until,
                                   address_until=address_until, reason=frame.reason)
    await s.ctx.broker.publish(visitor_channel(made[0].visitor_id), close_order(Close.BLOCKED))
    for entry in made:
        if entry.ip is not None:  # everyone chatting on the site from that address
            await s.ctx.broker.publish(status_channel(entry.site_id),
                                       close_order(Close.BLOCKED, ip=entry.ip))
    return protocol.ack(frame.id, blocks=[b.public() for b in made])


async def unblock(s: AgentSession, frame: Unblock) -> bytes:
    await s.ctx.store.unblock(s.site_ids, frame.block_id)
    return protocol.ack(frame.id)


async def list_blocks(s: AgentSession, frame: ListBlocks) -> bytes:
    return protocol.ack(frame.id, blocks=[b.public() for b in await s.ctx.store.blocks(
        s.site_ids)])


async def list_mentions(s: AgentSession, frame: ListMentions) -> bytes:
    """The notes that mention this agent, newest first, with their conversations."""
    listed = await s.ctx.store.mentions_of(s.agent.id, s.site_ids)
    return protocol.ack(frame.id, mentions=[
        {"conversation": conversation.summary(), "message": note.frame(), "seen": seen}
        for note, conversation, seen in listed])


async def save_canned(s: AgentSession, frame: SaveCanned) -> bytes:
    before = await _canned(s, frame.canned_id)
    canned = await s.ctx.store.save_canned(s.agent, s.site_ids, frame.canned_id, frame.site_id,
                                           frame.shortcut, frame.body, frame.shared)
    if before is not None and (before.site_id, before.owner_id) != (canned.site_id,
                                                                      canned.owner_id):
        await _canned_changed(s, before, deleted=True)  # (gone from where it was offered)
    await _canned_changed(s, canned)
    return protocol.ack(frame.id, canned=canned.public())


async def delete_canned(s: AgentSession, frame: DeleteCanned) -> bytes:
    before = await _canned(s, frame.canned_id)
    await s.ctx.store.delete_canned(s.agent, s.site_ids, frame.canned_id)
    if before is not None:
        await _canned_changed(s, before, deleted=True)
    return protocol.ack(frame.id)


async def _canned(s: AgentSession, canned_id: str | None) -> Canned | None:
    if canned_id is None:
        return None
    return next((c for c in await s.ctx.store.canned(s.agent, s.site_ids) if c.id == canned_id),
                None)


async def _canned_changed(s: AgentSession, canned: Canned, deleted: bool = False) -> None:
    """The panels that offer it are told (``canned``): a site's shared response to the site's
    agents, one's own to the agent's other panels (it reached them at their next sign-in)."""
    channel = site_channel(canned.site_id) if canned.owner_id is None else \
        agent_channel(canned.owner_id)
    await tell(s.ctx.broker, channel, {"type": "canned", "deleted": canned.id} if deleted else
               {"type": "canned", "canned": canned.public()})


Tool = Callable[["AgentSession", Any], Awaitable[bytes | None]]
TOOLS: dict[type, Tool] = {
    Note: note, Tag: tag, AssignTeam: team, Snooze: snooze, Reopen: reopen, Search: search,
    ListConversations: list_conversations, SaveCanned: save_canned, DeleteCanned: delete_canned,
    Block: block, Unblock: unblock, ListBlocks: list_blocks,
    FollowUp: follow_ups.schedule, CancelFollowUp: follow_ups.cancel,
    ListFollowUps: follow_ups.upcoming, ListMentions: list_mentions,
}

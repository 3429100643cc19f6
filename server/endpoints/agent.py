"""``/ws/agent``: the panel's socket. The agent is whoever the signed session cookie says; the
sites they may touch are read from the store at connect, never taken from a frame."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.websockets import WebSocket

from server import protocol
from server.auth import TokenError, origin_allowed
from server.avatars import avatar_url
from server.broker import PresenceUnavailable, tell
from server.channels import agent_channel, conversation_channel, session_channel, site_channel
from server.errors import ChatError, Close, Code, Unavailable
from server.protocol import (
    Claim,
    Frame,
    Hello,
    History,
    Leave,
    Open,
    Read,
    Resolve,
    Send,
    Status,
    Transcript,
    Transfer,
    Typing,
)
from server.routing import connected_key, presence_key, visitor_presence_key
from server.store import Agent, Change, Conversation

from .context import AGENT_COOKIE, Context
from .email import email_transcript
from .panel_tools import TOOLS
from .session import Refuse, Session

log = logging.getLogger("livechat.ws")

async def agent_session_from_cookie(ctx: Context, cookie: str | None) -> tuple[Agent, str] | None:
    """The agent and session id of a live session cookie: signed by us, its session not signed
    out or expired, the agent active and not changed since (password, deactivation)."""
    if not cookie:
        return None
    try:
        session = ctx.tokens.agent(cookie, ctx.settings.agent_session_max_age)
    except TokenError:
        return None
    agent = await ctx.store.session_agent(session.session_id)
    if (agent is None or agent.id != session.agent_id or not agent.active
            or agent.session_generation != session.generation):
        return None
    return agent, session.session_id


def colleague(agent: Agent) -> dict[str, Any]:
    """An agent as their colleagues' panels know them (``welcome``'s ``agents``, ``colleagues``)."""
    return {"id": agent.id, "name": agent.name, "avatar": avatar_url(agent.id)}


async def agent_from_cookie(ctx: Context, cookie: str | None) -> Agent | None:
    signed_in = await agent_session_from_cookie(ctx, cookie)
    return signed_in[0] if signed_in else None


class AgentSession(Session):
    role = "agent"
    agent: Agent
    session_id: str
    site_ids: list[str]
    _resync: asyncio.Task[None] | None = None
    #: Away: connected, but not offered conversations and not shown as online.
    away = False

    async def authenticate(self) -> None:
        # Exact origin check: a page elsewhere cannot ride the agent's cookie into this socket.
        if not origin_allowed(self.ws.headers.get("origin"), [self.ctx.own_origin(self.ws)]):
            raise Refuse(Close.FORBIDDEN_ORIGIN, None, "origin not allowed")
        signed_in = await agent_session_from_cookie(self.ctx, self.ws.cookies.get(AGENT_COOKIE))
        if signed_in is None:
            raise Refuse(Close.UNAUTHORIZED, None, "log in first")
        self.agent, self.session_id = signed_in
        agent = self.agent
        self.conn.agent_id = agent.id
        self.site_ids = await self.ctx.store.agent_site_ids(agent)

    async def start(self, hello: Hello) -> None:
        ctx = self.ctx
        await ctx.hub.subscribe(self.conn, agent_channel(self.agent.id))
        await ctx.hub.subscribe(self.conn, session_channel(self.session_id))
        for site_id in self.site_ids:
            await ctx.hub.subscribe(self.conn, site_channel(site_id))
        await self.heartbeat()
        self.conn.on_reset = self._schedule_resync
        for site_id in self.site_ids:
            ctx.router.poke(site_id)  # an agent came online: waiting conversations may move
        sites = [s for s in await ctx.store.sites() if s.id in self.site_ids]
        colleagues = await ctx.store.site_agents(self.site_ids)
        works_on = await ctx.store.agent_sites()  # (whom a note or a transfer can be for)
        conversations = await ctx.store.open_conversations(self.site_ids)
        canned = await ctx.store.canned(self.agent, self.site_ids)
        teams = await ctx.store.teams(self.site_ids)
        self.conn.release(protocol.encode({
            "type": "welcome",
            "v": protocol.VERSION,
            "epoch": ctx.store.epoch,
            "agent": self.agent.public(),
            "sites": [{"id": s.id, "name": s.name, "auto_assign": s.auto_assign} for s in sites],
            "agents": [{**colleague(a), "sites": [s for s in self.site_ids if a.role == "admin"
                                                  or s in works_on.get(a.id, ())]}
                       for a in colleagues],
            "conversations": [c.summary() for c in conversations],
            "canned": [c.public() for c in canned],
            "teams": [t.public() for t in teams],
            "email": ctx.settings.email_on,
        }))

    async def _mentions_seen(self, conversation_id: str, up_to: int | None) -> None:
        """My notes there (up to ``up_to``) are seen: my other panels are told (``mentions_seen``),
        to take their "mentioned you" off. A store that cannot write now does not stop the
        opening or the read: they stay new until the next."""
        with contextlib.suppress(Unavailable):
            if await self.ctx.store.mentions_seen(self.agent.id, conversation_id, up_to):
                await tell(self.ctx.broker, agent_channel(self.agent.id),
                           {"type": "mentions_seen", "conversation_id": conversation_id})

    def log_fields(self) -> dict[str, str]:
        return {"agent": self.agent.id}

    def _schedule_resync(self) -> None:
        if self._resync is None or self._resync.done():
            self._resync = asyncio.create_task(self._send_inbox(), name=f"resync-{self.conn.id}")

    async def _send_inbox(self) -> None:
        """The inbox updates the broker may have dropped: send the whole inbox again."""
        try:
            conversations = await self.ctx.store.open_conversations(self.site_ids)
        except Exception as exc:
            log.warning("%s inbox resync failed (%s)", self.conn.id, type(exc).__name__)
            return
        self.conn.send(protocol.encode({"type": "inbox",
                                        "conversations": [c.summary() for c in conversations]}))

    async def heartbeat(self) -> None:
        member = f"{self.agent.id}:{self.conn.id}"
        settings = self.ctx.settings
        for site_id in self.site_ids:
            if not self.away:
                await self.ctx.presence.touch(presence_key(site_id), member,
                                              settings.presence_ttl)
            await self.ctx.presence.touch(connected_key(site_id), member, settings.presence_ttl)

    async def stop(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
        if hasattr(self, "agent"):
            member = f"{self.agent.id}:{self.conn.id}"
            for site_id in self.site_ids:
                await self.ctx.presence.remove(presence_key(site_id), member)
                await self.ctx.presence.remove(connected_key(site_id), member)
                self.ctx.router.poke(site_id)

    def pipelined(self, frame: Frame) -> bool:
        # A reply in a conversation this socket has open (its ack carries the reply).
        return isinstance(frame, Send) and frame.conversation_id in self.conn.cursors

    async def handle(self, frame: Frame,
                     after: asyncio.Future[Any] | None = None) -> bytes | None:
        tool = TOOLS.get(type(frame))
        if tool is not None:  # notes, tags, snooze, search… (server/endpoints/panel_tools.py)
            return await tool(self, frame)
        chat, store = self.ctx.chat, self.ctx.store
        if isinstance(frame, Open):
            conversation = await self._visible(frame.conversation_id)
            # Subscribed before the ack: once acknowledged, live frames (typing too) arrive.
            await self.ctx.hub.subscribe(self.conn, conversation_channel(conversation.id))
            try:
                online = await self.ctx.presence.members(
                    visitor_presence_key(conversation.visitor_id))
            except PresenceUnavailable:
                online = []  # unknown: shown as not here; a `presence` frame corrects it
            visitor = await store.visitor(conversation.visitor_id)
            pages = await store.visitor_pages(conversation.visitor_id)
            earlier = await store.visitor_conversations(conversation.visitor_id)
            # Its notes for me are seen (before the ack: a Mentions view asked for after it,
            # on any panel, says so). A store that cannot write now does not stop the opening:
            # they stay new until the next.
            await self._mentions_seen(conversation.id, None)
            self.conn.send(protocol.ack(
                frame.id, conversation=conversation.summary(), visitor_online=bool(online),
                visitor=visitor.public() if visitor else None,
                pages=[{"url": p.url, "title": p.title, "at": p.at} for p in pages],
                earlier=[c.summary() for c in earlier if c.id != conversation.id]))
            self.conn.watch(conversation.id, min(frame.last_seq, conversation.last_seq))
            return None
        if isinstance(frame, Transcript):
            await self._visible(frame.conversation_id)
            await email_transcript(self.ctx, frame.conversation_id)
            return protocol.ack(frame.id)
        if isinstance(frame, Leave):
            # (Unsubscribed whatever the answer: one it may no longer see is left too.)
            await self.ctx.hub.unsubscribe(self.conn, conversation_channel(frame.conversation_id))
            await self._visible(frame.conversation_id)  # another site's, or none: not_found
            return protocol.ack(frame.id)
        if isinstance(frame, History):
            await self._visible(frame.conversation_id)
            page = await store.messages_before(frame.conversation_id, frame.before_seq,
                                               frame.limit)
            return protocol.ack(frame.id, messages=[m.frame() for m in page])
        if isinstance(frame, Send):
            received = time.perf_counter()
            assert frame.conversation_id is not None  # required for agents by the protocol
            sent = await chat.agent_send(self.agent, self.site_ids, frame.conversation_id,
                                         frame.id, frame.body, frame.attachment, self.conn,
                                         after)
            change = sent.change
            message = change.messages[-1]
            # (Queued here, not answered: the previous frame's answer is out, ``in_turn``.)
            self.conn.ack(message.conversation_id, message.seq,
                          protocol.ack(frame.id, conversation_id=message.conversation_id,
                                       seq=message.seq, duplicate=change.duplicate,
                                       **protocol.own(message.frame(), sent.in_ack)))
            self.ctx.metrics.agent_ack.observe(time.perf_counter() - received)
            return None
        if isinstance(frame, Claim):
            return self._result(frame.id, await chat.claim(self.agent, self.site_ids,
                                                           frame.conversation_id))
        if isinstance(frame, Resolve):
            return self._result(frame.id, await chat.resolve(self.agent, self.site_ids,
                                                             frame.conversation_id))
        if isinstance(frame, Typing):
            assert frame.conversation_id is not None  # required for agents by the protocol
            if frame.conversation_id not in self.conn.cursors:
                raise ChatError(Code.NOT_FOUND, "open the conversation first")
            await chat.typing(frame.conversation_id,
                              {"type": "agent", "name": self.agent.name},
                              frame.active)
            return None
        if isinstance(frame, Read):
            assert frame.conversation_id is not None  # required for agents by the protocol
            if frame.conversation_id not in self.conn.cursors:
                raise ChatError(Code.NOT_FOUND, "open the conversation first")
            await chat.read(frame.conversation_id, "agent", frame.seq)
            # A note for me read with the conversation open is seen, as at an opening.
            await self._mentions_seen(frame.conversation_id, frame.seq)
            return None
        if isinstance(frame, Status):
            self.away = frame.away
            member = f"{self.agent.id}:{self.conn.id}"
            for site_id in self.site_ids:
                if self.away:
                    await self.ctx.presence.remove(presence_key(site_id), member)
                self.ctx.router.poke(site_id)
            await self.heartbeat()
            return protocol.ack(frame.id, away=self.away)
        if isinstance(frame, Transfer):
            return self._result(frame.id, await chat.transfer(
                self.agent, self.site_ids, frame.conversation_id, frame.agent_id, frame.note))
        raise ChatError(Code.UNKNOWN_TYPE, "not an agent frame")

    async def _visible(self, conversation_id: str) -> Conversation:
        """A conversation of this agent's sites; any other is "not found", existing or not."""
        conversation = await self.ctx.store.conversation(conversation_id)
        if conversation is None or conversation.site_id not in self.site_ids:
            raise ChatError(Code.NOT_FOUND, "no such conversation")
        return conversation

    @staticmethod
    def _result(request: str, change: Change) -> bytes:
        return protocol.ack(request, conversation=change.conversation.summary(),
                            duplicate=change.duplicate)


async def agent_socket(websocket: WebSocket) -> None:
    await AgentSession(websocket).serve()

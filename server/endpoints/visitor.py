"""``/ws/visitor``: the chat frame's socket. Identity comes from the signed visitor token only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.websockets import WebSocket

from server import protocol
from server.auth import (
    TokenError,
    VisitorIdentity,
    identity_claims,
    identity_valid,
    new_id,
    origin_allowed,
    verified_visitor_id,
)
from server.broker import PresenceUnavailable
from server.channels import conversation_channel, status_channel, visitor_channel
from server.errors import ChatError, Close, Code
from server.limits import Counts
from server.privacy import unerased
from server.protocol import (
    Attributes,
    Context,
    Frame,
    Handoff,
    Hello,
    Open,
    Profile,
    Rate,
    Read,
    Send,
    Transcript,
    Typing,
)
from server.routing import agent_ids, presence_key, visitor_presence_key
from server.store import Conversation, Site

from .email import email_transcript
from .session import Refuse, Session

log = logging.getLogger("livechat.ws")


class VisitorSession(Session):
    role = "visitor"
    who: VisitorIdentity
    #: The conversation this socket shows (typing goes there).
    conversation_id: str | None = None

    def __init__(self, websocket: WebSocket) -> None:
        super().__init__(websocket)
        self._counted: list[tuple[Counts, str]] = []
        self._expiry: asyncio.TimerHandle | None = None

    async def authenticate(self) -> None:
        # The socket is opened by our chat frame, which is served from our own origin; the sites
        # allowed to embed that frame are enforced by its frame-ancestors policy.
        if not origin_allowed(self.ws.headers.get("origin"), [self.ctx.own_origin(self.ws)]):
            raise Refuse(Close.FORBIDDEN_ORIGIN, None, "origin not allowed")

    async def start(self, hello: Hello) -> None:
        ctx = self.ctx
        site = await ctx.store.site(hello.site or "")
        if site is None:
            raise Refuse(Close.PROTOCOL_ERROR, Code.NOT_FOUND, "no such site")
        if hello.user_id is not None or hello.user_jwt is not None:
            self.who = await self._verified(site, hello)
        elif site.identity_mode == "mandatory":
            raise Refuse(Close.IDENTITY_REFUSED, Code.IDENTITY_REQUIRED,
                         "this site asks you to sign in before chatting")
        elif hello.token:
            try:
                self.who = ctx.tokens.visitor(hello.token, ctx.settings.visitor_token_max_age)
            except TokenError:
                raise Refuse(Close.UNAUTHORIZED, None, "invalid or expired token") from None
            if self.who.site_id != site.id:
                raise Refuse(Close.UNAUTHORIZED, None, "token belongs to another site")
        else:
            limits = ctx.limits
            if not (limits.new_visitors_per_ip.take(self.ip)
                    and limits.new_visitors_per_site.take(site.id)):
                raise Refuse(Close.RATE_LIMITED, Code.RATE_LIMITED,
                             "too many new visitors; try again in a minute")
            self.who = VisitorIdentity(site.id, new_id("vis"))
        # Subscribed before the block check: a block made after the check closes this socket.
        await ctx.hub.subscribe(self.conn, visitor_channel(self.who.visitor_id))
        await ctx.hub.subscribe(self.conn, status_channel(site.id))
        if await ctx.store.blocked(site.id, self.who.visitor_id, self.ip):
            raise Refuse(Close.BLOCKED, Code.BLOCKED, "you cannot chat on this site")
        self._count_sockets()
        if self.who.expires is not None:
            # A signed identity ends when it expires, on an open socket too (a new one with its
            # token is refused then): the page signs the user in again with a fresh one.
            self._expiry = asyncio.get_running_loop().call_later(
                max(0.0, self.who.expires - ctx.clock()), self.conn.stop, Close.UNAUTHORIZED,
                "the signed identity expired")
        await ctx.store.note_visitor_ip(self.who.visitor_id, self.ip)
        await self.heartbeat()
        current = await ctx.store.current_conversation(self.who.visitor_id)
        visitor = await ctx.store.visitor(self.who.visitor_id)
        if visitor is None and hello.token:
            # A token of a visitor with no record: new, or erased (its browser kept the token).
            # Erased, it is refused as a token that no longer verifies: the widget starts a new
            # visitor (server/privacy.py). (Asked only here: a returning visitor has a record.)
            try:
                await unerased(ctx.store, self.who)
            except TokenError as exc:
                raise Refuse(Close.UNAUTHORIZED, None, str(exc)) from None
        typical = await ctx.typical.get(site.id)
        try:
            online = len(agent_ids(await ctx.presence.members(presence_key(site.id))))
        except PresenceUnavailable:
            online = int(ctx.router.available(site.id))  # as last known; corrected later
        queue = None
        if current is not None and current.status == "waiting":
            queue = await ctx.router.queue_state(site.id, current.id, online)
        self.conn.release(protocol.encode({
            "type": "welcome",
            "v": protocol.VERSION,
            "token": ctx.tokens.visitor_token(self.who),  # refreshed on every connect
            "epoch": ctx.store.epoch,
            "site": {"id": site.id, "name": site.name, **site.profile.for_visitor(ctx.clock()),
                     # the knowledge base: the widget shows its search when there are articles
                     "help": bool(await ctx.store.articles.languages(site.id)),
                     # its bot answers first, at any hour: no "leave a message" form before it
                     "bot": site.has_bot},
            "verified": self.who.visitor_id.startswith("usr_"),
            "visitor": {"name": visitor.name if visitor else None,
                        "email": visitor.email if visitor else None},
            "agents_online": bool(online),
            "conversation": current.visitor_state() if current else None,
            "queue": queue,
            # "Typically replies in …": how long the site's people took to reply lately, in
            # seconds (from the start, or the bot's handoff; bots' replies do not count).
            "typical_wait": round(typical) if typical is not None else None,
            # The server sends email: the widget offers "Send me a transcript".
            "email": ctx.settings.email_on,
        }))
        if hello.conversation_id and (current is None or hello.conversation_id != current.id):
            other = await ctx.store.conversation(hello.conversation_id)
            if other is None or other.visitor_id != self.who.visitor_id:
                ctx.metrics.errors[Code.NOT_FOUND].inc()
                self.conn.send(protocol.error(Code.NOT_FOUND, "no such conversation"))
        if current is not None:
            same = hello.conversation_id == current.id and hello.epoch == ctx.store.epoch
            await self._watch(current, hello.last_seq if same else 0)

    def log_fields(self) -> dict[str, str]:
        return {"site": self.who.site_id}
    def _count_sockets(self) -> None:
        """At most so many sockets per visitor and per site at once; every frame also takes
        from the visitor's and the site's buckets, whichever socket it comes by."""
        limits = self.ctx.limits
        if not limits.sockets_per_visitor.acquire(self.who.visitor_id):
            raise Refuse(Close.RATE_LIMITED, Code.RATE_LIMITED, "too many open chats")
        self._counted.append((limits.sockets_per_visitor, self.who.visitor_id))
        if not limits.sockets_per_site.acquire(self.who.site_id):
            raise Refuse(Close.RATE_LIMITED, Code.RATE_LIMITED,
                         "this site has too many visitors connected; try again shortly")
        self._counted.append((limits.sockets_per_site, self.who.site_id))
        self.shared = [(limits.visitor_frames, self.who.visitor_id),
                       (limits.site_frames, self.who.site_id)]

    async def heartbeat(self) -> None:
        await self.ctx.presence.touch(visitor_presence_key(self.who.visitor_id), self.conn.id,
                                      self.ctx.settings.presence_ttl)

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for counts, key in self._counted:
            counts.release(key)
        self._counted.clear()
        if not hasattr(self, "who"):
            return
        key = visitor_presence_key(self.who.visitor_id)
        await self.ctx.presence.remove(key, self.conn.id)
        if self.conversation_id is None:
            return
        with contextlib.suppress(PresenceUnavailable):  # unknown: the ttl will tell agents
            if not await self.ctx.presence.members(key):
                await self.ctx.chat.visitor_presence(self.conversation_id, False)

    async def _verified(self, site: Site, hello: Hello) -> VisitorIdentity:
        """A user of the site that its backend vouched for: the same visitor on any device.

        A JWT signs the id, name, email and expiry; the older hash signs the id and expiry
        only, so a name and email sent beside it are kept as what the visitor said, not as
        verified facts (docs/embedding.md)."""
        secret, now = site.identity_secret, self.ctx.clock()
        max_lifetime = self.ctx.settings.identity_max_lifetime
        refused = Refuse(Close.IDENTITY_REFUSED, Code.BAD_IDENTITY,
                         "the identity is forged, expired or not expected here")
        if not secret:
            raise refused
        if hello.user_jwt is not None:
            if hello.user_id is not None:
                raise refused  # one identity at a time
            try:
                claims = identity_claims(secret, hello.user_jwt, now, max_lifetime)
            except TokenError as exc:
                # The visitor is told no more than "refused"; the site's developer finds why
                # in the log (a black-box tester had nothing to go on).
                log.info("identity refused on %s: %s", site.id, exc)
                raise refused from None
            user_id, expires, name, email, signed = (claims.user_id, claims.expires, claims.name,
                                                     claims.email, True)
        else:
            assert hello.user_id is not None
            if (hello.user_hash is None or hello.user_expires is None
                    or not identity_valid(secret, hello.user_id, hello.user_expires,
                                          hello.user_hash, now, max_lifetime)):
                log.info("identity refused on %s: no user_hash and user_expires, or a hash "
                         "that does not match, or an expiry past or too far ahead", site.id)
                raise refused
            user_id, expires, name, email, signed = (hello.user_id, hello.user_expires,
                                                     hello.user_name, hello.user_email, False)
        who = VisitorIdentity(site.id, verified_visitor_id(site.id, user_id), expires)
        await self.ctx.store.upsert_visitor(site.id, who.visitor_id, user_id, name, email,
                                            signed=signed)
        return who

    async def _follow(self, conversation: Conversation) -> None:
        """This socket's conversation now: the visitor is present in it, and its channel is
        subscribed to."""
        if self.conversation_id != conversation.id:
            await self.ctx.chat.visitor_presence(conversation.id, True)
        self.conversation_id = conversation.id
        await self.ctx.hub.subscribe(self.conn, conversation_channel(conversation.id))

    async def _watch(self, conversation: Conversation, last_seq: int,
                     ack: bytes | None = None) -> None:
        """Follow a conversation from ``last_seq``. An ``ack`` goes out once subscribed and
        before the catch-up, so that an acknowledged open misses no live frame."""
        await self._follow(conversation)
        if ack is not None:
            self.conn.send(ack)
        # (A last_seq beyond the conversation's: see docs/protocol.md, Resume.)
        self.conn.watch(conversation.id, min(last_seq, conversation.last_seq))

    def _new_conversation(self) -> None:
        """A send from a socket that follows no conversation opens one: so many a minute per
        address and per site (visitors cannot resolve conversations, so a new one needs a new
        visitor or an agent's resolve)."""
        limits = self.ctx.limits
        if not (limits.new_conversations_per_ip.take(self.ip)
                and limits.new_conversations_per_site.take(self.who.site_id)):
            raise ChatError(Code.RATE_LIMITED,
                            "too many new conversations; try again in a minute")

    def pipelined(self, frame: Frame) -> bool:
        # (A first message, which opens the conversation, is answered before the next is read.)
        return isinstance(frame, Send) and self.conversation_id is not None

    async def handle(self, frame: Frame,
                     after: asyncio.Future[Any] | None = None) -> bytes | None:
        chat = self.ctx.chat
        if isinstance(frame, Send):
            received = time.perf_counter()
            if self.conversation_id is None:
                self._new_conversation()
            # (An answer to a check-in reopens its conversation: in the same write.)
            sent = await chat.visitor_send(self.who, frame.id, frame.body, frame.attachment,
                                           sender=self.conn, after=after)
            change = sent.change
            message = sent.message
            follow = message.conversation_id not in self.conn.cursors
            if follow:
                # Its cursor before the ack is queued: the messages before this one (another
                # tab's, when this tab had not opened the conversation) reach the socket first,
                # as an ack's seq promises (docs/protocol.md). The subscription (a broker's
                # round trip) comes after the ack, and a catch-up then covers the gap.
                self.conn.watch(message.conversation_id, 0)
            # The ack carries the message: this socket is not sent it again as a frame.
            self.conn.ack(message.conversation_id, message.seq,
                          protocol.ack(frame.id, conversation_id=message.conversation_id,
                                       seq=message.seq, duplicate=change.duplicate,
                                       **protocol.own(message.visitor_frame(), sent.in_ack)))
            self.ctx.metrics.visitor_ack.observe(time.perf_counter() - received)
            if follow:
                await self._follow(change.conversation)
                self.conn.catch_up(message.conversation_id)
            if change.created:  # (the visitor's row may be new: its address for blocks)
                await self.ctx.store.note_visitor_ip(self.who.visitor_id, self.ip)
            if len(change.messages) > 1:  # a bot joined with it (server/bots.py), or reopened
                self.conn.catch_up(message.conversation_id)
            return None
        if isinstance(frame, Open):
            conversation = await self.ctx.store.conversation(frame.conversation_id)
            if conversation is None or conversation.visitor_id != self.who.visitor_id:
                raise ChatError(Code.NOT_FOUND, "no such conversation")
            await self._watch(conversation, frame.last_seq,
                              ack=protocol.ack(frame.id, conversation=conversation.visitor_state()))
            return None
        if isinstance(frame, Typing):
            if self.conversation_id is not None:
                # The preview goes out only where the site turned it on (read now, so that
                # turning it off takes effect at once) and never to the visitor's own tabs'
                # view of agents: agents alone render it.
                text = None
                if frame.text is not None and frame.active:
                    site = await self.ctx.store.site(self.who.site_id)
                    text = frame.text if site is not None and site.profile.typing_preview else None
                await chat.typing(self.conversation_id, {"type": "visitor", "name": None},
                                  frame.active, text)
            return None
        if isinstance(frame, Read):
            if self.conversation_id is not None:
                await chat.read(self.conversation_id, "visitor", frame.seq)
            return None
        if isinstance(frame, Profile):
            await chat.profile(self.who, frame.name, frame.email)
            return protocol.ack(frame.id)
        if isinstance(frame, Attributes):
            await self.ctx.store.set_visitor_attributes(self.who.site_id, self.who.visitor_id,
                                                        frame.attributes)
            return protocol.ack(frame.id)
        if isinstance(frame, Context):
            agent_string = self.ws.headers.get("user-agent", "")[:300]
            page = (frame.url.split("#", 1)[0], frame.title or "") if frame.url else None
            at = await self.ctx.store.set_visitor_context(
                self.who.site_id, self.who.visitor_id, user_agent=agent_string or None,
                language=frame.language, timezone=frame.timezone, referrer=frame.referrer,
                page=page)
            if page is not None and at is not None and self.conversation_id is not None:
                # Agents who have the conversation open see the new page at once, as it was
                # stored (what `open` answers with later); a reload is not a new page.
                await self.ctx.chat.visited(self.who.site_id, self.conversation_id, *page, at)
            return None
        if isinstance(frame, Handoff):  # "talk to a person" (server/bots.py)
            if self.conversation_id is None:
                raise ChatError(Code.NOT_FOUND, "no conversation yet")
            change = await self.ws.app.state.api.bots.handoff([self.who.site_id],
                                                              self.conversation_id)
            return protocol.ack(frame.id, conversation=change.conversation.visitor_state(),
                                duplicate=change.duplicate)
        if isinstance(frame, Transcript):
            conversation = await self.ctx.store.conversation(frame.conversation_id)
            if conversation is None or conversation.visitor_id != self.who.visitor_id:
                raise ChatError(Code.NOT_FOUND, "no such conversation")
            await email_transcript(self.ctx, conversation.id)
            return protocol.ack(frame.id)
        if isinstance(frame, Rate):
            change = await chat.rate(self.who, frame.conversation_id, frame.score, frame.comment)
            return protocol.ack(frame.id, conversation=change.conversation.visitor_state(),
                                duplicate=change.duplicate)
        raise ChatError(Code.UNKNOWN_TYPE, "not a visitor frame")


async def visitor_socket(websocket: WebSocket) -> None:
    await VisitorSession(websocket).serve()

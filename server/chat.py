"""The conversation's operations: write to the store, then ring the doorbell.

Publishing happens only after the store has committed, and a failed publish never undoes or
fails a committed write: subscribers recover from the store by ``seq``.

Messages are published at once, one per ``seq``. Inbox updates (a conversation's summary, sent to
every agent of its site) are coalesced: the inbox publisher task wakes on the first pending
summary, lets ``inbox_interval`` (50 ms) pass, and publishes the newest summary of each
conversation once, in one frame per site for the window (``conversation`` when one conversation
changed, ``conversations`` with them all when several did). Without it every message cost one
frame per agent of the site — 20 of the 21 frames per message in bench/run.py; with one frame
per conversation and window, a busy site still sent each agent one per conversation. A person
cannot tell 50 ms in an inbox preview. The summary carries ``last_seq``, which orders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import orjson

from server.auth import VisitorIdentity
from server.broker import Broker
from server.channels import (
    agent_channel,
    close_order,
    conversation_channel,
    from_connection,
    site_channel,
    visitor_channel,
)
from server.errors import Close
from server.hub import Connection
from server.metrics import Metrics
from server.records import record
from server.store import Agent, Change, Conversation, Message, Store

log = logging.getLogger("livechat.chat")
#: Events that change who has a conversation, or whether it is open.
_ROUTING_KINDS = frozenset({"joined", "resolved", "transferred", "requeued", "reopened"})


async def in_turn(after: asyncio.Future[Any] | None) -> None:
    """Wait until ``after`` is done: the same socket's previous frame, still being handled when
    this one was read (server/endpoints/session.py pipelines a socket's sends). Called once the
    write has committed, before anything is published or sent: a socket's messages are
    announced and answered in the order they were read, as their writes were queued. (Mostly
    it is done already: the writer settles a batch's writes in their order.)"""
    if after is not None and not after.done():
        await asyncio.wait((after,))


@contextlib.contextmanager
def _sending(sender: Connection | None, client_msg_id: str) -> Iterator[None]:
    """The sender's message is being written, until its ack is settled (``sent_in_ack``): a
    catch-up on the sender's socket that reads it from the store meanwhile stops there and
    waits for the ack, which then carries it (``Connection.sending``)."""
    if sender is None:
        yield
        return
    sender.sending(client_msg_id)
    try:
        yield
    finally:
        sender.done_sending(client_msg_id)


@record
class Sent:
    """A message written for a client: the change, the message itself (the change may hold
    events before or after it), and whether the sender's socket gets the message in its ack
    (else it was, or will be, sent to it as a frame in its place)."""

    change: Change
    message: Message
    in_ack: bool


class Chat:
    def __init__(self, store: Store, broker: Broker, inbox_interval: float = 0.05,
                 clock: Callable[[], float] = time.time, metrics: Metrics | None = None) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        m = self.metrics
        # Bound once: a message costs an increment, no lookup.
        self._visitor_messages, self._agent_messages = m.messages["visitor"], m.messages["agent"]
        self._clock = clock
        self.broker = broker
        self.inbox_interval = inbox_interval
        #: Told of changes that matter to routing (the router listens, to re-route the site).
        self.on_change: Callable[[Conversation], None] | None = None
        #: Given each conversation a visitor opens, before it is published (server/bots.py:
        #: the site's bot claims it).
        self.first_responder: Callable[[Change], Awaitable[Change]] | None = None
        self._inbox: dict[str, Conversation] = {}
        self._inbox_ready = asyncio.Event()
        #: Woken with snoozes by the routing sweep (follow-ups: server/mail/service.py).
        self.sweepers: list[Callable[[], Awaitable[None]]] = []

    async def run_inbox_publisher(self) -> None:
        """Publish pending inbox updates, newest per conversation, until cancelled."""
        while True:
            await self._inbox_ready.wait()
            if self.inbox_interval:
                await asyncio.sleep(self.inbox_interval)  # the coalescing window
            self._inbox_ready.clear()
            pending, self._inbox = self._inbox, {}
            by_site: dict[str, list[Conversation]] = {}
            for conv in pending.values():
                by_site.setdefault(conv.site_id, []).append(conv)
            for site_id, changed in by_site.items():
                # One frame per site and window, however many conversations changed in it.
                frame = ({"type": "conversation", "conversation": changed[0].summary()}
                         if len(changed) == 1 else
                         {"type": "conversations",
                          "conversations": [conv.summary() for conv in changed]})
                try:
                    await self.broker.publish(site_channel(site_id), orjson.dumps(frame))
                except Exception as exc:  # agents resync their inbox when they reconnect
                    log.warning("inbox publish failed (%s)", type(exc).__name__)

    def _inbox_update(self, conv: Conversation) -> None:
        known = self._inbox.get(conv.id)
        if known is None or known.last_seq <= conv.last_seq:
            self._inbox[conv.id] = conv
        self._inbox_ready.set()

    async def erased(self, visitor_id: str, conversation_ids: Sequence[str]) -> None:
        """After an erasure: the visitor's open sockets end (``4401``: their widget starts a
        new visitor, with an empty chat), and every panel gets the emptied, resolved summaries."""
        try:
            await self.broker.publish(visitor_channel(visitor_id),
                                      close_order(Close.UNAUTHORIZED))
        except Exception as exc:  # (the erasure is committed: its answer must say so)
            log.warning("the erased visitor's sockets were not told (%s)", type(exc).__name__)
        for conversation_id in conversation_ids:
            conversation = await self.store.conversation(conversation_id)
            if conversation is not None:
                self._inbox_update(conversation)
                if self.on_change is not None:  # (an agent's capacity, the queue's places)
                    self.on_change(conversation)

    async def visitor_send(self, who: VisitorIdentity, client_msg_id: str, body: str,
                           attachment: str | None = None, sender: Connection | None = None,
                           after: asyncio.Future[Any] | None = None) -> Sent:
        """``sender``: the sending connection. It gets its message in its ack, not again as a
        ``message`` frame; and a conversation this opens is announced to the visitor's other
        tabs only. ``after``: see ``in_turn``."""
        with _sending(sender, client_msg_id):
            change = await self.store.append_visitor_message(
                who.site_id, who.visitor_id, client_msg_id, body, attachment
            )
            return await self._visitor_sent(change, sender, after)

    async def _visitor_sent(self, change: Change, sender: Connection | None,
                            after: asyncio.Future[Any] | None) -> Sent:
        await in_turn(after)
        if change.created and self.first_responder is not None:
            change = await self.first_responder(change)
        if not change.duplicate:
            self._visitor_messages.inc()
            if change.messages[0].kind == "reopened":  # answering a check-in reopened it
                self.metrics.decisions["reopened"].inc()
        # The visitor's message: a check-in's ``reopened`` may come before it, a bot's
        # ``joined`` after it.
        message = next(m for m in change.messages if m.author_type == "visitor")
        in_ack = sender is not None and sender.sent_in_ack(change.conversation.id, message.seq,
                                                           change.duplicate)
        await self.publish(change, sender.uid if sender is not None else None)
        return Sent(change, message, in_ack)

    async def agent_send(
        self, agent: Agent, site_ids: Sequence[str], conversation_id: str, client_msg_id: str,
        body: str, attachment: str | None = None, sender: Connection | None = None,
        after: asyncio.Future[Any] | None = None,
    ) -> Sent:
        """The reply comes back to ``sender`` in its ack (a ``joined`` before it, when the reply
        claimed the conversation, comes as a frame like any event). ``after``: see
        ``in_turn``."""
        with _sending(sender, client_msg_id):
            change = await self.store.append_agent_message(
                agent, site_ids, conversation_id, client_msg_id, body, attachment
            )
            await in_turn(after)
            in_ack = sender is not None and sender.sent_in_ack(
                conversation_id, change.messages[-1].seq, change.duplicate)
        if not change.duplicate:
            self._agent_messages.inc()
            if len(change.messages) > 1:  # the reply claimed the conversation
                self.metrics.decisions["claimed"].inc()
        await self.publish(change)
        return Sent(change, change.messages[-1], in_ack)

    async def rate(self, who: VisitorIdentity, conversation_id: str, score: int,
                   comment: str | None) -> Change:
        change = await self.store.rate(who.visitor_id, conversation_id, score, comment)
        await self.publish(change)
        return change

    async def profile(self, who: VisitorIdentity, name: str | None, email: str | None,
                      attributes: dict[str, Any] | None = None) -> None:
        """The visitor told us their name or email (and, through the REST API, attributes with
        them, in the same write): agents' inboxes show it."""
        conversation = await self.store.set_visitor_profile(who.site_id, who.visitor_id, name,
                                                            email, attributes)
        if conversation is not None:
            self._inbox_update(conversation)

    async def read(self, conversation_id: str, reader: str, seq: int) -> None:
        """A "seen" receipt: stored (so that it survives reconnects), then announced."""
        mark = await self.store.mark_read(conversation_id, reader, seq)
        if mark is None:
            return
        try:
            await self.broker.publish(conversation_channel(conversation_id), orjson.dumps({
                "type": "read", "conversation_id": conversation_id, "reader": reader,
                "up_to": mark,
            }))
        except Exception as exc:  # the mark is stored; the next open shows it
            log.warning("read publish failed (%s)", type(exc).__name__)
        if reader == "agent":  # its unread count ("N new") changed in every agent's inbox
            conversation = await self.store.conversation(conversation_id)
            if conversation is not None:
                self._inbox_update(conversation)

    async def claim(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        change = await self.store.claim(agent, site_ids, conversation_id)
        if not change.duplicate:
            self.metrics.decisions["claimed"].inc()
        await self.publish(change)
        return change

    async def resolve(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        change = await self.store.resolve(agent, site_ids, conversation_id)
        if not change.duplicate:
            self.metrics.decisions["resolved"].inc()
        await self.publish(change)
        return change

    async def transfer(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                       to_agent_id: str, note: str | None = None) -> Change:
        change = await self.store.transfer(agent, site_ids, conversation_id, to_agent_id, note)
        if not change.duplicate:
            self.metrics.decisions["transferred"].inc()
        await self.publish(change)
        return change

    async def note(self, agent: Agent, site_ids: Sequence[str], conversation_id: str,
                   client_msg_id: str, body: str, sender: Connection | None = None,
                   mentions: Sequence[str] = ()) -> Sent:
        with _sending(sender, client_msg_id):
            change = await self.store.add_note(agent, site_ids, conversation_id, client_msg_id,
                                               body, mentions)
            in_ack = sender is not None and sender.sent_in_ack(
                conversation_id, change.messages[-1].seq, change.duplicate)
        if not change.duplicate:
            self.metrics.notes.inc()
        await self.publish(change)
        if not change.duplicate:
            await self._mentioned(change)
        return Sent(change, change.messages[-1], in_ack)

    async def _mentioned(self, change: Change) -> None:
        """Each colleague a note mentions is told (``mention``), on every panel of theirs."""
        note = change.messages[-1]
        mentioned = (note.data or {}).get("mentions") or ()
        if not mentioned:
            return
        frame = orjson.dumps({"type": "mention", "conversation": change.conversation.summary(),
                              "message": note.frame()})
        for agent_id in mentioned:
            try:
                await self.broker.publish(agent_channel(agent_id), frame)
            except Exception as exc:  # the note is stored, and in the conversation
                log.warning("a mention was not announced (%s)", type(exc).__name__)

    async def reopen(self, agent: Agent, site_ids: Sequence[str], conversation_id: str) -> Change:
        change = await self.store.reopen(agent, site_ids, conversation_id)
        if not change.duplicate:
            self.metrics.decisions["reopened"].inc()
        await self.publish(change)
        return change

    async def snooze(self, site_ids: Sequence[str], conversation_id: str,
                     until: int | None) -> Conversation:
        conversation = await self.store.snooze(site_ids, conversation_id, until)
        self._inbox_update(conversation)
        return conversation

    async def assign_team(self, site_ids: Sequence[str], conversation_id: str,
                          team_id: str | None) -> Conversation:
        conversation = await self.store.assign_team(site_ids, conversation_id, team_id)
        self._inbox_update(conversation)
        return conversation

    async def wake_snoozed(self) -> None:
        """Snoozes that ran out: back in every inbox (the panel notifies its agent)."""
        for conversation in await self.store.wake_snoozed():
            self._inbox_update(conversation)
        for wake in self.sweepers:
            await wake()

    async def tag(self, site_ids: Sequence[str], conversation_id: str, tag: str,
                  on: bool) -> Conversation:
        conversation = await self.store.set_tag(site_ids, conversation_id, tag, on)
        self._inbox_update(conversation)
        return conversation

    async def typing(self, conversation_id: str, author: dict[str, object], active: bool,
                     preview: str | None = None) -> None:
        """Ephemeral: published without a seq, never stored or recovered."""
        frame: dict[str, object] = {"type": "typing", "conversation_id": conversation_id,
                                    "author": author, "active": active}
        if preview is not None:
            frame["preview"] = preview
        await self.broker.publish(conversation_channel(conversation_id), orjson.dumps(frame))

    async def visited(self, site_id: str, conversation_id: str, url: str, title: str,
                      at: int) -> None:
        """Ephemeral, like presence: the visitor is on another page (the agents of the site are
        told; the panel adds it to the context column of that conversation, if open)."""
        try:
            await self.broker.publish(site_channel(site_id), orjson.dumps({
                "type": "visited", "conversation_id": conversation_id,
                "page": {"url": url, "title": title, "at": at},
            }))
        except Exception as exc:  # the page is stored; the next open shows it
            log.warning("visited publish failed (%s)", type(exc).__name__)

    async def visitor_presence(self, conversation_id: str, online: bool) -> None:
        """Ephemeral, like typing: the visitor's chat frame opened or the last one closed."""
        await self.broker.publish(conversation_channel(conversation_id), orjson.dumps({
            "type": "presence", "conversation_id": conversation_id, "visitor_online": online,
        }))

    async def publish(self, change: Change, origin: str | None = None) -> None:
        """Ring the doorbell for a committed change (nothing for a duplicate)."""
        if change.duplicate:
            return
        conv = change.conversation
        if change.created:
            self.metrics.conversations_opened.inc()
        try:
            for message in change.messages:
                await self.broker.publish(
                    conversation_channel(conv.id), orjson.dumps(message.frame())
                )
            if change.created:
                frame = orjson.dumps({"type": "conversation",
                                      "conversation": conv.visitor_state()})
                await self.broker.publish(visitor_channel(conv.visitor_id),
                                          from_connection(origin, frame) if origin else frame)
        except Exception as exc:  # committed is committed; readers catch up from the store
            log.warning("publish failed (%s); subscribers will catch up", type(exc).__name__)
        self._inbox_update(conv)
        # Routing cares about conversations opening, and changing hands or status; not about
        # every message of a conversation (poking the router per message halved throughput).
        routing = change.created or any(m.kind in _ROUTING_KINDS for m in change.messages)
        if routing and self.on_change is not None:
            self.on_change(conv)

"""This process's live connections: bounded outbound queues, in-order exactly-once delivery of
conversation messages, and fan-out of broker channels with local reference counts.

Every frame a socket receives goes through its ``Connection`` queue, drained by one pump task
(the only writer to the socket). Conversation messages carry their ``seq``; the pump keeps a
cursor per watched conversation and sends each ``seq`` exactly once and in order: anything at or
below the cursor is dropped, and a jump past ``cursor + 1`` (a missed doorbell) is filled from the
store. Catching up on (re)connect is the same mechanism: set the cursor to the client's
``last_seq`` and ring once. A conversation's doorbells are not queued while the pump reads it
(``_catch_up``): it reads again instead, so a burst during a read cannot fill the queue.

Internal notes (``kind: note``) take their place in the sequence like any message, but a visitor's
connection never sends one: its cursor steps over them, live and when catching up. That one check,
here, is what keeps notes from visitors (tests/test_agent_tools.py tries every path).

A queue that overflows means the reader cannot keep up: the connection is closed with
``Close.SLOW_CONSUMER`` and the client resumes from its last ``seq``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Awaitable, Callable

import orjson

from server.broker import Broker
from server.errors import Close
from server.inbox import Inbox
from server.records import record
from server.store import Store
from server.store.models import PRIVATE_KINDS, Message

log = logging.getLogger("livechat.hub")
#: Sends a list of encoded frames, in order (at once, where the transport allows it).
Send = Callable[[list[bytes]], Awaitable[None]]
PAGE = 200
#: Frames written together at most, when several are ready at once.
BATCH = 64


@record
class _Frame:
    data: bytes


@record
class _Message:
    conversation_id: str
    seq: int
    data: bytes
    #: For agents only (an internal note): a visitor's cursor passes it without sending it.
    private: bool = False
    #: What a visitor is sent instead of ``data`` (an agent's message without the agent's id).
    visitor_data: bytes | None = None


@record
class _Ack:
    """The ack of this socket's own message at ``seq`` (``Connection.ack``)."""
    conversation_id: str
    seq: int
    data: bytes


@record
class _CatchUp:
    conversation_id: str


@record
class _Stop:
    code: int
    reason: str


_Item = _Frame | _Message | _Ack | _CatchUp | _Stop
_ids = itertools.count(1)


#: Frames on a conversation's channel that agents alone are sent.
_AGENT_ONLY = frozenset({"presence"})


class Connection:
    def __init__(self, role: str, queue_size: int) -> None:
        # The process id first: several workers each number their connections from 1.
        self.id = f"{role[0]}{os.getpid()}-{next(_ids)}"
        #: Unique across processes on several machines too (``id`` is within one machine).
        self.uid = f"{os.getpid()}.{self.id}"
        self.role = role
        self._queue: Inbox[_Item] = Inbox(maxsize=queue_size)
        self._queue_size = queue_size
        #: What the hub delivered while the session makes its first frame (``hold``).
        self._held: list[_Item] | None = None
        self.cursors: dict[str, int] = {}
        #: conversation id -> seqs this socket is given in an ack (its own messages), each
        #: with whether that ack has gone out yet: the cursor passes them without sending them
        #: again.
        self.acked: dict[str, dict[int, bool]] = {}
        #: conversation id -> the seq of this socket's own message that the pump has reached
        #: before its ack went out: what comes after it in that conversation waits for the ack,
        #: so that no later seq reaches the client before it.
        self._before_ack: dict[str, int] = {}
        #: Conversations in which something came while waiting so (a doorbell, a catch-up):
        #: the ack's release reads the store from the cursor, so that none is left waiting for
        #: another doorbell. (An own message alone, the usual case, costs no read.)
        self._missed: set[str] = set()
        #: Client ids of this socket's sends between their write and ``sent_in_ack``: a
        #: catch-up that reads one of them from the store stops there, as for an acked one.
        self._sending: set[str] = set()
        #: The conversation the pump is reading from the store (``_catch_up``), and whether a
        #: doorbell of it rang meanwhile: such doorbells are not queued (the pump reads again
        #: after this read instead), so that a burst during a read cannot fill the queue.
        self._reading: str | None = None
        self._rang = False
        self.channels: set[str] = set()
        self.stopping = False
        #: The agent this connection belongs to (None for visitors).
        self.agent_id: str | None = None
        #: The address a visitor's connection comes from (for address blocks).
        self.ip: str | None = None
        #: Called when the broker may have dropped messages (besides the cursors catching up).
        self.on_reset: Callable[[], None] | None = None
        #: Closes the socket at once, whatever the peer reads (set by the session when the
        #: transport allows it): a reader that cannot keep up is not waited for.
        self.close_now: Callable[[int, str], None] | None = None
        self.closed_now = False

    def hold(self) -> None:
        """Every frame from now on waits until the session's first (``release``: its
        ``welcome``), which must come first: the session subscribes before it reads what the
        welcome says, so that nothing published meanwhile is lost, and a ``queue`` or
        ``conversation`` frame published then (or an inbox resync) would otherwise overtake
        it."""
        self._held = []

    def release(self, first: bytes) -> None:
        """The session's first frame, then what waited behind it (``hold``)."""
        held, self._held = self._held, None
        self.push(_Frame(first))
        for item in held or ():
            self.push(item)

    def push(self, item: _Item) -> None:
        if self.stopping:
            return
        if type(item) is _Message and item.conversation_id == self._reading:
            self._rang = True  # read from the store once this read ends (``_catch_up``)
            return
        if self._held is not None:
            if len(self._held) >= self._queue_size:
                self.stop(Close.SLOW_CONSUMER, "slow consumer")
            else:
                self._held.append(item)
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.stop(Close.SLOW_CONSUMER, "slow consumer")

    def send(self, data: bytes) -> None:
        self.push(_Frame(data))

    def stop(self, code: int, reason: str) -> None:
        """Ask the pump to close the socket once what is queued before it has been sent;
        when the queue is full (the reader is not keeping up), close at once."""
        if self.stopping:
            return
        self.stopping = True
        try:
            self._queue.put_nowait(_Stop(code, reason))
        except asyncio.QueueFull:
            # Drop what is pending: the client resumes from its last seq anyway.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_Stop(code, reason))
            if self.close_now is not None:
                # The pump may be stuck in a send the peer never reads: do not wait for it.
                log.warning("%s closed: %s (%d)", self.id, reason, code)
                self.closed_now = True
                self.close_now(code, reason)

    def sent_in_ack(self, conversation_id: str, seq: int, duplicate: bool = False) -> bool:
        """``seq`` (the sender's own message) goes to the client in its ack (``ack``), not as
        a frame. False when it cannot: the pump already sent it (a catch-up that read the store
        between the commit and now) — the ack then carries no message. An agent's socket that
        has not opened the conversation gets none of its frames: the ack carries it, and there
        is no frame to hold back. (A visitor's socket follows the conversation its send
        opens.) A resend's ack (``duplicate``) carries the message only when the pump waits for
        it there (``sending``): the socket was sent it before, or is sent it as a frame."""
        if self._before_ack.get(conversation_id) == seq:
            return True  # a catch-up reached it first, and waits for this ack (``sending``)
        if duplicate:
            return False
        cursor = self.cursors.get(conversation_id)
        if cursor is None and self.role == "agent":
            return True
        if cursor is not None and seq <= cursor:
            return False
        seqs = self.acked.setdefault(conversation_id, {})
        if len(seqs) >= 1024:  # bounded (a socket never has that many acks outstanding)
            return False
        seqs[seq] = False
        return True

    def sending(self, client_id: str) -> None:
        """This socket is writing its message ``client_id`` (until ``done_sending``, called
        after ``sent_in_ack``)."""
        self._sending.add(client_id)

    def done_sending(self, client_id: str) -> None:
        self._sending.discard(client_id)

    def _sent_here(self, message: Message) -> bool:
        """Whether ``message`` is one this socket is sending (``sending``), not yet acked."""
        if message.client_msg_id is None or message.client_msg_id not in self._sending:
            return False
        return message.author_type == "visitor" if self.role == "visitor" else (
            message.author_id == self.agent_id)

    def ack(self, conversation_id: str, seq: int, data: bytes) -> None:
        """Queue the ack (``data``) of this socket's own message at ``seq``: what the pump
        holds back behind that message (``_before_ack``) follows it."""
        self.push(_Ack(conversation_id, seq, data))

    def _own(self, conversation_id: str, seq: int) -> bool | None:
        """Whether the message at ``seq`` (the cursor's next) reaches this socket in an ack:
        None if not; if so, whether that ack has already gone out (its doorbell never rang, a
        publish having failed, and a catch-up reached it later)."""
        acked = self.acked.get(conversation_id)
        if acked is None:
            return None
        out = acked.pop(seq, None)
        if not acked:
            del self.acked[conversation_id]
        return out

    def catch_up(self, conversation_id: str) -> None:
        """Send what the store has after this socket's cursor (events written with the
        sender's own message, which waited for its ack: a bot's ``joined``)."""
        self.push(_CatchUp(conversation_id))

    def forget(self, conversation_id: str) -> None:
        """Deliver nothing more of this conversation (its channel was left)."""
        self.cursors.pop(conversation_id, None)
        self.acked.pop(conversation_id, None)
        self._before_ack.pop(conversation_id, None)
        self._missed.discard(conversation_id)

    def watch(self, conversation_id: str, last_seq: int) -> None:
        """Deliver this conversation from ``last_seq + 1`` on (call after subscribing)."""
        self._before_ack.pop(conversation_id, None)
        self._missed.discard(conversation_id)
        self.cursors[conversation_id] = last_seq
        self.push(_CatchUp(conversation_id))

    async def pump(self, send: Send, store: Store) -> _Stop:
        """Drain the queue into ``send`` until asked to stop; returns the stop request.

        Whatever is queued when the pump wakes goes out together (``send`` takes a list, written
        at once), up to ``BATCH`` frames; a catch-up from the store sends what was gathered
        before it first, so the order is the queue's."""
        out: list[bytes] = []
        item: _Item | None = None
        while True:
            if out:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    item = None
                    await send(out)
                    out = []
                    continue
            else:
                # Not kept while the socket is idle: the last frame sent (a welcome is kilobytes).
                item = None
                item = await self._queue.get()
            if isinstance(item, _Frame):
                out.append(item.data)
            elif isinstance(item, _Message):
                conversation_id = item.conversation_id
                cursor = self.cursors.get(conversation_id)
                if cursor is None or item.seq <= cursor:
                    continue
                if conversation_id in self._before_ack:
                    self._missed.add(conversation_id)  # (the ack's release catches up)
                elif item.seq == cursor + 1:
                    own = self._own(conversation_id, item.seq)
                    if own is False:
                        self._before_ack[conversation_id] = item.seq
                    elif own is None and not (item.private and self.role == "visitor"):
                        out.append(item.data if self.role != "visitor"
                                   else item.visitor_data or item.data)
                    self.cursors[conversation_id] = item.seq
                else:
                    out = await self._flush(out, send)
                    await self._catch_up(conversation_id, send, store)
            elif isinstance(item, _Ack):
                out.append(item.data)
                conversation_id = item.conversation_id
                if self._before_ack.get(conversation_id) == item.seq:
                    del self._before_ack[conversation_id]
                    if conversation_id in self._missed:  # what waited behind it follows
                        self._missed.discard(conversation_id)
                        out = await self._flush(out, send)
                        await self._catch_up(conversation_id, send, store)
                else:
                    acked = self.acked.get(conversation_id)
                    if acked is not None and item.seq in acked:  # out before its message
                        acked[item.seq] = True
            elif isinstance(item, _CatchUp):
                if item.conversation_id in self._before_ack:
                    self._missed.add(item.conversation_id)  # (the ack's release catches up)
                    continue
                out = await self._flush(out, send)
                await self._catch_up(item.conversation_id, send, store)
            else:
                await self._flush(out, send)
                return item
            if len(out) >= BATCH:
                out = await self._flush(out, send)

    @staticmethod
    async def _flush(out: list[bytes], send: Send) -> list[bytes]:
        if out:
            await send(out)
        return []

    async def _catch_up(self, conversation_id: str, send: Send, store: Store) -> None:
        """Send what the store has after the cursor. Doorbells of this conversation that ring
        meanwhile are not queued (``push``): the store is read again after each read they rang
        during, until one ends with none (each read covers what was committed before it
        began, and a doorbell rings after its commit)."""
        self._reading = conversation_id
        try:
            while conversation_id in self.cursors:
                self._rang = False
                page = await store.messages_after(conversation_id,
                                                  self.cursors[conversation_id], PAGE)
                if conversation_id not in self.cursors:
                    return  # forgotten during the read (its channel was left)
                if not await self._send_page(conversation_id, page, send):
                    return
                if len(page) < PAGE and not self._rang:
                    return
        finally:
            self._reading = None

    async def _send_page(self, conversation_id: str, page: list[Message], send: Send) -> bool:
        """Send a page read by ``_catch_up``; False where it stopped at this socket's own
        message (``_before_ack``)."""
        out: list[bytes] = []
        for message in page:
            self.cursors[conversation_id] = message.seq
            own = self._own(conversation_id, message.seq)
            if own is None and self._sent_here(message):  # its ack is not queued yet
                own = False
            if own is False:
                # This socket's own message, its ack still queued. Anything after it waits
                # until the ack has gone out (``_before_ack``), so that the client never
                # sees a later seq before the one in that ack; the store is read again
                # then, where this page went on (or a doorbell rang during the read).
                self._before_ack[conversation_id] = message.seq
                if message is not page[-1] or len(page) == PAGE or self._rang:
                    self._missed.add(conversation_id)
                await self._flush(out, send)
                return False
            if own is None and not (message.private and self.role == "visitor"):
                out.append(orjson.dumps(message.frame() if self.role != "visitor"
                                        else message.visitor_frame()))
        await self._flush(out, send)
        return True


def _visitor_view(frame: dict[str, object]) -> bytes | None:
    """An agent's or the system's message as a visitor is sent it (no internal ids; the name
    and, for agents, the picture)."""
    author = frame.get("author")
    if not isinstance(author, dict) or author.get("type") == "visitor":
        return None
    return orjson.dumps({**frame, "author": {k: v for k, v in author.items() if k != "id"}})


class Hub:
    """Fan-out from broker channels to this process's connections."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._subscribers: dict[str, set[Connection]] = {}
        self.connections: set[Connection] = set()

    def register(self, conn: Connection) -> None:
        self.connections.add(conn)

    def local_agents(self) -> set[str]:
        """Agents with a panel connected to this process."""
        return {c.agent_id for c in self.connections if c.agent_id is not None}

    async def unregister(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for channel in list(conn.channels):
            await self.unsubscribe(conn, channel)

    async def subscribe(self, conn: Connection, channel: str) -> None:
        if channel in conn.channels:
            return
        conn.channels.add(channel)
        local = self._subscribers.setdefault(channel, set())
        local.add(conn)
        if len(local) == 1:
            await self._broker.subscribe(channel)

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        if channel not in conn.channels:
            return
        conn.channels.discard(channel)
        if channel.startswith("conv:"):
            conn.forget(channel[5:])
        local = self._subscribers.get(channel)
        if local is None:
            return
        local.discard(conn)
        if not local:
            del self._subscribers[channel]
            await self._broker.unsubscribe(channel)

    def deliver(self, channel: str, data: bytes) -> None:
        """Called by the broker for every message on a subscribed channel (decoded once here,
        whatever the number of local sockets)."""
        local = self._subscribers.get(channel)
        if not local:
            return
        item: _Item
        agents_only = False
        skip: str | None = None
        if channel.startswith("conv:"):
            try:
                frame = orjson.loads(data)
                # Other frames (typing, receipts) are ephemeral: passed on, never recovered.
                if frame.get("type") == "message":
                    visitors = any(conn.role == "visitor" for conn in local)
                    item = _Message(channel[5:], int(frame["seq"]), data,
                                    frame.get("kind") in PRIVATE_KINDS,
                                    _visitor_view(frame) if visitors else None)
                else:
                    item = _Frame(data)
                    # A visitor is not sent its own typing, nor the agents' presence frames.
                    agents_only = frame.get("type") in _AGENT_ONLY or (
                        frame.get("type") == "typing"
                        and frame.get("author", {}).get("type") == "visitor")
            except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
                log.error("dropped a malformed broker message on %s", channel.split(":")[0])
                return
        elif channel.startswith("session:") or data.startswith(b'{"close"'):
            try:
                order = orjson.loads(data)
                code, ip = int(order["close"]), order.get("ip")
            except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
                log.error("dropped a malformed close order")
                return
            # (A visitor's sockets are closed by a block, or by their erasure.)
            reason = "your account was changed" if channel.startswith(("agent:", "session:")) \
                else "blocked" if code == Close.BLOCKED else "erased"
            for conn in list(local):
                if ip is None or conn.ip == ip:
                    conn.stop(code, reason)
            return
        else:
            if data.startswith(b"@"):
                origin, _, data = data.partition(b" ")
                skip = origin[1:].decode(errors="replace")
            item = _Frame(data)
        for conn in list(local):
            if (agents_only and conn.role == "visitor") or conn.uid == skip:
                continue
            conn.push(item)

    def reset(self) -> None:
        """The broker may have dropped messages: every watched conversation catches up."""
        for conn in list(self.connections):
            for conversation_id in list(conn.cursors):
                conn.push(_CatchUp(conversation_id))
            if conn.on_reset is not None:
                conn.on_reset()

    def close_all(self, code: int, reason: str) -> None:
        for conn in list(self.connections):
            conn.stop(code, reason)

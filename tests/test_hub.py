"""Connection pumps and fan-out, with a fake store and a recording broker: no sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from server.channels import conversation_channel
from server.errors import Close
from server.hub import Connection, Hub
from server.store import Message


def msg(conv: str, seq: int) -> Message:
    return Message(conv, seq, f"c{seq}", "text", "visitor", "v", None, f"body {seq}", seq)


class FakeStore:
    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.reads = 0

    async def messages_after(self, conv: str, after: int, limit: int = 200) -> list[Message]:
        self.reads += 1
        return [m for m in self.messages if m.conversation_id == conv and m.seq > after][:limit]


class RecordingBroker:
    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.unsubscribed: list[str] = []

    async def subscribe(self, channel: str) -> None:
        self.subscribed.append(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.unsubscribed.append(channel)


async def run_pump(conn: Connection, store: Any, stop_after: int) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def send(frames: list[bytes]) -> None:
        sent.extend(orjson.loads(data) for data in frames)
        if len(sent) >= stop_after:
            done.set()

    task = asyncio.create_task(conn.pump(send, store))
    await asyncio.wait_for(done.wait(), 5)
    conn.stop(Close.NORMAL, "done")
    await asyncio.wait_for(task, 5)
    return sent


def live(hub: Hub, message: Message) -> None:
    hub.deliver(conversation_channel(message.conversation_id), orjson.dumps(message.frame()))


async def test_catch_up_then_live_exactly_once_in_order() -> None:
    history = [msg("c", s) for s in range(1, 451)]  # more than two pages
    store = FakeStore(history)
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    conn = Connection("agent", 1000)
    await hub.subscribe(conn, conversation_channel("c"))
    conn.watch("c", 10)
    # Live doorbells that overlap the catch-up, arrive twice, or arrive early.
    for seq in (449, 450, 450, 12):
        live(hub, history[seq - 1])
    store.messages.append(msg("c", 451))
    live(hub, msg("c", 451))
    sent = await run_pump(conn, store, stop_after=441)
    assert [f["seq"] for f in sent] == list(range(11, 452))


async def test_a_missed_doorbell_is_filled_from_the_store() -> None:
    store = FakeStore([msg("c", s) for s in range(1, 6)])
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    conn = Connection("visitor", 100)
    await hub.subscribe(conn, conversation_channel("c"))
    conn.cursors["c"] = 2
    live(hub, msg("c", 5))  # 3 and 4 never rang
    sent = await run_pump(conn, store, stop_after=3)
    assert [f["seq"] for f in sent] == [3, 4, 5]


async def test_a_senders_own_message_goes_in_its_ack_not_again_as_a_frame() -> None:
    """Live, and when the cursor was behind and the store fills the gap: never twice."""
    store = FakeStore([msg("c", s) for s in range(1, 7)])
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    sender, other_tab = Connection("visitor", 100), Connection("visitor", 100)
    for conn in (sender, other_tab):
        await hub.subscribe(conn, conversation_channel("c"))
        conn.cursors["c"] = 2
    for seq in (3, 6):  # the sender's: 3 is rung live; 6 comes after a gap (4, 5 never rang)
        sender.sent_in_ack("c", seq)
    sender.sent_in_ack("c", 1)  # a resend's ack of an old one: already sent, nothing to skip
    live(hub, msg("c", 3))
    sender.ack("c", 3, ack("c", 3))  # (as the session queues it, after the commit's doorbell)
    live(hub, msg("c", 6))
    sender.ack("c", 6, ack("c", 6))
    assert [(f["type"], f["seq"]) for f in await run_pump(sender, store, stop_after=4)] == [
        ("ack", 3), ("message", 4), ("message", 5), ("ack", 6)]
    assert sender.cursors["c"] == 6 and sender.acked == {}
    assert [f["seq"] for f in await run_pump(other_tab, store, stop_after=4)] == [3, 4, 5, 6]


def ack(conv: str, seq: int) -> bytes:
    return orjson.dumps({"type": "ack", "id": f"a{seq}", "conversation_id": conv, "seq": seq})


async def following(stored: int) -> tuple[FakeStore, Hub, Connection]:
    """A visitor's socket following conversation "c" from seq 1, with ``stored`` messages in
    the store."""
    store = FakeStore([msg("c", s) for s in range(1, stored + 1)])
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    sender = Connection("visitor", 100)
    await hub.subscribe(sender, conversation_channel("c"))
    sender.cursors["c"] = 1
    return store, hub, sender


async def test_what_follows_a_senders_own_message_waits_for_its_ack_and_then_comes() -> None:
    """Before: the doorbell of a later message (an agent's reply, written in the same batch and
    published first) started a catch-up that stopped at the sender's own message, the
    sender's own doorbell was then behind the cursor, and the reply waited for some later
    event; rung the other way round, the reply went out before the sender's ack."""
    for order in ((3, 2), (2, 3)):
        store, hub, sender = await following(3)
        assert sender.sent_in_ack("c", 2)
        for seq in order:
            live(hub, msg("c", seq))
        sender.ack("c", 2, ack("c", 2))
        sent = await run_pump(sender, store, stop_after=2)
        assert [(f["type"], f["seq"]) for f in sent] == [("ack", 2), ("message", 3)], order
        assert sender.cursors["c"] == 3


async def test_a_senders_own_messages_cost_no_store_read() -> None:
    """Before: every own message rung live waited for its ack and then read the store for what
    might have come meanwhile (nothing had): a read per message per sending socket, which
    under load fell behind and closed the senders as slow consumers (4008)."""
    store, hub, sender = await following(6)
    for seq in range(2, 7):  # as the endpoint does: the commit's doorbell, then the ack
        assert sender.sent_in_ack("c", seq)
        live(hub, msg("c", seq))
        sender.ack("c", seq, ack("c", seq))
    sent = await run_pump(sender, store, stop_after=5)
    assert [(f["type"], f["seq"]) for f in sent] == [("ack", s) for s in range(2, 7)]
    assert store.reads == 0 and sender.cursors["c"] == 6 and sender.acked == {}


async def test_an_ack_ahead_of_its_doorbell_holds_nothing_back() -> None:
    """The sender's own doorbell never rang (a publish failed; committed is committed), so its
    ack went out before the cursor reached it; the next message's catch-up then reaches it.
    Before, the socket waited there for that ack again, and got nothing more of the
    conversation."""
    store, hub, sender = await following(4)
    assert sender.sent_in_ack("c", 2)
    sender.ack("c", 2, ack("c", 2))
    live(hub, msg("c", 3))  # an agent's reply: 2 is filled from the store, not sent again
    live(hub, msg("c", 4))
    sent = await run_pump(sender, store, stop_after=3)
    assert [(f["type"], f["seq"]) for f in sent] == [("ack", 2), ("message", 3), ("message", 4)]
    assert sender.cursors["c"] == 4 and sender.acked == {}


async def test_frames_ready_together_go_out_in_one_write() -> None:
    conn = Connection("agent", 100)
    for i in range(5):
        conn.send(b'{"n": %d}' % i)
    conn.stop(Close.NORMAL, "done")
    writes: list[list[bytes]] = []

    async def send(frames: list[bytes]) -> None:
        writes.append(frames)

    stop = await asyncio.wait_for(conn.pump(send, FakeStore([])), 5)  # type: ignore[arg-type]
    assert stop.code == Close.NORMAL
    assert writes == [[b'{"n": %d}' % i for i in range(5)]]


async def test_reset_makes_every_watcher_catch_up() -> None:
    store = FakeStore([msg("a", 1), msg("b", 1), msg("b", 2)])
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    conn = Connection("agent", 100)
    hub.register(conn)
    conn.cursors.update({"a": 0, "b": 1})
    hub.reset()
    sent = await run_pump(conn, store, stop_after=2)
    assert sorted((f["conversation_id"], f["seq"]) for f in sent) == [("a", 1), ("b", 2)]


async def test_what_is_delivered_while_a_session_starts_waits_for_its_welcome() -> None:
    """A session subscribes, then reads what its welcome says (nothing published meanwhile is
    lost), then sends it. Before: a ``queue`` frame published in between reached the visitor
    before its ``welcome``; now the hub's deliveries wait behind the session's first frame."""
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    conn = Connection("visitor", 100)
    hub.register(conn)
    conn.hold()
    await hub.subscribe(conn, "visitor:v")
    hub.deliver("visitor:v", b'{"type": "queue", "position": 2}')
    conn.send(b'{"type": "inbox"}')  # (the session's own frames wait too: a resync's)
    conn.release(b'{"type": "welcome"}')
    hub.deliver("visitor:v", b'{"type": "queue", "position": 1}')
    sent = await run_pump(conn, FakeStore([]), stop_after=4)
    assert [(f["type"], f.get("position")) for f in sent] == [
        ("welcome", None), ("queue", 2), ("inbox", None), ("queue", 1)]


async def test_slow_consumer_is_stopped_with_its_code() -> None:
    conn = Connection("visitor", 3)
    for i in range(5):
        conn.send(b'{"n": %d}' % i)
    assert conn.stopping
    stop = await asyncio.wait_for(conn.pump(lambda d: asyncio.sleep(0), FakeStore([])), 5)  # type: ignore[arg-type]
    assert stop.code == Close.SLOW_CONSUMER


async def test_one_broker_subscription_per_channel_per_process() -> None:
    broker = RecordingBroker()
    hub = Hub(broker)  # type: ignore[arg-type]
    conns = [Connection("agent", 10) for _ in range(3)]
    for conn in conns:
        hub.register(conn)
        await hub.subscribe(conn, "site:s")
        await hub.subscribe(conn, "site:s")
    assert broker.subscribed == ["site:s"]
    hub.deliver("site:s", b'{"type":"conversation"}')
    await hub.unregister(conns[0])
    await hub.unregister(conns[1])
    assert broker.unsubscribed == []
    await hub.unregister(conns[2])
    assert broker.unsubscribed == ["site:s"]


async def test_malformed_broker_message_is_dropped() -> None:
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    conn = Connection("agent", 10)
    await hub.subscribe(conn, "conv:c")
    hub.deliver("conv:c", b"not json")
    hub.deliver("conv:nobody", b"{}")
    assert conn._queue.empty()


async def test_an_own_message_read_from_the_store_before_its_ack_waits_for_it() -> None:
    """A catch-up (another tab's message rang out of order, from another process) read the
    sender's own message between its commit and ``sent_in_ack``. Before, it went out as a
    frame, the next seq after it, and then the ack (with no message): an ack after a higher
    seq, which docs/protocol.md rules out. The socket knows the ids it is sending: the pump
    stops there, and the ack carries the message."""
    store, hub, sender = await following(3)
    sender.sending("c2")  # this socket's send of c2 (seq 2): committed, not yet acked
    live(hub, msg("c", 3))  # another tab's, rung first: a gap, filled from the store
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def send(frames: list[bytes]) -> None:
        sent.extend(orjson.loads(data) for data in frames)
        done.set()

    task = asyncio.create_task(sender.pump(send, store))
    for _ in range(100):  # the pump's turns (no clock): it reads the page, and goes on…
        await asyncio.sleep(0)
    assert store.reads == 1 and sent == []  # …no further than c2
    assert sender.sent_in_ack("c", 2)  # the ack carries it
    sender.done_sending("c2")
    sender.ack("c", 2, ack("c", 2))
    await asyncio.wait_for(done.wait(), 5)
    while len(sent) < 2:
        done.clear()
        await asyncio.wait_for(done.wait(), 5)
    sender.stop(Close.NORMAL, "done")
    await asyncio.wait_for(task, 5)
    assert [(f["type"], f["seq"]) for f in sent] == [("ack", 2), ("message", 3)]


class GatedStore(FakeStore):
    """Each read sees what was stored when it began, and answers when ``gate`` is set (as a
    read behind a busy writer does)."""

    def __init__(self, messages: list[Message]) -> None:
        super().__init__(messages)
        self.gate = asyncio.Event()
        self.reading = asyncio.Event()

    async def messages_after(self, conv: str, after: int, limit: int = 200) -> list[Message]:
        self.reading.set()
        page = await super().messages_after(conv, after, limit)
        await self.gate.wait()
        return page


async def test_a_burst_that_rings_during_a_read_does_not_fill_the_queue() -> None:
    """Before: every doorbell that rang while the pump read the store (a catch-up: with two
    processes, the other's doorbells often ring out of order) was queued behind the read, and
    a burst of a few hundred filled the queue: the socket was closed as a slow consumer
    (4008), though its reader kept up (two tabs on two processes, 300 sends each, pipelined).
    Doorbells of the conversation being read are not queued: the store is read again."""
    store = GatedStore([msg("c", 1)])
    hub = Hub(RecordingBroker())  # type: ignore[arg-type]
    conn = Connection("visitor", 50)
    await hub.subscribe(conn, conversation_channel("c"))
    conn.watch("c", 0)
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def send(frames: list[bytes]) -> None:
        sent.extend(orjson.loads(data) for data in frames)
        if sent and sent[-1]["seq"] == 500:
            done.set()

    task = asyncio.create_task(conn.pump(send, store))
    await store.reading.wait()
    for seq in range(2, 501):  # ten times the queue, while the first read waits
        store.messages.append(msg("c", seq))
        live(hub, msg("c", seq))
    assert not conn.stopping
    store.gate.set()
    await asyncio.wait_for(done.wait(), 5)
    assert [f["seq"] for f in sent] == list(range(1, 501))
    assert store.reads == 4  # 1 (under way when the burst rang), then 2–201, 202–401, 402–500
    conn.stop(Close.NORMAL, "done")
    await asyncio.wait_for(task, 5)

"""Queue routing: who gets a waiting conversation, and what waiting visitors are told.

``choose`` and ``expected_wait`` are pure. ``Router`` is the service: it asks presence who is
online, lets the store assign inside one transaction (so capacity holds across processes, however
many conversations arrive at once), publishes what changed, and tells waiting visitors their
place in the queue. Every process runs a router; they can only race in the store, where the
compare-and-set decides.

Triggers: a new conversation, an agent coming online, a conversation resolved or transferred
(``poke``), and a sweep every ``interval`` seconds as the safety net that keeps "no conversation
waits while an eligible agent has room" true whatever was missed. The sweep also returns to the
queue the conversations of agents gone for longer than the grace period (no panel connected,
seen by this process for ``grace`` seconds in a row), on every site, so that someone else can take
them. An agent whose panel is connected to this process is never gone, whatever presence says;
and while presence cannot be read (Redis down or stalled) nothing is assigned, requeued or
announced on a guess, and the absence clocks start again once it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

import orjson

from server.broker import Presence, PresenceUnavailable
from server.channels import status_channel, visitor_channel
from server.chat import Chat
from server.errors import Unavailable
from server.store import Conversation, Site, Store
from server.store.models import Load

log = logging.getLogger("livechat.routing")


def choose(loads: Iterable[Load], preferred: str | None = None) -> str | None:
    """The agent for the next waiting conversation: the returning visitor's last agent if they
    have room, else the least busy with room, ties to the one assigned longest ago (round robin),
    then by id so that the choice is deterministic. None when nobody has room."""
    room = [load for load in loads if load.active < load.capacity]
    if preferred is not None and any(load.agent_id == preferred for load in room):
        return preferred
    if not room:
        return None
    return min(room, key=lambda load: (load.active, load.last_assigned_at, load.agent_id)).agent_id


def expected_wait(position: int, average_wait: float | None, agents_online: int) -> int | None:
    """Seconds a visitor at ``position`` (1 = next) can expect to wait: the site's recent average
    wait before an agent joined, scaled by the queue ahead and spread over the agents online.
    None when there is no history to go by, or nobody online to make it come true."""
    if average_wait is None or agents_online < 1:
        return None
    return round(average_wait * position / agents_online)


def presence_key(site_id: str) -> str:
    return f"agents:{site_id}"


def visitor_presence_key(visitor_id: str) -> str:
    """A visitor's open chat frames (tabs), for agents to see whether they are still there."""
    return f"visitor:{visitor_id}"


def _hours(site: Site, now: float) -> tuple[bool, int | None]:
    """Whether the site is inside its business hours at ``now``, and when that next changes
    (ms), as ``welcome`` says them."""
    told = site.profile.for_visitor(now)
    return bool(told["open"]), told["next_change"]


def connected_key(site_id: str) -> str:
    """Agents with a live panel, available or away (``presence_key`` has only the available)."""
    return f"agents-connected:{site_id}"


def agent_ids(members: Iterable[str]) -> set[str]:
    """Presence members are ``<agent id>:<connection id>`` (one per tab)."""
    return {member.rsplit(":", 1)[0] for member in members}


class Router:
    def __init__(self, store: Store, presence: Presence, chat: Chat, interval: float,
                 grace: float, clock: Callable[[], float],
                 local_agents: Callable[[], set[str]] = set) -> None:
        self.store = store
        #: Agents with a panel connected to this process (they are not gone, whatever presence
        #: says while Redis is away).
        self.local_agents = local_agents
        self.presence = presence
        self.chat = chat
        self.interval = interval
        self.grace = grace
        self._clock = clock
        #: (site id, agent id) -> when this process first saw an assignee not connected
        self._absent_since: dict[tuple[str, str], float] = {}
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        #: site id -> conversation id -> (position, expected wait) last told to the visitor
        self._announced: dict[str, dict[str, tuple[int, int | None]]] = {}
        #: site id -> whether anyone was online when this process last said so
        self._available: dict[str, bool] = {}
        #: site id -> (open, next change) of its business hours when this process last said so
        self._hours: dict[str, tuple[bool, int | None]] = {}

    def available(self, site_id: str) -> bool:
        """Whether anyone was online when this process last knew (for a visitor connecting
        while presence cannot be read)."""
        return self._available.get(site_id, False)

    async def prime(self) -> None:
        """Learn whether anyone is online on each site before serving, without telling anyone:
        visitors are told in their ``welcome``, and an ``availability`` frame only when it
        changes. (Learning it at the first sweep instead either told visitors what they knew, or,
        had an agent come meanwhile, missed telling them.)"""
        now = self._clock()
        for site in await self.store.sites():
            self._hours[site.id] = _hours(site, now)
            with contextlib.suppress(PresenceUnavailable):
                members = await self.presence.members(presence_key(site.id))
                self._available[site.id] = bool(agent_ids(members))

    def poke(self, site_id: str) -> None:
        self._pending.add(site_id)
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, set()
            try:
                await self.sweep(pending or None)
            except Unavailable:
                pass  # the store logs its outage once; the next sweep retries
            except Exception:
                log.exception("routing sweep failed; the next one will retry")

    async def sweep(self, site_ids: set[str] | None = None) -> None:
        """Route the given sites (every site when None), and wake snoozes that ran out."""
        await self.chat.wake_snoozed()
        for site in await self.store.sites():
            if site_ids is not None and site.id not in site_ids:
                continue
            try:
                online = agent_ids(await self.presence.members(presence_key(site.id)))
                gone = await self._gone(site.id)
            except PresenceUnavailable:
                # Unknown is not absent: the grace period starts again once presence answers.
                for key in [k for k in self._absent_since if k[0] == site.id]:
                    del self._absent_since[key]
                continue
            # Whether anyone can answer: someone online, and the site's hours. A widget open
            # across an opening or a closing flips at the time it was told, and is told the
            # next one here (it knows one at a time); so is a change of the hours.
            hours = _hours(site, self._clock())
            if self._available.get(site.id) != bool(online) or self._hours.get(site.id) != hours:
                self._available[site.id] = bool(online)
                self._hours[site.id] = hours
                await self.chat.broker.publish(status_channel(site.id), orjson.dumps(
                    {"type": "availability", "agents_online": bool(online), "open": hours[0],
                     "next_change": hours[1]}))
            decisions = self.chat.metrics.decisions
            for change in await self.store.requeue(site.id, gone):
                decisions["requeued"].inc()
                await self.chat.publish(change)
            if site.auto_assign:
                for change in await self.store.assign_waiting(site.id, sorted(online), choose):
                    decisions["assigned"].inc()
                    await self.chat.publish(change)
            await self.announce_queue(site.id, len(online))

    async def _gone(self, site_id: str) -> list[str]:
        """Assignees this process has seen disconnected for ``grace`` seconds in a row.

        Observed here rather than kept in presence, so that presence lost with a restart of this
        process or of Redis gives every agent the whole grace period to reconnect."""
        now = self._clock()
        connected = agent_ids(await self.presence.members(connected_key(site_id)))
        connected |= self.local_agents()
        gone = []
        for agent_id in await self.store.assignees(site_id):
            key = (site_id, agent_id)
            if agent_id in connected:
                self._absent_since.pop(key, None)
            elif now - self._absent_since.setdefault(key, now) >= self.grace:
                gone.append(agent_id)
                del self._absent_since[key]
        return sorted(gone)

    async def _queue(self, site_id: str, agents_online: int) -> list[
        tuple[Conversation, tuple[int, int | None]]
    ]:
        """Each waiting conversation of the site with its (position, expected wait)."""
        waiting = await self.store.waiting(site_id)
        average = await self.store.average_wait(site_id) if waiting else None
        return [(conversation, (position, expected_wait(position, average, agents_online)))
                for position, conversation in enumerate(waiting, start=1)]

    async def queue_state(self, site_id: str, conversation_id: str,
                          agents_online: int) -> dict[str, int | None] | None:
        """Where a waiting conversation stands now (for a visitor who just connected)."""
        position = await self.store.queue_position(site_id, conversation_id)
        if position is None:
            return None
        average = await self.store.average_wait(site_id)
        return {"position": position,
                "expected_wait": expected_wait(position, average, agents_online)}

    async def announce_queue(self, site_id: str, agents_online: int) -> None:
        """Tell each waiting visitor their position and expected wait, when it changed."""
        queue = await self._queue(site_id, agents_online)
        told = self._announced.setdefault(site_id, {})
        for conversation, state in queue:
            if told.get(conversation.id) == state:
                continue
            told[conversation.id] = state
            await self.chat.broker.publish(visitor_channel(conversation.visitor_id), orjson.dumps({
                "type": "queue", "conversation_id": conversation.id, "position": state[0],
                "expected_wait": state[1],
            }))
        still_waiting = {conversation.id for conversation, _ in queue}
        for conversation_id in [c for c in told if c not in still_waiting]:
            del told[conversation_id]

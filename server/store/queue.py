"""The queue: waiting conversations given to online agents with room, and given back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.store.base import (
    CONV_COLS,
    CONV_FROM,
    DB,
    Base,
    Choose,
    conv_row,
    dialect,
    for_update,
    skip_locked,
)
from server.store.models import (
    Change,
    Conversation,
    Load,
)
from server.store.people import (
    PEOPLE_FROM,
    PERSON_JOIN,
    PERSON_JOINED,
    PERSON_REPLIED,
    PERSON_REPLY,
)

#: The waits visitors are told are looked for among the site's most recent conversations, so
#: many at most (a site whose bot handles most conversations alone is not read to its start).
LOOK_BACK = 200


class QueueStore(Protocol):
    """What ``Queue`` offers (``server.store.Store`` is every such protocol)."""

    async def assign_waiting(
        self, site_id: str, online_agent_ids: Sequence[str], choose: Choose
    ) -> list[Change]: ...
    async def assignees(self, site_id: str) -> set[str]: ...
    async def requeue(self, site_id: str, agent_ids: Sequence[str]) -> list[Change]: ...
    async def waiting(self, site_id: str) -> list[Conversation]: ...
    async def queue_wait(self, site_id: str) -> tuple[int, int | None]: ...
    async def queue_position(self, site_id: str, conversation_id: str) -> int | None: ...
    async def outbox_backlog(self) -> dict[str, tuple[int, int | None]]: ...
    async def average_wait(self, site_id: str, recent: int = 50) -> float | None: ...
    async def typical_reply(self, site_id: str, recent: int = 50) -> float | None: ...


class Queue(Base):
    async def assign_waiting(self, site_id: str, online_agent_ids: Sequence[str],
                             choose: Choose) -> list[Change]:
        """Assign the site's waiting conversations, in the queue's order (``queued_at``), to
        online agents with room as ``choose`` (``server.routing.choose``) picks, in one
        transaction: capacity holds however many conversations and processes race."""
        now = self._now()

        def op(db: DB) -> list[Change]:
            site = db.execute("SELECT auto_assign FROM sites WHERE id = ?", (site_id,)).fetchone()
            if site is None or not site[0] or not online_agent_ids:
                return []
            marks = ",".join("?" * len(online_agent_ids))
            if dialect(db) == "postgresql":
                # Another machine assigning to these agents now waits for this transaction, and
                # then counts what it assigned: capacity holds across machines. (In id order:
                # two machines never hold one each and wait for the other.)
                db.execute(f"SELECT id FROM agents WHERE id IN ({marks}) ORDER BY id"
                           f"{for_update(db)}", tuple(online_agent_ids))
            rows = db.execute(
                f"SELECT a.id, a.name, a.capacity, a.last_assigned_at, "
                f"(SELECT count(*) FROM conversations c WHERE c.assignee_id = a.id "
                f"AND c.status = 'assigned') FROM agents a WHERE a.id IN ({marks}) "
                f"AND a.active = 1 AND (a.role = 'admin' OR EXISTS (SELECT 1 FROM agent_sites s "
                f"WHERE s.agent_id = a.id AND s.site_id = ?))",
                (*online_agent_ids, site_id),
            ).fetchall()
            loads = {r[0]: Load(r[0], r[4], r[2], r[3]) for r in rows}
            names = {r[0]: r[1] for r in rows}
            changes: list[Change] = []
            waiting = db.execute(
                "SELECT id, visitor_id FROM conversations WHERE site_id = ? AND status = 'waiting' "
                f"ORDER BY queued_at, id{skip_locked(db)}", (site_id,),
            ).fetchall()
            for conversation_id, visitor_id in waiting:
                last = db.execute(
                    "SELECT assignee_id FROM conversations WHERE visitor_id = ? AND id != ? "
                    "AND assignee_id IS NOT NULL ORDER BY created_at DESC LIMIT 1",
                    (visitor_id, conversation_id),
                ).fetchone()
                chosen = choose(loads.values(), last[0] if last else None)
                if chosen is None:
                    break
                conv = self._load_conversation(db, conversation_id)
                events = self._claim(db, conv, chosen, names[chosen], now)
                db.execute("UPDATE agents SET last_assigned_at = ? WHERE id = ?", (now, chosen))
                old = loads[chosen]
                loads[chosen] = Load(chosen, old.active + 1, old.capacity, now)
                changes.append(Change(self._load_conversation(db, conversation_id),
                                      tuple(events)))
            return changes

        return await self._submit(op)

    async def assignees(self, site_id: str) -> set[str]:
        """Agents who have assigned (open) conversations on the site."""
        rows = await self._all(
            "SELECT DISTINCT assignee_id FROM conversations WHERE site_id = ? "
            "AND status = 'assigned'", (site_id,),
        )
        return {r[0] for r in rows}

    async def requeue(self, site_id: str, agent_ids: Sequence[str]) -> list[Change]:
        """Return the site's open conversations assigned to these agents to the queue."""
        if not agent_ids:
            return []  # every sweep asks: no trip through the writer for nothing
        now = self._now()

        def op(db: DB) -> list[Change]:
            marks = ",".join("?" * len(agent_ids))
            # One conditional UPDATE: on PostgreSQL a second machine requeueing at once waits for
            # these rows, finds them no longer assigned, and requeues nothing twice.
            rows = db.execute(
                "UPDATE conversations SET status = 'waiting', assignee_id = NULL, updated_at = ? "
                f"WHERE site_id = ? AND status = 'assigned' AND assignee_id IN ({marks}) "
                "RETURNING id", (now, site_id, *agent_ids),
            ).fetchall()
            changes = []
            for (conversation_id,) in sorted(rows):
                event = self._append(db, conversation_id, None, "requeued", "system", None, None,
                                     "", now)
                changes.append(Change(self._load_conversation(db, conversation_id), (event,)))
            return changes

        return await self._submit(op)

    async def waiting(self, site_id: str) -> list[Conversation]:
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM {CONV_FROM} WHERE c.site_id = ? AND c.status = 'waiting' "
            "ORDER BY c.queued_at, c.id", (site_id,),
        )
        return [conv_row(r) for r in rows]

    async def queue_wait(self, site_id: str) -> tuple[int, int | None]:
        """How many of the site's conversations wait, and since when the one waiting longest has
        (ms; None when none waits), for /metrics: since it reached people (its start, or its
        bot's handoff, as the reports' wait counts), or, put back in the queue since (its agent
        gone, or reopened by the visitor's answer to a check-in), since then. (A waiting
        conversation a bot answered first has left the bot; were one never to have, its start
        counts.)"""
        reached = f"coalesce({PEOPLE_FROM}, c.created_at)"
        again = ("coalesce((SELECT max(m.created_at) FROM messages m WHERE m.conversation_id = "
                 "c.id AND m.kind IN ('requeued', 'reopened')), 0)")
        row = await self._one(
            f"SELECT count(*), min(CASE WHEN {again} > {reached} THEN {again} ELSE {reached} "
            "END) FROM conversations c WHERE c.site_id = ? AND c.status = 'waiting'", (site_id,))
        return int(row[0]), None if row[1] is None else int(row[1])

    async def outbox_backlog(self) -> dict[str, tuple[int, int | None]]:
        """Per durable outbox (``email``: email_jobs; ``webhook``: webhook_outbox), the jobs
        still to do and when the oldest of them was made (ms), for /metrics."""
        backlog: dict[str, tuple[int, int | None]] = {}
        for name, table in (("email", "email_jobs"), ("webhook", "webhook_outbox")):
            row = await self._one(f"SELECT count(*), min(created_at) FROM {table} "
                                  "WHERE state = 'pending'")
            backlog[name] = (int(row[0]), row[1])
        return backlog

    async def queue_position(self, site_id: str, conversation_id: str) -> int | None:
        """The place (1 = next) of a waiting conversation of the site in its queue, which is
        ``waiting``'s order; None when it is not waiting there. Counted, not listed: a visitor's
        hello asks this, and a thousand visitors may say hello at once."""
        row = await self._one(
            "SELECT 1 + (SELECT count(*) FROM conversations w WHERE w.site_id = c.site_id "
            "AND w.status = 'waiting' AND (w.queued_at, w.id) < (c.queued_at, c.id)) "
            "FROM conversations c WHERE c.id = ? AND c.site_id = ? AND c.status = 'waiting'",
            (conversation_id, site_id),
        )
        return int(row[0]) if row else None

    async def average_wait(self, site_id: str, recent: int = 50) -> float | None:
        """Seconds from a conversation reaching people (its start, or its bot's handoff) to a
        person joining it, over the site's ``recent`` most recent conversations a person joined
        (of its last ``LOOK_BACK``); None without any. A bot's claim is not a person joining."""
        return await self._people_average(site_id, PERSON_JOIN, PERSON_JOINED, recent)

    async def typical_reply(self, site_id: str, recent: int = 50) -> float | None:
        """Seconds from a conversation reaching people to a person's first reply, over the
        site's ``recent`` most recent conversations a person answered (of its last
        ``LOOK_BACK``); None without any: the widget's "typically replies in …"."""
        return await self._people_average(site_id, PERSON_REPLY, PERSON_REPLIED, recent)

    async def _people_average(self, site_id: str, until: str, happened: str,
                              recent: int) -> float | None:
        row = await self._one(
            f"SELECT avg(wait) FROM (SELECT ({until} - {PEOPLE_FROM}) / 1000.0 AS wait "
            "FROM conversations c WHERE c.site_id = ? AND c.created_at >= coalesce(("
            "SELECT o.created_at FROM conversations o WHERE o.site_id = ? "
            "ORDER BY o.created_at DESC LIMIT 1 OFFSET ?), 0) "
            f"AND {happened} ORDER BY c.created_at DESC LIMIT ?) AS recent",
            (site_id, site_id, LOOK_BACK - 1, recent),
        )
        return float(row[0]) if row and row[0] is not None else None

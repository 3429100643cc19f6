"""Webhook endpoints and their durable outbox, kept by the store.

**Same transaction.** The store calls ``enqueue`` from inside every write that appends to a
conversation (``SQLiteStore.on_append``), in that write's transaction: the outbox row commits
with the message or event it announces, or neither does. A crash between the commit and the
delivery loses nothing; the row is there when a process starts again.

**At least once, in order per conversation.** ``claim`` hands a process the due rows that are the
oldest pending row of their (endpoint, conversation) — or, for a visitor's own events, of their
(endpoint, visitor) — under a lease (``lease_until``), inside the
write lock — two processes never hold the same row at once, and a later event of a conversation
waits until the earlier one was delivered or given up. A process that dies holding a lease lets it
run out; the row is then delivered again, with the same id (``webhook-id``), which is what a
receiver deduplicates on. A row is retried with backoff until it is ``max_age`` old, then
``failed``. An endpoint that has failed without a single success for ``max_age`` is disabled.

Plain standard SQL; the position of a row (its order) is taken inside the write lock as
``max + 1``, not from an SQLite rowid.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from server.auth import new_id
from server.store.base import DB, dialect
from server.store.models import Message

if TYPE_CHECKING:
    from server.store.facade import Aggregates

#: Every event an endpoint may subscribe to, and the conversation events that raise them.
EVENTS = ("conversation.created", "message.created", "note.created", "conversation.assigned",
          "conversation.requeued", "conversation.resolved", "conversation.reopened",
          "conversation.rated", "visitor.updated")
#: (A check-in is an agent's message to the visitor, written by a follow-up: docs/email.md.)
_BY_KIND = {"text": "message.created", "checkin": "message.created", "note": "note.created",
            "joined": "conversation.assigned", "transferred": "conversation.assigned",
            "requeued": "conversation.requeued", "resolved": "conversation.resolved",
            "reopened": "conversation.reopened", "rated": "conversation.rated"}
#: How much of a receiver's answer the delivery log keeps.
EXCERPT_CHARS = 500
_ENDPOINT_COLS = ("id, site_id, url, events, active, disabled_reason, created_at, failing_since, "
                  "last_success_at")


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    site_id: str
    url: str
    events: frozenset[str]
    active: bool
    disabled_reason: str | None
    created_at: int
    #: Since when every delivery has failed (None: the last one succeeded, or none was made).
    failing_since: int | None = None
    last_success_at: int | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "site_id": self.site_id, "url": self.url,
                "events": sorted(self.events), "active": self.active,
                "disabled_reason": self.disabled_reason, "created_at": self.created_at,
                "failing_since": self.failing_since, "last_success_at": self.last_success_at}


@dataclass(frozen=True, slots=True)
class Due:
    """An outbox row a process holds the lease of, to deliver now."""

    id: str
    endpoint_id: str
    url: str
    secret: str
    event: str
    payload: bytes
    created_at: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    event_id: str
    event: str
    at: int
    #: The receiver's HTTP status; None: no answer (refused, timeout, SSRF refusal).
    status: int | None
    latency_ms: int
    excerpt: str
    error: str | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "event_id": self.event_id, "event": self.event, "at": self.at,
                "status": self.status, "latency_ms": self.latency_ms, "excerpt": self.excerpt,
                "error": self.error}


def _endpoint(row: Sequence[Any]) -> Endpoint:
    return Endpoint(row[0], row[1], row[2], frozenset(row[3].split()), bool(row[4]), row[5],
                    row[6], row[7], row[8])


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_events(events: Sequence[str]) -> frozenset[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValueError(f"unknown event {unknown[0][:40]!r} (events: {', '.join(EVENTS)})")
    if not events:
        raise ValueError("subscribe to at least one event")
    return frozenset(events)


def span(seconds: float) -> str:
    """``seconds`` as people say it: ``a day``, ``6 hours``, ``90 seconds``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count = seconds / size
        if count >= 1 and count == int(count):
            return ("an " if unit == "hour" else "a ") + unit if count == 1 \
                else f"{int(count)} {unit}s"
    return f"{seconds:g} seconds"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


class Webhooks:
    """The endpoints and the outbox, on the store's connections; installs ``enqueue`` as the
    store's ``on_append``."""

    def __init__(self, store: Aggregates) -> None:
        self._store = store
        store.on_append = self.enqueue
        store.on_visitor = self.visitor_changed

    def _now(self) -> int:
        return int(self._store.clock() * 1000)

    # --- in the writer's transaction ---------------------------------------------------------

    def enqueue(self, db: DB, message: Message) -> None:
        """Outbox rows for a message or event just appended (in its transaction)."""
        event = _BY_KIND.get(message.kind)
        if event is None:
            return
        # One statement, as every message asks (mostly to learn that no endpoint listens).
        endpoints = db.execute(
            "SELECT e.id, e.events, c.site_id FROM conversations c JOIN webhook_endpoints e "
            "ON e.site_id = c.site_id AND e.active = 1 WHERE c.id = ?",
            (message.conversation_id,)).fetchall()
        if not endpoints:
            return
        site_id = endpoints[0][2]
        events = [event]
        if message.seq == 1:
            events.insert(0, "conversation.created")
        conversation = self._store.load_conversation(db, message.conversation_id)
        frame = message.frame()
        del frame["type"]
        for name in events:
            data = {"conversation": conversation.summary(), "message": frame}
            self.add(db, [e for e in endpoints if name in e[1].split()], name, site_id,
                     message.conversation_id, conversation.visitor_id, data, message.created_at)

    def add(self, db: DB, endpoints: Sequence[Sequence[Any]], event: str,
            site_id: str, conversation_id: str | None, visitor_id: str | None,
            data: dict[str, Any], at: int) -> None:
        """One outbox row per endpoint (each has its own event id and delivery)."""
        position = db.execute("SELECT coalesce(max(position), 0) FROM webhook_outbox").fetchone()[0]
        for endpoint in endpoints:
            position += 1
            event_id = new_id("evt")
            payload = orjson.dumps({"id": event_id, "type": event, "timestamp": iso(at),
                                    "data": data})
            db.execute(
                "INSERT INTO webhook_outbox(id, endpoint_id, site_id, conversation_id, "
                "visitor_id, event, payload, created_at, next_at, position) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, endpoint[0], site_id, conversation_id, visitor_id, event,
                 payload.decode(), at, at, position))

    def visitor_changed(self, db: DB, site_id: str, visitor_id: str) -> None:
        """``visitor.updated``, in the transaction that changed the visitor."""
        endpoints = [e for e in db.execute(
            "SELECT id, events FROM webhook_endpoints WHERE site_id = ? AND active = 1",
            (site_id,)).fetchall() if "visitor.updated" in e[1].split()]
        if not endpoints:
            return
        visitor = self._store.load_visitor(db, visitor_id)
        self.add(db, endpoints, "visitor.updated", site_id, None, visitor_id,
                 {"visitor": visitor.public() if visitor else {"id": visitor_id}}, self._now())

    # --- endpoints ---------------------------------------------------------------------------

    async def create(self, site_id: str, url: str, events: Sequence[str]) -> tuple[Endpoint,
                                                                                   str]:
        """A new endpoint and its signing secret (shown once, kept to sign)."""
        wanted = check_events(events)
        endpoint_id, secret, now = new_id("whk"), new_secret(), self._now()

        def op(db: DB) -> Endpoint:
            if db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is None:
                raise ValueError(f"no such site: {site_id}")
            db.execute("INSERT INTO webhook_endpoints(id, site_id, url, events, secret, active, "
                       "created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
                       (endpoint_id, site_id, url, " ".join(sorted(wanted)), secret, now))
            return Endpoint(endpoint_id, site_id, url, wanted, True, None, now)

        return await self._store.submit(op), secret

    async def endpoints(self, site_ids: Sequence[str] | None = None) -> list[Endpoint]:
        rows = await self._store.read_all(
            f"SELECT {_ENDPOINT_COLS} FROM webhook_endpoints WHERE deleted_at IS NULL "
            "ORDER BY created_at, id")
        found = [_endpoint(row) for row in rows]
        return found if site_ids is None else [e for e in found if e.site_id in site_ids]

    async def endpoint(self, endpoint_id: str) -> Endpoint | None:
        row = await self._store.read_one(
            f"SELECT {_ENDPOINT_COLS} FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL",
            (endpoint_id,))
        return _endpoint(row) if row else None

    async def delete(self, endpoint_id: str) -> None:
        """Gone at once; what was not delivered yet is dropped, with its log lines."""
        now = self._now()

        def op(db: DB) -> None:
            db.execute("UPDATE webhook_endpoints SET deleted_at = ?, active = 0 WHERE id = ?",
                       (now, endpoint_id))
            # (The log lines of the dropped ones go with them: nothing could find them after.)
            db.execute("DELETE FROM webhook_deliveries WHERE outbox_id IN (SELECT id FROM "
                       "webhook_outbox WHERE endpoint_id = ? AND state = 'pending')",
                       (endpoint_id,))
            db.execute("DELETE FROM webhook_outbox WHERE endpoint_id = ? AND state = 'pending'",
                       (endpoint_id,))

        await self._store.submit(op)

    async def enable(self, endpoint_id: str) -> Endpoint:
        def op(db: DB) -> Endpoint:
            db.execute("UPDATE webhook_endpoints SET active = 1, disabled_reason = NULL, "
                       "failing_since = NULL WHERE id = ?", (endpoint_id,))
            return _endpoint(db.execute(f"SELECT {_ENDPOINT_COLS} FROM webhook_endpoints "
                                        "WHERE id = ?", (endpoint_id,)).fetchone())

        return await self._store.submit(op)

    # --- delivery ----------------------------------------------------------------------------

    async def claim(self, limit: int, lease_ms: int) -> list[Due]:
        """Up to ``limit`` due rows, each the oldest pending one of its conversation at its
        endpoint, leased to this process for ``lease_ms``."""
        now = self._now()

        def op(db: DB) -> list[Due]:
            rows = db.execute(
                "SELECT o.id, o.endpoint_id, e.url, e.secret, o.event, o.payload, o.created_at, "
                "o.attempts FROM webhook_outbox o JOIN webhook_endpoints e "
                "ON e.id = o.endpoint_id "
                "WHERE o.state = 'pending' AND o.next_at <= ? AND e.active = 1 "
                "AND (o.lease_until IS NULL OR o.lease_until <= ?) "
                "AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.state = 'pending' "
                "AND p.endpoint_id = o.endpoint_id AND p.conversation_id = o.conversation_id "
                "AND p.position < o.position) "
                # A visitor's own events (no conversation: ``visitor.updated``) in their order
                # too: a receiver applying each one ends with the visitor as they are.
                "AND (o.conversation_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM webhook_outbox "
                "p WHERE p.state = 'pending' AND p.endpoint_id = o.endpoint_id "
                "AND p.conversation_id IS NULL AND p.visitor_id = o.visitor_id "
                "AND p.position < o.position)) "
                "ORDER BY o.position LIMIT ?"
                # (PostgreSQL: machines claiming at once each take other rows.)
                + (" FOR UPDATE OF o SKIP LOCKED" if dialect(db) == "postgresql" else ""),
                (now, now, limit)).fetchall()
            for row in rows:
                db.execute("UPDATE webhook_outbox SET lease_until = ? WHERE id = ?",
                           (now + lease_ms, row[0]))
            return [Due(r[0], r[1], r[2], r[3], r[4], r[5].encode(), r[6], r[7]) for r in rows]

        return await self._store.submit(op)

    async def record(self, due: Due, status: int | None, latency_ms: int, excerpt: str,
                     error: str | None, retry_in_ms: int, max_age_ms: int) -> tuple[str, bool]:
        """The outcome of one attempt: logged; the row delivered, retried later, or (past
        ``max_age_ms``) failed; the endpoint disabled when it has failed for ``max_age_ms``.
        Returns the row's new state (``gone``: deleted meanwhile, and not logged), and whether
        this disabled the endpoint."""
        now = self._now()
        ok = status is not None and 200 <= status < 300

        def op(db: DB) -> tuple[str, bool]:
            # The event's row first (on PostgreSQL this waits for an erasure deleting it): one
            # deleted while it was being sent — an erasure, a retention sweep, its endpoint
            # deleted — is not logged, for its log line's excerpt may hold what was erased.
            if ok:
                state = "delivered"
                touched = db.execute(
                    "UPDATE webhook_outbox SET state = 'delivered', delivered_at = ?, "
                    "attempts = attempts + 1, lease_until = NULL WHERE id = ?", (now, due.id))
            else:
                state = "failed" if now - due.created_at >= max_age_ms else "pending"
                touched = db.execute(
                    "UPDATE webhook_outbox SET state = ?, attempts = attempts + 1, "
                    "next_at = ?, lease_until = NULL WHERE id = ?",
                    (state, now + retry_in_ms, due.id))
            if touched.rowcount == 0:
                return "gone", False
            db.execute("INSERT INTO webhook_deliveries(id, outbox_id, endpoint_id, event, at, "
                       "status, latency_ms, excerpt, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (new_id("dlv"), due.id, due.endpoint_id, due.event, now, status,
                        latency_ms, excerpt[:EXCERPT_CHARS], error))
            if ok:
                db.execute("UPDATE webhook_endpoints SET failing_since = NULL, "
                           "last_success_at = ? WHERE id = ?", (now, due.endpoint_id))
                return state, False
            db.execute("UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) "
                       "WHERE id = ?", (now, due.endpoint_id))
            disabled = db.execute(
                "UPDATE webhook_endpoints SET active = 0, disabled_reason = ? "
                "WHERE id = ? AND active = 1 AND failing_since <= ?",
                (f"every delivery failed for {span(max_age_ms / 1000)}", due.endpoint_id,
                 now - max_age_ms))
            return state, disabled.rowcount == 1

        return await self._store.submit(op)

    async def deliveries(self, endpoint_id: str, limit: int = 50,
                         before: str | None = None) -> list[Delivery]:
        """The endpoint's delivery log, newest first."""
        rows = await self._store.read_all(
            "SELECT id, outbox_id, event, at, status, latency_ms, excerpt, error "
            "FROM webhook_deliveries WHERE endpoint_id = ? "
            + ("AND id < ? " if before else "") + "ORDER BY at DESC, id DESC LIMIT ?",
            (endpoint_id, *((before,) if before else ()), limit))
        return [Delivery(*row) for row in rows]

    async def redeliver(self, endpoint_id: str, event_id: str) -> bool:
        """Send an event again (delivered or failed), with the same id, as soon as possible."""
        now = self._now()

        def op(db: DB) -> bool:
            cur = db.execute("UPDATE webhook_outbox SET state = 'pending', next_at = ?, "
                             "attempts = 0, created_at = ?, lease_until = NULL "
                             "WHERE id = ? AND endpoint_id = ?",
                             (now, now, event_id, endpoint_id))
            return cur.rowcount == 1

        return await self._store.submit(op)

    async def events(self, endpoint_id: str) -> list[dict[str, Any]]:
        """The outbox rows of an endpoint (state, attempts), newest first."""
        rows = await self._store.read_all(
            "SELECT id, event, state, attempts, created_at, delivered_at FROM webhook_outbox "
            "WHERE endpoint_id = ? ORDER BY position DESC LIMIT 200", (endpoint_id,))
        return [{"id": r[0], "event": r[1], "state": r[2], "attempts": r[3],
                 "created_at": r[4], "delivered_at": r[5]} for r in rows]

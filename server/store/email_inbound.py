"""Replies received by email, queued in the store (``email_inbound``) before the sender is told
they were accepted, then claimed by one worker at a time (a lease; ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL) and read into their conversation (``server.mail.service``)."""

from __future__ import annotations

from dataclasses import dataclass

from server.store.base import DB, skip_locked
from server.store.email_jobs import EmailJobs


@dataclass(frozen=True, slots=True)
class Inbound:
    id: str
    message_key: str
    recipient: str
    raw: bytes
    door: str
    attempts_left: bool = True


class InboundMail(EmailJobs):
    """The queue of received replies (it wakes the same worker as the jobs)."""

    async def receive(self, message_key: str, recipient: str, raw: bytes, door: str) -> bool:
        """Queue a received reply (durable before the sender is told it was accepted). False:
        the same email (by Message-ID) was received before; it is not queued again."""
        now = self.store._now()

        def op(db: DB) -> bool:
            row = db.execute(
                "INSERT INTO email_inbound(id, message_key, recipient, raw, door, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(message_key) DO NOTHING RETURNING id",
                (self.store._ids("inmail"), message_key, recipient, raw, door, now)).fetchone()
            if row is not None:
                self._due_now = True
            return row is not None

        queued = await self.store._submit(op)
        self._wake()
        return queued

    async def claim_inbound(self, worker: str, lease_ms: int, limit: int = 8) -> list[Inbound]:
        now = self.store._now()
        if await self.store._one(
                "SELECT 1 FROM email_inbound WHERE state = 'pending' AND "
                "(claimed_until IS NULL OR claimed_until < ?) LIMIT 1", (now,)) is None:
            return []

        def op(db: DB) -> list[Inbound]:
            rows = db.execute(
                "UPDATE email_inbound SET claimed_by = ?, claimed_until = ? WHERE id IN "
                "(SELECT id FROM email_inbound WHERE state = 'pending' AND "
                "(claimed_until IS NULL OR claimed_until < ?) ORDER BY created_at, id LIMIT ?"
                f"{skip_locked(db)}) RETURNING id, message_key, recipient, raw, door",
                (worker, now + lease_ms, now, limit)).fetchall()
            return [Inbound(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

        return await self.store._submit(op)

    async def inbound_done(self, item: Inbound, worker: str, state: str,
                           error: str | None = None) -> None:
        """``state``: done (in the conversation) or refused (``error`` says why)."""

        def op(db: DB) -> None:
            db.execute("UPDATE email_inbound SET state = ?, error = ?, done_at = ?, "
                       "claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                       (state, error, self.store._now(), item.id, worker))

        await self.store._submit(op)

    async def inbound_state(self, message_key: str) -> tuple[str, str | None] | None:
        row = await self.store._one("SELECT state, error FROM email_inbound WHERE "
                                    "message_key = ?", (message_key,))
        return (row[0], row[1]) if row else None

"""The email worker's side of the outbox (``server.store.outbox``): claiming due jobs under a
lease (compare-and-set in one write transaction; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
the conversations' email threads, and finishing a job — counted only for the worker that holds
it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.store.base import DB, skip_locked
from server.store.email_jobs import JOB_COLS, EmailJobs, Job, job_of
from server.store.models import Change


@dataclass(frozen=True, slots=True)
class Thread:
    conversation_id: str
    reply_key: str
    emailed_seq: int
    last_message_id: str | None
    site_id: str
    visitor_id: str


def _to_the_visitor(job: Job) -> bool:
    """Whether ``job`` emailed the conversation's visitor: only then is it part of the
    conversation's email thread (its ``In-Reply-To``) and an ``email`` event. A notice to an
    agent about a conversation (``assigned``) names the conversation and is neither."""
    return job.conversation_id is not None and job.agent_id is None


class EmailWorker(EmailJobs):
    """Claiming and finishing jobs (what ``server.mail.service``'s worker calls)."""

    async def claim(self, worker: str, lease_ms: int, limit: int = 8) -> list[Job]:
        """Due jobs nobody holds (or whose holder's lease ran out), now held by ``worker``."""
        self._due_now = False
        now = self.store._now()
        if await self.store._one(
                "SELECT 1 FROM email_jobs WHERE state = 'pending' AND not_before <= ? AND "
                "(claimed_until IS NULL OR claimed_until < ?) LIMIT 1", (now, now)) is None:
            return []  # nothing due: no trip through the writer

        def op(db: DB) -> list[Job]:
            rows = db.execute(
                f"UPDATE email_jobs SET claimed_by = ?, claimed_until = ?, "
                f"attempts = attempts + 1 WHERE id IN (SELECT id FROM email_jobs WHERE "
                f"state = 'pending' AND not_before <= ? AND (claimed_until IS NULL OR "
                f"claimed_until < ?) ORDER BY not_before, id LIMIT ?{skip_locked(db)}) "
                f"RETURNING {JOB_COLS}",
                (worker, now + lease_ms, now, now, limit)).fetchall()
            return [job_of(r) for r in rows]

        return await self.store._submit(op)

    async def job(self, job_id: str) -> Job | None:
        row = await self.store._one(f"SELECT {JOB_COLS} FROM email_jobs WHERE id = ?",
                                    (job_id,))
        return job_of(row) if row else None

    async def jobs(self, conversation_id: str) -> list[Job]:
        rows = await self.store._all(f"SELECT {JOB_COLS} FROM email_jobs WHERE "
                                     "conversation_id = ? ORDER BY created_at, id",
                                     (conversation_id,))
        return [job_of(r) for r in rows]

    async def thread(self, conversation_id: str) -> Thread | None:
        row = await self.store._one(
            "SELECT t.conversation_id, t.reply_key, t.emailed_seq, t.last_message_id, "
            "c.site_id, c.visitor_id FROM email_threads t JOIN conversations c "
            "ON c.id = t.conversation_id WHERE t.conversation_id = ?", (conversation_id,))
        return Thread(*row) if row else None

    async def thread_by_key(self, reply_key: str) -> Thread | None:
        row = await self.store._one(
            "SELECT t.conversation_id, t.reply_key, t.emailed_seq, t.last_message_id, "
            "c.site_id, c.visitor_id FROM email_threads t JOIN conversations c "
            "ON c.id = t.conversation_id WHERE t.reply_key = ?", (reply_key,))
        return Thread(*row) if row else None

    async def sent(self, job: Job, worker: str, message_id: str, upto_seq: int,
                   count: int) -> Change | None:
        """The email went out: the job is done, the conversation emailed up to ``upto_seq``,
        and agents are told (an ``email`` event). None when the job was no longer ours."""

        def op(db: DB) -> Change | None:
            if not self._finish(db, job, worker, "sent", None, message_id):
                return None
            if not _to_the_visitor(job):
                return None
            db.execute("UPDATE email_threads SET emailed_seq = CASE WHEN emailed_seq < ? THEN ? "
                       "ELSE emailed_seq END, last_message_id = ? WHERE conversation_id = ?",
                       (upto_seq, upto_seq, message_id, job.conversation_id))
            return self._event(db, job, {"status": "sent", "to": job.recipient,
                                         "kind": job.kind, "count": count})

        return await self.store._submit(op)

    async def skipped(self, job: Job, worker: str, why: str) -> None:
        """Nothing to send after all (the visitor saw the replies, or unsubscribed)."""
        await self.store._submit(lambda db: self._finish(db, job, worker, "skipped", why, None))

    async def retry(self, job: Job, worker: str, error: str, not_before: int) -> None:
        """A passing failure: the job waits until ``not_before`` and is anyone's again."""

        def op(db: DB) -> None:
            db.execute("UPDATE email_jobs SET claimed_by = NULL, claimed_until = NULL, "
                       "not_before = ?, last_error = ? WHERE id = ? AND claimed_by = ? "
                       "AND state = 'pending'", (not_before, error, job.id, worker))

        await self.store._submit(op)

    async def failed(self, job: Job, worker: str, error: str) -> Change | None:
        """For good (a 5xx, or retried past the give-up time): recorded on the conversation."""

        def op(db: DB) -> Change | None:
            if not self._finish(db, job, worker, "failed", error, None):
                return None
            if not _to_the_visitor(job):
                return None
            return self._event(db, job, {"status": "failed", "to": job.recipient,
                                         "kind": job.kind, "error": error})

        return await self.store._submit(op)

    def _finish(self, db: DB, job: Job, worker: str, state: str,
                error: str | None, message_id: str | None) -> bool:
        row = db.execute(
            "UPDATE email_jobs SET state = ?, last_error = coalesce(?, last_error), "
            "message_id = coalesce(?, message_id), done_at = ?, claimed_until = NULL "
            "WHERE id = ? AND claimed_by = ? AND state = 'pending' RETURNING id",
            (state, error, message_id, self.store._now(), job.id, worker)).fetchone()
        return row is not None

    def _event(self, db: DB, job: Job, email: dict[str, Any]) -> Change:
        assert job.conversation_id is not None
        now = self.store._now()
        message = self.store._append(db, job.conversation_id, None, "email", "system", None,
                                     None, "", now, {"email": email})
        return Change(self.store._load_conversation(db, job.conversation_id), (message,))

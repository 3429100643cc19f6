"""The email outbox and the inbound queue, kept in the store (docs/email.md).

Contract:

* A job is written in the transaction of what causes it (``Outbox.on_append`` is one of the
  store's append hooks): an agent's reply that the visitor may not see, a resolve on a site that
  sends transcripts. A committed message therefore always has its email job, and a rolled-back
  one never has.
* ``dedupe`` is unique: the same cause never makes two jobs (a reply burst is one job: while a
  reply job of the conversation waits, later replies join it).
* ``claim`` is compare-and-set inside one write transaction: a job is held by one worker until
  its lease runs out (a worker that died loses it then, and another takes it over); ``finish``
  only counts for the worker that holds the job.
* Each job's ``Message-ID`` is fixed by its id: a retry, by whichever process, sends the same
  email, recognisable as such by the receiver.
* An address that unsubscribed from a site gets no job from that site.

The SQL is plain (``INSERT … ON CONFLICT DO NOTHING``, ``UPDATE … RETURNING``): the same
statements run on SQLite 3.35+ and PostgreSQL (where ``claim``'s inner SELECT adds
``FOR UPDATE SKIP LOCKED``: machines claiming at once each take other jobs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from server import site_profile
from server.store.base import DB, skip_locked
from server.store.models import Change, Conversation, Message

if TYPE_CHECKING:
    from server.store.facade import Aggregates

#: Job kinds: the agents' unseen replies, a transcript (to visitors); an invitation, a
#: password reset (to agents).
REPLY = "reply"
TRANSCRIPT = "transcript"
INVITE = "invite"
RESET = "reset"
#: The satisfaction rating asked by email, when the visitor has not rated in the widget.
RATING = "rating"
#: To an agent: a conversation handed to them while they were offline; the daily digest.
ASSIGNED = "assigned"
DIGEST = "digest"

_JOB_COLS = ("id, kind, dedupe, site_id, conversation_id, recipient, state, attempts, "
             "not_before, claimed_by, claimed_until, last_error, message_id, created_at, done_at, "
             "agent_id")


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    dedupe: str
    site_id: str
    conversation_id: str | None
    recipient: str
    state: str
    attempts: int
    not_before: int
    claimed_by: str | None
    claimed_until: int | None
    last_error: str | None
    message_id: str | None
    created_at: int
    done_at: int | None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Thread:
    conversation_id: str
    reply_key: str
    emailed_seq: int
    last_message_id: str | None
    site_id: str
    visitor_id: str


@dataclass(frozen=True, slots=True)
class Inbound:
    id: str
    message_key: str
    recipient: str
    raw: bytes
    door: str
    attempts_left: bool = True


def _job(row: Sequence[Any]) -> Job:
    return Job(*row)


class Outbox:
    """Email persistence on a ``SQLiteStore``'s write path and reader. ``delay_ms``: how long
    an agent's reply waits for the visitor to see it; ``enabled``: with email off, nothing is
    ever enqueued."""

    def __init__(self, store: Aggregates, *, delay_ms: int, new_key: Callable[[], str],
                 enabled: bool = True) -> None:
        self.store = store
        self.delay_ms = delay_ms
        self.enabled = enabled
        self._new_key = new_key
        #: Called after a commit that wrote a job due now (the worker wakes).
        self.on_job: Callable[[], None] | None = None
        self._due_now = False

    def install(self) -> None:
        self.store.append_hooks.append(self.on_append)

    # --- jobs written with their cause ---------------------------------------------------

    def on_append(self, db: DB, message: Message) -> None:
        if not self.enabled:
            return
        if message.kind == "text" and message.author_type == "agent":
            self._reply_job(db, message)
        elif message.kind == "transferred" and message.author_id:
            # Handed to an agent (the event's author): emailed after the delay if they have
            # not opened their panel by then (checked when it is due).
            self._agent_job(db, ASSIGNED, message.author_id,
                            f"assigned:{message.conversation_id}:{message.seq}",
                            message.created_at + self.delay_ms, message.conversation_id)
        elif message.kind == "resolved":
            # The rating is asked by email if the visitor has not rated in the widget by then.
            self._enqueue(db, RATING, f"rating:{message.conversation_id}:{message.seq}",
                          message.conversation_id, message.created_at + self.delay_ms)
            row = db.execute("SELECT s.settings FROM conversations c JOIN sites s "
                             "ON s.id = c.site_id WHERE c.id = ?",
                             (message.conversation_id,)).fetchone()
            if row and site_profile.from_json(orjson.loads(row[0])).email_transcript:
                self._enqueue(db, TRANSCRIPT, f"transcript:{message.conversation_id}:"
                              f"{message.seq}", message.conversation_id, message.created_at)

    def checkin_email(self, db: DB, message: Message) -> None:
        """A follow-up's check-in for a visitor not on the site: emailed now (as a reply)."""
        if self.enabled:
            self._enqueue(db, REPLY, f"checkin:{message.conversation_id}:{message.seq}",
                          message.conversation_id, message.created_at)

    def _recipient(self, db: DB, conversation_id: str) -> tuple[str, str] | None:
        """(site id, address) of a conversation's visitor who can be emailed, else None."""
        row = db.execute(
            "SELECT c.site_id, v.email FROM conversations c JOIN visitors v "
            "ON v.id = c.visitor_id WHERE c.id = ?", (conversation_id,)).fetchone()
        if row is None or not row[1]:
            return None
        site_id, address = row[0], str(row[1]).strip()
        if db.execute("SELECT 1 FROM email_optouts WHERE site_id = ? AND address = ?",
                      (site_id, address.lower())).fetchone():
            return None
        return site_id, address

    def _reply_job(self, db: DB, message: Message) -> None:
        waiting = db.execute(
            "SELECT 1 FROM email_jobs WHERE conversation_id = ? AND kind = ? AND "
            "state = 'pending' AND claimed_by IS NULL", (message.conversation_id, REPLY)
        ).fetchone()
        if waiting is None:  # else this reply joins the burst that job will send
            self._enqueue(db, REPLY, f"reply:{message.conversation_id}:{message.seq}",
                          message.conversation_id, message.created_at + self.delay_ms)

    def _enqueue(self, db: DB, kind: str, dedupe: str, conversation_id: str,
                 not_before: int) -> bool:
        recipient = self._recipient(db, conversation_id)
        if recipient is None:
            return False
        now = self.store._now()
        self._thread(db, conversation_id, now)
        row = db.execute(
            "INSERT INTO email_jobs(id, kind, dedupe, site_id, conversation_id, recipient, "
            "not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(dedupe) DO NOTHING RETURNING id",
            (self.store._ids("mail"), kind, dedupe, recipient[0], conversation_id, recipient[1],
             not_before, now)).fetchone()
        if row is not None and not_before <= now:
            self._due_now = True
        return row is not None

    def _thread(self, db: DB, conversation_id: str, now: int) -> None:
        db.execute("INSERT INTO email_threads(conversation_id, reply_key, created_at) "
                   "VALUES (?, ?, ?) ON CONFLICT(conversation_id) DO NOTHING",
                   (conversation_id, self._new_key(), now))

    def _wake(self) -> None:
        if self._due_now:
            self._due_now = False
            if self.on_job is not None:
                self.on_job()

    async def request_transcript(self, conversation_id: str) -> bool:
        """A transcript asked for by the visitor or an agent: True when one is on its way (the
        same request at the same point of the conversation is one email); False when the
        visitor left no address (or unsubscribed)."""

        def op(db: DB) -> bool:
            row = db.execute("SELECT last_seq FROM conversations WHERE id = ?",
                             (conversation_id,)).fetchone()
            if row is None:
                return False
            dedupe = f"transcript:{conversation_id}:{row[0]}"
            if db.execute("SELECT 1 FROM email_jobs WHERE dedupe = ?", (dedupe,)).fetchone():
                return True
            return self._enqueue(db, TRANSCRIPT, dedupe, conversation_id, self.store._now())

        done = await self.store._submit(op)
        self._wake()
        return done

    def _agent_job(self, db: DB, kind: str, agent_id: str, dedupe: str,
                   not_before: int, conversation_id: str | None = None) -> bool:
        """An email job to an agent who wants that kind (``agent_email_prefs``)."""
        column = {ASSIGNED: "assigned", DIGEST: "digest"}[kind]
        row = db.execute(
            "SELECT a.email FROM agents a LEFT JOIN agent_email_prefs p ON p.agent_id = a.id "
            f"WHERE a.id = ? AND a.active = 1 AND coalesce(p.{column}, 1) = 1",
            (agent_id,)).fetchone()
        if row is None or not row[0]:
            return False
        inserted = db.execute(
            "INSERT INTO email_jobs(id, kind, dedupe, site_id, conversation_id, agent_id, "
            "recipient, not_before, created_at) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?) "
            "ON CONFLICT(dedupe) DO NOTHING RETURNING id",
            (self.store._ids("mail"), kind, dedupe, conversation_id, agent_id, row[0],
             not_before, self.store._now())).fetchone()
        if inserted is not None and not_before <= self.store._now():
            self._due_now = True
        return inserted is not None

    async def digests(self, day: str) -> int:
        """The day's digest jobs for every active admin who wants one (once per day, whichever
        process asks first); how many were new."""

        def op(db: DB) -> int:
            admins = db.execute("SELECT id FROM agents WHERE role = 'admin' AND active = 1"
                                ).fetchall()
            now = self.store._now()
            return sum(self._agent_job(db, DIGEST, a[0], f"digest:{a[0]}:{day}", now)
                       for a in admins)

        made = await self.store._submit(op)
        self._wake()
        return made

    async def prefs(self, agent_id: str) -> dict[str, bool]:
        row = await self.store._one("SELECT assigned, digest FROM agent_email_prefs WHERE "
                                    "agent_id = ?", (agent_id,))
        return {"assigned": bool(row[0]) if row else True,
                "digest": bool(row[1]) if row else True}

    async def set_prefs(self, agent_id: str, assigned: bool | None,
                        digest: bool | None) -> dict[str, bool]:
        def op(db: DB) -> None:
            db.execute("INSERT INTO agent_email_prefs(agent_id) VALUES (?) "
                       "ON CONFLICT(agent_id) DO NOTHING", (agent_id,))
            if assigned is not None:
                db.execute("UPDATE agent_email_prefs SET assigned = ? WHERE agent_id = ?",
                           (int(assigned), agent_id))
            if digest is not None:
                db.execute("UPDATE agent_email_prefs SET digest = ? WHERE agent_id = ?",
                           (int(digest), agent_id))

        await self.store._submit(op)
        return await self.prefs(agent_id)

    async def missed(self, start: int, end: int) -> list[Conversation]:
        """Conversations begun in [start, end) that no agent answered (for the digest)."""
        rows = await self.store._all(
            "SELECT c.id FROM conversations c WHERE c.created_at >= ? AND c.created_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND "
            "m.author_type = 'agent' AND m.kind = 'text') ORDER BY c.created_at LIMIT 501",
            (start, end))
        found = [await self.store.conversation(r[0]) for r in rows]
        return [c for c in found if c is not None]

    async def agent_email(self, kind: str, agent_id: str, address: str, dedupe: str) -> bool:
        """An email to an agent (``INVITE``, ``RESET``), due now: its link is made when it is
        sent. False when ``dedupe`` was used already (asked again too soon)."""
        now = self.store._now()

        def op(db: DB) -> bool:
            row = db.execute(
                "INSERT INTO email_jobs(id, kind, dedupe, site_id, agent_id, recipient, "
                "not_before, created_at) VALUES (?, ?, ?, '', ?, ?, ?, ?) "
                "ON CONFLICT(dedupe) DO NOTHING RETURNING id",
                (self.store._ids("mail"), kind, dedupe, agent_id, address, now, now)).fetchone()
            if row is not None:
                self._due_now = True
            return row is not None

        queued = await self.store._submit(op)
        self._wake()
        return queued

    # --- the worker's side ---------------------------------------------------------------

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
                f"RETURNING {_JOB_COLS}",
                (worker, now + lease_ms, now, now, limit)).fetchall()
            return [_job(r) for r in rows]

        return await self.store._submit(op)

    async def job(self, job_id: str) -> Job | None:
        row = await self.store._one(f"SELECT {_JOB_COLS} FROM email_jobs WHERE id = ?",
                                    (job_id,))
        return _job(row) if row else None

    async def jobs(self, conversation_id: str) -> list[Job]:
        rows = await self.store._all(f"SELECT {_JOB_COLS} FROM email_jobs WHERE "
                                     "conversation_id = ? ORDER BY created_at, id",
                                     (conversation_id,))
        return [_job(r) for r in rows]

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
            if job.conversation_id is None:
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
            if job.conversation_id is None:
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

    # --- unsubscribing -------------------------------------------------------------------

    async def unsubscribe(self, site_id: str, address: str) -> None:
        """From now on this site emails this address nothing; waiting jobs are dropped."""
        now = self.store._now()

        def op(db: DB) -> None:
            db.execute("INSERT INTO email_optouts(site_id, address, created_at) VALUES "
                       "(?, ?, ?) ON CONFLICT(site_id, address) DO NOTHING",
                       (site_id, address.lower(), now))
            db.execute("UPDATE email_jobs SET state = 'skipped', last_error = 'unsubscribed', "
                       "done_at = ? WHERE site_id = ? AND lower(recipient) = ? AND "
                       "state = 'pending'", (now, site_id, address.lower()))

        await self.store._submit(op)

    async def unsubscribed(self, site_id: str, address: str) -> bool:
        return await self.store._one(
            "SELECT 1 FROM email_optouts WHERE site_id = ? AND address = ?",
            (site_id, address.lower())) is not None

    # --- replies received ----------------------------------------------------------------

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

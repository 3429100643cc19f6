"""Email jobs written in the store (docs/email.md): the part of the outbox
(``server.store.outbox``) that writes them — in the transaction of their cause, or when asked —
and the agents' email preferences and the addresses that unsubscribed. The contract is in
``server.store.outbox``'s docstring."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from server import site_profile
from server.store.base import DB
from server.store.models import Conversation, Message
from server.store.people import PEOPLE_FROM, PERSON_REPLIED

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
#: To an agent: a conversation handed to them while they were offline; the daily digest; a
#: colleague's note that mentions them, while they were offline.
ASSIGNED = "assigned"
DIGEST = "digest"
MENTION = "mention"
#: Each kind of email to an agent, and its switch in ``agent_email_prefs`` (on by default).
AGENT_PREFS = {ASSIGNED: "assigned", DIGEST: "digest", MENTION: "mentioned"}

JOB_COLS = ("id, kind, dedupe, site_id, conversation_id, recipient, state, attempts, "
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


#: The kinds of message an email to the visitor shows (server/mail/service.py): texts and
#: follow-ups' check-ins.
TRANSCRIBED = ("text", "checkin")


def _transcript_point(db: DB, conversation_id: str, before: int | None = None) -> int:
    """Where a transcript of the conversation stands (before ``before``): the seq of the last
    message it shows. Events (a transcript's own ``email`` event, a join, a resolve) and notes
    do not move it, so a request repeated with nothing new to show is one email."""
    row = db.execute(
        "SELECT seq FROM messages WHERE conversation_id = ? AND seq < ? AND kind IN (?, ?) "
        "ORDER BY seq DESC LIMIT 1",
        (conversation_id, before if before is not None else 2**62, *TRANSCRIBED)).fetchone()
    return int(row[0]) if row else 0


def cause_seq(job: Job) -> int:
    """The seq of the note a ``MENTION`` job is for (its key: ``mention:<conv>:<seq>:<agent>``),
    or of the transfer an ``ASSIGNED`` one is for (``assigned:<conv>:<seq>``)."""
    return int(job.dedupe.split(":")[2])


def job_of(row: Sequence[Any]) -> Job:
    return Job(*row)


class EmailJobs:
    """Writing email jobs, on a store's write path and reader. ``delay_ms``: how long an
    agent's reply waits for the visitor to see it; ``enabled``: with email off, nothing is ever
    enqueued."""

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
        elif message.kind == "note" and message.data and message.data.get("mentions"):
            # Each colleague the note mentions: emailed after the delay if they have not opened
            # their panel by then (the note's seq in the key: ``cause_seq``).
            for agent_id in message.data["mentions"]:
                self._agent_job(db, MENTION, agent_id, f"mention:{message.conversation_id}:"
                                f"{message.seq}:{agent_id}", message.created_at + self.delay_ms,
                                message.conversation_id)
        elif message.kind == "resolved":
            # The rating is asked by email if the visitor has not rated in the widget by then.
            self._enqueue(db, RATING, f"rating:{message.conversation_id}:{message.seq}",
                          message.conversation_id, message.created_at + self.delay_ms)
            row = db.execute("SELECT s.settings FROM conversations c JOIN sites s "
                             "ON s.id = c.site_id WHERE c.id = ?",
                             (message.conversation_id,)).fetchone()
            # (Not when the visitor asked for it right before: the same words twice.)
            asked = f"transcript:{message.conversation_id}:" \
                    f"{_transcript_point(db, message.conversation_id, message.seq)}"
            if row and site_profile.from_json(orjson.loads(row[0])).email_transcript and \
                    not db.execute("SELECT 1 FROM email_jobs WHERE dedupe = ?",
                                   (asked,)).fetchone():
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
            if not db.execute("SELECT 1 FROM conversations WHERE id = ?",
                              (conversation_id,)).fetchone():
                return False
            dedupe = f"transcript:{conversation_id}:{_transcript_point(db, conversation_id)}"
            if db.execute("SELECT 1 FROM email_jobs WHERE dedupe = ?", (dedupe,)).fetchone():
                return True
            return self._enqueue(db, TRANSCRIPT, dedupe, conversation_id, self.store._now())

        done = await self.store._submit(op)
        self._wake()
        return done

    def _agent_job(self, db: DB, kind: str, agent_id: str, dedupe: str,
                   not_before: int, conversation_id: str | None = None) -> bool:
        """An email job to an agent who wants that kind (``agent_email_prefs``)."""
        column = AGENT_PREFS[kind]
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
        names = list(AGENT_PREFS.values())
        row = await self.store._one(f"SELECT {', '.join(names)} FROM agent_email_prefs WHERE "
                                    "agent_id = ?", (agent_id,))
        return {name: bool(row[i]) if row else True for i, name in enumerate(names)}

    async def set_prefs(self, agent_id: str, changes: dict[str, bool]) -> dict[str, bool]:
        """``changes``: switches of ``AGENT_PREFS`` (their names), on or off."""
        assert set(changes) <= set(AGENT_PREFS.values())

        def op(db: DB) -> None:
            db.execute("INSERT INTO agent_email_prefs(agent_id) VALUES (?) "
                       "ON CONFLICT(agent_id) DO NOTHING", (agent_id,))
            for name, on in changes.items():
                db.execute(f"UPDATE agent_email_prefs SET {name} = ? WHERE agent_id = ?",
                           (int(on), agent_id))

        await self.store._submit(op)
        return await self.prefs(agent_id)

    async def missed(self, start: int, end: int) -> list[Conversation]:
        """Conversations begun in [start, end) that reached people and that no person answered
        (for the digest): the reports' missed. One its bot has alone is not missed, and a bot's
        reply is no answer (server/store/people.py)."""
        rows = await self.store._all(
            "SELECT c.id FROM conversations c WHERE c.created_at >= ? AND c.created_at < ? "
            f"AND NOT {PERSON_REPLIED} AND ({PEOPLE_FROM}) IS NOT NULL "
            "ORDER BY c.created_at LIMIT 501", (start, end))
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

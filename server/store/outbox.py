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

The parts: ``server.store.email_jobs`` (written with their cause, agents' preferences,
unsubscribes), ``server.store.email_worker`` (claimed, finished) and
``server.store.email_inbound`` (replies received). The SQL is plain (``INSERT … ON CONFLICT DO
NOTHING``, ``UPDATE … RETURNING``): the same statements run on SQLite 3.35+ and PostgreSQL
(where ``claim``'s inner SELECT adds ``FOR UPDATE SKIP LOCKED``: machines claiming at once each
take other jobs).
"""

from __future__ import annotations

from server.store.email_inbound import Inbound, InboundMail
from server.store.email_jobs import (
    AGENT_PREFS,
    ASSIGNED,
    DIGEST,
    INVITE,
    MENTION,
    RATING,
    REPLY,
    RESET,
    TRANSCRIBED,
    TRANSCRIPT,
    EmailJobs,
    Job,
    cause_seq,
)
from server.store.email_worker import EmailWorker, Thread

__all__ = ["AGENT_PREFS", "ASSIGNED", "DIGEST", "INVITE", "MENTION", "RATING", "REPLY", "RESET",
           "TRANSCRIBED", "TRANSCRIPT", "EmailJobs", "Inbound", "Job", "Outbox", "Thread",
           "cause_seq"]


class Outbox(EmailWorker, InboundMail):
    """Email persistence on a store's write path and reader: the jobs written with their cause
    (``server.store.email_jobs``), the worker's side (``server.store.email_worker``) and the
    replies received (``server.store.email_inbound``)."""

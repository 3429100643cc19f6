"""The outbox's promises, against real processes and a real SMTP server: an email refused for
a while is sent once when the server recovers; a 5xx is recorded on the conversation for the
agents; a kill -9 before the jobs are due, and another in the middle of a send, lose nothing and
send nothing twice (by Message-ID); two processes never send the same job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live import UNLIMITED, Client, ServerProcess, open_store, seed
from tests.mailsink import MailSink
from tests.test_email import (
    advance,
    email_env,
    email_event,
    offline_visitor,
    open_conversation,
    start,
)


async def replies(server: ServerProcess, site_id: str, agent_email: str, count: int,
                  tag: str) -> tuple[Client, list[str]]:
    """``count`` visitors who left a message and an address, each answered once."""
    conversations = []
    for n in range(count):
        v, conv = await offline_visitor(server, site_id, f"v{n}.{tag}@example.test",
                                        f"question {n}", language="en")
        await v.close()
        conversations.append(conv)
    ana = await open_conversation(server, agent_email, conversations[0])
    for n, conv in enumerate(conversations):
        await ana.request({"type": "send", "id": f"{tag}{n}", "conversation_id": conv,
                           "body": f"answer {n}"})
    return ana, conversations


async def job_states(db: Path) -> list[str]:
    async with open_store(db) as store:
        rows = await store._all("SELECT state FROM email_jobs ORDER BY id")
    return [r[0] for r in rows]


async def test_refused_then_accepted_is_sent_once_and_a_5xx_is_shown_to_agents(
        tmp_path: Path) -> None:
    db, clock = tmp_path / "retry.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock, LIVECHAT_EMAIL_RETRY="0.2"))
        try:
            sink.refuse = "451 4.3.0 Busy, try later"
            ana, [conv] = await replies(server, seeded.site_id, seeded.agent_email, 1, "a")
            advance(clock, 200)
            await sink.refused.wait()
            sink.refuse = None  # the SMTP server recovers
            [mail] = await sink.wait_for(1)
            assert "answer 0" in str(mail.get_body(preferencelist=("plain",)))
            await email_event(ana, conv, "sent")
            assert sink.refusals >= 1 and await job_states(db) == ["sent"]

            sink.refuse = "550 5.1.1 No such user here"
            await ana.request({"type": "send", "id": "b", "conversation_id": conv,
                               "body": "Are you there?"})
            advance(clock, 200)
            failed = await email_event(ana, conv, "failed")
            # The server's own words, for the agent who reads why (it was the exception's
            # class: "550 SMTPRecipientsRefused").
            assert failed["email"]["error"] == "550 5.1.1 No such user here", failed
            assert failed["email"]["to"] == "v0.a@example.test"
            assert sorted(await job_states(db)) == ["failed", "sent"]
            assert len(sink.received) == 1
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


@pytest.mark.slow
async def test_kill_9_with_jobs_in_the_outbox_sends_each_email_once(tmp_path: Path) -> None:
    db, clock = tmp_path / "crash.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        env = email_env(sink, clock, LIVECHAT_EMAIL_LEASE="30", **UNLIMITED)
        # 1. Committed, not yet due: the process dies.
        first = start(db, env)
        ana, _ = await replies(first, seeded.site_id, seeded.agent_email, 3, "k")
        await ana.close()
        first.kill9()
        assert await job_states(db) == ["pending"] * 3
        # 2. Due, claimed, the first in the middle of its SMTP conversation: the process dies.
        sink.hold = True
        second = start(db, env)
        advance(clock, 200)
        await sink.held.wait()
        second.kill9()
        sink.hold = False
        sink.release.set()
        # 3. A new process takes the jobs over once their lease ran out, and sends each once.
        third = start(db, env)
        try:
            advance(clock, 60)
            received = await sink.wait_for(3)
            ids = [str(m["Message-ID"]) for m in received]
            assert len(set(ids)) == 3
            assert await job_states(db) == ["sent"] * 3
            assert len(sink.received) == 3  # nothing more, once every job is done
            assert sorted(env[1][0] for env in sink.envelopes) == [
                f"v{n}.k@example.test" for n in range(3)]
        finally:
            third.stop()
        assert "Traceback" not in third.log(), third.log()


@pytest.mark.slow
async def test_two_processes_never_send_the_same_job(tmp_path: Path) -> None:
    db, clock = tmp_path / "two.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    count = 12
    async with MailSink() as sink:
        env = email_env(sink, clock, **UNLIMITED)
        one, two = start(db, env), start(db, env)
        try:
            await replies(one, seeded.site_id, seeded.agent_email, count, "t")
            advance(clock, 200)  # every job due at once, for both workers
            received = await sink.wait_for(count)
            assert len({str(m["Message-ID"]) for m in received}) == count
            assert await job_states(db) == ["sent"] * count
            assert len(sink.received) == count
        finally:
            one.stop()
            two.stop()
        for server in (one, two):
            assert "Traceback" not in server.log(), server.log()

"""Follow-ups after resolution, against a real server and SMTP server with a clock the test
moves: a check-in scheduled when resolving reaches a visitor on the site in the widget and one
who left by email (in their language); answering it — in the widget or by email — reopens the
conversation for the agent; cancelled ones are not sent; scheduled ones survive a restart."""

from __future__ import annotations

import sqlite3
import time
from email.utils import parseaddr
from pathlib import Path

import aiosmtplib

from tests.live import Client, agent, free_port, login, seed, visitor
from tests.mailsink import MailSink
from tests.test_email import (
    advance,
    email_env,
    offline_visitor,
    open_conversation,
    start,
    text_of,
)
from tests.test_metrics import TOKEN, scrape, value

DAY = 24 * 3600


def server_now(clock: Path) -> float:
    return time.time() + float(clock.read_text() or 0)


async def resolve_and_follow_up(ana: Client, conv: str, clock: Path, days: float,
                                body: str | None = None) -> dict[str, object]:
    await ana.request({"type": "open", "id": f"o-{conv}", "conversation_id": conv})
    assert (await ana.request({"type": "resolve", "id": f"r-{conv}",
                               "conversation_id": conv}))["type"] == "ack"
    frame: dict[str, object] = {"type": "follow_up", "id": f"f-{conv}", "conversation_id": conv,
                                "at": int((server_now(clock) + days * DAY) * 1000)}
    if body is not None:
        frame["body"] = body
    ack = await ana.request(frame)
    assert ack["type"] == "ack", ack
    follow_up: dict[str, object] = ack["follow_up"]
    return follow_up


async def test_check_ins_by_widget_and_email_reopen_the_conversation_when_answered(
        tmp_path: Path) -> None:
    db, clock = tmp_path / "follow.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    listen = free_port()
    async with MailSink() as sink:
        env = email_env(sink, clock, LIVECHAT_SMTP_LISTEN=f"127.0.0.1:{listen}",
                        LIVECHAT_ROUTING_INTERVAL="0.3", LIVECHAT_METRICS_TOKEN=TOKEN)
        server = start(db, env)
        # Lea will be on the site; Tom leaves (in French); Zoe's follow-up is cancelled.
        lea, lea_conv = await offline_visitor(server, seeded.site_id, "lea@example.test",
                                              "Tent question", language="en")
        tom, tom_conv = await offline_visitor(server, seeded.site_id, "tom@example.test",
                                              "Question", language="fr-FR")
        await tom.close()
        zoe, zoe_conv = await offline_visitor(server, seeded.site_id, "zoe@example.test", "Hi")
        await zoe.close()
        await lea.close()
        ana = await open_conversation(server, seeded.agent_email, lea_conv)
        await ana.request({"type": "send", "id": "a1", "conversation_id": lea_conv,
                           "body": "Try the guy lines."})
        await resolve_and_follow_up(ana, lea_conv, clock, 3,
                                                 "Did the guy lines help?")
        await resolve_and_follow_up(ana, tom_conv, clock, 3)
        zoe_follow = await resolve_and_follow_up(ana, zoe_conv, clock, 2)
        listed = await ana.request({"type": "follow_ups", "id": "l1"})
        assert [f["conversation_id"] for f in listed["follow_ups"]] == [
            zoe_conv, lea_conv, tom_conv]  # soonest first
        assert listed["follow_ups"][1]["body"] == "Did the guy lines help?"
        assert listed["follow_ups"][1]["conversation"]["visitor"]["name"] == "Eve"
        assert (await ana.request({"type": "follow_up_cancel", "id": "c1",
                                   "follow_up_id": zoe_follow["id"]}))["type"] == "ack"
        # Refused: an open conversation, a time in the past.
        other, _ = await visitor(server, seeded.site_id)
        open_conv = (await other.request({"type": "send", "id": "m", "body": "x"}))[
            "conversation_id"]
        refused = await ana.request({"type": "follow_up", "id": "f-x",
                                     "conversation_id": open_conv,
                                     "at": int((server_now(clock) + DAY) * 1000)})
        assert refused["code"] == "not_resolved"
        refused = await ana.request({"type": "follow_up", "id": "f-y", "conversation_id": tom_conv,
                                     "at": int((server_now(clock) - 60) * 1000)})
        assert refused["code"] == "bad_frame"
        await ana.close()

        # A restart in between: the schedule is in the store.
        server.stop()
        server = start(db, env)
        try:
            lea, _ = await visitor(server, seeded.site_id, token=lea_token(server, lea))
            ana = await open_conversation(server, seeded.agent_email, lea_conv)
            await ana.request({"type": "open", "id": "o-tom", "conversation_id": tom_conv})
            advance(clock, 3 * DAY + 3600)
            checkin = await lea.next(lambda f: f.get("type") == "message"
                                     and f.get("kind") == "checkin", timeout=20)
            assert checkin["body"] == "Did the guy lines help?"
            assert checkin["author"]["name"] == "Ana"
            # Tom is not on the site: by email, in French.
            mail = await sink.first(lambda m: "Nous prenons des nouvelles" in text_of(m, "plain"))
            assert mail["To"] == "tom@example.test"
            await ana.next(lambda f: f.get("type") == "message" and f.get("kind") == "checkin"
                           and f.get("conversation_id") == tom_conv)
            listed = await ana.request({"type": "follow_ups", "id": "l2"})
            assert listed["follow_ups"] == []

            # Lea answers in the widget: the same conversation, reopened, Ana's again.
            ack = await lea.request({"type": "send", "id": "lea-2", "body": "Yes, thanks!"})
            assert ack["conversation_id"] == lea_conv
            reopened = await ana.next(lambda f: f.get("type") == "message"
                                      and f.get("kind") == "reopened"
                                      and f.get("conversation_id") == lea_conv)
            assert reopened["author"]["name"] == "Ana"
            summary = await ana.next(lambda f: f.get("type") == "conversation"
                                     and f["conversation"]["id"] == lea_conv
                                     and f["conversation"]["status"] == "assigned")
            assert summary["conversation"]["assignee"]["name"] == "Ana"
            # Counted as a reopening, as an agent's reopen is (it was not).
            samples = await scrape(f"{server.http}/metrics")
            assert value(samples, "livechat_routing_decisions_total", decision="reopened") == 1
            # Her transcript holds what she saw: the check-in among the messages.
            asked = await lea.request({"type": "transcript", "id": "tr",
                                       "conversation_id": lea_conv})
            assert asked["type"] == "ack", asked
            transcript = await sink.first(lambda m: m["To"] == "lea@example.test"
                                          and "Yes, thanks!" in text_of(m, "plain"))
            plain = text_of(transcript, "plain")
            assert plain.index("Try the guy lines.") < plain.index("Did the guy lines help?") \
                < plain.index("Yes, thanks!")

            # Tom answers by email: his conversation reopens too.
            answer = mail.__class__()
            answer["From"] = "tom@example.test"
            answer["To"] = parseaddr(str(mail["Reply-To"]))[1]
            answer["Subject"] = "Re: check-in"
            answer["Message-ID"] = "<tom-1@example.test>"
            answer.set_content("Tout va bien, merci.")
            await aiosmtplib.send(answer, hostname="127.0.0.1", port=listen)
            got = await ana.next(lambda f: f.get("type") == "message"
                                 and f.get("conversation_id") == tom_conv
                                 and str(f.get("id")).startswith("email:"), timeout=20)
            assert got["body"] == "Tout va bien, merci."
            await ana.next(lambda f: f.get("type") == "message" and f.get("kind") == "reopened"
                           and f.get("conversation_id") == tom_conv)
            checkins = [m["To"] for m in sink.received if "checking in" in text_of(m, "plain")
                        or "Nous prenons" in text_of(m, "plain")]
            assert checkins == ["tom@example.test"]  # Lea was on the site; Zoe's was cancelled
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


def lea_token(server: object, client: Client) -> str:
    """Lea's visitor token, from the welcome her first socket got."""
    welcome = next(f for f in client.frames if f.get("type") == "welcome")
    return str(welcome["token"])


async def test_a_check_in_is_skipped_while_its_visitor_has_another_conversation_open(
        tmp_path: Path) -> None:
    """Max started a new conversation after his follow-up was scheduled, still open at its
    time: his check-in is not sent (it could not be answered there) and ends ``skipped``. Ida's
    new conversation was resolved again before hers was due: hers goes out as usual. A time
    more than 365 days ahead is refused; 365 days is accepted."""
    db, clock = tmp_path / "skip.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        server = start(db, email_env(sink, clock, LIVECHAT_ROUTING_INTERVAL="0.3"))
        try:
            ana, _ = await agent(server, await login(server, seeded.agent_email))
            convs = {}
            for name in ("max", "ida"):
                client, _ = await visitor(server, seeded.site_id)
                first = (await client.request({"type": "send", "id": f"{name}-1",
                                               "body": "Hello"}))["conversation_id"]
                convs[name] = (client, first)
            max_, max_old = convs["max"]
            ida, ida_old = convs["ida"]
            skipped = await resolve_and_follow_up(ana, max_old, clock, 1)
            await resolve_and_follow_up(ana, ida_old, clock, 1.5)
            # Both write again: each a new conversation; Ida's is resolved again at once.
            max_new = (await max_.request({"type": "send", "id": "max-2", "body": "Again"}))[
                "conversation_id"]
            ida_new = (await ida.request({"type": "send", "id": "ida-2", "body": "Again"}))[
                "conversation_id"]
            assert max_old != max_new and ida_old != ida_new
            await ana.request({"type": "open", "id": "o-ida-new", "conversation_id": ida_new})
            assert (await ana.request({"type": "resolve", "id": "r-ida-new",
                                       "conversation_id": ida_new}))["type"] == "ack"
            # Over 365 days ahead: refused; 365 days (less a minute for the trip): accepted.
            year = int((server_now(clock) + 365 * DAY) * 1000)
            refused = await ana.request({"type": "follow_up", "id": "f-far",
                                         "conversation_id": ida_new, "at": year + 60_000})
            assert refused["code"] == "bad_frame", refused
            accepted = await ana.request({"type": "follow_up", "id": "f-year",
                                          "conversation_id": ida_new, "at": year - 60_000})
            assert accepted["type"] == "ack", accepted

            advance(clock, 2 * DAY)
            # Ida's is due after Max's: once hers has come, the sweep has been past his.
            checkin = await ida.next(lambda f: f.get("type") == "message"
                                     and f.get("kind") == "checkin", timeout=20)
            assert checkin["conversation_id"] == ida_old
            # His next message still goes to his open conversation; every frame sent to him or
            # Ana before its ack (and the list's) has been read: no check-in of his among them.
            ack = await max_.request({"type": "send", "id": "max-3", "body": "Still here"})
            assert ack["conversation_id"] == max_new
            listed = await ana.request({"type": "follow_ups", "id": "l-after"})
            assert [f["conversation_id"] for f in listed["follow_ups"]] == [ida_new]
            assert not [f for f in max_.frames if f.get("kind") == "checkin"]
            assert not [f for f in ana.frames if f.get("kind") == "checkin"
                        and f.get("conversation_id") == max_old]
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()
        with sqlite3.connect(db) as conn:
            states = dict(conn.execute("SELECT conversation_id, state FROM follow_ups"))
        assert states[max_old] == "skipped" and states[ida_old] == "sent"
        assert skipped["state"] == "pending"

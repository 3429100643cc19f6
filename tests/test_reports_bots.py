"""Reports count people, not bots (docs/reports.md): a bot that answers in a second must not make
the team's first response look instant, nor its conversations look resolved by the team. One
day of a site with a bot, written through the store with its clock set to each moment, on SQLite
and on PostgreSQL; every number below is worked out by hand from that day.

Seconds after DAY (A is Ana, B is Bo, "bot" is the site's bot Ava):

    P   0 start (no bot: before the bot was made)   60 A claims  90 A writes a note
        120 A replies  300 A replies again  600 resolved, 5
    B1  1000 start, bot claims   1002 bot replies   1100 bot resolves, rated 2 (the bot's)
    B2  2000 start, bot claims   2005 bot replies   2100 handoff   2160 A claims   2190 A replies
        2700 A resolves, rated 4
    B3  3000 start, bot claims   3005 bot replies   3050 handoff   (nobody came: missed)
    B4  4000 start, bot claims   4003 bot replies   (still with the bot)
    B5  5000 start, bot claims   5003 bot replies   5030 B takes it over   5100 B replies

People's first responses, from when the conversation reached them: P 120, B2 90 (from the
handoff), B5 70 (from the takeover); their waits: P 60, B2 60, B5 0. Resolved by the team: P
(600 s) and B2 (700 s, from the start). Handled by the bot alone: B1 (resolved) and B4.

Each conversation keeps when a person first replied (``first_reply_at``, written with the reply):
P 120 (not the note at 90, nor the reply at 300), B2 2190, B5 5100; none in the others (the
bot's replies do not count).
"""

from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from server.reports import Row, summarize
from server.store import SQLiteStore
from server.store.api_tokens import ApiTokens
from server.store.bots import Bots
from server.store.models import Agent
from server.store.outbox import Outbox
from server.store.postgres import PostgresStore
from tests import pg
from tests.api_world import check
from tests.live import Seed, ServerProcess, add_admin, login, open_store, serving, visitor
from tests.test_metrics import TOKEN as METRICS_TOKEN
from tests.test_metrics import parse, value

S = 1000  # ms
DAY = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)  # a Monday
PERIOD = {"from": "2026-03-02", "to": "2026-03-02", "tz": "UTC"}
NO_RATINGS = {"ratings": 0, "average": None, "satisfied_percent": None}
# When a person first replied (seconds after DAY), per conversation (by its visitor).
FIRST_REPLIES = {"vis_P": 120, "vis_B1": None, "vis_B2": 2190, "vis_B3": None, "vis_B4": None,
                 "vis_B5": 5100}

# The whole day, as the report sees it (every site, team and agent).
TOTAL: dict[str, Any] = {
    "conversations": 6, "answered": 3, "missed": 1,
    "first_response": {"median": 90, "p90": 120, "count": 3},  # 70, 90, 120
    "resolution": {"median": 650, "p90": 700, "count": 2},     # 600, 700
    "wait": {"median": 60, "p90": 60, "count": 3},             # 0, 60, 60
    "satisfaction": {"ratings": 2, "average": 4.5, "satisfied_percent": 100.0},
    "bot_conversations": 5, "handled_by_bot": 2, "bot_resolved": 1,
    "bot_satisfaction": {"ratings": 1, "average": 2.0, "satisfied_percent": 0.0},
}
# Only the bot's (agent=<the bot>): B1 and B4, which it still has.
THE_BOTS: dict[str, Any] = {
    "conversations": 2, "answered": 0, "missed": 0,
    "first_response": {"median": None, "p90": None, "count": 0},
    "resolution": {"median": None, "p90": None, "count": 0},
    "wait": {"median": None, "p90": None, "count": 0},
    "satisfaction": NO_RATINGS,
    "bot_conversations": 2, "handled_by_bot": 2, "bot_resolved": 1,
    "bot_satisfaction": {"ratings": 1, "average": 2.0, "satisfied_percent": 0.0},
}
# Only Ana's (agent=<Ana>): P and B2.
ANAS: dict[str, Any] = {
    "conversations": 2, "answered": 2, "missed": 0,
    "first_response": {"median": 105, "p90": 120, "count": 2},
    "resolution": {"median": 650, "p90": 700, "count": 2},
    "wait": {"median": 60, "p90": 60, "count": 2},
    "satisfaction": {"ratings": 2, "average": 4.5, "satisfied_percent": 100.0},
    "bot_conversations": 1, "handled_by_bot": 0, "bot_resolved": 0,
    "bot_satisfaction": NO_RATINGS,
}


@dataclass
class Cast:
    site_id: str
    ana: Agent
    bo: Agent
    bot: Agent


async def play(store: SQLiteStore, now: list[float], site_id: str | None = None) -> Cast:
    """The day, through ``store`` (whose clock reads ``now[0]``): the site's agents (made here
    unless the site is given with Ana and Bo in it), its bot, and the six conversations."""
    def at(seconds: int) -> None:
        now[0] = (DAY + seconds * S) / 1000

    at(-3600)
    if site_id is None:
        site_id = (await store.create_site("Acme", ["https://acme.test"])).id
        await store.create_agent("ana@acme.test", "Ana", "h", "agent", [site_id])
        await store.create_agent("bo@acme.test", "Bo", "h", "agent", [site_id])
    ana, bo = (await store.agent_by_email("ana@acme.test"), await store.agent_by_email(
        "bo@acme.test"))
    assert ana is not None and bo is not None
    sites = [site_id]
    bots = Bots(store)

    async def start(seconds: int, name: str, bot: Agent | None) -> str:
        at(seconds)
        conv = (await store.append_visitor_message(site_id, f"vis_{name}", "m1",
                                                   f"I am {name}")).conversation.id
        if bot is not None:  # as server/bots.py's FirstResponder does, in the same moment
            await store.claim(bot, sites, conv)
        return conv

    async def reply(seconds: int, who: Agent, conv: str) -> None:
        at(seconds)
        await store.append_agent_message(who, sites, conv, f"r{seconds}", "Hello")

    p = await start(0, "P", None)
    at(60)
    await store.claim(ana, sites, p)
    at(90)
    await store.add_note(ana, sites, p, "n90", "VIP")
    await reply(120, ana, p)
    await reply(300, ana, p)
    at(600)
    await store.resolve(ana, sites, p)
    await store.rate("vis_P", p, 5, None)

    at(900)
    bot = await bots.create(site_id, "Ava")

    b1 = await start(1000, "B1", bot)
    await reply(1002, bot, b1)
    at(1100)
    await store.resolve(bot, sites, b1)
    await store.rate("vis_B1", b1, 2, None)

    b2 = await start(2000, "B2", bot)
    await reply(2005, bot, b2)
    at(2100)
    await bots.handoff(sites, b2)
    at(2160)
    await store.claim(ana, sites, b2)
    await reply(2190, ana, b2)
    at(2700)
    await store.resolve(ana, sites, b2)
    await store.rate("vis_B2", b2, 4, None)

    b3 = await start(3000, "B3", bot)
    await reply(3005, bot, b3)
    at(3050)
    await bots.handoff(sites, b3)

    b4 = await start(4000, "B4", bot)
    await reply(4003, bot, b4)

    b5 = await start(5000, "B5", bot)
    await reply(5003, bot, b5)
    at(5030)
    await store.transfer(bo, sites, b5, bo.id)  # any agent may take one over from the bot
    await reply(5100, bo, b5)
    return Cast(site_id, ana, bo, bot)


def figures(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in TOTAL}


def first_replies(store: Any) -> dict[str, int | None]:
    """``conversations.first_reply_at`` of the day's conversations, in seconds after DAY."""
    return {visitor: None if at is None else (at - DAY) // S
            for visitor, at in pg.rows(where(store), "SELECT visitor_id, first_reply_at "
                                                     "FROM conversations")}


def where(store: Any) -> Path | str:
    """The store's SQLite file or PostgreSQL URL."""
    return store.url if isinstance(store, PostgresStore) else store.path


async def test_the_store_counts_people_and_bots_apart(store: SQLiteStore) -> None:
    now = [DAY / 1000]
    timed = pg.same_store(store, clock=lambda: now[0])
    await timed.open()
    try:
        cast = await play(timed, now)
        start, end = DAY, DAY + 86400 * S
        rows = await timed.report_rows([cast.site_id], start, end)
        assert figures(summarize(rows, end)) == TOTAL
        bots = await timed.report_rows([cast.site_id], start, end, agent_id=cast.bot.id)
        assert figures(summarize(bots, end)) == THE_BOTS
        anas = await timed.report_rows([cast.site_id], start, end, agent_id=cast.ana.id)
        assert figures(summarize(anas, end)) == ANAS
        # What a visitor is told ("typically replies in …"): people's first replies, from when
        # the conversation reached them (120, 90, 70 s); the bot's instant ones do not count.
        assert await timed.typical_reply(cast.site_id) == pytest.approx(280 / 3)
        # The queue's expected wait goes by people joining (60, 60, 0 s), not the bot's claims.
        assert await timed.average_wait(cast.site_id) == pytest.approx(40.0)
        # Kept on the conversation when the reply is written: what the widget's figure reads.
        assert first_replies(timed) == FIRST_REPLIES
        # The queue (livechat_queue_oldest_wait_seconds): B3 alone waits, since its bot handed
        # it off (3050 s), not since its start (3000 s) — as the reports' wait counts.
        assert await timed.queue_wait(cast.site_id) == (1, DAY + 3050 * S)
        # conversations.first_assigned_at (schema step 2) is no longer written: nothing reads
        # it (the wait is a person joining, from the events: PERSON_JOIN), and a claim set it
        # for a bot's claim too.
        assert pg.rows(where(timed), "SELECT count(*) FROM conversations "
                                     "WHERE first_assigned_at IS NOT NULL") == [(0,)]
        # The admins' daily digest of missed conversations is the reports' missed: B3, which
        # its bot handed to people and no person answered (the bot's reply is no answer); not
        # B1 or B4, which the bot has handled alone.
        outbox = Outbox(timed, delay_ms=0, new_key=lambda: "k")
        assert [c.visitor_id for c in await outbox.missed(start, end)] == ["vis_B3"]
    finally:
        await timed.close()


async def test_the_queue_gauge_counts_from_when_it_began_waiting_again(
        store: SQLiteStore) -> None:
    """A conversation a person had, put back in the queue (its agent gone: ``requeue``), waits
    since then for the gauge, not since its start an hour before (the reports' wait, to the
    first person's join, is unchanged)."""
    now = [DAY / 1000]
    timed = pg.same_store(store, clock=lambda: now[0])
    await timed.open()
    try:
        site_id = (await timed.create_site("Acme", ["https://acme.test"])).id
        ana = await timed.create_agent("ana@acme.test", "Ana", "h", "agent", [site_id])
        conv = (await timed.append_visitor_message(site_id, "vis_Q", "m1", "Hi")).conversation.id
        assert await timed.queue_wait(site_id) == (1, DAY)
        now[0] = (DAY + 60 * S) / 1000
        await timed.claim(ana, [site_id], conv)
        assert await timed.queue_wait(site_id) == (0, None)
        now[0] = (DAY + 3600 * S) / 1000
        assert len(await timed.requeue(site_id, [ana.id])) == 1
        assert await timed.queue_wait(site_id) == (1, DAY + 3600 * S)  # before: DAY
    finally:
        await timed.close()


async def test_an_upgraded_database_gets_the_first_replies_its_messages_say(
        store: SQLiteStore) -> None:
    """A database from before ``conversations.first_reply_at`` (schema step 27) upgrades with
    each conversation's first person's reply found in its messages: the widget's figure and the
    reports are what they were."""
    now = [DAY / 1000]
    timed = pg.same_store(store, clock=lambda: now[0])
    await timed.open()
    try:
        cast = await play(timed, now)
    finally:
        await timed.close()
    await store.close()
    # As step 27 left it: no such column (nor step 30's, nor step 31's).
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.url) as conn:
            conn.execute("ALTER TABLE conversations DROP COLUMN first_reply_at")
            conn.execute("ALTER TABLE conversations DROP COLUMN queued_at")
            conn.execute("ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
            conn.execute("UPDATE meta SET value = '27' WHERE key = 'schema_version'")
    else:
        with sqlite3.connect(store.path) as db:
            db.execute("ALTER TABLE conversations DROP COLUMN first_reply_at")
            db.execute("DROP INDEX conversations_site_status")
            db.execute("ALTER TABLE conversations DROP COLUMN queued_at")
            db.execute("ALTER TABLE agent_email_prefs DROP COLUMN mentioned")
            db.execute("PRAGMA user_version = 27")
    upgraded = pg.same_store(store, clock=lambda: now[0])
    await upgraded.open()
    try:
        assert first_replies(upgraded) == FIRST_REPLIES
        assert await upgraded.typical_reply(cast.site_id) == pytest.approx(280 / 3)
        start, end = DAY, DAY + 86400 * S
        rows = await upgraded.report_rows([cast.site_id], start, end)
        assert figures(summarize(rows, end)) == TOTAL
    finally:
        await upgraded.close()


def _row(name: str, created: int, joined: int | None, replied: int | None,
         resolved: int | None, rating: int | None, bot: bool, handed: int | None) -> Row:
    def ms(seconds: int | None) -> int | None:
        return None if seconds is None else DAY + seconds * S
    return Row(name, "site", DAY + created * S, ms(joined), ms(replied), ms(resolved), rating,
               None, bot, ms(handed))


def test_the_numbers_by_hand_and_as_seen_during_the_day() -> None:
    rows = [  # the day's conversations as the store gives them (see the module's docstring)
        _row("P", 0, 60, 120, 600, 5, False, None),
        _row("B1", 1000, None, None, 1100, 2, True, None),
        _row("B2", 2000, 2160, 2190, 2700, 4, True, 2100),
        _row("B3", 3000, None, None, None, None, True, 3050),
        _row("B4", 4000, None, None, None, None, True, None),
        _row("B5", 5000, 5030, 5100, None, None, True, 5030),
    ]
    assert figures(summarize(rows, DAY + 86400 * S)) == TOTAL
    def seen_at(seconds: int) -> dict[str, Any]:  # (as the endpoint does, at a moment)
        end = DAY + seconds * S
        return summarize([r for r in rows if r.created_at < end], end)

    # At 2150 s: B2 has been handed off (at 2100) and nobody has answered it yet — it is the
    # team's, missed so far; B1 was the bot's alone.
    early = seen_at(2150)
    assert (early["conversations"], early["answered"], early["missed"],
            early["handled_by_bot"], early["bot_resolved"]) == (3, 1, 1, 1, 1)
    # At 5020 s B5 is still the bot's; at 5050 Bo has taken it over, not yet answered.
    assert (seen_at(5020)["handled_by_bot"], seen_at(5020)["missed"]) == (3, 1)
    assert (seen_at(5050)["handled_by_bot"], seen_at(5050)["missed"]) == (2, 2)
    # Nothing is lost: every conversation is answered, missed or the bot's alone.
    for moment in (1050, 2150, 3040, 3060, 5020, 5050, 86400):
        m = seen_at(moment)
        assert m["answered"] + m["missed"] + m["handled_by_bot"] == m["conversations"]
    # A row without the bot's fields is a conversation no bot had (as before).
    plain = summarize([Row("X", "site", DAY, DAY + 10 * S, DAY + 20 * S, None, None, None)],
                      DAY + 60 * S)
    assert plain["first_response"]["median"] == 20 and plain["bot_conversations"] == 0


@pytest.fixture
def bot_day(record: pg.Record) -> Iterator[tuple[ServerProcess, Cast, str]]:
    """The day on a server of ``backend`` (with an admin, and a REST API token of the site)."""
    import asyncio

    from tests.live import seed

    now = [DAY / 1000]

    async def write() -> tuple[Cast, str]:
        seeded: Seed = await seed(record.db)
        await add_admin(record.db)
        async with open_store(record.db, clock=lambda: now[0]) as store:
            cast = await play(store, now, site_id=seeded.site_id)
            _, token = await ApiTokens(store).create(seeded.site_id, "reports", ["reports:read"])
        return cast, token

    cast, token = asyncio.run(write())
    with serving(record.home, LIVECHAT_METRICS_TOKEN=METRICS_TOKEN, **record.env) as proc:
        yield proc, cast, token


async def test_the_queue_gauge_counts_from_the_handoff(
        bot_day: tuple[ServerProcess, Cast, str]) -> None:
    """``livechat_queue_oldest_wait_seconds`` (docs/deployment.md): B3, the one conversation
    waiting, has waited since its bot handed it off (3050 s), not since its start (3000 s)."""
    server, cast, _ = bot_day
    before = time.time()
    async with httpx.AsyncClient() as http:
        scraped = await http.get(f"{server.http}/metrics",
                                 headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    after = time.time()
    assert scraped.status_code == 200, scraped.text
    samples, _ = parse(scraped.text)
    assert value(samples, "livechat_conversations_waiting", site=cast.site_id) == 1
    handed = (DAY + 3050 * S) / 1000
    waited = value(samples, "livechat_queue_oldest_wait_seconds", site=cast.site_id)
    assert before - handed <= waited <= after - handed


async def test_the_endpoints_and_the_csv_say_the_same(
        bot_day: tuple[ServerProcess, Cast, str]) -> None:
    server, cast, token = bot_day
    root = await login(server, "root@acme.test")
    async with httpx.AsyncClient(base_url=server.http,
                                 cookies={"livechat_agent": root}) as http:
        panel = (await http.get("/api/reports", params=PERIOD)).json()
        of_the_bot = (await http.get("/api/reports",
                                     params={**PERIOD, "agent": cast.bot.id})).json()
        sheet = (await http.get("/api/reports", params={**PERIOD, "format": "csv"})).text
    async with httpx.AsyncClient(base_url=server.http,
                                 headers={"Authorization": f"Bearer {token}"}) as api:
        rest = (await api.get("/api/v1/reports", params=PERIOD)).json()
    assert figures(panel["total"]) == TOTAL
    assert figures(panel["days"][0]) == TOTAL and panel["days"][0]["day"] == "2026-03-02"
    assert figures(of_the_bot["total"]) == THE_BOTS
    assert rest == panel
    check("Report", rest)  # the OpenAPI document's schema (ReportFigures) says so too
    lines = list(csv.DictReader(io.StringIO(sheet)))
    assert [line["day"] for line in lines] == ["2026-03-02", "total"]
    total = lines[-1]
    assert (total["conversations"], total["answered"], total["missed"]) == ("6", "3", "1")
    assert (total["first_response_median_s"], total["satisfaction_average"]) == ("90", "4.5")
    assert {k: total[k] for k in ("bot_conversations", "handled_by_bot", "bot_resolved",
                                  "bot_ratings", "bot_satisfaction_average",
                                  "bot_satisfied_percent")} == {
        "bot_conversations": "5", "handled_by_bot": "2", "bot_resolved": "1",
        "bot_ratings": "1", "bot_satisfaction_average": "2", "bot_satisfied_percent": "0"}
    # The widget's "typically replies in …": people's replies (120, 90, 70 s: 93 s), not the
    # bot's, which answered each of its conversations within 5 s.
    client, welcome = await visitor(server, cast.site_id)
    await client.close()
    assert welcome["typical_wait"] == 93

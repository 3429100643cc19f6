"""Reports: the numbers, checked against values worked out by hand on a fixed data set, and the
endpoint's access rules and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from server.reports import Row, by_day, percentile, summarize, to_csv
from tests.live import Seed, ServerProcess, add_admin, login, open_store, seed, serving

S = 1000  # ms
DAY0 = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)  # a Monday
# created, first assigned, first reply, resolved, rating — in seconds after DAY0
DATA = {
    "A": (0, 60, 120, 600, 5),
    "B": (1000, 1030, 1090, 2800, 4),
    "C": (2000, 2300, 2480, None, None),
    "D": (3000, None, None, 3600, 2),       # missed: nobody ever answered
    "E": (4000, 4010, 4100, 4400, None),
}


def rows() -> list[Row]:
    def at(seconds: int | None) -> int | None:
        return None if seconds is None else DAY0 + seconds * S
    return [Row(cid, "site", DAY0 + c * S, at(a), at(r), at(x), rating, "ana")
            for cid, (c, a, r, x, rating) in DATA.items()]


def test_the_numbers_by_hand() -> None:
    m = summarize(rows(), end=DAY0 + 86400 * S)
    assert m["conversations"] == 5 and m["answered"] == 4 and m["missed"] == 1
    # first responses 120, 90, 480, 100 s: median (100 + 120) / 2, p90 the 4th of 4
    assert m["first_response"] == {"median": 110, "p90": 480, "count": 4}
    # resolutions 600, 1800, 600, 400 s
    assert m["resolution"] == {"median": 600, "p90": 1800, "count": 4}
    # waits 60, 30, 300, 10 s
    assert m["wait"] == {"median": 45, "p90": 300, "count": 4}
    # ratings 5, 4, 2: average 3.67, two of three satisfied
    assert m["satisfaction"] == {"ratings": 3, "average": 3.67, "satisfied_percent": 66.7}


def test_what_happened_after_the_period_does_not_count() -> None:
    m = summarize(rows(), end=DAY0 + 1100 * S)  # B was answered at 1090 s, C not yet
    assert m["answered"] == 2 and m["missed"] == 3
    assert m["resolution"]["count"] == 1


def test_the_csv_writes_plain_numbers() -> None:
    """The CSV's numbers are plain decimals, as the JSON's (``:g`` wrote 2e+06 and rounded to
    six digits): whole numbers as such, durations to the tenth of a millisecond (a median of
    two millisecond times ends in .xxx5), without the float's noise."""
    def row(name: str, replied_ms: int, resolved_s: int | None) -> Row:
        return Row(name, "site", DAY0, None, DAY0 + replied_ms,
                   None if resolved_s is None else DAY0 + resolved_s * S, None, "ana")

    # First replies after 1,234,567.891 s and .892 s (median .8915), 8,620,125.708 s and
    # 8,652,808.966 s (median 8,636,467.337, which the float sum makes …337000001); resolved
    # after 2,000,000 s.
    end = DAY0 + 10**10
    report = {"days": [], "total": summarize(
        [row("A", 1_234_567_891, 2_000_000), row("B", 1_234_567_892, None)], end)}
    total = list(csv.DictReader(io.StringIO(to_csv(report))))[-1]
    assert (total["first_response_median_s"], total["first_response_p90_s"]) == (
        "1234567.8915", "1234567.892")
    assert (total["resolution_median_s"], total["resolution_p90_s"]) == ("2000000", "2000000")
    assert total["answered"] == "2" and total["satisfaction_average"] == ""
    noisy = summarize([row("C", 8_620_125_708, None), row("D", 8_652_808_966, None)], end)
    # The JSON's figure is as exact as the CSV's: no float noise (8636467.337000001).
    assert repr(noisy["first_response"]["median"]) == "8636467.337"
    total = list(csv.DictReader(io.StringIO(to_csv({"days": [], "total": noisy}))))[-1]
    assert total["first_response_median_s"] == "8636467.337"


def test_percentiles() -> None:
    assert percentile([], 90) is None
    assert percentile([7], 90) == 7
    assert percentile(list(range(1, 11)), 90) == 9   # nearest rank: the 9th of 10
    assert percentile(list(range(1, 12)), 90) == 10  # ceil(9.9) = 10th of 11


def test_days_in_the_sites_time_zone() -> None:
    late = Row("L", "site", DAY0 - 30 * 60 * S, None, None, None, None, None)  # 23:30 UTC Sunday
    days = by_day([late, *rows()], DAY0 + 86400 * S, "Europe/Lisbon",
                  ["2026-11-01", "2026-11-02", "2026-11-03"])
    assert [(d["day"], d["conversations"]) for d in days] == [
        ("2026-11-01", 1), ("2026-11-02", 5), ("2026-11-03", 0)]
    in_athens = by_day([late], DAY0, "Europe/Athens", ["2026-11-02"])
    assert [(d["day"], d["conversations"]) for d in in_athens] == [("2026-11-02", 1)]


@pytest.fixture
def reporting(tmp_path: Path) -> tuple[Path, Seed]:
    """DATA, written through the store with its clock set to each moment."""
    import asyncio

    db = tmp_path / "chat.db"
    now = [DAY0 / 1000]

    async def write() -> Seed:
        seeded = await seed(db)
        await add_admin(db)
        async with open_store(db, clock=lambda: now[0]) as store:
            ana = await store.agent_by_email(seeded.agent_email)
            assert ana is not None
            events = []
            for cid, (c, a, r, x, rating) in DATA.items():
                events += [(c, cid, "start"), (a, cid, "claim"), (r, cid, "reply"),
                           (x, cid, "resolve"), (x, cid, "rate") if rating else (None, cid, "")]
            convs: dict[str, str] = {}
            for when, cid, what in sorted((e for e in events if e[0] is not None),
                                          key=lambda e: (e[0], "scrx".index(e[2][0]))):
                now[0] = (DAY0 + when * S) / 1000
                if what == "start":
                    change = await store.append_visitor_message(seeded.site_id, f"vis_{cid}",
                                                                "m1", f"I am {cid}")
                    convs[cid] = change.conversation.id
                elif what == "claim":
                    await store.claim(ana, [seeded.site_id], convs[cid])
                elif what == "reply":
                    await store.append_agent_message(ana, [seeded.site_id], convs[cid], "r1",
                                                     "Hello")
                elif what == "resolve":
                    await store.resolve(ana, [seeded.site_id], convs[cid])
                elif what == "rate":
                    await store.rate(f"vis_{cid}", convs[cid], DATA[cid][4] or 0, None)
            return seeded

    return db, asyncio.run(write())


@pytest.fixture
def report_server(reporting: tuple[Path, Seed]):  # type: ignore[no-untyped-def]
    with serving(reporting[0]) as proc:
        yield proc


async def test_the_endpoint_gives_the_same_numbers(report_server: ServerProcess,
                                                   reporting: tuple[Path, Seed]) -> None:
    server, seeded = report_server, reporting[1]
    root = await login(server, "root@acme.test")
    ana = await login(server, seeded.agent_email)
    params = {"from": "2026-11-01", "to": "2026-11-03", "tz": "UTC"}

    async def get(cookie: str | None, **extra: str) -> httpx.Response:
        cookies = {"livechat_agent": cookie} if cookie else None
        async with httpx.AsyncClient(base_url=server.http, cookies=cookies) as http:
            return await http.get("/api/reports", params={**params, **extra})

    r = await get(root)
    assert r.status_code == 200, r.text
    body = r.json()
    csv_r = await get(root, format="csv")
    only_other = await get(root, site=seeded.other_site_id)
    as_agent, anonymous = await get(ana), await get(None)
    bad = await get(root, **{"from": "yesterday"})
    foreign = await get(root, site="site_nope")
    total = body["total"]
    assert total["conversations"] == 5 and total["missed"] == 1
    assert total["first_response"] == {"median": 110, "p90": 480, "count": 4}
    assert total["resolution"] == {"median": 600, "p90": 1800, "count": 4}
    assert total["wait"] == {"median": 45, "p90": 300, "count": 4}
    assert total["satisfaction"] == {"ratings": 3, "average": 3.67, "satisfied_percent": 66.7}
    assert [d["conversations"] for d in body["days"]] == [0, 5, 0]
    lines = list(csv.reader(io.StringIO(csv_r.text)))
    assert lines[0][:4] == ["day", "conversations", "answered", "missed"]
    assert lines[2][:6] == ["2026-11-02", "5", "4", "1", "110", "480"]
    total_line = dict(zip(lines[0], lines[-1], strict=True))
    assert total_line["day"] == "total"
    assert (total_line["satisfaction_average"], total_line["satisfied_percent"]) == ("3.67",
                                                                                     "66.7")
    # No bot here: its columns (after the team's) say so.
    assert [total_line[k] for k in lines[0][lines[0].index("bot_conversations"):]] == [
        "0", "0", "0", "0", "", ""]
    assert csv_r.headers["content-disposition"].startswith("attachment;")
    assert only_other.json()["total"]["conversations"] == 0
    assert as_agent.status_code == 403 and anonymous.status_code == 401
    assert bad.status_code == 400 and foreign.status_code == 404

"""Support metrics over a period, from one row per conversation. Pure.

Definitions (docs/reports.md says the same for the people reading them). The team's figures are
the people's: a bot (server/bots.py) that answers first is counted apart.

* **conversations**: started in the period (by the visitor's first message).
* **reached people**: a conversation no bot answered first, from its start; one a bot answered
  first, from when it left the bot (a handoff, a requeue, or a person taking it over).
* **first response time**: from reaching people to the first reply a person wrote (notes,
  events and bots' replies do not count); over the conversations that got one (**answered**).
* **missed**: reached people, and no person had answered by the end of the period.
* **handled by bot**: a bot answered it first and it had not reached people by the end.
  answered + missed + handled by bot = conversations.
* **resolution time**: from the start to being resolved; over the resolved ones that reached
  people (those a bot handled alone are **bot resolved**).
* **wait in queue**: from reaching people to the first person joining (a claim,
  auto-assignment, transfer, reopening or reply).
* **satisfaction (CSAT)**: the average rating (1-5), and the share of ratings that are 4 or 5, of
  the conversations that reached people; the ratings of those a bot handled alone are the bot's.

Medians are the middle value (the mean of the two middle values for an even count); the 90th
percentile is the nearest-rank one: the smallest value with at least 90% of values at or below it.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Row:
    conversation_id: str
    site_id: str
    created_at: int  # ms since the epoch, like every time here
    first_assigned_at: int | None  # a person first joined (claim, transfer, reopen or reply)
    first_reply_at: int | None  # a person first replied
    resolved_at: int | None
    rating: int | None
    assignee_id: str | None
    bot_first: bool = False  # a bot answered it first (it was the first to have it)
    handed_at: int | None = None  # (bot_first) it first left the bot for people

    def people_from(self) -> int | None:
        """When the conversation reached people: its start, or when it left the bot."""
        return self.handed_at if self.bot_first else self.created_at


def percentile(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def median(values: Sequence[float]) -> float | None:
    """The median, to a tenth of a millisecond (the finest a mean of two times in milliseconds
    has): the float's noise of that mean (…337000001) is not a figure."""
    return round(statistics.median(values), 4) if values else None


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    return {"median": median(values), "p90": percentile(values, 90), "count": len(values)}


def _satisfaction(ratings: Sequence[int]) -> dict[str, Any]:
    return {
        "ratings": len(ratings),
        "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "satisfied_percent": (round(100 * sum(1 for r in ratings if r >= 4) / len(ratings), 1)
                              if ratings else None),
    }


def summarize(rows: Iterable[Row], end: int) -> dict[str, Any]:
    """The metrics of these conversations, as seen at ``end`` (ms)."""
    def by_end(at: int | None) -> bool:
        return at is not None and at < end

    rows = list(rows)
    people: list[tuple[Row, int]] = []  # those that reached people, and since when
    for row in rows:
        since = row.people_from()
        if since is not None and (not row.bot_first or since < end):
            people.append((row, since))
    alone = [r for r in rows if r.bot_first and not by_end(r.handed_at)]
    replies = [(r.first_reply_at - since) / 1000 for r, since in people
               if r.first_reply_at is not None and r.first_reply_at < end]
    resolutions = [(r.resolved_at - r.created_at) / 1000 for r, _ in people
                   if r.resolved_at is not None and r.resolved_at < end]
    waits = [(r.first_assigned_at - since) / 1000 for r, since in people
             if r.first_assigned_at is not None and r.first_assigned_at < end]
    return {
        "conversations": len(rows),
        "answered": len(replies),
        "missed": len(people) - len(replies),
        "first_response": _spread(replies),
        "resolution": _spread(resolutions),
        "wait": _spread(waits),
        "satisfaction": _satisfaction([r.rating for r, _ in people if r.rating is not None]),
        "bot_conversations": sum(1 for r in rows if r.bot_first),
        "handled_by_bot": len(alone),
        "bot_resolved": sum(1 for r in alone if by_end(r.resolved_at)),
        "bot_satisfaction": _satisfaction([r.rating for r in alone if r.rating is not None]),
    }


def by_day(rows: Iterable[Row], end: int, tz: str, days: Sequence[str]) -> list[dict[str, Any]]:
    """``summarize`` for each day (YYYY-MM-DD in ``tz``), every day listed, empty ones too."""
    zone = ZoneInfo(tz)
    buckets: dict[str, list[Row]] = {day: [] for day in days}
    for row in rows:
        day = datetime.fromtimestamp(row.created_at / 1000, zone).date().isoformat()
        buckets.setdefault(day, []).append(row)
    return [{"day": day, **summarize(bucket, end)} for day, bucket in sorted(buckets.items())]


CSV_COLUMNS = ("day", "conversations", "answered", "missed", "first_response_median_s",
               "first_response_p90_s", "resolution_median_s", "resolution_p90_s",
               "wait_median_s", "wait_p90_s", "ratings", "satisfaction_average",
               "satisfied_percent", "bot_conversations", "handled_by_bot", "bot_resolved",
               "bot_ratings", "bot_satisfaction_average", "bot_satisfied_percent")


def number(value: float | None) -> str:
    """A figure as the CSV writes it: a plain decimal (never ``2e+06``), whole numbers without
    a point, others to four decimals at most — a tenth of a millisecond, the finest a duration
    has (a median of two times in milliseconds) — without trailing zeros or the float's noise
    (…337000001); empty for ``None``."""
    if value is None:
        return ""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _flat(day: str, m: dict[str, Any]) -> list[Any]:
    return [day, m["conversations"], m["answered"], m["missed"],
            number(m["first_response"]["median"]), number(m["first_response"]["p90"]),
            number(m["resolution"]["median"]), number(m["resolution"]["p90"]),
            number(m["wait"]["median"]), number(m["wait"]["p90"]),
            m["satisfaction"]["ratings"], number(m["satisfaction"]["average"]),
            number(m["satisfaction"]["satisfied_percent"]), m["bot_conversations"],
            m["handled_by_bot"], m["bot_resolved"], m["bot_satisfaction"]["ratings"],
            number(m["bot_satisfaction"]["average"]),
            number(m["bot_satisfaction"]["satisfied_percent"])]


def to_csv(report: dict[str, Any]) -> str:
    """One line per day, then the whole period as "total"."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for day in report["days"]:
        writer.writerow(_flat(day["day"], day))
    writer.writerow(_flat("total", report["total"]))
    return out.getvalue()

"""Support metrics over a period, from one row per conversation. Pure.

Definitions (docs/reports.md says the same for the people reading them):

* **conversations**: started in the period (by the visitor's first message).
* **first response time**: from the start to the first reply an agent wrote (notes and events do
  not count); over the conversations that got one.
* **resolution time**: from the start to being resolved; over the resolved ones.
* **wait in queue**: from the start to the first agent joining (claim, auto-assignment or reply).
* **missed**: never answered by an agent by the end of the period.
* **satisfaction (CSAT)**: the average rating (1–5), and the share of ratings that are 4 or 5.

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
    first_assigned_at: int | None
    first_reply_at: int | None
    resolved_at: int | None
    rating: int | None
    assignee_id: str | None


def percentile(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    return {"median": median(values), "p90": percentile(values, 90), "count": len(values)}


def summarize(rows: Iterable[Row], end: int) -> dict[str, Any]:
    """The metrics of these conversations, as seen at ``end`` (ms)."""
    rows = list(rows)
    replies = [(r.first_reply_at - r.created_at) / 1000 for r in rows
               if r.first_reply_at is not None and r.first_reply_at < end]
    resolutions = [(r.resolved_at - r.created_at) / 1000 for r in rows
                   if r.resolved_at is not None and r.resolved_at < end]
    waits = [(r.first_assigned_at - r.created_at) / 1000 for r in rows
             if r.first_assigned_at is not None and r.first_assigned_at < end]
    ratings = [r.rating for r in rows if r.rating is not None]
    return {
        "conversations": len(rows),
        "answered": len(replies),
        "missed": len(rows) - len(replies),
        "first_response": _spread(replies),
        "resolution": _spread(resolutions),
        "wait": _spread(waits),
        "satisfaction": {
            "ratings": len(ratings),
            "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "satisfied_percent": (round(100 * sum(1 for r in ratings if r >= 4) / len(ratings), 1)
                                  if ratings else None),
        },
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
               "satisfied_percent")


def _flat(day: str, m: dict[str, Any]) -> list[Any]:
    def num(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    return [day, m["conversations"], m["answered"], m["missed"],
            num(m["first_response"]["median"]), num(m["first_response"]["p90"]),
            num(m["resolution"]["median"]), num(m["resolution"]["p90"]),
            num(m["wait"]["median"]), num(m["wait"]["p90"]),
            m["satisfaction"]["ratings"], num(m["satisfaction"]["average"]),
            num(m["satisfaction"]["satisfied_percent"])]


def to_csv(report: dict[str, Any]) -> str:
    """One line per day, then the whole period as "total"."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for day in report["days"]:
        writer.writerow(_flat(day["day"], day))
    writer.writerow(_flat("total", report["total"]))
    return out.getvalue()

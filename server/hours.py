"""Business hours: when a site answers. Pure; the caller passes the time.

Written as ``"mon-fri 09:00-18:00; sat 10:00-14:00"`` in the site's time zone (an IANA name such as
``Europe/Lisbon``). A range may end at ``24:00``; a range that ends before it starts is refused
(write ``fri 22:00-24:00; sat 00:00-02:00`` for a night shift). No hours at all means always open.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from server.inputs import known_timezone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
Ranges = tuple[tuple[int, int], ...]  # minutes since midnight, [start, end)


@dataclass(frozen=True, slots=True)
class Hours:
    tz: str
    #: Seven entries, Monday first: the open ranges of that day.
    week: tuple[Ranges, ...]

    def text(self) -> str:
        parts = []
        for day, ranges in zip(DAYS, self.week, strict=True):
            if ranges:
                spans = ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in ranges)
                parts.append(f"{day} {spans}")
        return "; ".join(parts)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days(spec: str) -> list[int]:
    if "-" in spec:
        first, last = spec.split("-", 1)
        if first not in DAYS or last not in DAYS:
            raise ValueError(f"unknown day in {spec!r} (use mon, tue, … sun)")
        a, b = DAYS.index(first), DAYS.index(last)
        return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    if spec not in DAYS:
        raise ValueError(f"unknown day {spec!r} (use mon, tue, … sun)")
    return [DAYS.index(spec)]


def parse_hours(text: str, tz: str) -> Hours:
    """``"mon-fri 09:00-18:00; sat 10:00-14:00"`` → Hours; ValueError says what is wrong."""
    if not known_timezone(tz):
        raise ValueError(f"unknown time zone {tz[:64]!r} (an IANA name such as Europe/Lisbon)")
    week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for part in filter(None, (p.strip() for p in text.lower().split(";"))):
        words = part.split()
        if len(words) != 2:
            raise ValueError(f"write each part as 'mon-fri 09:00-18:00', not {part!r}")
        days, spans = words
        for span in spans.split(","):
            m = _RANGE.fullmatch(span)
            if not m:
                raise ValueError(f"write times as 09:00-18:00, not {span!r}")
            start = int(m[1]) * 60 + int(m[2])
            end = int(m[3]) * 60 + int(m[4])
            if not 0 <= start < end <= 24 * 60:
                raise ValueError(f"{span!r} must end after it starts, by 24:00")
            for day in _days(days):
                week[day].append((start, end))
    for ranges in week:
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise ValueError("opening times overlap")
    return Hours(tz, tuple(tuple(r) for r in week))


def is_open(hours: Hours | None, now: float) -> bool:
    if hours is None:
        return True
    local = datetime.fromtimestamp(now, ZoneInfo(hours.tz))
    minute = local.hour * 60 + local.minute
    return any(a <= minute < b for a, b in hours.week[local.weekday()])


def next_change(hours: Hours | None, now: float) -> float | None:
    """When ``is_open`` next changes (epoch seconds), or None if it never does. It changes at a
    range's edge, the second time too where the clocks go back and repeat it, or where the
    clocks jump over an edge (a site opening at 02:30 on the night 02:00 becomes 03:00 opens at
    03:00)."""
    if hours is None or not any(hours.week):
        return None
    zone = ZoneInfo(hours.tz)
    local = datetime.fromtimestamp(now, zone)
    state = is_open(hours, now)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # (Two weeks: a week whose only hours fall in the hour the clocks skip opens the next.)
    for offset in range(15):
        day = (day_start + timedelta(days=offset)).replace(tzinfo=zone)
        edges = sorted({e for r in hours.week[day.weekday()] for e in r})
        # (fold 1: the second time a wall-clock time that the clocks repeat comes round)
        moments = {(day + timedelta(minutes=minute)).replace(fold=fold).timestamp()
                   for minute in edges for fold in (0, 1)}
        moments.update(_offset_changes(zone, day, day + timedelta(days=1)))
        for moment in sorted(moments):
            if moment > now and is_open(hours, moment) != state:
                return moment
    return None


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[float]:
    """The instant in [start, end) at which the zone's offset from UTC changes (the clocks go
    forward or back), if it does: found to the second."""
    low, high = int(start.timestamp()), int(end.timestamp())

    def offset(t: int) -> timedelta | None:
        return datetime.fromtimestamp(t, zone).utcoffset()

    first = offset(low)
    if offset(high) == first:
        return []  # (no zone changes its offset twice within a day)
    while high - low > 1:  # offset(low) == first != offset(high)
        middle = (low + high) // 2
        if offset(middle) == first:
            low = middle
        else:
            high = middle
    return [float(high)]

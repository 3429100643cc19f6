"""What a site shows visitors: business hours, appearance, and their checks. Pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from server import site_profile
from server.hours import is_open, next_change, parse_hours

LISBON = ZoneInfo("Europe/Lisbon")


def at(text: str) -> float:
    """Seconds since the epoch of a Lisbon wall-clock time, e.g. '2026-11-23 08:59'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LISBON).timestamp()


def test_hours_parse_and_print() -> None:
    hours = parse_hours("Mon-Fri 09:00-12:30,14:00-18:00; sat 10:00-13:00", "Europe/Lisbon")
    assert hours.week[0] == ((540, 750), (840, 1080))
    assert hours.week[5] == ((600, 780),) and hours.week[6] == ()
    assert hours.text() == ("mon 09:00-12:30,14:00-18:00; tue 09:00-12:30,14:00-18:00; "
                            "wed 09:00-12:30,14:00-18:00; thu 09:00-12:30,14:00-18:00; "
                            "fri 09:00-12:30,14:00-18:00; sat 10:00-13:00")
    assert parse_hours(hours.text(), hours.tz) == hours
    assert parse_hours("fri-mon 10:00-11:00", "UTC").week == (
        ((600, 660),), (), (), (), ((600, 660),), ((600, 660),), ((600, 660),))


@pytest.mark.parametrize("text, tz, error", [
    ("mon-fri 9-5", "UTC", "09:00-18:00"),
    ("mon-fry 09:00-17:00", "UTC", "unknown day"),
    ("mon 18:00-09:00", "UTC", "must end after it starts"),
    ("mon 09:00-12:00,11:00-13:00", "UTC", "overlap"),
    ("mon 09:00-17:00", "Mars/Olympus", "unknown time zone"),
    ("mon", "UTC", "mon-fri 09:00-18:00"),
])
def test_hours_refuse_nonsense(text: str, tz: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_hours(text, tz)


def test_open_and_next_change_in_the_sites_zone() -> None:
    hours = parse_hours("mon-fri 09:00-18:00", "Europe/Lisbon")
    # Monday 23 November 2026.
    assert not is_open(hours, at("2026-11-23 08:59"))
    assert next_change(hours, at("2026-11-23 08:59")) == at("2026-11-23 09:00")
    assert is_open(hours, at("2026-11-23 09:00"))
    assert next_change(hours, at("2026-11-23 12:00")) == at("2026-11-23 18:00")
    # Friday evening: back on Monday morning.
    assert not is_open(hours, at("2026-11-27 18:00"))
    assert next_change(hours, at("2026-11-27 18:00")) == at("2026-11-30 09:00")
    assert is_open(None, 0) and next_change(None, 0) is None
    assert next_change(parse_hours("", "UTC"), 0) is None  # never open


def test_a_day_that_runs_to_midnight_continues_into_the_next() -> None:
    hours = parse_hours("fri 20:00-24:00; sat 00:00-02:00", "Europe/Lisbon")
    assert is_open(hours, at("2026-11-27 23:59")) and is_open(hours, at("2026-11-28 00:30"))
    assert next_change(hours, at("2026-11-27 21:00")) == at("2026-11-28 02:00")


def test_hours_follow_daylight_saving() -> None:
    hours = parse_hours("sun 09:00-10:00", "Europe/Lisbon")
    # 29 March 2026: clocks go forward at 01:00 UTC; 09:00 local is 08:00 UTC.
    assert next_change(hours, at("2026-03-29 00:00")) == datetime(
        2026, 3, 29, 8, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def utc(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("UTC")).timestamp()


@pytest.mark.parametrize("text, tz, now, opens, closes", [
    # New York, 14 March 2027: 02:00 EST becomes 03:00 EDT (07:00 UTC). Hours from 02:30 open
    # when the clocks jump, at 03:00 EDT (before: the next Sunday, a week later).
    ("sun 02:30-03:30", "America/New_York", "2027-03-14 06:00", "2027-03-14 07:00",
     "2027-03-14 07:30"),
    # Athens, 28 March 2027: 03:00 EET becomes 04:00 EEST (01:00 UTC). Hours from 03:30 open at
    # 04:00 EEST (before: 04:30 EEST, half an hour after the site was open).
    ("sun 03:30-10:00", "Europe/Athens", "2027-03-27 23:00", "2027-03-28 01:00",
     "2027-03-28 07:00"),
    ("sun 03:30-10:00", "Europe/Athens", "2027-03-28 00:45", "2027-03-28 01:00",
     "2027-03-28 07:00"),
])
def test_hours_that_start_in_the_hour_clocks_skip_open_when_they_jump(
        text: str, tz: str, now: str, opens: str, closes: str) -> None:
    hours = parse_hours(text, tz)
    assert not is_open(hours, utc(now))
    assert next_change(hours, utc(now)) == utc(opens)
    assert is_open(hours, utc(opens)) and not is_open(hours, utc(opens) - 1)
    assert next_change(hours, utc(opens)) == utc(closes)


def test_hours_wholly_in_the_skipped_hour_do_not_open_that_day() -> None:
    """Athens has no 03:00–04:00 on 28 March 2027: the site opens next Sunday."""
    hours = parse_hours("sun 03:00-04:00", "Europe/Athens")
    assert next_change(hours, utc("2027-03-27 23:00")) == utc("2027-04-04 00:00")


def test_a_week_whose_only_hours_are_skipped_opens_the_next() -> None:
    """New York skips 02:00–03:00 on 9 March 2025: its only hours that week do not come, so
    the site opens the Sunday after (before: "never", null, so visitors were told nothing)."""
    hours = parse_hours("sun 02:00-02:30", "America/New_York")
    assert next_change(hours, utc("2025-03-08 17:00")) == utc("2025-03-16 06:00")


def test_hours_in_the_hour_clocks_repeat_follow_the_wall_clock() -> None:
    """New York, 7 November 2027: 02:00 EDT becomes 01:00 EST (06:00 UTC), so 01:00–02:00
    comes twice. Open 01:30–02:00: open in both, closed between (01:00–01:30 EST)."""
    hours = parse_hours("sun 01:30-02:00", "America/New_York")
    assert next_change(hours, utc("2027-11-07 04:00")) == utc("2027-11-07 05:30")  # 01:30 EDT
    assert next_change(hours, utc("2027-11-07 05:30")) == utc("2027-11-07 06:00")  # 01:00 EST
    assert next_change(hours, utc("2027-11-07 06:00")) == utc("2027-11-07 06:30")  # 01:30 EST
    assert next_change(hours, utc("2027-11-07 06:30")) == utc("2027-11-07 07:00")  # 02:00 EST


def test_profile_changes_are_checked() -> None:
    p = site_profile.change(site_profile.Profile(), greeting="  Olá! ", color="#FFCC00",
                            logo="https://acme.test/logo.png", prechat=["email", "name"],
                            offline="chat", hours="mon-fri 09:00-18:00", tz="Europe/Lisbon")
    assert p.greeting == "Olá!" and p.color == "#ffcc00" and p.prechat == ("name", "email")
    assert p.logo_origin() == "https://acme.test"
    assert site_profile.from_json(p.to_json()) == p
    assert site_profile.change(p, hours="").hours is None
    assert site_profile.change(p, tz="UTC").hours == parse_hours("mon-fri 09:00-18:00", "UTC")
    for bad in ({"color": "red"}, {"logo": "http://acme.test/x.png"},
                {"logo": "javascript:alert(1)"}, {"logo": 'https://a.test/"><x'},
                {"prechat": ["phone"]}, {"offline": "hide"}, {"greeting": "x" * 301},
                {"hours": "mon 09:00-10:00"}):
        with pytest.raises(ValueError):
            site_profile.change(site_profile.Profile(), **bad)


def test_what_the_widget_is_told() -> None:
    p = site_profile.change(site_profile.Profile(), hours="mon-fri 09:00-18:00",
                            tz="Europe/Lisbon")
    told = p.for_visitor(at("2026-11-23 20:00"))
    assert told["open"] is False and told["next_change"] == int(at("2026-11-24 09:00") * 1000)
    assert "hours" not in told  # the widget needs when, not the timetable

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

"""The widget's times in a real Chromium: messages' times and the away notice in the browser's
own clock when the widget lacks its language (a black-box tester found a 12-hour clock where the
browser writes 24), and the away notice as a sentence: today, tomorrow or the day, with the
weekday's article where the language needs one. The browser's clock and time zone are set
(Playwright); the site's opening hours come in its ``welcome``, rewritten on the way. Split from
tests/test_widget_details.py. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, FrameLocator, Page, WebSocketRoute, expect

from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    browser,
    open_widget,
    sites,
)

pytestmark = pytest.mark.browser


# --- times in the browser's own clock ---------------------------------------------------------

#: 10:00 in Athens, Monday 7 December 2026 (the browser's clock in these tests).
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
ATHENS = timezone(timedelta(hours=2))


def at(day: int, hour: int, minute: int = 0) -> int:
    """Milliseconds since the epoch of December ``day``, ``hour``:``minute`` in Athens."""
    return int(datetime(2026, 12, day, hour, minute, tzinfo=ATHENS).timestamp() * 1000)


async def away_until(context: BrowserContext, next_change: int,
                     expected_wait: int | None = None) -> None:
    """The site is away (outside its business hours) until ``next_change``: the frame's
    ``welcome`` says so (rewritten on its way from the server); the browser's clock says it is
    ``NOW``, in Athens. With ``expected_wait``, the queue's frames say that wait (seconds)."""
    async def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "availability":
                return  # (the hours are this test's: the server's real ones would undo them)
            if frame.get("type") == "welcome":
                frame["site"].update(open=False, next_change=next_change)
            if expected_wait is not None and frame.get("type") == "queue":
                frame["expected_wait"] = expected_wait
            message = json.dumps(frame)
            ws.send(message)

        server.on_message(to_page)

    await context.clock.set_fixed_time(NOW)
    await context.route_web_socket(re.compile(r"/ws/visitor"), route)


async def away_page(browser: Browser, sites: Sites, locale: str,  # noqa: F811
                    next_change: int, expected_wait: int | None = None,
                    ) -> tuple[Page, FrameLocator]:
    context = await browser.new_context(viewport={"width": 1100, "height": 760}, locale=locale,
                                        timezone_id="Europe/Athens")
    await away_until(context, next_change, expected_wait)
    page = await context.new_page()
    await page.goto(sites.page_url)
    await page.locator("livechat-widget button").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    return page, frame


@pytest.mark.parametrize("locale, clock", [
    # A language the widget lacks: English words, the browser's own 24-hour clock.
    ("ja-JP", r"18:00"),
    ("nl-NL", r"18:00"),
    ("en-US", r"06:00\sPM"),
    ("en-GB", r"18:00"),
])
async def test_times_follow_the_browsers_clock_in_any_language(
        browser: Browser, sites: Sites, artifacts: Path, locale: str,  # noqa: F811
        clock: str) -> None:
    """Before: a browser in a language the widget has no words for (Japanese, Dutch…) got the
    US 12-hour clock ("01:31 PM" where its own Intl writes "13:31"), in the messages' times and
    in "We're back 06:00 PM"."""
    page, frame = await away_page(browser, sites, locale, at(7, 18))
    await expect(frame.locator("html")).to_have_attribute("lang", "en")
    status = frame.locator("#status")
    await expect(status).to_contain_text(re.compile(clock))
    if "PM" not in clock:
        await expect(status).not_to_contain_text(re.compile("AM|PM"))
    await page.screenshot(path=artifacts / f"details-2-away-{locale}.png")
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("What time is it?")
    await composer.press("Enter")
    # (Its time is the server's, now: written as the browser writes times.)
    meta = frame.locator(".msg.mine:not(.pending) .meta")
    await expect(meta).to_have_text(re.compile(r"^\d\d:\d\d" + (r"\s[AP]M$" if "PM" in clock
                                                               else "$")))
    await page.screenshot(path=artifacts / f"details-2-clock-{locale}.png")


# --- the away notice reads as a sentence -----------------------------------------------------

OFFLINE = "Leave a message and we'll reply as soon as we can. "


async def test_the_away_notice_says_today_tomorrow_or_the_day(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """Before: "We're back 18:00." (English, later today), "Wir sind 10:00 wieder da."
    (German), and Greek's 12-hour time ended in a doubled full stop ("…11:00 π.μ.."); Greek
    and Portuguese weekdays lacked their article ("Voltamos quinta-feira"), which follows each
    day's gender ("na quinta-feira", "no sábado")."""
    cases = [
        ("en-GB", at(7, 18), OFFLINE + "We're back today at 18:00."),
        ("en-GB", at(8, 9), OFFLINE + "We're back tomorrow at 09:00."),
        ("en-GB", at(10, 9, 30), OFFLINE + "We're back on Thursday at 09:30."),
        ("en-US", at(10, 9, 30), OFFLINE + "We're back on Thursday at 09:30 AM."),
        ("de-DE", at(7, 10, 30), "Wir sind heute um 10:30 wieder da."),
        ("de-DE", at(9, 10), "Wir sind am Mittwoch um 10:00 wieder da."),
        ("el-GR", at(7, 11), "Επιστρέφουμε σήμερα στις 11:00 π.μ."),
        ("el-GR", at(8, 11), "Επιστρέφουμε αύριο στις 11:00 π.μ."),
        ("fr-FR", at(8, 9), "De retour demain à 09:00."),
        ("es-ES", at(10, 9, 30), "Volvemos el jueves a las 09:30."),
        ("el-GR", at(10, 11), "Επιστρέφουμε την Πέμπτη στις 11:00 π.μ."),
        ("el-GR", at(12, 11), "Επιστρέφουμε το Σάββατο στις 11:00 π.μ."),
        ("pt-PT", at(10, 9, 30), "Voltamos na quinta-feira às 09:30."),
        ("pt-PT", at(12, 9, 30), "Voltamos no sábado às 09:30."),
        ("he-IL", at(10, 9, 30), "נחזור ביום חמישי בשעה 09:30."),
    ]
    for n, (locale, back, expected) in enumerate(cases):
        page, frame = await away_page(browser, sites, locale, back)
        status = frame.locator("#status")
        if expected.startswith(OFFLINE):
            await expect(status).to_have_text(expected)
        else:
            await expect(status).to_contain_text(expected)
        text = await status.inner_text()
        assert not re.search(r"\.\s*\.$", text), text  # one full stop
        await page.screenshot(path=artifacts / f"details-3-away-{n}-{locale}.png")
        await page.context.close()


async def test_a_visitor_waiting_out_of_hours_is_told_when_the_site_is_back(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """Before: "You're next · about 2 minutes" at night, from the site's daytime average (with
    an agent still signed in out of hours, the server has a wait to give). Their place, and when
    the site is back."""
    page, frame = await away_page(browser, sites, "en-GB", at(8, 9), expected_wait=120)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Can I return boots bought online in the shop?")
    await composer.press("Enter")
    await expect(frame.locator("#status")).to_have_text(
        "You're next · We're back tomorrow at 09:00.")
    await page.screenshot(path=artifacts / "details-3-away-queue.png")


# --- the day separators at midnight ------------------------------------------------------------

async def test_today_becomes_yesterday_at_midnight(browser: Browser, sites: Sites,  # noqa: F811
                                                   artifacts: Path) -> None:
    """Before: a separator kept the name it got when it was drawn, so a chat open across
    midnight showed two "Today"s (a black-box tester's screenshot). The page's clock is run a
    day forward: the separator above the message written now is named again at midnight."""
    context = await browser.new_context(viewport={"width": 1100, "height": 760},
                                        timezone_id="UTC")
    page = await context.new_page()
    await page.clock.install()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Still there?")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine[data-seq]")).to_have_count(1)
    separators = frame.locator("#messages li.day")
    await expect(separators).to_have_text(["Today"])
    await page.clock.fast_forward(24 * 3600 * 1000)
    await expect(separators).to_have_text(["Yesterday"])
    await page.screenshot(path=artifacts / "widget-times-yesterday-at-midnight.png")


async def test_the_widget_follows_the_hours_it_is_told(browser: Browser, sites: Sites,  # noqa: F811
                                                       artifacts: Path) -> None:
    """A black-box tester's: a widget open across an opening and a closing flipped at the
    first and missed the second (its welcome gave one change). The server's ``availability``
    now carries the hours (docs/protocol.md): the widget takes them as they come."""
    context = await browser.new_context(viewport={"width": 1100, "height": 760},
                                        locale="en-GB", timezone_id="Europe/Athens")
    await context.clock.set_fixed_time(NOW)
    sockets: list[WebSocketRoute] = []  # each socket that had a welcome
    welcomed = asyncio.Event()

    async def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            # The server's own (a test before this one changed the shared site's hours, and
            # its router says so at its next sweep) would race with those sent here.
            if frame.get("type") == "availability":
                return
            ws.send(message)
            if frame.get("type") == "welcome":
                sockets.append(ws)
                welcomed.set()

        server.on_message(to_page)

    await context.route_web_socket(re.compile(r"/ws/visitor"), route)
    page = await context.new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    status = frame.locator("#status")
    async with asyncio.timeout(10):
        await welcomed.wait()  # (the widget may show before its welcome is through)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await expect(status).not_to_contain_text("We're back")
    sockets[-1].send(json.dumps({"type": "availability", "agents_online": False, "open": False,
                                 "next_change": at(7, 18)}))
    await expect(status).to_have_text(OFFLINE + "We're back today at 18:00.")
    sockets[-1].send(json.dumps({"type": "availability", "agents_online": False, "open": False,
                                 "next_change": at(8, 9)}))
    await expect(status).to_have_text(OFFLINE + "We're back tomorrow at 09:00.")
    await page.screenshot(path=artifacts / "details-3-away-told.png")

"""Defects of the agent panel's list and menus a black-box tester found, in a real Chromium: a
tag filter left on a tag nobody has, a long visitor name, a snooze time gone by. Screenshots go
to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser import sign_in_page
from tests.live import open_store
from tests.test_panel_browser import (  # noqa: F401 — fixtures
    Desk,
    browser,
    desk,
    sign_in,
)
from tests.test_panel_polish import visitor_writes


@pytest.mark.browser
async def test_a_tag_filter_stays_what_it_filters_by(browser: Browser, desk: Desk) -> None:  # noqa: F811
    """A black-box tester's: Bo filters by "refund"; Ana takes the tag off. Before, Bo's menu
    showed "Any tag" while his list went on filtering by "refund" (every view empty, every
    count 0, new visitors never shown), and his load ("1 / 5") and the tab's title count
    followed the filter too."""
    await visitor_writes(browser, desk, "I want my money back")
    await visitor_writes(browser, desk, "Where is my parcel?")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await ana.locator(".item", has_text="money back").locator("button").click()
    await ana.get_by_role("button", name="Claim").click()
    await ana.get_by_label("Add a tag").fill("refund")
    await ana.get_by_label("Add a tag").press("Enter")
    await bo.locator(".item", has_text="parcel").locator("button").click()
    await bo.get_by_role("button", name="Claim").click()
    await expect(bo.locator("#load")).to_have_text("1 / 5")
    # (Once his read mark cleared the parcel's "1 new": nothing waits, nothing unread. Read at
    # once, the title could still have counted it: a CI run.)
    title = "Live chat — agent panel"
    await expect(bo).to_have_title(title)

    await bo.get_by_role("tab", name=re.compile("^All open")).click()
    await bo.locator("#filter-tag").select_option("refund")
    await expect(bo.locator("#list .item")).to_have_count(1)
    await expect(bo.locator("#load")).to_have_text("1 / 5")  # his, whatever the list shows
    assert await bo.title() == title
    await ana.get_by_role("button", name="Remove tag refund").click()
    await expect(bo.locator("#list .item")).to_have_count(0)
    await expect(bo.locator("#filter-tag")).to_have_value("refund")  # what it filters by
    await expect(bo.locator("#list")).to_have_text("Nothing here.")
    await expect(bo.locator("#load")).to_have_text("1 / 5")
    await bo.locator("#filter-tag").select_option("")
    await expect(bo.locator("#list .item")).to_have_count(2)


@pytest.mark.browser
async def test_a_long_visitor_name_keeps_the_panel_in_its_width(browser: Browser, desk: Desk,  # noqa: F811
                                                                artifacts: Path) -> None:
    """A black-box tester's: a visitor named with markup and 120 letters without a space ran out
    of the list's column (the list scrolled sideways, the age beside it out of view) and under
    the context column in the conversation's header (the page scrolled sideways). The name
    stays text."""
    await visitor_writes(browser, desk, "Hello")
    long_name = "<img src=x onerror=alert(1)>" + "Z" * 120
    async with open_store(desk.chat.db) as store:
        (conversation,) = await store.open_conversations([desk.site_id])
        await store.set_visitor_profile(desk.site_id, conversation.visitor_id, long_name, None)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    item = ana.locator("#list .item").first
    await expect(item.locator(".name")).to_have_text(long_name)
    await expect(item.locator(".name")).to_have_attribute("title", long_name)
    await item.locator("button").click()
    await expect(ana.locator("#conv-title")).to_have_text(long_name)
    widths = await ana.evaluate("""() => ({
        page: [document.scrollingElement.scrollWidth, innerWidth],
        list: [document.getElementById('list').scrollWidth,
               document.getElementById('list').clientWidth],
        messages: [document.getElementById('messages').scrollWidth,
                   document.getElementById('messages').clientWidth],
        when: document.querySelector('#list .item .when').getBoundingClientRect().right,
        item: document.querySelector('#list .item').getBoundingClientRect().right})""")
    assert widths["page"][0] <= widths["page"][1], widths
    assert widths["list"][0] <= widths["list"][1], widths
    assert widths["messages"][0] <= widths["messages"][1], widths
    assert widths["when"] <= widths["item"], widths
    await expect(ana.locator("img[src=x]")).to_have_count(0)
    await ana.screenshot(path=artifacts / "panel-long-visitor-name.png")


@pytest.mark.browser
async def test_a_snooze_time_gone_by_is_not_offered_again(browser: Browser, desk: Desk) -> None:  # noqa: F811
    """A black-box tester's: Snooze's "Until" kept the last time chosen, in the past by the
    next time the menu opened."""
    await visitor_writes(browser, desk, "Call me back tomorrow")
    ana = await (await browser.new_context(viewport={"width": 1400, "height": 860})).new_page()
    await ana.clock.install()
    await sign_in_page(ana, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    await ana.get_by_role("button", name="Snooze").click()
    until = ana.get_by_label("Until", exact=True)
    chosen = await until.evaluate("i => i.min")  # a minute from now
    await until.fill(chosen)
    await ana.keyboard.press("Escape")
    await ana.clock.fast_forward("02:00:00")
    await ana.get_by_role("button", name="Snooze").click()
    await expect(until).to_have_value("")
    assert await until.evaluate("i => i.min") > chosen


@pytest.mark.browser
async def test_the_visitors_presence_is_not_shown_while_the_panel_is_cut_off(
        browser: Browser, desk: Desk) -> None:  # noqa: F811
    """A black-box tester's: with the server down, the panel said "Reconnecting…" and still
    showed the visitor "online", which nobody knew any more. The badge goes while the panel is
    not connected, and says what is known once it is again."""
    visitor = await visitor_writes(browser, desk, "Still there?")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item", has_text="Still there").locator("button").click()
    badge = ana.locator("#visitor-online")
    await expect(badge).to_have_text("online")
    desk.chat.kill9()
    await expect(ana.locator("#conn")).to_have_text("Reconnecting…")
    await expect(badge).to_be_hidden()
    await visitor.close()
    desk.chat.start()
    await expect(ana.locator("#conn")).to_have_text("Online", timeout=20_000)
    await expect(badge).to_have_text("offline", timeout=20_000)
    await expect(badge).to_be_visible()

"""The agent panel for people who use a screen reader, the keyboard, zoom, a tablet or a right to
left language, in a real Chromium: what a live region announces, visitors' names in an Arabic or
Hebrew panel, the visitor's column on a tablet, reflow at 200 % zoom, menus closed with Esc, the
sign-in page's landmarks and where the focus goes, and a focus ring that can be seen.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.test_browser import sign_in_page
from tests.test_panel_browser import (  # noqa: F401 — fixtures
    Desk,
    axe_violations,
    browser,
    desk,
    sign_in,
)
from tests.test_panel_polish import visitor_writes

pytestmark = pytest.mark.browser

# Every change inside a shown live region (what a screen reader would read out), kept in
# ``window.announced`` as "region id: text".
WATCH_LIVE_REGIONS = """() => {
  window.announced = [];
  const live = '[aria-live]:not([aria-live=off]), [role=status], [role=log], [role=alert]';
  new MutationObserver(function (changes) {
    for (const m of changes) {
      const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      const region = node && node.closest(live);
      if (region && !region.closest('[hidden]')) {
        window.announced.push(region.id + ': ' + region.textContent.trim());
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


async def test_the_ages_in_the_list_are_not_announced(browser: Browser, desk: Desk,  # noqa: F811
                                                      artifacts: Path) -> None:
    """"5m" in the list moves on every 30 seconds: it is not inside a live region, so a screen
    reader does not read it out each time; a new conversation is announced (once, on its own)."""
    await visitor_writes(browser, desk, "Is the Summit Tent in stock?")
    context = await browser.new_context(viewport={"width": 1400, "height": 860},
                                        timezone_id="UTC")
    ana = await context.new_page()
    await ana.clock.install()
    await sign_in_page(ana, desk.chat.http, "ana@acme.test")
    ages = ana.locator("#list .item .when")
    await expect(ages).to_have_count(1)
    await ana.evaluate(WATCH_LIVE_REGIONS)

    await ana.clock.fast_forward("02:00:00")
    await expect(ages).to_have_text("2h")
    assert await ana.evaluate("window.announced") == []

    # A real change of the list is announced, in a status line of its own.
    await visitor_writes(browser, desk, "And the Summit Tarp?")
    await expect(ana.locator("#list .item")).to_have_count(2)
    status = ana.locator("#list-status")
    await expect(status).to_have_text(
        re.compile(r"^New conversation: Visitor \w+: And the Summit Tarp\?$"))
    await expect(status).to_have_attribute("role", "status")
    announced = await ana.evaluate("window.announced")
    assert announced and all(a.startswith("list-status: ") for a in announced), announced
    await ana.screenshot(path=artifacts / "a11y-1-list.png")

"""A visitor's messages keep the order they were written in, even when the server refuses one
for a while (too fast: ``rate_limited``) and the widget sends it again: in a real Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser import Sites, browser, open_widget, sites  # noqa: F401 — fixtures

pytestmark = pytest.mark.browser
#: The chat server's clock (tests/browser.py's ``chat_env`` takes no per-test path): moved
#: forward here, so that the rate limit's bucket fills again at once.
CLOCK = Path(f"/tmp/livechat-order-clock-{os.getpid()}")


def move_clock(seconds: int | None) -> None:
    """The chat server's clock this far ahead (None: the file is removed)."""
    if seconds is None:
        CLOCK.unlink(missing_ok=True)
    else:
        CLOCK.write_text(str(seconds))


@pytest.mark.chat_env(LIVECHAT_RATE_PER_SECOND="0.5", LIVECHAT_RATE_BURST="4",
                      LIVECHAT_CLOCK_OFFSET_FILE=str(CLOCK))
async def test_a_refused_message_keeps_its_place(browser: Browser, sites: Sites,  # noqa: F811
                                                 artifacts: Path) -> None:
    """Before: the widget sent each message as it was written, without waiting for the one
    before; one refused as too fast was sent again half a second later, after the next had been
    stored, so the conversation read "…, 5, 4". (A CI run saw "20" before "19" under load.)"""
    move_clock(0)
    try:
        page = await (await browser.new_context()).new_page()
        await page.goto(sites.page_url)
        frame = await open_widget(page)
        composer = frame.get_by_label("Message", exact=True)
        n = 0
        while not await frame.locator("#banner:not([hidden])").count():  # until one is refused
            n += 1
            assert n <= 10, "the rate limit never refused a message"
            await composer.fill(f"Message number {n}")
            await composer.press("Enter")
        move_clock(120)  # the bucket is full again: the next one is let through at once
        await composer.fill(f"Message number {n + 1}")
        await composer.press("Enter")
        mine = frame.locator(".msg.mine:not(.pending)")
        await expect(mine).to_have_count(n + 1, timeout=15000)
        texts = [t.strip() for t in await mine.locator(".text").all_text_contents()]
        assert texts == [f"Message number {i}" for i in range(1, n + 2)], texts
        seqs = [int(s or 0) for s in await mine.evaluate_all(
            "items => items.map(i => i.getAttribute('data-seq'))")]
        assert seqs == sorted(seqs), seqs
        # "We'll send yours in a moment" goes once it has (it stayed until a reconnect).
        await expect(frame.locator("#banner")).to_be_hidden()
        await page.screenshot(path=artifacts / "widget-order-after-a-refusal.png")
    finally:
        move_clock(None)


async def test_a_message_not_yet_stored_survives_a_reload(browser: Browser, sites: Sites,  # noqa: F811
                                                          artifacts: Path) -> None:
    """A black-box tester's: written while the server was down, then the page reloaded (or the
    next page of the site opened) before the widget reconnected, the message was gone, never
    stored, and nobody was told. It is written again after the reload, once."""
    from tests.live import open_store

    page = await (await browser.new_context()).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("before the crash")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    sites.chat.kill9()
    await expect(frame.locator("#banner")).to_have_text("Reconnecting…")
    await composer.fill("written while the server was down")
    await composer.press("Enter")
    await expect(frame.locator(".msg.pending")).to_have_count(1)
    # The visitor leaves the page while the server is down (the loader comes from it), and
    # comes back once it is up.
    await page.goto("about:blank")
    sites.chat.start()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    mine = frame.locator(".msg.mine:not(.pending) .body")
    await expect(mine).to_have_text(["before the crash", "written while the server was down"],
                                     timeout=30_000)
    await page.screenshot(path=artifacts / "widget-kept-across-reload.png")
    async with open_store(sites.chat.db) as store:
        rows = await store._all("SELECT body FROM messages WHERE kind = 'text' ORDER BY seq")
    assert [r[0] for r in rows] == ["before the crash", "written while the server was down"]

"""A file the visitor picks before the widget has connected (the chat opened a moment ago, or it
is still connecting) is kept, shown at once, and sent once the widget has its connection, in
the order it was picked among the visitor's messages: in a real Chromium, the widget's socket
held back by Playwright until the test lets it through."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FrameLocator, Page, Route, WebSocketRoute, expect

from tests.browser import (  # noqa: F401 — fixtures
    Sites,
    agent_page,
    browser,
    open_widget,
    png,
    sites,
)

pytestmark = pytest.mark.browser


async def test_a_file_picked_before_the_widget_connected_is_sent_once_it_is(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Before: ``upload`` returned at once without a token (none until the first welcome), so
    the file was dropped without a word: no bubble, nothing sent."""
    held: list[WebSocketRoute] = []
    let_through = False

    def route(ws: WebSocketRoute) -> None:
        if let_through:
            ws.connect_to_server()
        else:
            held.append(ws)  # open in the page, never answered: no welcome, no token

    context = await browser.new_context(viewport={"width": 1100, "height": 760})
    await context.route_web_socket(re.compile(r"/ws/visitor$"), route)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await expect(frame.locator("html[data-state=connecting]")).to_have_count(1)
    assert held

    picture = tmp_path / "receipt.png"
    picture.write_bytes(png(120, 80))
    await frame.locator("#file").set_input_files(picture)
    refused = tmp_path / "order.html"  # a type the server does not take
    refused.write_text("<html>order</html>")
    await frame.locator("#file").set_input_files(refused)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Is this the right size?")
    await composer.press("Enter")
    pending = frame.locator(".msg.mine.pending")
    await expect(pending).to_have_count(3)
    await expect(pending.locator(".body")).to_have_text(
        ["receipt.png", "order.html", "Is this the right size?"])
    await expect(pending.nth(0).locator(".meta")).to_have_text("Uploading receipt.png…")
    await page.screenshot(path=artifacts / "widget-upload-before-connected.png")

    # The connection is made (the widget tries again after the held socket closes).
    let_through = True
    await held[0].close(code=4000, reason="test: let the widget connect")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1, timeout=15000)
    sent = frame.locator(".msg.mine[data-seq]")
    await expect(sent).to_have_count(2)
    await expect(sent.nth(0).locator("a.file img")).to_have_attribute("alt", "receipt.png")
    await expect(sent.nth(1).locator(".body")).to_have_text("Is this the right size?")
    assert await sent.evaluate_all("n => n.map(i => +i.dataset.seq)") == [1, 2]
    # Refused as a file picked later would be: its name, and why.
    failed = frame.locator(".msg.mine.failed")
    await expect(failed.locator(".body")).to_have_text("order.html")
    await expect(failed.locator(".meta")).to_have_text(
        "Not sent: send an image (PNG, JPEG, GIF, WebP), a PDF or a text file")
    await expect(frame.locator(".msg.mine.pending")).to_have_count(0)
    # In the order picked and written.
    assert await frame.locator(".msg.mine .body").all_text_contents() == [
        "", "order.html", "Is this the right size?"]
    await expect(frame.locator(".msg.mine img.preview")).to_have_js_property("complete", True)
    await page.screenshot(path=artifacts / "widget-upload-after-connected.png")
    assert errors == []


async def uploading(browser: Browser, sites: Sites, tmp_path: Path,  # noqa: F811
                    upload: Callable[[Route], Any], clock: bool = False,
                    ) -> tuple[Page, FrameLocator, list[str], Path]:
    """A visitor's page with the chat open and online, whose uploads go to ``upload`` (a
    Playwright route handler), the page's errors, and a picture to send (its clock installed
    first when ``clock``)."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 760})).new_page()
    if clock:
        await page.clock.install()
    await page.route(re.compile(r"/api/files$"), upload)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    picture = tmp_path / "receipt.png"
    picture.write_bytes(png(120, 80))
    return page, frame, errors, picture


async def test_an_upload_that_hangs_fails_and_lets_the_next_message_go(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Before: the upload had no timeout; a request that never answered kept the file first in
    the outbox, and every message written after it waited behind it for ever. The upload is
    held by Playwright (never answered) and the page's clock run forward past the widget's
    limit (a minute, and a second more for every 32 KB: docs/embedding.md)."""
    held: list[Route] = []
    page, frame, errors, picture = await uploading(
        browser, sites, tmp_path, lambda route: held.append(route), clock=True)
    async with page.expect_request(re.compile(r"/api/files$")):
        await frame.locator("#file").set_input_files(picture)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Did the photo arrive?")
    await composer.press("Enter")
    pending = frame.locator(".msg.mine.pending")
    await expect(pending.locator(".meta")).to_have_text(["Uploading receipt.png…", "Sending…"])
    assert len(held) == 1

    # A minute and a bit later, still without an answer: the upload is given up.
    await page.clock.fast_forward(60_000 + picture.stat().st_size // 32 + 1000)
    failed = frame.locator(".msg.mine.failed")
    await expect(failed.locator(".body")).to_have_text("receipt.png")
    await expect(failed.locator(".meta")).to_have_text("Not sent: the upload took too long")
    # And the message written after it goes: stored (its seq), and the agent has it.
    sent = frame.locator(".msg.mine[data-seq]")
    await expect(sent.locator(".body")).to_have_text(["Did the photo arrive?"])
    assert await sent.evaluate_all("n => n.map(i => +i.dataset.seq)") == [1]
    assert await frame.locator(".msg.mine .body").all_text_contents() == [
        "receipt.png", "Did the photo arrive?"]
    await page.screenshot(path=artifacts / "widget-upload-timed-out.png")
    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#messages .msg.visitor .body")).to_have_text(
        ["Did the photo arrive?"])
    assert errors == []


async def test_an_upload_the_network_drops_says_so_in_the_visitors_words(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Before: a request that failed on the way (no answer from the server, so no error code)
    showed the browser's own English words: "Not sent: Failed to fetch". The upload is aborted
    by Playwright as a dropped connection."""
    page, frame, errors, picture = await uploading(
        browser, sites, tmp_path, lambda route: route.abort("connectionreset"))
    await frame.locator("#file").set_input_files(picture)
    failed = frame.locator(".msg.mine.failed")
    await expect(failed.locator(".body")).to_have_text("receipt.png")
    await expect(failed.locator(".meta")).to_have_text(
        "Not sent: the upload failed: check your connection")
    await expect(frame.locator(".msg.mine.pending")).to_have_count(0)
    # The next message goes.
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Sending it again later")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine[data-seq] .body")).to_have_text(
        ["Sending it again later"])
    # Before: the day's separator came with the first message stored, below the file that was
    # not sent that day; and the reason wrapped flush left under a bubble on the right.
    assert await frame.locator("#messages > li:not(.greeting)").evaluate_all(
        "n => n.map(i => i.classList.contains('day') ? 'day' : i.textContent)") == [
        "day", "receipt.pngNot sent: the upload failed: check your connection",
        "Sending it again later" + await frame.locator(".msg[data-seq] .meta").inner_text()]
    assert await failed.locator(".meta").evaluate("n => getComputedStyle(n).textAlign") == "end"
    await page.screenshot(path=artifacts / "widget-upload-network-failed.png")
    assert errors == []

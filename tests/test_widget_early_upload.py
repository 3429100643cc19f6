"""A file the visitor picks before the widget has connected (the chat opened a moment ago, or it
is still connecting) is kept, shown at once, and sent once the widget has its connection, in
the order it was picked among the visitor's messages: in a real Chromium, the widget's socket
held back by Playwright until the test lets it through."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.test_browser import Sites, browser, open_widget, png, sites  # noqa: F401 — fixtures

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
    await expect(frame.locator(".msg.mine.pending:not(.failed)")).to_have_count(0)
    # In the order picked and written.
    assert await frame.locator(".msg.mine .body").all_text_contents() == [
        "", "order.html", "Is this the right size?"]
    await expect(frame.locator(".msg.mine img.preview")).to_have_js_property("complete", True)
    await page.screenshot(path=artifacts / "widget-upload-after-connected.png")
    assert errors == []

"""The loader a site owner pastes (widget/widget.js, widget/static/launcher.css), in a real
headless Chromium, on customer pages that are hard on it (tests/loader_pages.py), each under
exactly the Content-Security-Policy docs/embedding.md gives on top of ``default-src 'none'``:
the tab title of a single-page app, its route changes reaching agents, page CSS on ancestors,
the page's own dialogs, a misconfigured tag, a long launcher text. Found by a black-box tester;
each test failed before its fix. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.async_api import Browser, Page, expect

from server.auth import hash_password
from tests.browser import browser  # noqa: F401 — the browser fixture
from tests.live import PASSWORD, ROOT, Client, ServerProcess, agent, free_port, login, open_store
from tests.loader_pages import LONG_ARABIC, LONG_TEXT

pytestmark = pytest.mark.browser


@dataclass
class Pages:
    chat: ServerProcess
    site_id: str
    allowed: str   # the origin the site allows
    other: str     # an origin it does not

    def url(self, variant: str, title: str = "Home", allowed: bool = True) -> str:
        return f"{self.allowed if allowed else self.other}/{variant}?title={title}"


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[Pages]:
    """The chat server, a site that allows one origin, and the test pages on that origin and on
    another one."""
    db = tmp_path / "chat.db"
    ports = free_port(), free_port()
    allowed, other = (f"http://127.0.0.1:{port}" for port in ports)

    async def seed() -> str:
        async with open_store(db) as store:
            site = await store.create_site("Acme Outdoor", [allowed])
            await store.set_site_profile(site.id, offline="chat")
            await store.create_agent("ana@acme.test", "Ana Lima", hash_password(PASSWORD),
                                     "agent", [site.id])
            return site.id

    site_id = asyncio.run(seed())
    chat = ServerProcess(db).start()
    hosts = [subprocess.Popen([sys.executable, "-m", "tests.loader_pages", chat.http, site_id,
                               str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT) for port in ports]
    try:
        for host, port in zip(hosts, ports, strict=True):
            ServerProcess(db, port=port, proc=host).wait_ready("/plain")
        yield Pages(chat, site_id, allowed, other)
    finally:
        for host in hosts:
            host.terminate()
            host.wait(10)
        chat.stop()
    assert "Traceback" not in chat.log(), chat.log()


async def visit(browser: Browser, url: str, **options: Any) -> Page:  # noqa: F811
    context = await browser.new_context(**{"viewport": {"width": 1000, "height": 700},
                                           **options})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    return page


async def no_violations(page: Page) -> None:
    """Nothing was blocked by the page's policy and no script failed."""
    assert await page.evaluate("window.violations") == []
    assert getattr(page, "errors", []) == []


async def start_chatting(page: Page, pages: Pages) -> tuple[Client, str]:
    """The visitor writes a first message; an agent, connected, claims the conversation."""
    await page.locator("livechat-widget button").click()
    frame = page.frame_locator("iframe[title=Chat]")
    # (The frame's script runs and is connected: what is typed now is not lost.)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await frame.locator("#input").fill("Hello from a single-page app")
    await frame.locator("#input").press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1, timeout=10_000)
    ana, welcome = await agent(pages.chat, await login(pages.chat, "ana@acme.test"))
    conversation = welcome["conversations"][0]["id"]
    await ana.request({"type": "claim", "id": "claim", "conversation_id": conversation})
    return ana, conversation


async def test_the_unread_count_goes_on_the_pages_current_title(
        browser: Browser, pages: Pages) -> None:  # noqa: F811
    """Before: the loader kept the title it first saw, so a single-page app's later title was
    overwritten ("(2) Home" on the cart, then "Home")."""
    page = await visit(browser, pages.url("plain", "Home"))
    ana, conversation = await start_chatting(page, pages)
    await page.evaluate("LiveChat('close')")

    async def reply(n: int) -> None:
        await ana.request({"type": "send", "id": f"r{n}", "conversation_id": conversation,
                           "body": f"Reply {n}"})

    await reply(1)
    await expect(page).to_have_title("(1) Home")
    await page.evaluate("history.pushState({}, '', '/plain/cart'); document.title = 'Cart'")
    await reply(2)
    await expect(page).to_have_title("(2) Cart")
    await page.evaluate("LiveChat('open')")
    await expect(page).to_have_title("Cart")
    # A title the page sets while the count is shown wins when the count goes.
    await page.evaluate("LiveChat('close')")
    await reply(3)
    await expect(page).to_have_title("(1) Cart")
    await page.evaluate("document.title = 'Checkout'")
    await page.evaluate("LiveChat('open')")
    await expect(page.locator("livechat-widget button")).to_have_attribute("aria-expanded",
                                                                          "true")
    await expect(page).to_have_title("Checkout")
    # The page's handler heard each count once, as it changed (a black-box tester's heard
    # "unread 0" again at every opening, and each count several times).
    events = await page.evaluate("window.events.filter(e => e[0] === 'unread')")
    assert [value for _, value in events] == [1, 2, 0, 1, 0], events
    await no_violations(page)
    await ana.close()


class Sent(list[dict[str, Any]]):
    """The ``context`` frames the chat frame sent, and a way to await the next ones."""

    def __init__(self) -> None:
        super().__init__()
        self.more = asyncio.Event()

    def add(self, message: dict[str, Any]) -> None:
        self.append(message)
        self.more.set()

    async def count(self, n: int) -> None:
        """Until ``n`` have been sent (Playwright may tell of one after the server has it)."""
        while len(self) < n:
            self.more.clear()
            await asyncio.wait_for(self.more.wait(), 10)


def context_frames(page: Page) -> Sent:
    """The ``context`` frames the chat frame sends on its socket, as they are sent."""
    sent = Sent()

    def watch(socket: Any) -> None:
        def frame(payload: str | bytes) -> None:
            message = orjson.loads(payload)
            if message.get("type") == "context":
                sent.add(message)
        socket.on("framesent", frame)

    page.on("websocket", watch)
    return sent


async def visited(ana: Client, path: str, title: str) -> None:
    frame = await ana.of_type("visited")
    assert (frame["page"]["url"].split("/", 3)[3], frame["page"]["title"]) == (path, title)


@pytest.mark.parametrize("navigation_api", [True, False], ids=["navigation-api", "popstate"])
async def test_a_single_page_apps_route_changes_reach_the_agent(
        browser: Browser, pages: Pages, navigation_api: bool) -> None:  # noqa: F811
    """Before: ``pushState``, ``replaceState`` and ``LiveChat('page')`` told agents nothing;
    only a real navigation did. Where the browser has the Navigation API the loader follows it;
    elsewhere, back and forward (``popstate``) and the page's own ``LiveChat('page')``."""
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    if not navigation_api:  # a browser without it
        await context.add_init_script("delete Window.prototype.navigation;"
                                      "delete window.navigation;")
    page = await context.new_page()
    await page.clock.install()  # (time flows; the loader's one-second pause is run at once)
    sent = context_frames(page)
    await page.goto(pages.url("plain", "Home"))
    assert await page.evaluate("'navigation' in window") is navigation_api
    ana, _ = await start_chatting(page, pages)
    assert [frame.get("title") for frame in sent] == ["Home"]

    await page.evaluate("history.pushState({}, '', '/spa/products/42?x=1#frag');"
                        "document.title = 'Product 42'")
    if not navigation_api:
        await page.evaluate("LiveChat('page')")
    await visited(ana, "spa/products/42?x=1", "Product 42")
    await page.evaluate("history.replaceState({}, '', '/spa/cart');"
                        " setTimeout(() => { document.title = 'Cart'; LiveChat('page'); }, 200)")
    # (The title a route sets a moment after its address is the one reported.)
    await visited(ana, "spa/cart", "Cart")
    # Back (the cart replaced the product): popstate, or the Navigation API's traverse.
    await page.evaluate("history.back()")
    await expect(page).to_have_url(pages.url("plain", "Home"))
    await page.evaluate("document.title = 'Home again'")
    await visited(ana, "plain?title=Home", "Home again")
    # No new address (a fragment, a title, the same address again): nothing more is sent. The
    # loader's pause after a change is run through; then a new address: the next the agent is
    # told of, and the next frame the chat sends, is that one (a "Reviews" would come first).
    await page.evaluate("location.hash = '#reviews'; document.title = 'Reviews';"
                        " LiveChat('page')")
    await page.clock.run_for(1500)
    await page.evaluate("history.pushState({}, '', '/spa/help'); document.title = 'Help'")
    if not navigation_api:
        await page.evaluate("LiveChat('page')")
    await visited(ana, "spa/help", "Help")
    await sent.count(5)
    assert [frame.get("title") for frame in sent] == ["Home", "Product 42", "Cart", "Home again",
                                                      "Help"]
    await no_violations(page)
    await ana.close()


def pixel(png: bytes) -> tuple[int, int, int]:
    """The first pixel of a screenshot (8-bit RGB or RGBA, as Chromium writes them)."""
    at, data, width, kind = 8, b"", 0, 0
    while at < len(png):
        size, chunk = struct.unpack(">I4s", png[at:at + 8])
        body = png[at + 8:at + 8 + size]
        if chunk == b"IHDR":
            width, kind = struct.unpack(">I", body[:4])[0], body[9]
        elif chunk == b"IDAT":
            data += body
        at += 12 + size
    raw = zlib.decompress(data)
    assert width and kind in (2, 6) and raw[0] in (0, 1, 2, 3, 4)  # one row: no filter adds
    r, g, b = raw[1:4]
    return r, g, b


async def point(page: Page, x: float, y: float) -> tuple[int, int, int]:
    return pixel(await page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1}))


@pytest.mark.parametrize("variant", ["transform", "zoom", "overlay"])
async def test_page_css_on_ancestors_cannot_move_or_cover_the_widget(
        browser: Browser, pages: Pages, artifacts: Path, variant: str) -> None:  # noqa: F811
    """Before: a transformed body moved the fixed launcher to the bottom of the page (out of
    view), ``html { zoom: 2 }`` put the open panel's header above the top of the window, and an
    overlay at the highest z-index covered the launcher and took its clicks. The widget is in the
    top layer now (a manual popover), and the panel is sized by the window it is in."""
    page = await visit(browser, pages.url(variant))
    launcher = page.locator("livechat-widget button")
    await expect(launcher).to_be_in_viewport(ratio=1)
    zoom = 2 if variant == "zoom" else 1
    box = await launcher.bounding_box()
    assert box is not None
    assert (box["x"] + box["width"], box["y"] + box["height"]) == (1000 - 20 * zoom,
                                                                   700 - 20 * zoom), box
    await page.screenshot(path=artifacts / f"loader-{variant}-closed.png")
    await launcher.click()  # a real click: nothing lies over it
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#input")).to_be_focused()
    panel = await page.locator("livechat-widget iframe").bounding_box()
    assert panel is not None and panel["y"] >= 0 and panel["x"] >= 0, panel
    assert panel["y"] + panel["height"] <= box["y"] and panel["x"] + panel["width"] <= 1000
    await page.screenshot(path=artifacts / f"loader-{variant}-open.png")
    # Escape closes it, and the launcher has the focus again; the chat's own close too.
    await frame.locator("#input").press("Escape")
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await launcher.press("Enter")
    await expect(frame.locator("#input")).to_be_focused()
    # The chat's close button is on screen, and a click there reaches it (where the window
    # shows it: the frame's own coordinates, scaled by the page's zoom, from the frame's corner).
    close = await frame.locator("#close").evaluate(
        "b => { const r = b.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; }")
    x, y = panel["x"] + close[0] * zoom, panel["y"] + close[1] * zoom
    assert 0 <= x <= 1000 and 0 <= y <= 700, (x, y)
    await page.mouse.click(x, y)
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await no_violations(page)


async def test_the_pages_popovers_and_dialogs_keep_their_place(
        browser: Browser, pages: Pages, artifacts: Path) -> None:  # noqa: F811
    """The widget is a manual popover: the page's rules for popovers and backdrops do not reach
    it (no frame, no darkened page), a modal dialog the page opens later is above it (and the
    widget inert, as the rest of the page, until it closes), one open before the loader ran is
    not covered by it, and Tab and Escape behave as before."""
    page = await visit(browser, pages.url("popovers"))
    launcher = page.locator("livechat-widget button")
    await expect(launcher).to_be_visible()
    host = page.locator("livechat-widget")
    assert await host.evaluate("h => h.matches(':popover-open')")
    box = await launcher.bounding_box()
    assert box is not None and (box["width"], box["height"]) == (56, 56)
    assert await point(page, 500, 400) == (255, 255, 255)  # the page's ::backdrop is not drawn
    await page.screenshot(path=artifacts / "loader-page-popover-rules.png")
    # The keyboard: Tab from the page's last control reaches the launcher; Escape on it does
    # not hide it (a manual popover has no light dismiss).
    await page.locator("#open-dialog").focus()
    await page.keyboard.press("Tab")
    await expect(launcher).to_be_focused()
    await page.keyboard.press("Escape")
    assert await host.evaluate("h => h.matches(':popover-open')")

    # The page's modal dialog, opened while the chat is open: above it, then gone.
    await launcher.click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#input")).to_be_focused()
    await page.evaluate("document.getElementById('dialog').showModal()")
    centre = (box["x"] + 28, box["y"] + 28)
    assert await page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", centre) == (
        "dialog")  # (the dialog's backdrop is the dialog's)
    await page.screenshot(path=artifacts / "loader-page-dialog-above-the-chat.png")
    await page.keyboard.press("Escape")  # the dialog's
    await expect(page.locator("#dialog")).to_be_hidden()
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    await launcher.click()
    await expect(launcher).to_have_attribute("aria-expanded", "false")

    # A modal dialog open before the loader ran: the widget waits under it, then comes up.
    second = await (await browser.new_context(viewport={"width": 1000, "height": 700})).new_page()
    await second.add_init_script("document.addEventListener('DOMContentLoaded', () =>"
                                 " document.getElementById('dialog').showModal())")
    await second.goto(pages.url("popovers"))
    await expect(second.locator("livechat-widget button")).to_be_attached()
    await second.wait_for_load_state("networkidle")
    assert await second.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName",
                                 centre) == "DIALOG"
    await second.keyboard.press("Escape")
    await second.wait_for_function(
        "document.querySelector('livechat-widget').matches(':popover-open')")
    await second.locator("livechat-widget button").click()
    await expect(second.frame_locator("iframe[title=Chat]").locator("#input")).to_be_focused()
    await no_violations(page)
    await no_violations(second)


async def test_a_misconfigured_tag_shows_visitors_nothing_and_tells_the_console(
        browser: Browser, pages: Pages, artifacts: Path) -> None:  # noqa: F811
    """Before: an unknown ``data-site`` drew the launcher, and opening it showed "unknown site"
    as raw text; on an origin the site does not allow, opening it showed the browser's blocked
    frame, and the page's ``open`` event fired. Now the launcher's stylesheet (which the
    loader fetched anyway) hides the widget, and the console says why, in one line."""
    async def misconfigured(url: str, expected: str) -> None:
        page = await visit(browser, "about:blank")
        said: list[str] = []
        page.on("console", lambda m: said.append(m.text) if m.type == "warning" else None)
        async with page.expect_console_message(lambda m: m.type == "warning"):
            await page.goto(url)
        await expect(page.locator("livechat-widget")).to_have_count(0)
        # One line: a warning of the test's own comes next, after any the loader said.
        async with page.expect_console_message(lambda m: m.text == "(the test)"):
            await page.evaluate("console.warn('(the test)')")
        assert len(said) == 2 and said[0].startswith("livechat: ") and expected in said[0], said
        # (Opening is synchronous: had it opened, the frame and the event would be there now.)
        await page.evaluate("LiveChat('open')")
        assert await page.evaluate("window.events") == []
        assert await page.locator("iframe").count() == 0
        await page.screenshot(path=artifacts / f"loader-misconfigured-{len(expected)}.png")
        await no_violations(page)

    await misconfigured(pages.url("unknown"), "site_doesnotexist")
    await misconfigured(pages.url("plain", allowed=False),
                        f"this page's origin, {pages.other}, is not allowed for site "
                        f"{pages.site_id}")
    # Where the tag is right: nothing said, the launcher shown.
    page = await visit(browser, "about:blank")
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text))
    await page.goto(pages.url("plain"))
    await expect(page.locator("livechat-widget button")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert said == []


async def test_a_long_launcher_text_is_cut_at_a_word_and_heard_whole(
        browser: Browser, pages: Pages, artifacts: Path) -> None:  # noqa: F811
    """Before: text over 40 characters was cut mid-word with no ellipsis, and screen readers
    heard the cut text."""
    page = await visit(browser, pages.url("long"))
    launcher = page.locator("livechat-widget button")
    shown = await launcher.locator(".label").text_content()
    assert shown == "Talk to our very friendly support team…", shown
    assert len(shown) <= 40 and LONG_TEXT.startswith(shown[:-1])
    await expect(launcher).to_have_accessible_name(f"{LONG_TEXT} (Open chat)")
    await expect(launcher).to_be_in_viewport(ratio=1)
    await page.screenshot(path=artifacts / "loader-long-launcher-text.png")
    await launcher.click()
    await expect(launcher).to_have_accessible_name(f"{LONG_TEXT} (Close chat)")
    await no_violations(page)


#: Where the label's first and last characters are drawn, and its direction.
LABEL_ENDS = """h => {
    const label = h.shadowRoot.querySelector('.label'), text = label.firstChild;
    const box = (from, to) => {
        const r = document.createRange(); r.setStart(text, from); r.setEnd(text, to);
        return r.getBoundingClientRect().toJSON();
    };
    return {direction: getComputedStyle(label).direction, text: text.data,
            first: box(0, 1), last: box(text.length - 1, text.length),
            label: label.getBoundingClientRect().toJSON()};
}"""


async def test_a_long_arabic_launcher_text_ends_with_its_ellipsis(
        browser: Browser, pages: Pages, artifacts: Path) -> None:  # noqa: F811
    """Before: on a left-to-right page, the Arabic label had no direction of its own: its "…"
    was drawn at the right, beside the first word (where Arabic begins), not at its end."""
    page = await visit(browser, pages.url("long-ar"))
    launcher = page.locator("livechat-widget button")
    await expect(launcher.locator(".label")).to_have_text(re.compile("…$"))
    ends = await page.locator("livechat-widget").evaluate(LABEL_ENDS)
    assert ends["text"].endswith("…") and LONG_ARABIC.startswith(ends["text"][:-1]), ends
    assert ends["direction"] == "rtl", ends
    # Right to left: the first word at the right, the ellipsis last, at the left.
    assert ends["last"]["x"] < ends["first"]["x"], ends
    assert ends["last"]["x"] - ends["label"]["x"] < 2, ends
    assert ends["first"]["x"] + ends["first"]["width"] > ends["label"]["right"] - 2, ends
    await expect(launcher).to_have_accessible_name(f"{LONG_ARABIC} (فتح المحادثة)")
    await expect(launcher).to_be_in_viewport(ratio=1)
    await page.screenshot(path=artifacts / "loader-long-arabic-launcher-text.png")
    # A left-to-right text on the same page keeps its direction.
    english = await visit(browser, pages.url("long"))
    ends = await english.locator("livechat-widget").evaluate(LABEL_ENDS)
    assert ends["direction"] == "ltr" and ends["last"]["x"] > ends["first"]["x"], ends
    await no_violations(page)


async def test_without_popovers_the_widget_is_fixed_at_the_highest_z_index(
        browser: Browser, pages: Pages) -> None:  # noqa: F811
    """A browser without the Popover API: the widget is drawn as before (fixed, in the corner)."""
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    await context.add_init_script("delete HTMLElement.prototype.showPopover;")
    page = await context.new_page()
    await page.goto(pages.url("zoom"))
    launcher = page.locator("livechat-widget button")
    await expect(launcher).to_be_in_viewport(ratio=1)
    assert not await page.locator("livechat-widget").evaluate("h => h.matches(':popover-open')")
    assert await page.locator("livechat-widget").evaluate(
        "h => getComputedStyle(h).zIndex") == "2147483000"
    await launcher.click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#input")).to_be_focused()
    panel = await page.locator("livechat-widget iframe").bounding_box()
    assert panel is not None and panel["y"] >= 0, panel  # the zoomed page's panel fits, too
    await frame.locator("#input").press("Escape")
    await expect(launcher).to_be_focused()
    await no_violations(page)

"""The chat widget's details a black-box tester found wrong, in a real Chromium: the rating's
stars (four pressed buttons, no arrow keys, focus lost after sending), times in a 12-hour clock
for browsers whose language the widget lacks, the away notice's wording, a long agent name under
the header's buttons, the wheel scrolling the page behind the full-screen chat, and a focus ring
too faint to see. Screenshots go to test-artifacts/. Times and the away notice are in
tests/test_widget_times.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FrameLocator, Page, expect

from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    axe_violations,
    browser,
    open_widget,
    sites,
)
from tests.live import Client, agent, login, open_store

pytestmark = pytest.mark.browser


async def visitor_writes(page: Page, text: str) -> FrameLocator:
    """The visitor opens the chat and writes ``text`` (stored: a conversation exists)."""
    frame = await open_widget(page)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill(text)
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    return frame


async def agent_takes(sites: Sites) -> tuple[Client, str]:  # noqa: F811
    """Ana, on a socket of her own, opens and claims the visitor's conversation."""
    ana, welcome = await agent(sites.chat, await login(sites.chat, "ana@acme.test"))
    conv = welcome["conversations"][0]["id"]
    assert (await ana.request({"type": "open", "id": "o1", "conversation_id": conv}))[
        "type"] == "ack"
    assert (await ana.request({"type": "claim", "id": "c1", "conversation_id": conv}))[
        "type"] == "ack"
    return ana, str(conv)


async def focused(frame: FrameLocator) -> dict[str, Any]:
    """What has the keyboard's focus in the frame."""
    result: dict[str, Any] = await frame.locator("body").evaluate(
        "() => { const a = document.activeElement;"
        " return {tag: a.tagName, cls: a.className, label: a.getAttribute('aria-label'),"
        " text: a.textContent}; }")
    return result


# --- 1. the rating's stars: a radio group --------------------------------------------------

async def test_the_stars_are_a_radio_group_the_keyboard_can_rate_with(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """Before: choosing 4 stars set ``aria-pressed="true"`` on stars 1 to 4 (a screen reader
    heard four pressed buttons), the arrow keys did nothing, and after "Send rating" the form
    went with the keyboard's focus in it: focus fell to the frame's body."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 800})).new_page()
    await page.goto(sites.page_url)
    frame = await visitor_writes(page, "My tent arrived torn")
    ana, conv = await agent_takes(sites)
    await ana.request({"type": "send", "id": "s1", "conversation_id": conv,
                       "body": "We're sending a new one today."})
    await ana.request({"type": "resolve", "id": "r1", "conversation_id": conv})
    group = frame.get_by_role("radiogroup", name="How was this conversation?")
    await expect(group).to_be_visible()
    stars = group.get_by_role("radio")
    await expect(stars).to_have_count(5)
    for n in range(1, 6):
        await expect(stars.nth(n - 1)).to_have_accessible_name(f"{n} out of 5")
        await expect(stars.nth(n - 1)).to_have_attribute("aria-checked", "false")
    assert await frame.locator("[aria-pressed]").count() == 1  # (the header's mute button)
    send = frame.get_by_role("button", name="Send rating")
    await expect(send).to_be_disabled()

    async def checked(n: int) -> None:
        """Star ``n`` is the one checked, focused and the group's tab stop; 1 to n filled."""
        for i in range(1, 6):
            star = stars.nth(i - 1)
            await expect(star).to_have_attribute("aria-checked", str(i == n).lower())
            await expect(star).to_have_attribute("tabindex", "0" if i == n else "-1")
            fill = await star.evaluate("s => getComputedStyle(s).color")
            await expect(star).to_have_class("star on" if i <= n else "star")
            assert (fill == filled) == (i <= n), (i, n, fill, filled)
        await expect(stars.nth(n - 1)).to_be_focused()
        # (Seen focused: the ring the frame's other controls have.)
        ring = await stars.nth(n - 1).evaluate("s => getComputedStyle(s).outlineStyle")
        assert ring == "solid", ring

    # One tab stop, the first star while none is chosen: Shift+Tab from the comment.
    await expect(stars.nth(0)).to_have_attribute("tabindex", "0")
    await frame.get_by_label("Anything to add? (optional)").focus()
    await page.keyboard.press("Shift+Tab")
    await expect(stars.nth(0)).to_be_focused()
    await page.keyboard.press("ArrowRight")
    filled = await stars.nth(0).evaluate("s => getComputedStyle(s).color")
    unfilled = await stars.nth(4).evaluate("s => getComputedStyle(s).color")
    assert filled != unfilled
    await checked(2)
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("ArrowRight")
    await checked(4)
    await page.keyboard.press("ArrowLeft")
    await checked(3)
    await page.keyboard.press("End")
    await checked(5)
    await page.keyboard.press("ArrowRight")  # (round to the first, as radio buttons go)
    await checked(1)
    await page.keyboard.press("ArrowUp")
    await checked(5)
    await page.keyboard.press("Home")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    await checked(4)
    await expect(send).to_be_enabled()
    # Tab leaves the group for the comment; Shift+Tab comes back to the chosen star.
    await page.keyboard.press("Tab")
    await expect(frame.get_by_label("Anything to add? (optional)")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await checked(4)
    await page.keyboard.press("Tab")
    await page.keyboard.type("Fast and friendly")
    await page.screenshot(path=artifacts / "details-1-rating-by-keyboard.png")
    assert await axe_violations(page, "/widget/frame") == []
    await page.keyboard.press("Tab")
    await expect(send).to_be_focused()
    await page.keyboard.press("Enter")
    # Sent: the keyboard is on the thanks, not lost on the frame's body.
    thanks = frame.locator(".notice.thanks")
    await expect(thanks).to_have_text("Thank you for your rating (4/5).")
    await expect(thanks).to_be_focused()
    await expect(thanks).to_have_attribute("tabindex", "-1")
    await expect(group).to_have_count(0)
    rated = await ana.next(lambda f: f.get("type") == "message" and f.get("kind") == "rated")
    assert rated["score"] == 4 and rated["body"] == "Fast and friendly"
    await page.screenshot(path=artifacts / "details-1-rating-sent.png")
    assert await axe_violations(page, "/widget/frame") == []
    # Tab goes on from there, to "Start a new conversation".
    await page.keyboard.press("Tab")
    await expect(frame.get_by_role("button", name="Start a new conversation")).to_be_focused()
    await ana.close()


@pytest.mark.parametrize("lang", ["ar"])
async def test_right_to_left_the_arrows_follow_the_stars(
        browser: Browser, sites: Sites, artifacts: Path, lang: str) -> None:  # noqa: F811
    """In Arabic the first star is on the right: the left arrow goes to the next one."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 800},
                                            locale="ar-EG")).new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="فتح المحادثة").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[dir=rtl][data-state=online]")).to_have_count(1)
    composer = frame.locator("#input")
    await composer.fill("مرحبا")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    ana, conv = await agent_takes(sites)
    await ana.request({"type": "resolve", "id": "r1", "conversation_id": conv})
    stars = frame.locator(".stars [role=radio]")
    await expect(stars).to_have_count(5)
    first, second = [await stars.nth(i).bounding_box() for i in (0, 1)]
    assert first and second and first["x"] > second["x"]  # the first star on the right
    await stars.nth(0).focus()
    await page.keyboard.press("ArrowLeft")
    await expect(stars.nth(1)).to_be_focused()
    await expect(stars.nth(1)).to_have_attribute("aria-checked", "true")
    await page.keyboard.press("ArrowRight")
    await expect(stars.nth(0)).to_have_attribute("aria-checked", "true")
    await page.screenshot(path=artifacts / f"details-1-rating-{lang}.png")
    await ana.close()


# --- 5. a long agent name stays in its place ---------------------------------------------------

#: 60 characters, no space or hyphen to break at.
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaf"


@pytest.mark.parametrize("width", [1100, 375])
async def test_a_long_agent_name_stays_clear_of_the_headers_buttons(
        browser: Browser, sites: Sites, artifacts: Path, width: int) -> None:  # noqa: F811
    """Before: "…is answering" with a 60-character unbroken name ran under the header's mute
    (bell) button and out of the chat's notices."""
    assert len(LONG_NAME) == 60
    page = await (await browser.new_context(viewport={"width": width, "height": 700},
                                            is_mobile=width < 480)).new_page()
    await page.goto(sites.page_url)
    frame = await visitor_writes(page, "Hello?")
    async with open_store(sites.chat.db) as store:
        ana_id = next(a.id for a in await store.agents() if a.email == "ana@acme.test")
        await store.update_agent(ana_id, name=LONG_NAME)
    ana, conv = await agent_takes(sites)
    await ana.request({"type": "send", "id": "s1", "conversation_id": conv, "body": "Hi!"})
    status = frame.locator("#status")
    await expect(status).to_have_text(f"{LONG_NAME} is answering")
    await expect(frame.locator(".msg.theirs[data-seq]")).to_have_count(1)
    boxes = await frame.locator(".head").evaluate("""head => {
        const box = e => e.getBoundingClientRect().toJSON();
        const over = e => e.scrollWidth - e.clientWidth;
        const notice = [...document.querySelectorAll('.notice')].pop();
        return {status: box(head.querySelector('#status')), mute: box(head.querySelector('#mute')),
                close: box(head.querySelector('#close')), head: over(head),
                statusOver: over(head.querySelector('#status')),
                notice: box(notice), noticeOver: over(notice),
                list: box(document.querySelector('#messages')),
                meta: box(document.querySelector('.msg.theirs .meta')),
                page: document.documentElement.scrollWidth - innerWidth};
    }""")
    assert boxes["status"]["right"] <= boxes["mute"]["left"], boxes
    assert boxes["statusOver"] <= 0 and boxes["head"] <= 0 and boxes["page"] <= 0, boxes
    # The "joined" notice and the reply's name stay inside the list too.
    assert boxes["noticeOver"] <= 0, boxes
    for part in ("notice", "meta"):
        assert boxes["list"]["left"] <= boxes[part]["left"], (part, boxes)
        assert boxes[part]["right"] <= boxes["list"]["right"], (part, boxes)
    await page.screenshot(path=artifacts / f"details-5-long-agent-name-{width}.png")
    await ana.close()


# --- 6. the full-screen chat keeps the wheel to itself -----------------------------------------

async def test_the_wheel_over_the_full_screen_chat_never_scrolls_the_page_behind(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """Before: on a phone, where the chat is full screen, the mouse wheel over its header or its
    composer (only the list of messages kept it) scrolled the host page behind it."""
    context = await browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True,
                                        has_touch=True, device_scale_factor=2)
    page = await context.new_page()
    await page.goto(sites.page_url)
    await page.evaluate("() => { document.body.style.minHeight = '3000px'; }")
    # The wheel scrolls this page, where nothing is over it.
    await page.mouse.move(187, 300)
    await page.mouse.wheel(0, 200)
    await page.wait_for_function("() => scrollY > 0")
    await page.evaluate("() => scrollTo(0, 0)")
    await page.wait_for_function("() => scrollY === 0")
    await page.locator("livechat-widget button").tap()
    element = await page.locator("iframe[title=Chat]").element_handle()
    chat = await element.content_frame()
    assert chat is not None
    await chat.wait_for_selector("html[data-state=online]", state="attached")
    box = await element.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 667}, box  # full screen
    # Enough messages for the list to scroll: each wheel over it is the sign that the wheel
    # before (over the header, the composer) has been dealt with.
    for n in range(1, 16):
        await chat.fill("#input", f"Message number {n}")
        await chat.press("#input", "Enter")
    await chat.wait_for_function(
        "() => document.querySelectorAll('.msg.mine:not(.pending)').length === 15")
    await chat.wait_for_function("() => { const s = document.querySelector('#stream');"
                                 " return s.scrollHeight > s.clientHeight + 200; }")
    head = await chat.locator(".head").bounding_box()
    composer = await chat.locator("#composer").bounding_box()
    assert head and composer
    for name, where in (("header", head), ("composer", composer), ("header", head)):
        await chat.evaluate("() => { document.querySelector('#stream').scrollTop = 0; }")
        await page.mouse.move(where["x"] + 60, where["y"] + where["height"] / 2)
        await page.mouse.wheel(0, 400)
        await page.mouse.move(187, 330)
        await page.mouse.wheel(0, 100)
        await chat.wait_for_function("() => document.querySelector('#stream').scrollTop > 0")
        assert await page.evaluate("() => scrollY") == 0, name
    # A swipe up over the header or the composer, too (the command returns once it is done).
    cdp = await context.new_cdp_session(page)
    for where in (head, composer):
        await cdp.send("Input.synthesizeScrollGesture", {
            "x": where["x"] + 60, "y": where["y"] + where["height"] / 2, "yDistance": -300,
            "gestureSourceType": "touch", "speed": 800})
        assert await page.evaluate("() => scrollY") == 0
    await page.screenshot(path=artifacts / "details-6-phone-wheel.png")


# --- 7. a focus ring that can be seen ----------------------------------------------------------

#: The WCAG contrast ratio of two computed ``rgb(…)`` colours.
CONTRAST = """([a, b]) => {
  const lum = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}"""

#: The focused element's ring (its outline, and the first opaque colour of its box-shadow: the
#: ring inside it, not a drop shadow) and the background it is drawn on (the first ancestor's
#: that is not transparent, out of a shadow root too; the canvas's white without one).
RING = """e => {
    const s = getComputedStyle(e);
    let node = e, background = 'rgb(255, 255, 255)';
    for (;;) {
        node = node.parentElement || (node.getRootNode && node.getRootNode().host) || null;
        if (!node) break;
        const b = getComputedStyle(node).backgroundColor;
        if (b !== 'transparent' && !/^rgba\\(.*,\\s*0\\)$/.test(b)) { background = b; break; }
    }
    const inner = (s.boxShadow.match(/rgb\\([^)]*\\)/) || [null])[0];  // (opaque)
    return {focused: e.matches(':focus-visible'), outline: s.outlineColor,
            style: s.outlineStyle, width: parseFloat(s.outlineWidth), inner: inner,
            background: background};
}"""


async def ring_contrast(page: Page, where: Any, name: str) -> dict[str, Any]:
    """The focus ring of ``where`` (focused, as by the keyboard) is seen: two rings, 3:1 against
    each other, and one of them 3:1 against the background."""
    ring: dict[str, Any] = await where.evaluate(RING)
    assert ring["focused"] and ring["style"] == "solid" and ring["width"] >= 2, (name, ring)
    assert ring["inner"], (name, ring)
    between = await page.evaluate(CONTRAST, [ring["outline"], ring["inner"]])
    outer = await page.evaluate(CONTRAST, [ring["outline"], ring["background"]])
    inner = await page.evaluate(CONTRAST, [ring["inner"], ring["background"]])
    ring.update(between=between, outer=outer, inner_contrast=inner)
    assert between >= 3 and max(outer, inner) >= 3, (name, ring)
    return ring


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_focus_ring_stands_out_on_any_background(
        browser: Browser, sites: Sites, artifacts: Path, scheme: str) -> None:  # noqa: F811
    """Before: the launcher, fields and buttons had one ring, rgb(255, 191, 71): 1.6:1 on white,
    where it is drawn on the page, the composer and the chat's cards."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 760},
                                            color_scheme=scheme)).new_page()
    await page.goto(sites.page_url)
    await page.keyboard.press("Tab")
    launcher = page.locator("livechat-widget button")
    await launcher.focus()
    await ring_contrast(page, launcher, "launcher")
    await page.screenshot(path=artifacts / f"details-7-focus-launcher-{scheme}.png",
                          clip={"x": 900, "y": 600, "width": 200, "height": 160})
    await page.keyboard.press("Enter")
    frame = page.frame_locator("iframe[title=Chat]")
    composer = frame.get_by_label("Message", exact=True)
    await expect(composer).to_be_focused()
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await ring_contrast(page, composer, "composer")
    await page.keyboard.press("Tab")
    emoji = frame.get_by_role("button", name="Emoji")
    await expect(emoji).to_be_focused()
    await ring_contrast(page, emoji, "emoji")
    await page.screenshot(path=artifacts / f"details-7-focus-emoji-{scheme}.png")
    mute = frame.get_by_role("button", name="Mute sounds")
    await mute.focus()
    await ring_contrast(page, mute, "mute (on the header's colour)")
    await page.screenshot(path=artifacts / f"details-7-focus-mute-{scheme}.png")


# --- 8. why a message was not sent, in the visitor's language ---------------------------------

@pytest.mark.parametrize("locale, refused_file, bad_text", [
    ("el-GR", "Δεν στάλθηκε: στείλτε μια εικόνα (PNG, JPEG, GIF, WebP), ένα PDF ή ένα αρχείο "
              "κειμένου",
     "Δεν στάλθηκε: το μήνυμα έχει έναν χαρακτήρα που δεν μπορεί να σταλεί"),
    ("de-DE", "Nicht gesendet: Senden Sie ein Bild (PNG, JPEG, GIF, WebP), ein PDF oder eine "
              "Textdatei",
     "Nicht gesendet: Die Nachricht enthält ein Zeichen, das nicht gesendet werden kann"),
    ("en-US", "Not sent: send an image (PNG, JPEG, GIF, WebP), a PDF or a text file",
     "Not sent: the message has a character that can't be sent"),
])
async def test_why_a_message_was_not_sent_is_said_in_the_visitors_language(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path,  # noqa: F811
        locale: str, refused_file: str, bad_text: str) -> None:
    """Before: "Δεν στάλθηκε: send an image (PNG, JPEG, GIF, WebP), a PDF or a text file" — the
    reason was the server's, in English, whatever the visitor's language."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 760},
                                            locale=locale)).new_page()
    await page.goto(sites.page_url)
    await page.locator("livechat-widget button").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    refused = tmp_path / "order.html"  # refused by the upload: 415 unsupported_type
    refused.write_text("<html>order</html>")
    await frame.locator("#file").set_input_files(refused)
    failed = frame.locator(".msg.mine.failed .meta")
    await expect(failed).to_have_text([refused_file])
    # Refused by the server: bad_text (a lone surrogate).
    composer = frame.locator("#input")
    await composer.evaluate("box => { box.value = 'Half an emoji \\ud83d'; }")
    await composer.press("Enter")
    await expect(failed).to_have_text([refused_file, bad_text])
    await page.screenshot(path=artifacts / f"details-8-not-sent-{locale}.png")
    # A code the widget has no words for: the server's own text.
    said = await frame.locator("html").evaluate(
        "async () => (await import('/widget/static/frame/i18n.js'))"
        ".reason('something_new', 'the server says why')")
    assert said == "the server says why"


@pytest.mark.site_profile(offline="chat", color="#0b7a4b")
async def test_the_launcher_keeps_the_sites_colour(browser: Browser, sites: Sites,  # noqa: F811
                                                   artifacts: Path) -> None:
    """With no ``data-color``, the launcher takes the site's colour once the chat has loaded on
    that browser, and keeps it: on the next page it has it before the chat loads (before, it
    was the default blue on every page until the frame came)."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(sites.page_url)
    await open_widget(page)
    green = "rgb(11, 122, 75)"
    await expect(page.locator("livechat-widget .launcher")).to_have_css("background-color", green)
    later = await context.new_page()
    await later.route("**/widget/frame*", lambda route: route.abort())  # the chat never loads
    await later.goto(sites.page_url)
    await expect(later.get_by_role("button", name="Open chat")).to_have_css(
        "background-color", green)
    await later.screenshot(path=artifacts / "launcher-kept-colour.png")


async def test_a_blocked_visitor_is_told_in_words(browser: Browser, sites: Sites,  # noqa: F811
                                                  artifacts: Path) -> None:
    """A black-box tester's: blocked, the visitor read "Chat is unavailable here (4423)."."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 800})).new_page()
    await page.goto(sites.page_url)
    frame = await visitor_writes(page, "Buy cheap watches here")
    ana, conv = await agent_takes(sites)
    blocked = await ana.request({"type": "block", "id": "b1", "conversation_id": conv})
    assert blocked["type"] == "ack", blocked
    await expect(frame.locator("html[data-state=failed]")).to_have_count(1)
    await expect(frame.locator("#banner")).to_have_text("You can't chat here right now.")
    await expect(frame.get_by_label("Message", exact=True)).to_be_disabled()
    await page.screenshot(path=artifacts / "widget-blocked.png")
    await ana.close()


async def test_refused_attributes_say_why_in_the_console(
        browser: Browser, sites: Sites) -> None:  # noqa: F811
    """A black-box tester's: ``LiveChat('set')`` with one bad name kept none, without a word
    to the site's developer."""
    page = await (await browser.new_context()).new_page()
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text) if m.type == "warning" else None)
    await page.goto(sites.page_url)
    await visitor_writes(page, "Hello")
    async with page.expect_console_message(lambda m: "LiveChat('set') refused" in m.text):
        await page.evaluate("LiveChat('set', {attributes: {'bad name': 1, plan: 'pro'}})")
    assert any(s.startswith("livechat: LiveChat('set') refused: ") for s in said), said

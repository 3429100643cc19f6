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

from server.auth import hash_password
from tests.browser import sign_in_page
from tests.live import PASSWORD, open_store
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


async def test_visitors_names_keep_their_direction_in_a_right_to_left_panel(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """"Maria Silva (Acme Inc.)" in a Hebrew panel reads left to right, its brackets where she
    put them (not "(Maria Silva (Acme Inc."), wherever the panel shows it: the list, the
    conversation's header, the byline of her messages, the visitor's column; her email too. A
    visitor without a name is "Visitor TXHC" in the panel's language."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_txhc01", "a0", "hello?")
        await store.append_visitor_message(desk.site_id, "vis_maria1", "m0", "Where is my order?")
        await store.set_visitor_profile(desk.site_id, "vis_maria1", "Maria Silva (Acme Inc.)",
                                        "maria@acme.example")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.get_by_role("button", name="Settings").click()
    await ana.get_by_label("Language").select_option("he")
    await expect(ana.locator("html")).to_have_attribute("dir", "rtl")
    await ana.keyboard.press("Escape")

    names = ana.locator("#list .item .name")
    await expect(names).to_have_text(["מבקר TXHC", "Maria Silva (Acme Inc.)"])
    maria = names.nth(1)
    await expect(maria).to_have_css("direction", "ltr")
    await maria.click()
    await expect(ana.locator("#conv-title")).to_have_text("Maria Silva (Acme Inc.)")
    await expect(ana.locator("#conv-title")).to_have_css("direction", "ltr")
    email = ana.locator("#conv-status bdi", has_text="maria@acme.example")
    await expect(email).to_have_css("direction", "ltr")
    byline = ana.locator("#messages .msg.visitor .meta bdi")
    await expect(byline).to_have_text("Maria Silva (Acme Inc.)")
    await expect(byline).to_have_css("direction", "ltr")
    for shown in ("Maria Silva (Acme Inc.)", "maria@acme.example"):
        fact = ana.locator("#visitor-facts dd bdi", has_text=shown)
        await expect(fact).to_have_css("direction", "ltr")
    # (The name reads as it was written: its first character is at the left of its box.)
    title = ana.locator("#conv-title")
    assert await title.evaluate(
        """e => { const r = document.createRange(); r.setStart(e.firstChild, 0);
                  r.setEnd(e.firstChild, 1);
                  return r.getBoundingClientRect().left - e.getBoundingClientRect().left; }"""
    ) < 1
    await ana.screenshot(path=artifacts / "a11y-2-hebrew-names.png")
    # The unnamed visitor, in the header, the byline and the column too.
    await names.nth(0).click()
    await expect(ana.locator("#conv-title")).to_have_text("מבקר TXHC")
    await expect(ana.locator("#messages .msg.visitor .meta bdi")).to_have_text("מבקר TXHC")
    await expect(ana.locator("#visitor-facts")).to_contain_text("מבקר TXHC")
    await ana.screenshot(path=artifacts / "a11y-2-hebrew-unnamed.png")


async def test_a_tablet_shows_the_visitors_column_on_request(browser: Browser, desk: Desk,  # noqa: F811
                                                             artifacts: Path) -> None:
    """At 820 px the visitor's column has no room beside the conversation: "Visitor details" in
    the conversation's header shows it over the conversation (from the keyboard too), Esc or
    the button closes it and the focus goes back to the button. The search box keeps a usable
    width there, and at 1280 px beside a long name."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_maria1", "m0", "Where is my order?")
        await store.set_visitor_profile(desk.site_id, "vis_maria1", "Maria Silva",
                                        "maria@acme.example")
        await store.create_agent("long@acme.test", "Maximiliana Konstantinopoulou-Papadopoulou",
                                 hash_password(PASSWORD), "agent", [desk.site_id])
    context = await browser.new_context(viewport={"width": 820, "height": 1180},
                                        is_mobile=True, has_touch=True)
    ana = await sign_in_page(await context.new_page(), desk.chat.http, "ana@acme.test")
    search = await ana.locator("#search").bounding_box()
    assert search is not None and search["width"] >= 160, search
    await ana.locator("#list .item button").first.click()
    column = ana.locator("#context")
    await expect(ana.locator("#conv-title")).to_have_text("Maria Silva")
    await expect(column).to_be_hidden()
    toggle = ana.get_by_role("button", name="Visitor details")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.focus()
    await ana.keyboard.press("Enter")
    await expect(column).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(column.locator("#visitor-facts")).to_contain_text("maria@acme.example")
    await expect(column).to_be_focused()
    box = await column.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 820, box
    assert await ana.evaluate("document.documentElement.scrollWidth") <= 820
    await ana.screenshot(path=artifacts / "a11y-3-tablet-visitor.png")
    assert await axe_violations(ana, "no frames") == []
    await ana.keyboard.press("Escape")
    await expect(column).to_be_hidden()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(toggle).to_be_focused()
    # Its close button does the same.
    await toggle.click()
    await column.get_by_role("button", name="Close").click()
    await expect(column).to_be_hidden()
    await expect(toggle).to_be_focused()
    await ana.screenshot(path=artifacts / "a11y-3-tablet.png")
    await context.close()

    # Wide enough, the column is beside the conversation, and no button is needed.
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    long = await sign_in_page(await context.new_page(), desk.chat.http, "long@acme.test")
    search = await long.locator("#search").bounding_box()
    assert search is not None and search["width"] >= 160, search
    await long.locator("#list .item button").first.click()
    await expect(long.locator("#context")).to_be_visible()
    await expect(long.get_by_role("button", name="Visitor details")).to_be_hidden()
    assert await long.evaluate("document.documentElement.scrollWidth") <= 1280
    await long.screenshot(path=artifacts / "a11y-3-long-name-1280.png")
    await context.close()


async def test_the_panel_reflows_at_200_percent_zoom(browser: Browser, desk: Desk,  # noqa: F811
                                                     artifacts: Path) -> None:
    """A 1280 x 800 window zoomed to 200 % is 640 x 400 CSS px: the inbox, a conversation and
    the Reports fit its width (no sideways scrolling), Settings and Sign out on the page, and
    the conversation's messages keep room to be read."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_zoom01", "z0",
                                           "My tent pole snapped on the first night, help!")
    fits = "document.documentElement.scrollWidth <= innerWidth"
    for email in ("ana@acme.test", "root@acme.test"):
        context = await browser.new_context(viewport={"width": 640, "height": 400})
        page = await sign_in_page(await context.new_page(), desk.chat.http, email)
        for name in ("Settings", "Sign out"):
            box = await page.get_by_role("button", name=name).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 640, name
        assert await page.evaluate(fits)
        if email == "ana@acme.test":
            await page.screenshot(path=artifacts / "a11y-4-zoom-inbox.png")
            await page.locator("#list .item button").first.click()
            await expect(page.locator("#messages li.msg")).to_have_count(1)
            assert await page.evaluate(fits)
            # The messages keep room to be read; the composer is further down the column.
            box = await page.locator("#messages").bounding_box()
            assert box is not None and box["height"] >= 200, box
            await page.get_by_label("Reply", exact=True).scroll_into_view_if_needed()
            await expect(page.get_by_label("Reply", exact=True)).to_be_in_viewport()
            await page.screenshot(path=artifacts / "a11y-4-zoom-conversation.png")
        else:
            await page.get_by_role("button", name="Reports").click()
            await expect(page.locator("#report-tiles .tile").first).to_be_visible()
            assert await page.evaluate(fits)
            await page.screenshot(path=artifacts / "a11y-4-zoom-reports.png", full_page=True)
        await context.close()


async def test_esc_closes_a_menu_back_to_its_button(browser: Browser, desk: Desk,  # noqa: F811
                                                    artifacts: Path) -> None:
    """Esc in the Snooze, Transfer and Follow up… menus closes them, says so (aria-expanded
    false) and gives the focus back to their button, as Block… does (it was left on <body>)."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_menus1", "e0", "hello")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    await ana.get_by_role("button", name="Claim").click()
    await expect(ana.locator("#conv-status")).to_have_text("Assigned to you")
    for name, menu in (("#snooze", "#snooze-menu"), ("#transfer-button", "#transfer"),
                       ("#follow-up-button", "#follow-up"), ("#block-button", "#block-form")):
        button = ana.locator(name)
        await button.focus()
        await ana.keyboard.press("Enter")
        await expect(ana.locator(menu)).to_be_visible()
        await expect(button).to_have_attribute("aria-expanded", "true")
        assert await ana.evaluate(f"document.querySelector('{menu}').contains("
                                  "document.activeElement)"), name
        await ana.keyboard.press("Escape")
        await expect(ana.locator(menu)).to_be_hidden()
        await expect(button).to_have_attribute("aria-expanded", "false")
        await expect(button).to_be_focused()
    await ana.screenshot(path=artifacts / "a11y-5-menu-closed.png")


async def test_the_sign_in_page_has_its_landmarks(browser: Browser, desk: Desk,  # noqa: F811
                                                  artifacts: Path) -> None:
    """The sign-in form is the page's <main> (axe found no main landmark, and the form outside
    any landmark); the invitation's form too."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{desk.chat.http}/agent")
    await expect(page.locator("#email")).to_be_focused()
    await expect(page.get_by_role("main")).to_have_count(1)
    await expect(page.get_by_role("main").locator("#login-form")).to_be_visible()
    assert await axe_violations(page, "no frames") == []
    await page.screenshot(path=artifacts / "a11y-6-sign-in.png")
    await page.goto(f"{desk.chat.http}/agent#invite=abc")
    await page.reload()
    await expect(page.locator("#new-password")).to_be_focused()
    await expect(page.get_by_role("main").locator("#invite-form")).to_be_visible()
    assert await axe_violations(page, "no frames") == []
    await context.close()


async def test_signing_in_puts_the_focus_in_the_list(browser: Browser, desk: Desk,  # noqa: F811
                                                     artifacts: Path) -> None:
    """After signing in the focus is on the first conversation of the list (it was left on
    <body>, the form that had it gone), or on the selected view's tab when the list is empty;
    nothing scrolls for it."""
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await expect(bo.get_by_role("tab", name=re.compile("^Queue"))).to_be_focused()
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_focus1", "f0", "first")
        await store.append_visitor_message(desk.site_id, "vis_focus2", "f1", "second")
    # From the keyboard (Enter in the password field): the focus ring shows where it went.
    ana = await (await browser.new_context(viewport={"width": 1400, "height": 860})).new_page()
    await ana.goto(f"{desk.chat.http}/agent")
    form = ana.locator("#login-form")
    await form.get_by_label("Email").fill("ana@acme.test")
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_label("Password").press("Enter")
    first = ana.locator("#list .item button").first
    await expect(first).to_be_focused()
    await expect(first).to_contain_text("first")
    assert await ana.evaluate("scrollY === 0 && document.getElementById('list').scrollTop === 0")
    await ana.screenshot(path=artifacts / "a11y-7-signed-in-focus.png")
    # A page opened already signed in leaves the focus where the browser puts it.
    await ana.reload()
    await expect(ana.locator("#conn")).to_have_text("Online")
    await expect(first).to_be_visible()
    assert await ana.evaluate("document.activeElement === document.body")


async def test_j_and_k_move_the_focus_and_a_redraw_keeps_it(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """`j` / `k` open the next / previous conversation and put the focus on its button in the
    list (marked current), so a screen reader reads which one it is; the list drawn again (the
    conversation read, another one arriving) keeps the focus on that conversation's button (the
    button was replaced, the focus left on <body>)."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_jkfoc1", "j0", "first")
        await store.append_visitor_message(desk.site_id, "vis_jkfoc2", "j1", "second")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    items = ana.locator("#list .item")
    await expect(items).to_have_count(2)
    selected = ana.locator("#list .item.active button")
    await ana.keyboard.press("j")
    await expect(items.nth(0)).to_have_class(re.compile(r"\bactive\b"))
    await expect(selected).to_be_focused()
    await expect(selected).to_have_attribute("aria-current", "true")
    await ana.keyboard.press("j")
    await expect(items.nth(1)).to_have_class(re.compile(r"\bactive\b"))
    await expect(selected).to_contain_text("second")
    # Read: its "1 new" goes (the list drawn again), the focus stays on it.
    await expect(selected.locator(".unread")).to_have_count(0)
    await expect(selected).to_be_focused()
    await expect(items.nth(0).locator("button")).not_to_have_attribute("aria-current", "true")
    # Another conversation arrives: drawn again, the focus still on "second".
    await visitor_writes(browser, desk, "third")
    await expect(items).to_have_count(3)
    await expect(selected).to_contain_text("second")
    await expect(selected).to_be_focused()
    await ana.keyboard.press("k")
    await expect(selected).to_contain_text("first")
    await expect(selected).to_be_focused()
    await ana.screenshot(path=artifacts / "a11y-8-j-k-focus.png")


# The focused element's ring colour (its outline's), and the first colour behind it (the
# outline is drawn around the element, on its parent's background).
RING_AND_BEHIND = """e => {
  const ring = getComputedStyle(e).outlineColor;
  let n = e.parentElement, bg = 'rgb(255, 255, 255)';
  while (n) {
    const c = getComputedStyle(n).backgroundColor;
    if (c && c !== 'transparent' && !/, 0\\)$/.test(c)) { bg = c; break; }
    n = n.parentElement;
  }
  return [e.matches(':focus-visible'), getComputedStyle(e).outlineStyle, ring, bg];
}"""


def luminance(css: str) -> float:
    channels = [int(x) / 255 for x in re.findall(r"\d+", css)[:3]]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


async def test_the_focus_ring_can_be_seen_in_both_themes(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """The focus ring has 3:1 contrast at least against what is around it (WCAG 1.4.11): the
    amber one was 1.6:1 on white; the light theme's is darker, the dark theme keeps the amber."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_ring01", "r0", "hello")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    await expect(ana.locator("#messages li.msg")).to_have_count(1)
    for theme in ("light", "dark"):
        await ana.get_by_role("button", name="Settings").click()
        await ana.locator("#opt-theme").select_option(theme)
        await ana.keyboard.press("Escape")
        await expect(ana.locator("html")).to_have_attribute("data-theme", theme)
        for target in ("#list .item.active button", "#tab-queue", "#settings-button", "#claim",
                       "#snooze", "#reply-input"):
            await ana.locator(target).focus()
            # Found, focused again and measured in one call in the page: an inbox update that
            # drew the list again between finding the element and measuring it left the one
            # measured detached (no style at all), under load in CI.
            shown, style, ring, behind = await ana.evaluate(
                f"sel => {{ const e = document.querySelector(sel); e.focus(); "
                f"return ({RING_AND_BEHIND})(e); }}", target)
            assert shown and style == "solid", (theme, target, shown, style)
            ratio = contrast(ring, behind)
            assert ratio >= 3, (theme, target, ring, behind, ratio)
        await ana.locator("#claim").focus()
        await ana.screenshot(path=artifacts / f"a11y-9-focus-ring-{theme}.png")


# How far from the left of an element its text's first character is.
FIRST_CHARACTER_FROM_THE_LEFT = """e => {
  const r = document.createRange(); r.setStart(e.firstChild, 0); r.setEnd(e.firstChild, 1);
  return r.getBoundingClientRect().left - e.getBoundingClientRect().left;
}"""

# Desktop notifications, recorded (title, body) with the tab taken as hidden.
RECORD_NOTIFICATIONS = """
window.shown = [];
window.Notification = class { constructor(title, o) { window.shown.push([title, o.body]); } };
window.Notification.permission = 'granted';
Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'});
localStorage.setItem('livechat:prefs', JSON.stringify({desktop: true}));
localStorage.setItem('livechat:panel-language', 'he');
"""


async def test_names_in_notices_keep_their_direction(browser: Browser, desk: Desk,  # noqa: F811
                                                     artifacts: Path) -> None:
    """In a Hebrew panel "Maria Silva (Acme Inc.)" keeps its brackets where she put them in the
    notice line (a <bdi>), in a desktop notification (plain text: between U+2068 and U+2069)
    and in "Assigned to {name}" (an agent's name, a <bdi> too)."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_maria1", "m0", "Where is my order?")
        await store.set_visitor_profile(desk.site_id, "vis_maria1", "Maria Silva (Acme Inc.)",
                                        "maria@acme.example")
        await store.append_visitor_message(desk.site_id, "vis_other1", "o0", "hello?")
    context = await browser.new_context(viewport={"width": 1400, "height": 860})
    await context.add_init_script(RECORD_NOTIFICATIONS)
    ana = await context.new_page()
    await ana.goto(f"{desk.chat.http}/agent")
    await expect(ana.locator("html")).to_have_attribute("dir", "rtl")
    await ana.locator("#email").fill("ana@acme.test")
    await ana.locator("#password").fill(PASSWORD)
    await ana.locator("#password").press("Enter")
    await ana.locator("#list .item button", has_text="Maria Silva").click()
    await ana.locator("#snooze").click()
    await ana.locator("#snooze-menu [data-snooze=tomorrow]").click()
    await expect(ana.locator("#count-snoozed")).to_have_text("1")
    await ana.locator("#list .item button").first.click()
    await expect(ana.locator("#conv-title")).to_have_text("מבקר OTHE")
    desk.clock.write_text(str(2 * 24 * 3600))
    await expect(ana.locator("#count-snoozed")).to_have_text("0", timeout=15000)
    name = ana.locator("#notice-text bdi")
    await expect(name).to_have_text("Maria Silva (Acme Inc.)")
    await expect(name).to_have_css("direction", "ltr")
    # (It reads as she wrote it: its first character at the left of its box.)
    assert await name.evaluate(FIRST_CHARACTER_FROM_THE_LEFT) < 1
    await ana.screenshot(path=artifacts / "a11y-10-hebrew-notice.png")
    await ana.locator("#notice").screenshot(path=artifacts / "a11y-10-hebrew-notice-line.png")
    shown = await ana.evaluate("window.shown")
    assert ["חזרה מדחייה", "\u2068Maria Silva (Acme Inc.)\u2069"] in shown, shown

    # Claimed by an agent with a left-to-right name: "Assigned to {name}" isolates it.
    async with open_store(desk.chat.db) as store:
        await store.create_agent("kim@acme.test", "Kim (Support)", hash_password(PASSWORD),
                                 "agent", [desk.site_id])
    kim = await sign_in(browser, desk.chat.http, "kim@acme.test")
    await kim.locator("#list .item button", has_text="hello?").click()
    await kim.get_by_role("button", name="Claim").click()
    assigned = ana.locator("#conv-status bdi")
    await expect(assigned).to_have_text("Kim (Support)")
    await expect(assigned).to_have_css("direction", "ltr")
    assert await assigned.evaluate(FIRST_CHARACTER_FROM_THE_LEFT) < 1
    await ana.locator("#conv-status").screenshot(path=artifacts / "a11y-10-hebrew-status.png")
    await ana.screenshot(path=artifacts / "a11y-10-hebrew-assigned.png")
    # And in the list's line under it ("All open"), with the team's name and tags: before, the
    # agent's name was a bare text node, its brackets turned by the panel's direction.
    await ana.locator("#tab-open").click()
    who = ana.locator("#list .item", has_text="hello?").locator(".who bdi")
    await expect(who).to_have_text("Kim (Support)")
    await expect(who).to_have_css("direction", "ltr")
    assert await who.evaluate(FIRST_CHARACTER_FROM_THE_LEFT) < 1

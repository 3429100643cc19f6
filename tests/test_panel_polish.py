"""The agent panel's rough edges, in a real Chromium: the visitor's pages update while the
conversation is open, the notice never covers a message, a long "Came from" address stays on one
line, placeholders do not look like values, the panel in Greek and right to left, the dark
theme, and an agent's own picture. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import open_widget, png
from tests.test_panel_browser import (  # noqa: F401 — fixtures
    Desk,
    axe_violations,
    browser,
    desk,
    sign_in,
)

pytestmark = pytest.mark.browser
REFERRER = ("https://www.search.example/results?q=waterproof+trail+running+shoes+size+46"
            "&source=hp&ei=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789")


async def visitor_writes(browser: Browser, desk: Desk, text: str,  # noqa: F811
                         referer: str | None = None) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(desk.page_url, referer=referer)
    frame = await open_widget(page)
    await frame.get_by_label("Message", exact=True).fill(text)
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    return page


async def test_the_context_column_and_the_notice(browser: Browser, desk: Desk,  # noqa: F811
                                                 artifacts: Path) -> None:
    visitor = await visitor_writes(browser, desk, "Do you have size 46?", referer=REFERRER)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item button").first.click()
    await expect(ana.locator("#pages li")).to_have_count(1)

    # "Came from": one line, shortened at its end; the whole address in the link and tooltip.
    came = ana.locator("#visitor-facts .url")
    await expect(came).to_have_attribute("href", REFERRER)
    await expect(came).to_have_attribute("title", REFERRER)
    lines = await came.evaluate(
        "a => Math.round(a.getBoundingClientRect().height / parseFloat(getComputedStyle(a)"
        ".lineHeight))")
    assert lines == 1
    assert await came.evaluate("a => a.scrollWidth > a.clientWidth")  # shortened, not wrapped

    # The visitor goes on to another page: the panel shows it without reopening anything.
    await visitor.goto(desk.page_url + "?page=tents")
    await expect(ana.locator("#pages li")).to_have_count(2)
    await expect(ana.locator("#pages li").first).to_contain_text("current")
    assert "page=tents" in (await ana.locator("#pages li a").first.get_attribute("href") or "")

    # A new conversation arrives while this one is open: the notice has its own line above the
    # messages and covers none of them; it can be dismissed.
    await visitor_writes(browser, desk, "Hello? Anyone?")
    notice = ana.locator("#notice")
    await expect(notice).to_contain_text("New conversation")
    box = await notice.bounding_box()
    first = await ana.locator("#messages li").first.bounding_box()
    messages = await ana.locator("#messages").bounding_box()
    assert box and first and messages
    assert box["y"] + box["height"] <= messages["y"] + 0.5, (box, messages)
    assert box["y"] + box["height"] <= first["y"], (box, first)
    await ana.screenshot(path=artifacts / "40-panel-notice-and-context.png")
    await ana.get_by_role("button", name="Dismiss").click()
    await expect(notice).to_be_hidden()


async def test_the_notice_hides_no_message(browser: Browser, desk: Desk,  # noqa: F811
                                           artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(desk.page_url)
    frame = await open_widget(visitor)
    composer = frame.get_by_label("Message", exact=True)
    for n in range(1, 26):
        await composer.fill(f"Line {n} of a long story about a broken tent pole")
        await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(25)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item button").first.click()
    newest = ana.locator("#messages li").last
    await expect(newest).to_contain_text("Line 25")
    await expect(newest).to_be_in_viewport(ratio=1)
    # The yellow notice of a new conversation takes room above the messages: the newest one,
    # which the agent was reading, stays whole in view, and so does every other it showed.
    await visitor_writes(browser, desk, "Hello? Anyone?")
    await expect(ana.locator("#notice")).to_contain_text("New conversation")
    await expect(newest).to_be_in_viewport(ratio=1)
    notice = await ana.locator("#notice").bounding_box()
    box = await ana.locator("#messages").bounding_box()
    assert notice and box and notice["y"] + notice["height"] <= box["y"] + 0.5
    await ana.screenshot(path=artifacts / "45-panel-notice-long-conversation.png")


async def test_placeholders_do_not_look_like_values(browser: Browser, desk: Desk,  # noqa: F811
                                                    artifacts: Path) -> None:
    root = await sign_in(browser, desk.chat.http, "root@acme.test")
    await root.get_by_role("button", name="Manage").click()
    await root.get_by_role("button", name="Edit Acme Outdoor").click()
    hours = root.locator("#site-form").get_by_label("Business hours")
    await expect(hours).to_have_value("")
    style = await hours.evaluate(
        "i => { const v = getComputedStyle(i), p = getComputedStyle(i, '::placeholder');"
        " return [v.fontWeight, p.fontWeight, p.fontStyle, v.color, p.color]; }")
    value_weight, placeholder_weight, placeholder_style, value_colour, placeholder_colour = style
    assert value_weight == "400" and placeholder_weight == "400", style
    assert placeholder_style == "italic" and placeholder_colour != value_colour, style
    label_weight = await root.locator("#site-form label").first.evaluate(
        "l => getComputedStyle(l).fontWeight")
    assert label_weight == "600"
    await root.screenshot(path=artifacts / "41-manage-placeholders.png", full_page=True)


async def test_the_panel_in_greek_dark_and_with_a_picture(browser: Browser,  # noqa: F811
                                                          desk: Desk,  # noqa: F811
                                                          artifacts: Path,
                                                          tmp_path: Path) -> None:
    await visitor_writes(browser, desk, "Is the Summit Tent waterproof?")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.get_by_role("button", name="Settings").click()
    # Her own picture, which visitors will see.
    picture = tmp_path / "ana.png"
    picture.write_bytes(png(80, 80))
    await ana.locator("#avatar-file").set_input_files(picture)
    mine = ana.locator("#me-avatar img")
    await expect(mine).to_have_attribute("src", re.compile(r"^/avatars/\w+\?v=\d+$"))
    await expect(ana.get_by_role("button", name="Remove")).to_be_visible()
    assert await mine.evaluate(
        "i => i.decode().then(() => i.naturalWidth)") == 80  # hers, not the initials
    # Greek, chosen by the agent and remembered; the open conversation is drawn again in it.
    await ana.locator(".item button").first.click()
    await expect(ana.locator("#context")).to_contain_text("Browser")
    await ana.get_by_label("Language").select_option("el")
    await expect(ana.get_by_role("button", name="Εισερχόμενα")).to_be_visible()
    await expect(ana.locator("#context")).to_contain_text("Πρόγραμμα περιήγησης")
    await expect(ana.locator("html")).to_have_attribute("lang", "el")
    await ana.reload()
    await expect(ana.locator("#conn")).to_have_text("Σε σύνδεση")
    await expect(ana.get_by_role("tab", name=re.compile("^Ουρά"))).to_be_visible()
    await ana.locator(".item button").first.click()
    await ana.get_by_role("button", name="Ανάληψη").click()
    await expect(ana.locator("#conv-status")).to_have_text("Ανατέθηκε σε εσάς")
    await ana.get_by_label("Απάντηση", exact=True).fill("Ναι, είναι αδιάβροχη!")
    await ana.get_by_label("Απάντηση", exact=True).press("Enter")
    await expect(ana.locator("#messages .msg.agent:not(.pending) .meta img.avatar")
                 ).to_have_count(1)
    await ana.screenshot(path=artifacts / "42-panel-greek.png")
    assert await axe_violations(ana, "no frames") == []
    # Dark, by choice.
    await ana.get_by_role("button", name="Ρυθμίσεις").click()
    await ana.locator("#settings").get_by_label("Χρώματα").select_option("dark")
    await ana.keyboard.press("Escape")
    background = await ana.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(16, 19, 22)"
    await ana.screenshot(path=artifacts / "43-panel-dark.png")
    assert await axe_violations(ana, "no frames") == []
    # Hebrew: right to left.
    await ana.get_by_role("button", name="Ρυθμίσεις").click()
    await ana.locator("#settings").get_by_label("Γλώσσα").select_option("he")
    await expect(ana.locator("html")).to_have_attribute("dir", "rtl")
    await ana.keyboard.press("Escape")
    await ana.screenshot(path=artifacts / "44-panel-hebrew-dark.png")


async def test_a_conversation_of_a_site_taken_from_me_closes(browser: Browser, desk: Desk,  # noqa: F811
                                                            artifacts: Path) -> None:
    """A black-box tester's: an agent an admin took off a site kept that site's conversation on
    screen, its notes, the visitor's email and a composer that answered "no such
    conversation". It closes, saying why."""
    from tests.live import ADMIN_EMAIL, login
    from tests.test_admin import call

    await visitor_writes(browser, desk, "My order 1234 never arrived")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item", has_text="order 1234").locator("button").click()
    await expect(ana.locator("#conversation")).to_be_visible()
    root = await login(desk.chat, ADMIN_EMAIL)
    other = await call(desk.chat, "POST", "/api/admin/sites", root, {"name": "Other shop"})
    agents = (await call(desk.chat, "GET", "/api/admin/agents", root)).json()["agents"]
    ana_id = next(a["id"] for a in agents if a["name"] == "Ana Lima")
    moved = await call(desk.chat, "PATCH", f"/api/admin/agents/{ana_id}", root,
                       {"sites": [other.json()["site"]["id"]]})
    assert moved.status_code == 200, moved.text
    await expect(ana.locator("#conversation")).to_be_hidden()
    await expect(ana.locator("#empty")).to_have_text(
        "You no longer have access to that conversation.")
    await expect(ana.locator("#messages li")).to_have_count(0)
    await expect(ana.locator("#list .item", has_text="order 1234")).to_have_count(0)
    await ana.screenshot(path=artifacts / "panel-conversation-taken-away.png")


async def test_a_shared_response_an_admin_saves_is_offered_at_once(
        browser: Browser, desk: Desk) -> None:  # noqa: F811
    """A black-box tester's: a shared canned response saved on the admin's Manage page reached
    open panels only at a reload, and "/hours" went to the visitor as typed."""
    from tests.live import ADMIN_EMAIL

    await visitor_writes(browser, desk, "When are you open?")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    root = await sign_in(browser, desk.chat.http, ADMIN_EMAIL)
    await root.get_by_role("button", name="Manage").click()
    form = root.locator("#canned-form")
    await form.get_by_label("Shortcut").fill("hours")
    await form.get_by_label("Text").fill("We're open from 9 to 17.")
    await form.get_by_label("Shared with every agent of the site").check()
    await form.get_by_role("button", name="Save").click()
    await expect(root.locator("#admin-canned")).to_contain_text("hours")

    await ana.locator(".item", has_text="When are you open").locator("button").click()
    reply = ana.get_by_label("Reply", exact=True)
    await reply.press_sequentially("/ho")
    await expect(ana.locator("#canned-picker .option")).to_have_count(1)
    await reply.press("Enter")
    await expect(reply).to_have_value("We're open from 9 to 17.")

"""The agent panel in a real headless Chromium: two agents and a visitor in separate browser
contexts (claim, notes that never reach the visitor, a canned reply with a placeholder, tags,
transfer with a note, search, snooze woken by a clock the test moves), an admin creating a site
and inviting an agent, and the reports on a fixed data set. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from server.auth import hash_password
from tests.browser import (  # noqa: F401 — the browser fixture
    axe_violations,
    browser,
    open_widget,
    sign_in_page,
)
from tests.live import (
    ADMIN_EMAIL,
    PASSWORD,
    Seed,
    ServerProcess,
    customer_page,
    free_port,
    open_store,
    serving,
)
from tests.test_reports import reporting  # noqa: F401 — the reports' fixed data set

pytestmark = pytest.mark.browser


class Desk:
    def __init__(self, chat: ServerProcess, page_url: str, site_id: str, clock: Path) -> None:
        self.chat, self.page_url, self.site_id, self.clock = chat, page_url, site_id, clock


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """A site with Ana and Bo (agents) and Root (admin); the server's clock can be moved."""
    import asyncio

    db = tmp_path / "chat.db"
    clock = tmp_path / "clock-offset"
    clock.write_text("0")
    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"

    async def seed() -> str:
        async with open_store(db) as store:
            site = await store.create_site("Acme Outdoor", [page_origin])
            await store.set_site_profile(site.id, offline="chat")
            secret = hash_password(PASSWORD)
            ana = await store.create_agent("ana@acme.test", "Ana Lima", secret, "agent",
                                           [site.id])
            await store.create_agent("bo@acme.test", "Bo Reis", secret, "agent", [site.id])
            await store.create_agent(ADMIN_EMAIL, "Root Admin", secret, "admin", [])
            await store.save_canned(ana, [site.id], None, site.id, "hi",
                                    "Hi {{visitor.first_name}}, I'm {{agent.first_name}}. "
                                    "How can I help?", False)
            return site.id

    site_id = asyncio.run(seed())
    chat = ServerProcess(db, env={"LIVECHAT_CLOCK_OFFSET_FILE": str(clock),
                                  "LIVECHAT_ROUTING_INTERVAL": "0.3"}).start()
    try:
        with customer_page(db, chat, site_id, page_port) as page_url:
            yield Desk(chat, page_url, site_id, clock)
    finally:
        chat.stop()
    assert "Traceback" not in chat.log(), chat.log()


async def sign_in(browser: Browser, url: str, email: str) -> Page:  # noqa: F811
    context = await browser.new_context(viewport={"width": 1400, "height": 860},
                                        timezone_id="UTC")
    return await sign_in_page(await context.new_page(), url, email)


async def test_two_agents_and_a_visitor(browser: Browser, desk: Desk,  # noqa: F811
                                        artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(desk.page_url)
    await visitor.evaluate("LiveChat('set', {attributes: {plan: 'pro', order: 'A-1042'}})")
    frame = await open_widget(visitor)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("My tent pole snapped on the first night")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)

    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await expect(ana.locator("#count-queue")).to_have_text("1")
    await ana.locator(".item button").first.click()
    # The visitor's context: the page they are on, their browser, the site's attributes.
    await expect(ana.locator("#pages li").first).to_contain_text("Acme Outdoor — demo shop")
    await expect(ana.locator("#visitor-facts")).to_contain_text("Chrome on Linux")
    await expect(ana.locator("#visitor-details")).to_contain_text("order: A-1042")
    await ana.get_by_role("button", name="Claim").click()
    await expect(ana.locator("#conv-status")).to_have_text("Assigned to you")

    # A canned reply: /hi, the placeholder filled in, editable before sending.
    reply = ana.get_by_label("Reply", exact=True)
    await reply.press_sequentially("/h")
    await expect(ana.locator("#canned-picker .option")).to_have_count(1)
    await reply.press("Enter")
    await expect(reply).to_have_value("Hi there, I'm Ana. How can I help?")
    await reply.press("End")
    await reply.press_sequentially(" Sorry about the pole!")
    await reply.press("Enter")
    await expect(frame.locator(".msg.theirs[data-seq] .text")).to_have_text(
        "Hi there, I'm Ana. How can I help? Sorry about the pole!")

    # An internal note: agents see it, the visitor never does.
    await ana.get_by_label("Internal note").check()
    await reply.fill("Customer since 2019 — offer a free replacement")
    await reply.press("Enter")
    await expect(ana.locator("#messages .msg.note")).to_contain_text("offer a free replacement")
    # Tags.
    await ana.get_by_label("Add a tag").fill("Warranty")
    await ana.get_by_label("Add a tag").press("Enter")
    await expect(ana.locator("#tag-list .tag")).to_contain_text("warranty")
    await ana.screenshot(path=artifacts / "21-panel-note-tag-canned.png")
    assert await axe_violations(ana, "no frames") == []

    # Transfer to Bo, with a note for him.
    await ana.get_by_role("button", name="Transfer").click()
    await ana.get_by_label("Transfer to").select_option(label="Bo Reis")
    await ana.get_by_label("Note for them").fill("Replacement approved, ship today")
    # Its submit looks like a button (a black-box tester's: it was bare text, as the menu's
    # choices are), in the accent colour as Snooze's.
    submit = ana.locator("#transfer").get_by_role("button", name="Transfer")
    colours = await submit.evaluate(
        "b => [getComputedStyle(b).backgroundColor,"
        " getComputedStyle(document.querySelector('#snooze-form button')).backgroundColor]")
    assert colours[0] == colours[1] != "rgba(0, 0, 0, 0)", colours
    await submit.click()
    await expect(frame.locator(".notice").last).to_have_text("Bo Reis took over the conversation")
    # Bo is told (a black-box tester's: nothing said so), as of a new message of his.
    await expect(bo.locator("#list-status")).to_contain_text("Assigned to you: ")
    await bo.get_by_role("tab", name="Mine").click()
    await bo.locator(".item button").first.click()
    await expect(bo.locator("#messages .msg.note")).to_have_count(2)
    await expect(bo.locator("#messages .msg.note").last).to_contain_text("ship today")
    await expect(bo.locator("#messages .event").last).to_have_text("Transferred to Bo Reis")
    text = await frame.locator("body").inner_text()
    assert "free replacement" not in text and "ship today" not in text
    await visitor.screenshot(path=artifacts / "22-visitor-never-sees-notes.png")

    # Search finds the note; the tag filter finds the conversation.
    await bo.get_by_label("Search conversations").fill("replacement")
    await bo.get_by_label("Search conversations").press("Enter")
    await expect(bo.locator("#list .item")).to_have_count(1)
    await expect(bo.locator("#list .preview")).to_have_text("Replacement approved, ship today")
    await expect(bo.locator("#list .preview mark")).to_have_text("Replacement")
    await bo.get_by_role("tab", name="All open").click()
    await bo.get_by_label("Tag", exact=True).select_option("warranty")
    await expect(bo.locator("#list .item")).to_have_count(1)
    await bo.get_by_label("Tag", exact=True).select_option("")

    # Snooze until tomorrow: out of the inbox, then back when the (server's) time comes.
    await bo.get_by_role("button", name="Snooze").click()
    # Its date picker offers what the server takes, from now to 365 days ahead (before, any
    # year, which the server now refuses); a later date is not sent.
    picker = bo.get_by_label("Until", exact=True)
    early, late = await picker.evaluate(
        "i => [new Date(i.min) - Date.now(), new Date(i.max) - Date.now()]")
    year = 365 * 24 * 3600 * 1000
    assert 0 < early <= 60_000 and year - 60_000 < late <= year, (early, late)
    await picker.fill("2100-01-01T09:00")
    await bo.locator("#snooze-form button[type=submit]").click()
    assert await picker.evaluate("i => i.validity.rangeOverflow")
    await bo.get_by_role("button", name="Tomorrow, 9:00").click()
    await expect(bo.locator("#count-snoozed")).to_have_text("1")
    await expect(bo.locator("#count-mine")).to_have_text("0")
    await bo.get_by_role("tab", name="Snoozed").click()
    await bo.screenshot(path=artifacts / "23-panel-snoozed.png")
    desk.clock.write_text(str(2 * 24 * 3600))
    await expect(bo.locator("#count-mine")).to_have_text("1", timeout=15000)
    await expect(bo.locator("#count-snoozed")).to_have_text("0")
    await expect(bo.locator("#notice")).to_contain_text("Back from snooze")

    # Keyboard: e resolves the open conversation; the visitor is asked for a rating.
    await bo.locator("#messages").click()
    await bo.keyboard.press("e")
    await expect(bo.locator("#conv-status")).to_contain_text("Resolved")
    await expect(frame.get_by_role("radio", name="5 out of 5")).to_be_visible()
    await bo.screenshot(path=artifacts / "24-panel-resolved.png")


async def test_admin_creates_a_site_and_invites_an_agent(browser: Browser,  # noqa: F811
                                                         desk: Desk, artifacts: Path) -> None:
    root = await sign_in(browser, desk.chat.http, "root@acme.test")
    await root.get_by_role("button", name="Manage").click()
    await root.get_by_label("New site").fill("Acme Bikes")
    await root.get_by_role("button", name="Create site").click()
    site_form = root.locator("#site-form")
    await expect(site_form.get_by_label("Name", exact=True)).to_have_value("Acme Bikes")
    await site_form.get_by_label("Allowed origins").fill("https://bikes.acme.test")
    await site_form.get_by_label("Greeting").fill("Ride on! What can we do for you?")
    await site_form.get_by_label("Business hours").fill("mon-fri 09:00-18:00")
    await site_form.get_by_label("Time zone").fill("Europe/Lisbon")
    await site_form.get_by_role("button", name="Save site").click()
    await expect(site_form.locator(".secret")).to_have_text("Saved.")
    await expect(root.locator("#admin-sites")).to_contain_text("https://bikes.acme.test")

    invite = root.locator("#agent-invite")
    await invite.get_by_label("Name", exact=True).fill("Cy Dias")
    await invite.get_by_label("Email", exact=True).fill("cy@acme.test")
    await invite.get_by_label("Acme Bikes").check()
    await invite.get_by_role("button", name="Invite").click()
    link_text = invite.locator(".secret")
    await expect(link_text).to_contain_text("/agent#invite=")
    await root.screenshot(path=artifacts / "25-admin-site-and-invite.png", full_page=True)
    assert await axe_violations(root, "no frames") == []
    link = (await link_text.inner_text()).split(": ", 1)[1].strip()

    newcomer = await (await browser.new_context()).new_page()
    await newcomer.goto(link)
    await newcomer.get_by_label("New password").fill("a long new password")
    await newcomer.get_by_role("button", name="Set password and sign in").click()
    await expect(newcomer.locator("#conn")).to_have_text("Online")
    await expect(newcomer.locator("#me-name")).to_have_text("Cy Dias")

    # Deactivated: the newcomer's panel is signed out at once, and says so (a black-box
    # tester's: a bare sign-in form, without a word).
    await root.get_by_role("button", name="Deactivate Cy Dias").click()
    await expect(newcomer.locator("#login-form")).to_be_visible()
    await expect(newcomer.locator("#login-error")).to_have_text(
        "You were signed out. Sign in again to go on.")


@pytest.fixture
def report_desk(reporting: tuple[Path, Seed]) -> Iterator[ServerProcess]:  # noqa: F811
    with serving(reporting[0]) as proc:
        yield proc


async def test_reports_show_the_right_numbers(browser: Browser,  # noqa: F811
                                              report_desk: ServerProcess,
                                              artifacts: Path) -> None:
    root = await sign_in(browser, report_desk.http, "root@acme.test")
    await root.get_by_role("button", name="Reports").click()
    await root.get_by_label("From", exact=True).fill("2026-11-01")
    await root.get_by_label("To", exact=True).fill("2026-11-03")
    await root.get_by_role("button", name="Show").click()
    tiles = root.locator("#report-tiles")
    await expect(tiles.locator(".tile").nth(0)).to_have_text("Conversations5")
    await expect(tiles.locator(".tile").nth(1)).to_have_text("Missed1")
    await expect(tiles.locator(".tile").nth(2)).to_have_text("First response, median1 min 50 s")
    await expect(tiles.locator(".tile").nth(3)).to_have_text("First response, 90th pct8 min")
    await expect(tiles.locator(".tile").nth(4)).to_have_text("Resolution, median10 min")
    await expect(tiles.locator(".tile").nth(7)).to_have_text(
        "Satisfaction3.67 / 5 (66.7% happy, 3 ratings)")
    await expect(root.locator("#report-chart rect.bar:not(.missed)")).to_have_count(3)
    href = await root.locator("#report-csv").get_attribute("href")
    assert href is not None and "format=csv" in href and "from=2026-11-01" in href
    await root.screenshot(path=artifacts / "26-reports.png", full_page=True)
    assert await axe_violations(root, "no frames") == []


@pytest.fixture
def bot_desk(tmp_path: Path) -> Iterator[ServerProcess]:
    """The day of a site with a bot (tests/test_reports_bots.py), on a server."""
    import asyncio

    from tests.live import add_admin, seed
    from tests.test_reports_bots import DAY, play

    db, now = tmp_path / "chat.db", [DAY / 1000]

    async def write() -> None:
        seeded = await seed(db)
        await add_admin(db)
        async with open_store(db, clock=lambda: now[0]) as store:
            await play(store, now, site_id=seeded.site_id)

    asyncio.run(write())
    with serving(db) as proc:
        yield proc


async def test_reports_show_the_team_and_the_bot_apart(browser: Browser,  # noqa: F811
                                                       bot_desk: ServerProcess,
                                                       artifacts: Path) -> None:
    """The team's tiles are people's (the bot answered each of its conversations within 5 s:
    that is not the first response); the bot's are in a section of their own; the agent filter
    lists people only."""
    root = await sign_in(browser, bot_desk.http, "root@acme.test")
    await root.get_by_role("button", name="Reports").click()
    await root.get_by_label("From", exact=True).fill("2026-03-02")
    await root.get_by_label("To", exact=True).fill("2026-03-02")
    await root.get_by_role("button", name="Show").click()
    tiles = root.locator("#report-tiles .tile")
    await expect(tiles).to_have_text([
        "Conversations6", "Missed1", "First response, median1 min 30 s",
        "First response, 90th pct2 min", "Resolution, median10 min 50 s",
        "Resolution, 90th pct11 min 40 s", "Wait in queue, median1 min",
        "Satisfaction4.5 / 5 (100% happy, 2 ratings)"])
    bots = root.get_by_role("region", name="Bots")
    await expect(bots).to_be_visible()
    await expect(bots.locator(".tile")).to_have_text([
        "Answered first by a bot5", "Handled by a bot alone2", "Resolved without a person1",
        "Handed to a person3", "Bot satisfaction2 / 5 (0% happy, 1 rating)"])
    # (Ava, the bot, is an agent account of the site: not in the filter.)
    await expect(root.locator("#report-agent option")).to_have_text(
        ["All agents", "Ana", "Bo", "Oz", "Root"])
    await root.screenshot(path=artifacts / "27-reports-bots.png", full_page=True)
    assert await axe_violations(root, "no frames") == []
    # A period without the bot: no Bots section.
    await root.get_by_label("From", exact=True).fill("2026-03-03")
    await root.get_by_label("To", exact=True).fill("2026-03-03")
    await root.get_by_role("button", name="Show").click()
    await expect(tiles.nth(0)).to_have_text("Conversations0")
    await expect(bots).to_be_hidden()
    # In another language, the section's words follow.
    await root.get_by_label("From", exact=True).fill("2026-03-02")
    await root.get_by_role("button", name="Show").click()
    await root.get_by_role("button", name="Settings").click()
    await root.get_by_label("Language").select_option("pt")
    await root.keyboard.press("Escape")
    await expect(root.locator("#bot-report-title")).to_have_text("Bots")
    await expect(root.locator("#bot-tiles .tile").nth(1)).to_have_text(
        "Tratadas só por um bot2")
    await root.screenshot(path=artifacts / "28-reports-bots-pt.png", full_page=True)


# The page is told its tab is hidden, and Notification records instead of showing.
HIDDEN_TAB = """
Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
window.shown = [];
window.Notification = class {
  constructor(title, options) { window.shown.push([title, options.body]); }
  static get permission() { return 'granted'; }
  static requestPermission() { return Promise.resolve('granted'); }
};
"""


async def test_notifications_and_automatic_away(browser: Browser,  # noqa: F811
                                                 desk: Desk) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 860})
    await context.add_init_script(HIDDEN_TAB)
    ana = await context.new_page()
    await ana.clock.install()
    await sign_in_page(ana, desk.chat.http, "ana@acme.test")
    await ana.get_by_role("button", name="Settings").click()
    await ana.get_by_label("Desktop notifications").check()

    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(desk.page_url)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message", exact=True).fill("Is anyone there?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(ana).to_have_title("(1) Live chat — agent panel")
    name = await ana.locator(".item .name").inner_text()
    # (The visitor's name and words isolated, in their own direction: U+2068 … U+2069.)
    assert await ana.evaluate("window.shown") == [
        ["New conversation", f"\u2068{name}\u2069: \u2068Is anyone there?\u2069"]]

    # Ten idle minutes: away by itself (not offered conversations); back on the next move.
    await ana.clock.fast_forward("10:01")
    await expect(ana.locator("#away")).to_have_text("Away")
    await ana.mouse.move(200, 300)
    await ana.mouse.move(220, 320)
    await expect(ana.locator("#away")).to_have_text("Available")


async def test_replies_reach_a_returning_visitor_on_every_page(browser: Browser,  # noqa: F811
                                                                desk: Desk) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(desk.page_url)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message", exact=True).fill("Do you have the tent in green?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item button").first.click()
    await ana.get_by_role("button", name="Claim").click()

    # The visitor goes on to another page without opening the chat: once the page is idle the
    # chat frame connects (hidden, without taking focus), so the reply is announced there.
    await visitor.goto(desk.page_url + "?page=tents")
    hidden = visitor.frame_locator("iframe[title=Chat]")
    await expect(hidden.locator("html[data-state=online]")).to_have_count(1)
    assert await visitor.evaluate("document.activeElement === document.body")
    await ana.get_by_label("Reply", exact=True).fill("Yes, in forest green!")
    await ana.get_by_label("Reply", exact=True).press("Enter")
    await expect(visitor.get_by_role("button", name="Open chat, 1 unread")).to_be_visible()
    await expect(visitor).to_have_title(re.compile(r"^\(1\) "))
    # The agent sees where the visitor went.
    await ana.get_by_role("tab", name="Mine").click()
    await ana.locator(".item button").first.click()
    await expect(ana.locator("#pages li").first).to_contain_text("current")
    await expect(ana.locator("#pages li")).to_have_count(2)
    assert "page=tents" in (await ana.locator("#pages li a").first.get_attribute("href") or "")

    # Unread survives a page load until read; reading it clears it everywhere.
    await visitor.reload()
    await expect(visitor.get_by_role("button", name="Open chat, 1 unread")).to_be_visible()
    await visitor.get_by_role("button", name="Open chat, 1 unread").click()
    await expect(visitor.frame_locator("iframe[title=Chat]").locator(".msg.theirs[data-seq]")
                 ).to_have_count(1)
    await visitor.get_by_role("button", name="Close chat").click()
    await expect(ana.locator("#messages .msg.agent .seen")).to_have_text(" · Seen")
    await visitor.reload()
    launcher = visitor.get_by_role("button", name="Open chat")
    await expect(visitor.frame_locator("iframe[title=Chat]").locator("html[data-state=online]")
                 ).to_have_count(1)
    await expect(launcher).to_have_accessible_name("Open chat")


async def test_a_long_conversation_the_keyboard_and_who_may_resolve(
        browser: Browser, desk: Desk) -> None:  # noqa: F811
    """Opening a conversation with 60 unseen messages sends one "seen" (not one per message,
    which the socket's rate limit answered "slow down"), and the "N new" it had clears in
    every agent's list at once, not at their next reload; j and k keep moving through the
    list; Resolve is offered only to whom the server lets resolve."""
    async with open_store(desk.chat.db) as store:  # (faster than the visitor's rate limit)
        for i in range(60):
            await store.append_visitor_message(desk.site_id, "vis_long", f"m{i}", f"message {i}")
        await store.append_visitor_message(desk.site_id, "vis_short", "s0", "a short one")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await expect(bo.locator(".item .unread")).to_have_text(["60 new", "1 new"])
    await ana.locator(".item button").first.click()
    await expect(ana.locator("#messages li.msg").last).to_contain_text("message 59")
    await expect(bo.locator(".item .unread")).to_have_text(["1 new"])
    assert "slow down" not in await ana.locator("body").inner_text()
    # j and k go on moving through the list (opening one must not leave them in the reply box),
    # and a note begun in one conversation does not make the next one's reply a note.
    await ana.keyboard.press("Escape")
    await ana.keyboard.press("n")
    await expect(ana.locator("input[name=mode][value=note]")).to_be_checked()
    await ana.keyboard.press("Escape")
    for key, shown in (("j", "a short one"), ("k", "message 59"), ("j", "a short one")):
        await ana.keyboard.press(key)
        await expect(ana.locator("#messages li.msg").last).to_contain_text(shown)
        await expect(ana.locator("input[name=mode][value=reply]")).to_be_checked()
    await expect(ana.locator("#reply-input")).to_have_value("")
    # Ana claims the short one: Bo, no admin, is not offered to resolve it (the server would
    # refuse him); she is.
    await ana.keyboard.press("c")
    await expect(ana.locator("#conv-status")).to_contain_text("Assigned to you")
    await expect(ana.get_by_role("button", name="Resolve")).to_be_visible()
    await bo.get_by_role("tab", name="All open").click()
    short = bo.locator(".item", has_text="a short one")
    await expect(short).to_contain_text("Ana Lima")  # (Bo's list has her claim: drawn again)
    await short.locator("button").click()
    await expect(bo.locator("#messages li.msg").last).to_contain_text("a short one")
    await expect(bo.locator("#resolve")).to_be_hidden()


@pytest.mark.parametrize("width", [800, 1024, 1280])
async def test_narrow_windows_keep_the_actions_in_their_column(
        browser: Browser, desk: Desk, artifacts: Path, width: int) -> None:  # noqa: F811
    """The conversation's buttons stay inside its column at any width the panel is used at
    (at 800 px they lay over the visitor's column), and the settings fit the window's height."""
    async with open_store(desk.chat.db) as store:
        await store.append_visitor_message(desk.site_id, "vis_narrow", "n0", "hello there")
    context = await browser.new_context(viewport={"width": width, "height": 720})
    page = await sign_in_page(await context.new_page(), desk.chat.http, "ana@acme.test")
    await page.locator(".item button").first.click()
    await expect(page.locator("#messages li.msg").last).to_contain_text("hello there")
    column = await page.locator("#conversation").bounding_box()
    assert column is not None
    for control in await page.locator(".actions > :visible").all():
        box = await control.bounding_box()
        assert box is not None and box["x"] + box["width"] <= column["x"] + column["width"] + 1
    await page.screenshot(path=artifacts / f"25-panel-{width}px.png")
    # The settings fit a 720 px window (they scroll inside it; the page does not grow).
    await page.get_by_role("button", name="Settings").click()
    settings = await page.locator("#settings").bounding_box()
    assert settings is not None and settings["y"] + settings["height"] <= 720
    await context.close()

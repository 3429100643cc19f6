"""A note for a colleague ("@Ana Lima …"), in a real Chromium: picked with "@" in the note
composer, and the colleague told at once on their panel — the notice, "mentioned you" on the
conversation's line until they open it. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.live import PASSWORD
from tests.test_panel_browser import (  # noqa: F401 — fixtures
    Desk,
    browser,
    desk,
    sign_in,
)
from tests.test_panel_polish import visitor_writes

pytestmark = pytest.mark.browser


async def test_a_note_for_a_colleague_tells_them(browser: Browser, desk: Desk,  # noqa: F811
                                                 artifacts: Path) -> None:
    customer = await visitor_writes(browser, desk, "My order 1234 never arrived")
    await visitor_writes(browser, desk, "Do you sell gas canisters?")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await ana.locator(".item", has_text="gas canisters").locator("button").click()

    await bo.locator(".item", has_text="order 1234").locator("button").click()
    await bo.get_by_role("radio", name="Internal note").check()
    reply = bo.get_by_label("Reply", exact=True)
    await reply.press_sequentially("Refund done. @li")  # any word of the name
    picker = bo.get_by_role("listbox", name="Colleagues")
    await expect(picker.get_by_role("option")).to_have_text(["@Ana Lima"])  # (not Bo himself)
    await bo.screenshot(path=artifacts / "mention-picker.png")
    await reply.press("Enter")
    await expect(reply).to_have_value("Refund done. @Ana Lima ")
    await reply.press_sequentially("can you tell the customer?")
    await reply.press("Enter")
    await expect(bo.locator("#messages .msg.note")).to_have_count(1)

    # Ana, in another conversation: told, and the line says so until she opens it.
    # (Her colleague's name in its own direction, between U+2068 and U+2069.)
    await expect(ana.locator("#notice-text")).to_have_text(
        "\u2068Bo Reis\u2069 mentioned you: Refund done. @Ana Lima can you tell the customer?")
    line = ana.locator(".item", has_text="order 1234")
    await expect(line.locator(".mention")).to_have_text("mentioned you")
    await ana.screenshot(path=artifacts / "mention-told.png")
    await line.locator("button").click()
    await expect(ana.locator("#messages .msg.note")).to_contain_text(
        "Refund done. @Ana Lima can you tell the customer?")
    await expect(line.locator(".mention")).to_have_count(0)
    # Her Mentions view: the note, with who wrote it; a new one comes in on top, live.
    await ana.get_by_role("tab", name="Mentions").click()
    notes = ana.locator("#list .item")
    await expect(notes).to_have_count(1)
    await expect(notes.first).to_contain_text(
        "\u2068Bo Reis\u2069: Refund done. @Ana Lima can you tell the customer?")
    await reply.press_sequentially("Also @Ana")
    await reply.press("Enter")
    await reply.press_sequentially("the tracking number")
    await reply.press("Enter")
    await expect(notes).to_have_count(2)
    await expect(notes.first.locator(".preview")).to_have_text(
        "\u2068Bo Reis\u2069: Also @Ana Lima the tracking number")
    await ana.screenshot(path=artifacts / "mention-view.png")
    await notes.nth(1).locator("button").click()
    await expect(ana.locator("#messages .msg.note")).to_have_count(2)
    # The visitor (of the conversation with the note) sees none of it.
    frame = customer.frame_locator("iframe[title=Chat]")
    await expect(frame.locator(".msg.mine .body")).to_have_text(["My order 1234 never arrived"])
    await expect(frame.locator("body")).not_to_contain_text("Refund")


async def test_a_link_to_a_conversation_opens_it(browser: Browser, desk: Desk,  # noqa: F811
                                                 artifacts: Path) -> None:
    """``/agent#conversation=<id>`` (the emails to agents link so) opens the panel on that
    conversation once signed in, whether it is in the inbox or resolved, and leaves the
    address as ``/agent``."""
    from tests.live import open_store

    await visitor_writes(browser, desk, "Where is my parcel?")
    await visitor_writes(browser, desk, "Is the shop open on Sunday?")
    async with open_store(desk.chat.db) as store:
        rows = await store._all("SELECT id, last_message FROM conversations")
    ids = {row[1]: row[0] for row in rows}
    parcel, sunday = ids["Where is my parcel?"], ids["Is the shop open on Sunday?"]

    page = await (await browser.new_context(viewport={"width": 1400, "height": 860})).new_page()
    await page.goto(f"{desk.chat.http}/agent#conversation={sunday}")
    form = page.locator("#login-form")  # signed out: the link waits for the sign-in
    await form.get_by_label("Email").fill("bo@acme.test")
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#messages .msg")).to_contain_text(["Is the shop open on Sunday?"])
    await expect(page).to_have_url(f"{desk.chat.http}/agent")
    await page.get_by_role("button", name="Claim").click()
    await page.get_by_role("button", name="Resolve").click()
    await expect(page.locator(".item", has_text="open on Sunday")).to_have_count(0)

    # Resolved, so out of the inbox: opened all the same, in a new tab.
    again = await page.context.new_page()
    await again.goto(f"{desk.chat.http}/agent#conversation={sunday}")
    await expect(again.locator("#messages .msg")).to_contain_text(
        ["Is the shop open on Sunday?"])
    await expect(again.locator("#conversation")).to_contain_text("Resolved")
    await again.screenshot(path=artifacts / "panel-linked-resolved.png")
    # The address changed in an open panel (a link pasted), on another page of it.
    await again.get_by_role("button", name="Manage").click()
    await again.goto(f"{desk.chat.http}/agent#conversation={parcel}")
    await expect(again.locator("#messages .msg")).to_contain_text(["Where is my parcel?"])
    await expect(again.locator("#page-inbox")).to_be_visible()
    unknown = await page.context.new_page()  # no such conversation: told, nothing opened
    await unknown.goto(f"{desk.chat.http}/agent#conversation=conv_nothing")
    await expect(unknown.locator("#notice-text")).to_have_text("no such conversation")
    await expect(unknown.locator("#conversation")).to_be_hidden()


async def test_the_picker_follows_a_name_with_spaces(browser: Browser, desk: Desk,  # noqa: F811
                                                     artifacts: Path) -> None:
    """A black-box tester's: the picker closed at the first space, so "@Ana Lima S" could not
    find Ana Lima Souza, and Enter sent the note for Ana Lima; and "@bo reis" typed in lower
    case was nobody's."""
    from server.auth import hash_password
    from tests.live import open_store

    async with open_store(desk.chat.db) as store:
        await store.create_agent("souza@acme.test", "Ana Lima Souza", hash_password(PASSWORD),
                                 "agent", [desk.site_id])
    await visitor_writes(browser, desk, "My order 1234 never arrived")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await bo.locator(".item", has_text="order 1234").locator("button").click()
    await bo.get_by_role("radio", name="Internal note").check()
    reply = bo.get_by_label("Reply", exact=True)
    await reply.press_sequentially("Can you check, @Ana Lima S")
    picker = bo.get_by_role("listbox", name="Colleagues")
    await expect(picker.get_by_role("option")).to_have_text(["@Ana Lima Souza"])
    await bo.screenshot(path=artifacts / "mention-picker-spaces.png")
    await reply.press("Enter")
    await expect(reply).to_have_value("Can you check, @Ana Lima Souza ")
    await reply.press_sequentially("and @ana lima too?")  # typed, in lower case
    await expect(picker).to_be_hidden()
    await reply.press("Enter")
    await expect(bo.locator("#messages .msg.note")).to_have_count(1)
    await expect(ana.locator("#notice-text")).to_contain_text("mentioned you")
    async with open_store(desk.chat.db) as store:
        rows = await store._all("SELECT data FROM messages WHERE kind = 'note'")
        souza = await store.agent_by_email("souza@acme.test")
        lima = await store.agent_by_email("ana@acme.test")
    assert souza and lima
    assert sorted(json.loads(rows[0][0])["mentions"]) == sorted([souza.id, lima.id])


async def bo_notes_for_ana(bo: Page) -> None:
    """Bo opens the conversation about order 1234 and writes "@Ana Lima please call them"."""
    await bo.locator(".item", has_text="order 1234").locator("button").click()
    await bo.get_by_role("radio", name="Internal note").check()
    reply = bo.get_by_label("Reply", exact=True)
    await reply.press_sequentially("@Ana")
    await reply.press("Enter")
    await reply.press_sequentially("please call them")
    await reply.press("Enter")
    await expect(bo.locator("#messages .msg.note")).to_have_count(1)


async def test_mentions_made_while_away_are_new_after_signing_in(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """A black-box tester's: signed in after the email about a note, the Mentions view showed
    every note alike, the new one unmarked (and a mention while no conversation was open was
    seen nowhere). The tab counts the notes for me whose conversation I have not opened since,
    their lines say "mentioned you" after a reload too, until I open them."""
    await visitor_writes(browser, desk, "My order 1234 never arrived")
    await bo_notes_for_ana(await sign_in(browser, desk.chat.http, "bo@acme.test"))

    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")  # signed in after it
    tab = ana.get_by_role("tab", name="Mentions")
    await expect(tab.locator(".count")).to_have_text("1")
    line = ana.locator("#list .item", has_text="order 1234")
    await expect(line.locator(".mention")).to_have_text("mentioned you")
    await tab.click()
    await expect(ana.locator("#list .item .mention")).to_have_count(1)
    await ana.screenshot(path=artifacts / "mention-new-after-sign-in.png")
    await ana.locator("#list .item button").first.click()
    await expect(ana.locator("#messages .msg.note")).to_have_count(1)
    await expect(tab.locator(".count")).to_be_hidden()
    await expect(ana.locator("#list .item .mention")).to_have_count(0)
    await ana.reload()  # seen on the server: not new again
    await expect(ana.locator("#conn")).to_have_text("Online")
    await expect(ana.get_by_role("tab", name="Mentions").locator(".count")).to_be_hidden()


async def test_a_mention_in_the_conversation_on_screen_is_seen(
        browser: Browser, desk: Desk) -> None:  # noqa: F811
    """A note for Ana in the conversation she has on screen is read as it comes: not counted as
    new, nor "mentioned you" after a reload (it stayed new until she opened it again)."""
    await visitor_writes(browser, desk, "My order 1234 never arrived")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await ana.locator(".item", has_text="order 1234").locator("button").click()
    await bo_notes_for_ana(bo)

    await expect(ana.locator("#messages .msg.note")).to_have_count(1)
    tab = ana.get_by_role("tab", name="Mentions")
    await tab.click()  # (the view asks the server: the note is there, and not new)
    await expect(ana.locator("#list .item")).to_have_count(1)
    await expect(ana.locator("#list .item .mention")).to_have_count(0)
    await expect(tab.locator(".count")).to_be_hidden()
    # Seen on the server too, once the panel's "read" is there (a quarter second after the
    # note showed): a reload says so.
    from tests.faults import until
    from tests.live import agent, login

    socket, _ = await agent(desk.chat, await login(desk.chat, "ana@acme.test"))

    asked = iter(range(1000))

    async def seen_on_the_server() -> bool:
        answer = await socket.request({"type": "mentions", "id": f"m{next(asked)}"})
        return bool(answer["mentions"][0]["seen"])

    await until(seen_on_the_server)
    await socket.close()
    await ana.reload()
    await expect(ana.locator("#conn")).to_have_text("Online")
    await expect(ana.get_by_role("tab", name="Mentions").locator(".count")).to_be_hidden()
    await expect(ana.locator("#list .item .mention")).to_have_count(0)


async def test_colleagues_follow_the_admin_live(browser: Browser, desk: Desk) -> None:  # noqa: F811
    """Ana's transfer menu and "@" picker follow the admin's changes while her panel is open:
    Bo deactivated is gone from both (the server would refuse him), Cy invited is there."""
    from tests.live import ADMIN_EMAIL, login
    from tests.test_admin import call

    await visitor_writes(browser, desk, "My order 1234 never arrived")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item", has_text="order 1234").locator("button").click()
    options = ana.get_by_label("Transfer to").locator("option")
    await expect(options).to_have_text(["Ana Lima (me)", "Bo Reis", "Root Admin"])

    root = await login(desk.chat, ADMIN_EMAIL)
    agents = (await call(desk.chat, "GET", "/api/admin/agents", root)).json()["agents"]
    bo_id = next(a["id"] for a in agents if a["name"] == "Bo Reis")
    await call(desk.chat, "PATCH", f"/api/admin/agents/{bo_id}", root, {"active": False})
    await expect(options).to_have_text(["Ana Lima (me)", "Root Admin"])
    await call(desk.chat, "POST", "/api/admin/agents", root, {
        "email": "cy@acme.test", "name": "Cy Dias", "sites": [desk.site_id]})
    await expect(options).to_have_text(["Ana Lima (me)", "Cy Dias", "Root Admin"])

    await ana.get_by_role("radio", name="Internal note").check()
    await ana.get_by_label("Reply", exact=True).press_sequentially("@")
    picker = ana.get_by_role("listbox", name="Colleagues")
    await expect(picker.get_by_role("option")).to_have_text(["@Cy Dias", "@Root Admin"])


async def test_a_note_seen_on_one_panel_is_seen_on_the_others(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """A black-box tester's: Ana's second panel kept "mentioned you" and the tab's count after
    her first one opened the conversation; and the Mentions view marked every note of a
    conversation with a new one, the seen ones too."""
    await visitor_writes(browser, desk, "My order 1234 never arrived")
    await visitor_writes(browser, desk, "Do you sell gas canisters?")
    first = await sign_in(browser, desk.chat.http, "ana@acme.test")
    second = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await first.locator(".item", has_text="order 1234").locator("button").click()
    await bo_notes_for_ana(bo)  # seen where it came: in the first panel's open conversation
    await expect(first.locator("#messages .msg.note")).to_have_count(1)
    for panel in (first, second):
        await expect(panel.get_by_role("tab", name="Mentions").locator(".count")).to_be_hidden()
        await expect(panel.locator("#list .item .mention")).to_have_count(0)

    await first.locator(".item", has_text="gas canisters").locator("button").click()
    reply = bo.get_by_label("Reply", exact=True)
    await reply.press_sequentially("@Ana")
    await reply.press("Enter")
    await reply.press_sequentially("they called back")
    await reply.press("Enter")
    for panel in (first, second):
        await expect(panel.get_by_role("tab", name="Mentions").locator(".count")).to_have_text("1")
    await second.get_by_role("tab", name="Mentions").click()
    notes = second.locator("#list .item")
    await expect(notes).to_have_count(2)
    await expect(notes.first.locator(".mention")).to_have_text("mentioned you")
    await expect(notes.nth(1).locator(".mention")).to_have_count(0)  # (seen before)
    await second.screenshot(path=artifacts / "mention-one-new.png")

    await first.locator(".item", has_text="order 1234").locator("button").click()
    await expect(second.get_by_role("tab", name="Mentions").locator(".count")).to_be_hidden()
    await expect(second.locator("#list .item .mention")).to_have_count(0)

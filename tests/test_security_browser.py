"""Issue 10 in the panel, in a real headless Chromium: changing one's password and signing out
everywhere (Settings), a password-reset link made by an admin and used on /agent/reset, and
blocking a visitor from their conversation (the block list on the Manage page). Screenshots go
to test-artifacts/."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import jwt
import pytest
from playwright.async_api import Browser, expect

from tests.api_world import Api
from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    IDENTITY_SECRET,
    Sites,
    agent_page,
    axe_violations,
    browser,
    open_widget,
    sign_in_page,
    sites,
)
from tests.live import ADMIN_EMAIL, PASSWORD, api_token
from tests.test_panel_browser import Desk, desk, sign_in  # noqa: F401 — the desk fixture

pytestmark = pytest.mark.browser


async def test_password_change_and_sign_out_everywhere(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    elsewhere = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.get_by_role("button", name="Settings").click()
    account = ana.locator("#account")
    await expect(account.get_by_role("heading", name="Account")).to_be_visible()
    await account.get_by_label("Current password").fill(PASSWORD)
    await account.get_by_label("Replacement password", exact=True).fill("a brand new one")
    await account.get_by_label("Replacement password, again").fill("a brand new one")
    await account.get_by_role("button", name="Change password").click()
    await expect(account.get_by_role("status")).to_contain_text("Password changed")
    await ana.screenshot(path=str(artifacts / "security-account.png"))
    assert await axe_violations(ana, "no frames") == []
    # The other browser is signed out; this one carries on.
    await expect(elsewhere.locator("#login-form")).to_be_visible()
    await expect(ana.locator("#conn")).to_have_text("Online")
    async with ana.expect_navigation():  # (the panel reloads, signed out)
        await account.get_by_role("button", name="Sign out everywhere").click()
    await expect(ana.locator("#login-form")).to_be_visible()
    again = await sign_in_page(ana, desk.chat.http, "ana@acme.test", "a brand new one")
    await expect(again.locator("#me-name")).to_have_text("Ana Lima")


async def test_a_reset_link_from_an_admin(browser: Browser, desk: Desk,  # noqa: F811
                                          artifacts: Path) -> None:
    admin = await sign_in(browser, desk.chat.http, ADMIN_EMAIL)
    await admin.get_by_role("button", name="Manage").click()
    await admin.get_by_role("button", name="Password reset link for Bo Reis").click()
    status = admin.locator(".reset-link")
    await expect(status).to_contain_text("/agent/reset#token=")
    link = (await status.text_content() or "").rsplit(" ", 1)[-1]
    await admin.screenshot(path=str(artifacts / "security-reset-link.png"))
    bo = await (await browser.new_context()).new_page()
    await bo.goto(link)
    await bo.get_by_label("New password").fill("bo's new password")
    await bo.get_by_label("Again").fill("bo's new password")
    await bo.screenshot(path=str(artifacts / "security-reset-page.png"))
    assert await axe_violations(bo, "no frames") == []
    await bo.get_by_role("button", name="Set password and sign in").click()
    await expect(bo.locator("#conn")).to_have_text("Online")
    # The link worked once.
    late = await (await browser.new_context()).new_page()
    await late.goto(link)
    await late.get_by_label("New password").fill("another password")
    await late.get_by_label("Again").fill("another password")
    await late.get_by_role("button", name="Set password and sign in").click()
    await expect(late.get_by_role("alert")).to_contain_text("used already")


async def test_blocking_a_visitor_from_the_panel(browser: Browser, desk: Desk,  # noqa: F811
                                                 artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(desk.page_url)
    frame = await open_widget(visitor)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("buy cheap watches")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator(".item button").first.click()
    await ana.get_by_role("button", name="Block…").click()
    form = ana.locator("#block-form")
    await form.get_by_label("Block for").select_option(label="7 days")
    await form.get_by_label("Also block the address").check()
    await form.get_by_label("Reason").fill("spam")
    await ana.screenshot(path=str(artifacts / "security-block-form.png"))
    await form.get_by_role("button", name="Block this visitor").click()
    await expect(ana.get_by_role("button", name="Blocked")).to_be_visible()
    # The visitor's chat is closed and says the chat is unavailable.
    await expect(frame.locator("html")).to_have_attribute("data-state", "failed")
    await visitor.screenshot(path=str(artifacts / "security-blocked-visitor.png"))
    await ana.get_by_role("button", name="Manage").click()
    blocks = ana.locator("#admin-blocks li")
    await expect(blocks).to_have_count(2)
    await expect(blocks.first).to_contain_text("spam")
    await ana.screenshot(path=str(artifacts / "security-block-list.png"), full_page=True)
    await ana.get_by_role("button", name=f"Unblock {await _name(ana)}").click()
    await expect(blocks).to_have_count(1)


async def _name(page: object) -> str:
    from playwright.async_api import Page

    assert isinstance(page, Page)
    text = await page.locator("#admin-blocks li b").last.text_content()
    return text or ""


async def test_a_signed_identity_through_the_widget(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """``LiveChat('identify', {jwt})``: the agent sees the signed name with the verified mark."""
    with warnings.catch_warnings():  # (the test secret is shorter than PyJWT likes)
        warnings.simplefilter("ignore")
        token = jwt.encode({"sub": "user-7", "name": "Maria Silva", "email": "maria@example.com",
                            "exp": int(time.time()) + 3600}, IDENTITY_SECRET, algorithm="HS256")
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    await visitor.evaluate("token => LiveChat('identify', {jwt: token})", token)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message", exact=True).fill("Hello, signed")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    agent = await agent_page(browser, sites)
    await expect(agent.locator(".item .name")).to_have_text("Maria Silva")
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#visitor-facts")).to_contain_text("Maria Silva ✓ verified")
    await agent.screenshot(path=str(artifacts / "security-signed-identity.png"))


async def test_a_logout_in_one_tab_forgets_the_user_in_every_tab(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """``LiveChat('reset')`` acted in its own tab only: another tab's chat, still the user's,
    wrote their token back when it next connected (here, after a server crash), and the next
    person on that browser was greeted as them, with their conversation (a black-box test found
    it). Every tab of the browser now forgets them, their unread count with them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = jwt.encode({"sub": "user-8", "name": "Sid Vale", "exp": int(time.time()) + 3600},
                           IDENTITY_SECRET, algorithm="HS256")
    context = await browser.new_context()
    tabs = [await context.new_page(), await context.new_page()]
    frames = []
    for tab in tabs:
        await tab.goto(sites.page_url)
        await tab.evaluate("token => LiveChat('identify', {jwt: token})", token)
        frames.append(await open_widget(tab))
    await frames[0].get_by_label("Message", exact=True).fill("my private order 5521")
    await frames[0].get_by_label("Message", exact=True).press("Enter")
    await expect(frames[1].locator(".msg.mine:not(.pending)")).to_have_count(1)

    await tabs[0].evaluate("LiveChat('reset')")  # Sid logs out, in the first tab
    await expect(frames[1].locator(".msg.mine")).to_have_count(0)  # the other forgets him too
    sites.chat.kill9()  # every tab reconnects
    await expect(frames[1].locator("#banner")).to_have_text("Reconnecting…")
    sites.chat.start()
    await expect(frames[1].locator("#banner")).to_be_hidden(timeout=30000)
    await expect(frames[0].locator("#banner")).to_be_hidden(timeout=30000)

    nextone = await context.new_page()  # the next person on this browser
    await nextone.goto(sites.page_url)
    frame = await open_widget(nextone)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await expect(frame.locator("body")).not_to_contain_text("5521")
    await expect(frame.locator("body")).not_to_contain_text("Sid")
    await nextone.screenshot(path=str(artifacts / "security-logout-every-tab.png"))


async def test_an_erasure_empties_the_visitors_open_chat(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """An erasure left the visitor's open widget showing the whole erased chat, and its next
    message made the erased visitor again (a black-box test). Their socket is now closed as for
    a token that no longer verifies: the widget starts afresh, as a new visitor."""
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message", exact=True).fill("my passport is XK-4471")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    api = Api(sites.chat, api_token(sites.chat.db, "visitors:write", "conversations:read",
                                    site=sites.site_id))
    listed = (await api("GET", "/api/v1/conversations")).json()["data"]
    old = listed[0]["visitor"]["id"]
    assert (await api("DELETE", f"/api/v1/visitors/{old}")).status_code == 200
    await expect(frame.locator(".msg.mine")).to_have_count(0)
    await expect(frame.locator("body")).not_to_contain_text("XK-4471")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await frame.get_by_label("Message", exact=True).fill("hello again")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    now = (await api("GET", "/api/v1/conversations")).json()["data"]
    assert {c["visitor"]["id"] for c in now} - {old} and old not in {
        c["visitor"]["id"] for c in now}
    await visitor.screenshot(path=str(artifacts / "security-erased-widget.png"))

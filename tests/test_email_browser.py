"""Email end to end in a real headless Chromium and a real SMTP server: a visitor leaves a
message in the offline form and goes; the agent answers in the panel; the email arrives (the
panel says so); the visitor's reply, sent by SMTP to the built-in listener, appears live in the
panel. Screenshots go to test-artifacts/."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from playwright.async_api import Browser, expect

from tests.browser import (
    browser,  # noqa: F401 — the browser fixture
    open_widget,
    sign_in_page,
)
from tests.email_site import emailing_site
from tests.live import customer_page, free_port, open_store, seed
from tests.mailsink import MailSink
from tests.test_email import DOMAIN, advance, email_env, start, text_of

pytestmark = pytest.mark.browser


async def test_offline_form_reply_by_email_and_back_into_the_panel(
        browser: Browser, tmp_path: Path, artifacts: Path) -> None:  # noqa: F811
    db, clock = tmp_path / "chat.db", tmp_path / "clock"
    clock.write_text("0")
    page_port, listen = free_port(), free_port()
    seeded = await seed(db, [f"http://127.0.0.1:{page_port}"])
    async with open_store(db) as store:
        await store.set_site_profile(seeded.site_id, color="#0b6e4f",
                                     email_from="Acme Support <help@acme.test>")
    async with MailSink() as sink:
        chat = start(db, email_env(sink, clock, LIVECHAT_SMTP_LISTEN=f"127.0.0.1:{listen}"))
        try:
            with customer_page(db, chat, seeded.site_id, page_port) as page_url:
                # The visitor, nobody online: the offline form.
                visitor_context = await browser.new_context(locale="de-DE",
                                                            viewport={"width": 1100,
                                                                      "height": 800})
                visitor = await visitor_context.new_page()
                await visitor.goto(page_url)
                await visitor.get_by_role("button", name="Chat öffnen").click()
                frame = visitor.frame_locator("iframe[title=Chat]")
                await expect(frame.locator("#intake")).to_be_visible()
                await frame.locator("#intake-name").fill("Eva")
                await frame.locator("#intake-email").fill("eva@example.test")
                await frame.locator("#intake-message").fill("Liefern Sie nach Porto?")
                await frame.locator("#intake-submit").click()
                await expect(frame.locator(".notice.left")).to_contain_text("eva@example.test")
                transcript = frame.locator("#transcript")
                await expect(transcript).to_be_visible()
                await expect(transcript).to_have_attribute(
                    "aria-label", "Diese Unterhaltung per E-Mail senden")
                await visitor.screenshot(path=artifacts / "60-email-offline-form-left.png")
                await transcript.click()  # "send me a transcript": at once
                await expect(frame.locator(".notice").last).to_have_text(
                    "Wir senden diese Unterhaltung an eva@example.test.")
                copy = await sink.first(lambda m: m["Subject"] == "Ihre Unterhaltung mit Acme")
                assert "Liefern Sie nach Porto?" in text_of(copy, "plain")
                await visitor_context.close()  # she leaves

                ana = await sign_in_page(await (await browser.new_context(
                    viewport={"width": 1400, "height": 860}, timezone_id="UTC")).new_page(),
                    chat.http, seeded.agent_email)
                await expect(ana.locator("#count-queue")).to_have_text("1")
                await ana.locator(".item button").first.click()
                await expect(ana.locator("#visitor-facts")).to_contain_text(
                    "eva@example.test · unseen replies go by email")
                reply = ana.get_by_label("Reply", exact=True)
                await reply.fill("Ja, wir liefern nach Porto.")
                await reply.press("Enter")
                await expect(ana.locator("#messages .msg.agent:not(.pending)")).to_have_count(1)

                advance(clock, 200)  # past LIVECHAT_EMAIL_DELAY
                mail = await sink.first(lambda m: m["Subject"] == "Neue Antwort von Acme")
                assert "Ja, wir liefern nach Porto." in text_of(mail, "plain")
                await expect(ana.locator("#messages .event").last).to_have_text(
                    "Emailed to eva@example.test")
                # The email as a mail client shows it (its HTML part, no network).
                shown = await (await browser.new_context(
                    viewport={"width": 700, "height": 600})).new_page()
                await shown.set_content(text_of(mail, "html"))
                await expect(shown.get_by_role("link", name="Chat fortsetzen")).to_be_visible()
                await shown.screenshot(path=artifacts / "62-email-html.png", full_page=True)

                # Her answer, by email to the built-in listener: live in the panel.
                answer = mail.__class__()
                answer["From"] = "Eva <eva@example.test>"
                answer["To"] = parseaddr(str(mail["Reply-To"]))[1]
                answer["Subject"] = "Re: " + str(mail["Subject"])
                answer["Message-ID"] = "<answer-1@example.test>"
                answer["In-Reply-To"] = str(mail["Message-ID"])
                answer.set_content("Super, danke!\n\n-- \nEva\n\nAm 3. Dez. 2026 schrieb Acme:\n"
                                   "> Ja, wir liefern nach Porto.\n")
                assert answer["To"].endswith("@" + DOMAIN)
                await aiosmtplib.send(answer, hostname="127.0.0.1", port=listen)
                await expect(ana.locator("#messages .msg.visitor").last).to_contain_text(
                    "Super, danke!")
                await expect(ana.locator("#messages .msg.visitor").last).not_to_contain_text(
                    "Porto")
                await ana.screenshot(path=artifacts / "61-email-panel-reply-by-email.png")
                # Settings: email is on; the agent's choice of emails, kept on the server.
                await ana.get_by_role("button", name="Settings").click()
                await expect(ana.locator("#email-status")).to_contain_text("Email is on")
                assigned = ana.get_by_label("Email me conversations handed to me while I'm offline")
                await expect(assigned).to_be_checked()
                await expect(ana.locator("#opt-email-digest-row")).to_be_hidden()  # not admin
                mentioned = ana.get_by_label("Email me notes that mention me while I'm offline")
                await expect(mentioned).to_be_checked()
                await assigned.uncheck()
                await mentioned.uncheck()
                await ana.screenshot(path=artifacts / "61-email-panel-settings.png")
                await ana.reload()
                await expect(ana.locator("#conn")).to_have_text("Online")
                await ana.get_by_role("button", name="Settings").click()
                await expect(assigned).not_to_be_checked()
                await expect(mentioned).not_to_be_checked()
        finally:
            chat.stop()
        assert "Traceback" not in chat.log(), chat.log()


async def test_follow_up_view_and_a_check_in_answered_in_the_widget(
        browser: Browser, tmp_path: Path, artifacts: Path) -> None:  # noqa: F811
    async def chatting_when_away(store: Any, site_id: str) -> None:
        await store.set_site_profile(site_id, offline="chat")

    async with emailing_site(tmp_path, chatting_when_away,
                             LIVECHAT_ROUTING_INTERVAL="0.3") as site:
        visitor = await (await browser.new_context(
            viewport={"width": 1100, "height": 800})).new_page()
        await visitor.goto(site.page_url)
        frame = await open_widget(visitor)
        composer = frame.get_by_label("Message", exact=True)
        await composer.fill("My tent pole snapped")
        await composer.press("Enter")
        await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)

        ana = await sign_in_page(await (await browser.new_context(
            viewport={"width": 1400, "height": 860}, timezone_id="UTC")).new_page(),
            site.chat.http, site.seeded.agent_email)
        await ana.locator(".item button").first.click()
        reply = ana.get_by_label("Reply", exact=True)
        await reply.fill("A new pole is on its way.")
        await reply.press("Enter")
        await expect(frame.locator(".msg.theirs[data-seq]")).to_have_count(1)

        # Resolve, with a check-in in 3 days.
        await ana.get_by_role("button", name="Follow up…").click()
        await expect(ana.get_by_label("When", exact=True)).to_have_value("3")
        # "On a date" offers dates up to 365 days ahead, what the server takes.
        late = await ana.locator("#follow-up-at").evaluate(
            "i => new Date(i.max) - Date.now()")
        assert 365 * 86_400_000 - 60_000 < late <= 365 * 86_400_000, late
        await ana.get_by_label("What to say (optional)").fill(
            "Did the new pole arrive?")
        await ana.get_by_role("button", name="Schedule").click()
        await expect(ana.locator("#conv-status")).to_contain_text("Resolved")
        await ana.get_by_role("tab", name="Follow-ups").click()
        item = ana.locator("#list .item.follow-up")
        await expect(item).to_have_count(1)
        await expect(item).to_contain_text("Did the new pole arrive?")
        await ana.screenshot(path=artifacts / "63-follow-ups-view.png")

        advance(site.clock, 3 * 24 * 3600 + 3600)  # the check-in is due
        checkin = frame.locator(".msg.theirs[data-seq]").last
        await expect(checkin).to_contain_text("Did the new pole arrive?", timeout=20000)
        await composer.fill("Yes, all good now!")
        await composer.press("Enter")
        # The same conversation, reopened for Ana, with the answer in it.
        await expect(ana.locator("#messages .msg.visitor").last).to_contain_text(
            "Yes, all good now!")
        await expect(ana.locator("#conv-status")).to_contain_text("Assigned to you")
        await expect(ana.locator("#messages .msg.agent .label")).to_have_text(
            "Follow-up check-in")
        await expect(item).to_have_count(0)
        await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(2)
        await visitor.screenshot(path=artifacts / "64-check-in-in-the-widget.png")
        await ana.screenshot(path=artifacts / "65-check-in-answered.png")
        assert not [m for m in site.sink.received if "pole" in text_of(m, "plain")]


async def test_forgot_password_from_the_sign_in_page(browser: Browser, tmp_path: Path,  # noqa: F811
                                                     artifacts: Path) -> None:
    db, clock = tmp_path / "chat.db", tmp_path / "clock"
    clock.write_text("0")
    seeded = await seed(db)
    async with MailSink() as sink:
        chat = start(db, email_env(sink, clock))
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{chat.http}/agent")
            await page.get_by_role("button", name="Forgot your password?").click()
            await expect(page.locator("#login-error")).to_have_text(
                "Enter your email address first.")
            await page.locator("#login-form").get_by_label("Email").fill(seeded.agent_email)
            await page.get_by_role("button", name="Forgot your password?").click()
            await expect(page.locator("#forgot-status")).to_contain_text("is on its way")
            await page.screenshot(path=artifacts / "66-forgot-password.png")
            [mail] = await sink.wait_for(1)
            link = next(word for word in text_of(mail, "plain").split()
                        if word.startswith(f"{chat.http}/agent/reset#token="))
            await page.goto(link)
            await page.get_by_label("New password").fill("a brand new password")
            await page.get_by_label("Again").fill("a brand new password")
            await page.get_by_role("button", name="Set password and sign in").click()
            await expect(page.locator("#conn")).to_have_text("Online")
        finally:
            chat.stop()
        assert "Traceback" not in chat.log(), chat.log()


async def test_the_panel_says_when_email_is_off(browser: Browser, tmp_path: Path,  # noqa: F811
                                               artifacts: Path) -> None:
    from tests.live import serving

    db = tmp_path / "chat.db"
    seeded = await seed(db)
    with serving(db) as chat:
        page = await sign_in_page(await (await browser.new_context()).new_page(), chat.http,
                                  seeded.agent_email)
        await page.get_by_role("button", name="Settings").click()
        await expect(page.locator("#email-status")).to_have_text(
            "Email is off on this server (LIVECHAT_SMTP_URL is not set).")
        await expect(page.locator("#opt-email-assigned-row")).to_be_hidden()
        await expect(page.locator("#opt-email-mentioned-row")).to_be_hidden()
        await page.screenshot(path=artifacts / "67-panel-email-off.png")

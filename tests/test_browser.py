"""The whole loop in a real headless Chromium: a customer page on one origin embeds the widget
served from another; an agent works in a second browser context. Screenshots are saved to
test-artifacts/ (or $LIVECHAT_ARTIFACTS) and are meant to be looked at. What the browser tests
share is in tests/browser.py."""
# ruff: noqa: F811 — the fixtures imported from tests/browser.py are parameters of the tests

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser import (  # noqa: F401 — the browser, sites and hostile_page fixtures
    Sites,
    agent_page,
    axe_violations,
    browser,
    hostile_page,
    open_widget,
    open_widget_form,
    png,
    signed,
    sites,
)

pytestmark = pytest.mark.browser


async def test_visitor_and_agent_chat_across_origins(browser: Browser, sites: Sites,
                                                     artifacts: Path) -> None:
    visitor_context = await browser.new_context(viewport={"width": 1280, "height": 760})
    visitor = await visitor_context.new_page()
    errors: list[str] = []
    visitor.on("pageerror", lambda e: errors.append(str(e)))
    await visitor.goto(sites.page_url)
    launcher = visitor.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_visible()
    # Nothing has taken focus from the host page, and only one global was added.
    assert await visitor.evaluate("document.activeElement === document.body")
    assert await visitor.evaluate("typeof window.LiveChat") == "function"
    assert await visitor.evaluate("typeof window.ChatSocket") == "undefined"
    await visitor.screenshot(path=artifacts / "01-customer-page.png")

    frame = await open_widget(visitor)
    await expect(frame.locator("#status")).to_contain_text("Leave a message")
    await frame.get_by_label("Message", exact=True).fill("Hello, do you ship to Portugal?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame.locator("#status")).to_have_text("You're next")  # queue position
    hostile = '<img src=x onerror="document.title=1"> & <b>bold</b>'
    await frame.get_by_label("Message", exact=True).fill(hostile)
    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(2)
    await expect(frame.locator(".msg.mine .body").nth(1)).to_have_text(hostile)
    assert await frame.locator(".messages img, .messages b").count() == 0
    await visitor.screenshot(path=artifacts / "02-visitor-sent.png")

    agent = await agent_page(browser, sites)
    await expect(agent.locator("#count-queue")).to_have_text("1")
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#messages .msg.visitor")).to_have_count(2)
    await expect(agent.locator("#messages .msg.visitor .body").nth(1)).to_have_text(hostile)
    assert await agent.locator("#messages img, #messages b").count() == 0
    await frame.get_by_label("Message", exact=True).press_sequentially("one more")
    await expect(agent.locator("#typing")).to_have_text(
        re.compile(r"^Visitor [A-Z0-9]{1,4} is typing…$"))
    await frame.get_by_label("Message", exact=True).fill("")
    await agent.get_by_role("button", name="Claim").click()
    await expect(agent.locator("#conv-status")).to_have_text("Assigned to you")
    await expect(agent.locator("#count-mine")).to_have_text("1")
    await agent.get_by_label("Reply").press_sequentially("Yes")
    await expect(frame.locator(".typing")).to_have_text("Ana Lima is typing…")
    await expect(agent.get_by_label("Transfer to")).to_be_hidden()  # Ana is alone on this site
    await agent.get_by_label("Reply").fill("Yes we do! Delivery takes 3 days: https://acme.test/shipping")
    await agent.get_by_label("Reply").press("Enter")
    await expect(agent.locator("#messages .msg.agent:not(.pending)")).to_have_count(1)
    await agent.screenshot(path=artifacts / "03-agent-replied.png")

    await expect(frame.locator(".notice")).to_have_text("Ana Lima joined the conversation")
    await expect(frame.locator(".msg.theirs[data-seq] .body")).to_contain_text("Yes we do!")
    link = frame.locator(".msg.theirs[data-seq] a")
    await expect(link).to_have_attribute("href", "https://acme.test/shipping")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(frame.locator("#status")).to_have_text("Ana Lima is answering")
    await visitor.screenshot(path=artifacts / "04-visitor-sees-reply.png")

    # A reload restores the whole conversation from the first-party token.
    await visitor.reload()
    frame = await open_widget(visitor)
    await expect(frame.locator(".messages > li[data-seq]")).to_have_count(4)
    await expect(frame.locator(".msg.theirs[data-seq] .body")).to_contain_text("Yes we do!")
    await visitor.screenshot(path=artifacts / "05-visitor-after-reload.png")

    await agent.get_by_role("button", name="Resolve").click()
    await expect(frame.locator(".notice").last).to_contain_text("resolved")
    await expect(agent.locator("#conv-status")).to_have_text("Resolved")
    await visitor.screenshot(path=artifacts / "06-resolved.png")
    assert errors == []
    assert await visitor.title() != "1"


async def test_widget_reconnects_and_delivers_after_a_server_crash(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message", exact=True).fill("before the crash")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    await agent.get_by_role("button", name="Claim").click()

    sites.chat.kill9()
    await expect(frame.locator("#banner")).to_have_text("Reconnecting…")
    await frame.get_by_label("Message", exact=True).fill("written while the server was down")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.pending")).to_have_count(1)
    await visitor.screenshot(path=artifacts / "07-reconnecting.png")

    sites.chat.start()
    await expect(frame.locator(".msg.pending")).to_have_count(0, timeout=30000)
    await expect(frame.locator("#banner")).to_be_hidden()
    await expect(agent.locator("#messages .msg.visitor")).to_have_count(2, timeout=30000)
    await expect(agent.locator("#messages .msg.visitor .body").nth(1)).to_have_text(
        "written while the server was down")
    await agent.get_by_label("Reply").fill("Got it")
    await agent.get_by_label("Reply").press("Enter")
    await expect(frame.locator(".msg.theirs[data-seq]")).to_have_count(1)
    await expect(frame.locator(".msg.mine")).to_have_count(2)  # nothing doubled
    await visitor.screenshot(path=artifacts / "08-recovered.png")


async def test_identified_visitor_is_greeted_by_name_in_the_panel(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    identity = signed("user-42", int(time.time()) + 3600, name="Maria Silva",
                      email="maria@example.com")
    await visitor.evaluate("identity => LiveChat('identify', identity)", identity)
    frame = await open_widget(visitor)
    await frame.get_by_label("Message", exact=True).fill("Where is my order?")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    agent = await agent_page(browser, sites)
    await expect(agent.locator(".item .name")).to_have_text("Maria Silva")

    # The same user on another device (a fresh browser context) sees the conversation.
    other = await (await browser.new_context()).new_page()
    await other.goto(sites.page_url)
    await other.evaluate("identity => LiveChat('identify', identity)", identity)
    frame2 = await open_widget(other)
    await expect(frame2.locator(".msg.mine .body")).to_have_text("Where is my order?")
    # A forged identity is refused, and the visitor is told why.
    third = await (await browser.new_context()).new_page()
    await third.goto(sites.page_url)
    await third.evaluate("identity => LiveChat('identify', identity)",
                         {**identity, "id": "user-1"})
    frame3 = await open_widget(third)
    await expect(frame3.locator("#banner")).to_have_text(
        "Please sign in on this site to chat with us.")
    await other.screenshot(path=artifacts / "09-identified-other-device.png")


async def test_the_open_widget_has_no_accessibility_violations_on_a_phone(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    phone = await browser.new_context(viewport={"width": 390, "height": 844},
                                      device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await phone.new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await frame.get_by_label("Message", exact=True).fill("Olá")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    # Full screen on a phone, and 16 px inputs so that iOS does not zoom.
    box = await page.locator("iframe[title=Chat]").bounding_box()
    assert box is not None and box["width"] == 390 and box["height"] == 844
    size = await frame.get_by_label("Message", exact=True).evaluate(
        "e => getComputedStyle(e).fontSize")
    assert size == "16px"
    await page.screenshot(path=artifacts / "10-phone.png")
    assert await axe_violations(page, "/widget/frame") == []
    # Escape closes and gives focus back to the launcher.
    await frame.get_by_label("Message", exact=True).press("Escape")
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_focused()


async def test_the_widget_speaks_the_visitors_language(browser: Browser, sites: Sites,
                                                       artifacts: Path) -> None:
    portuguese = await (await browser.new_context(locale="pt-PT")).new_page()
    await portuguese.goto(sites.page_url)
    await portuguese.get_by_role("button", name="Abrir conversa").click()
    frame = portuguese.frame_locator("iframe[title=Chat]")
    await expect(frame.get_by_label("Mensagem", exact=True)).to_have_attribute(
        "placeholder", "Escreva uma mensagem…")
    await expect(frame.locator("#status")).to_have_text(
        "Deixe uma mensagem e responderemos assim que possível.")
    await portuguese.evaluate("LiveChat('locale', 'el')")  # the site switches it at run time
    await expect(frame.get_by_label("Μήνυμα", exact=True)).to_have_attribute(
        "placeholder", "Γράψτε ένα μήνυμα…")
    # Right-to-left text.
    await frame.get_by_label("Μήνυμα", exact=True).fill("مرحبا، هل يمكنك مساعدتي؟")
    await frame.get_by_label("Μήνυμα", exact=True).press("Enter")
    body = frame.locator(".msg.mine:not(.pending) .body")
    await expect(body).to_have_css("unicode-bidi", "plaintext")
    await portuguese.screenshot(path=artifacts / "11-greek-with-arabic-text.png")


@pytest.mark.site_profile(offline="form")
async def test_the_offline_form_promises_no_email_where_none_is_sent(
        browser: Browser, sites: Sites, artifacts: Path) -> None:
    """Before: a server that sends no email (no LIVECHAT_SMTP_URL, the default) told the
    visitor the answer would come by email, to their address."""
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    frame = await open_widget_form(visitor)
    await expect(frame.locator("#intake-text")).to_have_text(
        "Leave a message and we'll reply as soon as we can.")
    await frame.get_by_label("Name").fill("Maria Silva")
    await frame.get_by_label("Email").fill("maria@example.com")
    await frame.get_by_label("Your message").fill("Size 46?")
    await frame.get_by_role("button", name="Leave a message").click()
    await expect(frame.locator(".notice.left")).to_have_text(
        "Thanks! We got your message and will reply here.")
    await visitor.screenshot(path=artifacts / "offline-form-without-email.png")
    # After a reload (or on another page), while nobody has answered: the same notice, after
    # the message. Before: it was gone.
    await visitor.reload()
    frame = await open_widget(visitor)
    await expect(frame.locator(".msg.mine")).to_have_count(1)
    await expect(frame.locator(".notice.left")).to_have_text(
        "Thanks! We got your message and will reply here.")
    await expect(frame.locator("#intake")).to_be_hidden()


@pytest.mark.site_profile(prechat=["name", "email"], offline="form",
                          greeting="Tents, boots, trails: ask away.")
@pytest.mark.chat_env(LIVECHAT_SMTP_URL="smtp://127.0.0.1:9",  # it sends email (none arrives)
                      LIVECHAT_PUBLIC_URL="{http}")
async def test_offline_form_then_prechat_form(browser: Browser, sites: Sites,
                                              artifacts: Path) -> None:
    # Nobody is online: the visitor leaves a message, and is told where the answer will go.
    visitor = await (await browser.new_context()).new_page()
    await visitor.goto(sites.page_url)
    frame = await open_widget_form(visitor)
    await expect(frame.get_by_role("heading", name="We're away right now")).to_be_visible()
    await expect(frame.get_by_label("Message", exact=True)).to_be_hidden()  # no composer
    await frame.get_by_role("button", name="Leave a message").click()
    await expect(frame.get_by_label("Name")).to_have_accessible_description(
        "Please tell us your name.")
    await frame.get_by_label("Name").fill("Maria Silva")
    await frame.get_by_label("Email").fill("maria@example.com")
    await frame.get_by_label("Your message").fill("Do the Trail Runner 3 come in size 46?")
    await visitor.screenshot(path=artifacts / "12-offline-form.png")
    assert await axe_violations(visitor, "/widget/frame") == []
    await frame.get_by_role("button", name="Leave a message").click()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame.locator(".notice.left")).to_have_text(
        "Thanks! We got your message and will reply to maria@example.com.")
    await expect(frame.locator(".greeting")).to_have_text(
        "Hi Maria! Tents, boots, trails: ask away.")
    # Nobody is there to make them "next": the header still says the answer will come.
    await expect(frame.locator("#status")).to_contain_text("Leave a message")
    await visitor.screenshot(path=artifacts / "13-offline-message-left.png")

    # It is a conversation in the queue, with the name and email the visitor gave.
    agent = await agent_page(browser, sites)
    await expect(agent.locator(".item .name")).to_have_text("Maria Silva")
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#conv-status")).to_contain_text("maria@example.com")

    # With an agent online, a new visitor gets the pre-chat form instead.
    second = await (await browser.new_context()).new_page()
    await second.goto(sites.page_url)
    frame2 = await open_widget_form(second)
    await expect(frame2.get_by_role("heading", name="Before we start")).to_be_visible()
    await frame2.get_by_label("Name").fill("João Costa")
    await frame2.get_by_label("Email").fill("joao@example.com")
    await frame2.get_by_label("Your message").fill("Olá! Is the tent waterproof?")
    await second.screenshot(path=artifacts / "14-prechat-form.png")
    await frame2.get_by_role("button", name="Start the chat").click()
    await expect(frame2.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame2.get_by_label("Message", exact=True)).to_be_visible()
    await expect(frame2.locator(".greeting")).to_contain_text("Hi João!")
    await expect(agent.locator("#count-queue")).to_have_text("2")  # Maria's, and João's

    # An identified visitor is never asked who they are.
    third = await (await browser.new_context()).new_page()
    await third.goto(sites.page_url)
    await third.evaluate("identity => LiveChat('identify', identity)",
                         signed("user-7", int(time.time()) + 3600, name="Rita Alves"))
    frame3 = await open_widget(third)
    await expect(frame3.locator("#intake")).to_be_hidden()


async def test_receipts_attachments_emoji_rating_and_unread(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:
    visitor = await (await browser.new_context(viewport={"width": 1100, "height": 800})).new_page()
    await visitor.goto(sites.page_url)
    frame = await open_widget(visitor)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Hi! My tent arrived torn")
    await composer.press("Enter")
    await composer.fill("Here is a photo")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(2)
    # Two quick messages from one author are one group: only the last shows the time.
    await expect(frame.locator(".msg.mine").first).to_have_class(re.compile(r"\bgrouped\b"))
    await expect(frame.locator(".day")).to_have_text("Today")

    # An image: uploaded, checked by its bytes, previewed on both sides.
    photo = tmp_path / "torn tent.png"
    photo.write_bytes(png(240, 160))
    await frame.locator("#file").set_input_files(photo)
    preview = frame.locator(".msg.mine:not(.pending) img.preview")
    await expect(preview).to_have_attribute("alt", "torn tent.png")
    # (Once it has loaded: read at once, it was not yet, once in a CI run.)
    assert await preview.evaluate("img => img.decode().then(() => img.naturalWidth)") == 240

    # Emoji: the picker inserts at the cursor.
    await frame.get_by_role("button", name="Emoji").click()
    assert await axe_violations(visitor, "/widget/frame") == []  # the emoji picker open
    await frame.get_by_role("button", name="👍").click()
    await expect(composer).to_have_value("👍")
    await expect(composer).to_be_focused()
    await composer.fill("")

    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#messages img.preview")).to_have_count(1)
    await expect(agent.locator("#visitor-details")).to_be_hidden()  # no attributes were set
    # The agent has the conversation in front of them: the visitor sees "Seen".
    await expect(frame.locator(".msg.mine .seen")).to_have_text("Seen")
    await agent.get_by_role("button", name="Claim").click()
    await agent.get_by_label("Reply").fill("Sorry about that! We'll send a new one today.")
    await agent.get_by_label("Reply").press("Enter")
    # The visitor has it on screen: the agent sees "Seen" too.
    await expect(agent.locator("#messages .msg.agent .seen")).to_have_text(" · Seen")
    await visitor.screenshot(path=artifacts / "15-visitor-photo-and-seen.png")
    await agent.screenshot(path=artifacts / "16-agent-photo-and-seen.png")

    # While the chat is closed, a new message shows as a badge and in the page's title.
    await frame.get_by_role("button", name="Close chat").click()
    await agent.get_by_label("Reply").fill("Could you confirm your address?")
    await agent.get_by_label("Reply").press("Enter")
    launcher = visitor.get_by_role("button", name="Open chat, 1 unread")
    await expect(launcher).to_be_visible()
    await expect(visitor).to_have_title(re.compile(r"^\(1\) Acme Outdoor"))
    await launcher.click()
    await expect(visitor).to_have_title(re.compile(r"^Acme Outdoor"))

    # Resolved: the visitor rates the conversation; the agent sees the rating.
    await agent.get_by_role("button", name="Resolve").click()
    await frame.get_by_role("radio", name="4 out of 5").click()
    await frame.get_by_label("Anything to add? (optional)").fill("Fast and friendly")
    await visitor.screenshot(path=artifacts / "17-rating.png")
    assert await axe_violations(visitor, "/widget/frame") == []  # the rating card too
    await frame.get_by_role("button", name="Send rating").click()
    await expect(frame.locator(".notice").last).to_have_text("Thank you for your rating (4/5).")
    await expect(agent.locator("#conv-status")).to_contain_text("Rated 4/5: “Fast and friendly”")
    await expect(agent.locator("#messages .event").last).to_contain_text(
        "rated this conversation 4/5")
    await agent.screenshot(path=artifacts / "18-agent-sees-rating.png")

    # And can start again: a new conversation in the queue.
    await frame.get_by_role("button", name="Start a new conversation").click()
    await expect(frame.locator(".msg[data-seq]")).to_have_count(0)
    await composer.fill("One more question")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(agent.locator("#count-queue")).to_have_text("1")


async def test_hostile_host_page_with_a_strict_csp(browser: Browser, sites: Sites,
                                                   hostile_page: str, artifacts: Path) -> None:
    page = await (await browser.new_context()).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(hostile_page)
    # LiveChat('open') and LiveChat('on', …) were queued before the loader arrived.
    await expect(page.locator("body")).to_have_attribute("data-chat-opened", "yes")
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.get_by_label("Message", exact=True)).to_be_visible()
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    # The page's CSS moved, hid and recoloured nothing of ours; data-* settings applied.
    launcher = page.get_by_role("button", name="Close chat")
    box = await launcher.bounding_box()
    assert box is not None and box["x"] == 20 and box["height"] == 56  # data-position=left
    assert await launcher.evaluate("b => getComputedStyle(b).backgroundColor") == (
        "rgb(255, 204, 0)")  # data-color, with dark text on it
    assert await launcher.evaluate("b => getComputedStyle(b).color") == "rgb(17, 20, 24)"
    await expect(launcher).to_contain_text("Chat with us")
    # Its name holds the words it shows (WCAG 2.5.3): before, it was "Close chat" alone.
    await expect(launcher).to_have_accessible_name("Chat with us (Close chat)")
    frame_box = await page.locator("iframe[title=Chat]").bounding_box()
    assert frame_box is not None and frame_box["width"] == 370
    # Nothing was blocked by the CSP, nothing inline was added, one global only.
    await frame.get_by_label("Message", exact=True).fill("Hello from a strict page")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    assert await page.evaluate("window.violations") == []
    assert await page.evaluate(
        "document.querySelectorAll('[style], style, script:not([src])').length") == 0
    await page.screenshot(path=artifacts / "19-hostile-page-strict-csp.png")
    assert errors == []

    # The attributes queued with LiveChat('set', …) reached the agent.
    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    await expect(agent.locator("#visitor-details")).to_contain_text("plan: pro")
    await expect(agent.locator("#visitor-details")).to_contain_text("seats: 12")


@pytest.mark.site_profile(identity_mode="mandatory", offline="chat")
async def test_mandatory_and_expired_identity(browser: Browser, sites: Sites,
                                              artifacts: Path) -> None:
    anonymous = await (await browser.new_context()).new_page()
    await anonymous.goto(sites.page_url)
    frame = await open_widget(anonymous)
    await expect(frame.locator("#banner")).to_have_text(
        "Please sign in on this site to chat with us.")
    # Nothing can be sent until the page says who the visitor is: no message left "Sending…".
    await expect(frame.get_by_label("Message", exact=True)).to_be_disabled()
    await expect(frame.locator("#composer button[type=submit]")).to_be_disabled()
    await expect(frame.locator("#status")).to_have_text("")
    await anonymous.screenshot(path=artifacts / "20-identity-required.png")
    # Signed in now, on the same page: the chat connects, and works.
    await anonymous.evaluate("identity => LiveChat('identify', identity)",
                             signed("user-8", int(time.time()) + 600, name="Olga"))
    await expect(frame.get_by_label("Message", exact=True)).to_be_enabled()
    await frame.get_by_label("Message", exact=True).fill("Signed in on the page")
    await frame.get_by_label("Message", exact=True).press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    expired = await (await browser.new_context()).new_page()
    await expired.goto(sites.page_url)
    await expired.evaluate("identity => LiveChat('identify', identity)",
                           signed("user-9", int(time.time()) - 60))
    frame2 = await open_widget(expired)
    await expect(frame2.locator("#banner")).to_have_text(
        "Please sign in on this site to chat with us.")
    valid = await (await browser.new_context()).new_page()
    await valid.goto(sites.page_url)
    await valid.evaluate("identity => LiveChat('identify', identity)",
                         signed("user-9", int(time.time()) + 600, name="Nuno"))
    frame3 = await open_widget(valid)
    await frame3.get_by_label("Message", exact=True).fill("Signed in, finally")
    await frame3.get_by_label("Message", exact=True).press("Enter")
    await expect(frame3.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame3.locator(".greeting")).to_contain_text("Hi Nuno!")

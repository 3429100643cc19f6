"""The chat frame's own defects found by a black-box tester, in a real Chromium: the composer
that did not grow (a two-line draft and the Portuguese placeholder cut in half), article
suggestions where the first message is written in the offline or pre-chat form, a refused
upload that lost its file's name, "Reconnecting…" half a minute after the browser said it was
offline, and form errors far from their fields. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FrameLocator, Locator, Page, expect

from tests.browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    agent_page,
    axe_violations,
    browser,
    open_widget,
    sites,
)
from tests.test_kb_browser import seed_articles

pytestmark = pytest.mark.browser

# Browsers without CSS ``field-sizing`` (Firefox, older Safari): the frame's script sizes the
# composer instead. Chromium has it; this makes the frame believe it has not.
NO_FIELD_SIZING = """
  (() => {
    const supports = CSS.supports.bind(CSS);
    CSS.supports = (...a) => /field-sizing/.test(a.join(" ")) ? false : supports(...a);
  })();
"""


async def host_page(browser: Browser, sites: Sites, sizing: str,  # noqa: F811
                    **options: Any) -> tuple[Page, list[str]]:
    """The customer's page in a new context (``options``), the composer sized by CSS or, for
    ``sizing == "script"``, by the frame's script; and the page's script errors as they come."""
    context = await browser.new_context(**options)
    if sizing == "script":
        await context.add_init_script(NO_FIELD_SIZING)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(sites.page_url)
    return page, errors


async def fits(box: Locator) -> dict[str, Any]:
    """How the composer's text (or its placeholder) fits in it: nothing cut means
    ``scrollHeight <= clientHeight``."""
    result: dict[str, Any] = await box.evaluate(
        "e => ({scroll: e.scrollHeight, client: e.clientHeight, height: e.offsetHeight,"
        " overflowY: getComputedStyle(e).overflowY, value: e.value,"
        " placeholder: e.placeholder})")
    return result


@pytest.mark.parametrize("sizing", ["css", "script"])
async def test_the_composer_grows_with_its_text_and_shows_the_whole_placeholder(
        browser: Browser, sites: Sites, artifacts: Path, sizing: str) -> None:  # noqa: F811
    """Before: the composer was one line (41 px) high and never grew: "Escreva uma mensagem…"
    wrapped to two lines of which one was cut, and a draft of two lines showed its second line
    only, the first under the border."""
    page, errors = await host_page(browser, sites, sizing, viewport={"width": 1100, "height": 750},
                                   device_scale_factor=2, locale="pt-PT")
    await page.get_by_role("button", name="Abrir conversa").click()
    frame = page.frame_locator("iframe[title=Chat]")
    composer = frame.get_by_label("Mensagem", exact=True)
    await expect(composer).to_have_attribute("placeholder", "Escreva uma mensagem…")
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    assert await frame.locator("html").evaluate(
        "() => CSS.supports('field-sizing', 'content')") == (sizing == "css")

    empty = await fits(composer)
    assert empty["scroll"] <= empty["client"], empty
    send = await frame.get_by_role("button", name="Enviar").bounding_box()
    box = await composer.bounding_box()
    assert send and box and box["height"] <= 2 * send["height"], (box, send)  # not a wall
    await page.screenshot(path=artifacts / f"widget-composer-pt-placeholder-{sizing}.png",
                          clip=composer_clip(box))

    one_line = (await fits(composer))["height"]
    await composer.press_sequentially("Olá! Como posso pedir o reembolso da minha encomenda?")
    two = await fits(composer)
    assert two["scroll"] <= two["client"], two  # nothing cut
    assert two["height"] > one_line, two  # it grew
    box = await composer.bounding_box()
    await page.screenshot(path=artifacts / f"widget-composer-two-lines-{sizing}.png",
                          clip=composer_clip(box))
    # A long draft: a few lines high, then it scrolls (the rest of the chat stays in view).
    await composer.fill("\n".join(f"Linha {n} do rascunho" for n in range(1, 13)))
    await composer.press("End")
    tall = await fits(composer)
    assert tall["height"] <= 130 and tall["scroll"] > tall["client"], tall
    assert tall["overflowY"] in ("auto", "scroll"), tall
    # Sent (Enter, and an emoji first: text put in by the frame): one line again.
    await composer.fill("Uma pergunta curta sobre o tamanho das botas de caminhada")
    await frame.get_by_role("button", name="Emoji").click()
    await frame.get_by_role("group", name="Emoji").get_by_role("button").first.click()
    grown = await fits(composer)
    assert grown["scroll"] <= grown["client"] and grown["height"] > one_line, grown
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(composer).to_have_value("")
    after = await fits(composer)
    assert after["height"] == one_line, (after, one_line)
    await page.screenshot(path=artifacts / f"widget-composer-after-send-{sizing}.png")
    assert errors == []


def composer_clip(box: dict[str, float] | None) -> dict[str, float]:
    assert box
    return {"x": box["x"] - 12, "y": box["y"] - 12, "width": box["width"] + 160,
            "height": box["height"] + 24}


@pytest.mark.parametrize("sizing", ["css", "script"])
async def test_the_composer_fits_on_a_phone_in_every_language(
        browser: Browser, sites: Sites, artifacts: Path, sizing: str) -> None:  # noqa: F811
    """The narrowest composer (a 320 px phone), every language's placeholder (the language
    changed while the chat is open): never cut."""
    page, errors = await host_page(browser, sites, sizing, viewport={"width": 320, "height": 640},
                                   device_scale_factor=2, is_mobile=True, has_touch=True)
    frame = await open_widget(page)
    composer = frame.locator("#input")
    seen = {}
    for lang in ("en", "pt", "el", "es", "fr", "de", "ar", "he"):
        await page.evaluate("lang => LiveChat('locale', lang)", lang)
        await expect(frame.locator(f"html[lang={lang}]")).to_have_count(1)
        measured = await fits(composer)
        seen[lang] = measured
        assert measured["scroll"] <= measured["client"], (lang, measured)
        assert measured["height"] <= 70, (lang, measured)  # two lines at most
        box = await composer.bounding_box()
        assert box
        await page.screenshot(path=artifacts / f"widget-composer-phone-{lang}-{sizing}.png",
                              clip={"x": 0, "y": box["y"] - 12, "width": 320,
                                    "height": box["height"] + 24})
    assert len({m["placeholder"] for m in seen.values()}) == 8, seen
    assert errors == []


@pytest.mark.parametrize("form", [
    pytest.param("offline", marks=pytest.mark.site_profile(offline="form")),
    pytest.param("prechat", marks=pytest.mark.site_profile(prechat=["name", "email"],
                                                           offline="chat")),
])
async def test_articles_are_suggested_while_the_form_is_written(
        browser: Browser, sites: Sites, artifacts: Path, form: str) -> None:  # noqa: F811
    """Before: where the first message is written in the offline form or after the pre-chat
    questions, no article was ever suggested (kb.js was not even fetched): suggestions watched
    the composer only, which those forms hide."""
    await seed_articles(sites)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await page.clock.install()  # (time flows; the test runs the suggestions' pause at once)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#intake")).to_be_visible()
    message = frame.get_by_label("Your message")
    await message.press_sequentially("Hi, how do I get a refund for my order?")
    suggested = frame.get_by_role("list", name="These articles may answer your question")
    await expect(suggested.get_by_role("button").first).to_have_text("Returns and refunds")
    # Under the message field, inside the form, before its own button (which sends: no
    # "Send anyway" here).
    field = await message.bounding_box()
    first = await suggested.bounding_box()
    button = await frame.locator("#intake-submit").bounding_box()
    assert field and first and button
    assert field["y"] + field["height"] <= first["y"] < button["y"], (field, first, button)
    await expect(frame.get_by_role("button", name="Send anyway")).to_have_count(0)
    # In view, with the message being written (the chat's stream scrolled, not the page).
    await expect(suggested).to_be_in_viewport()
    await expect(message).to_be_in_viewport()
    assert await page.evaluate("scrollY") == 0
    await page.screenshot(path=artifacts / f"widget-suggestions-in-the-{form}-form.png")
    assert await axe_violations(page, "/widget/frame") == []
    # Open it, come back: the form is as it was, the focus on the suggestion.
    await frame.get_by_label("Name").fill("Maria Silva")
    await suggested.get_by_role("button").first.click()
    await expect(frame.get_by_role("heading", name="Returns and refunds")).to_be_focused()
    await expect(frame.locator("#intake")).to_be_hidden()
    await frame.get_by_role("button", name="Back").click()
    await expect(suggested.get_by_role("button").first).to_be_focused()
    await expect(frame.get_by_label("Name")).to_have_value("Maria Silva")
    await expect(message).to_have_value("Hi, how do I get a refund for my order?")
    # Too short: none.
    await message.fill("refund")
    await expect(frame.locator("#kb-suggest")).to_be_hidden()
    await message.fill("Can I get my money back for the tent?")
    await expect(suggested).to_be_visible()
    await frame.get_by_label("Email").fill("maria@example.com")
    await frame.locator("#intake-submit").click()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    await expect(frame.locator("#kb-suggest")).to_be_hidden()
    # The conversation exists: the composer suggests nothing now.
    composer = frame.get_by_label("Message", exact=True)
    searched: list[str] = []
    page.on("request", lambda r: searched.append(r.url) if "/widget/kb/search" in r.url else None)
    await composer.fill("And how do I get a refund for the boots?")
    await page.clock.run_for(1000)  # past the pause before suggestions are looked for (400 ms)
    # A search of the test's own, from the frame: any the frame asked for came before it.
    async with page.expect_request(re.compile(r"/widget/kb/search\?q=the-test$")):
        await frame.locator("html").evaluate("() => { fetch('/widget/kb/search?q=the-test'); }")
    assert [url.split("?")[1] for url in searched] == ["q=the-test"]
    await expect(frame.locator("#kb-suggest")).to_be_hidden()
    assert errors == []


async def test_a_refused_upload_keeps_its_files_name(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Before: a file the server refused left an empty pink bubble, "Not sent: …" under it,
    and nothing said which file it was."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 750},
                                            device_scale_factor=2)).new_page()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)  # (it has a token)
    page_file = tmp_path / "<img src=x onerror=alert(1)> order.html"
    page_file.write_text("<html><script>alert(1)</script></html>")
    await frame.locator("#file").set_input_files(page_file)
    failed = frame.locator(".msg.mine.failed")
    await expect(failed).to_have_count(1)
    await expect(failed.locator(".body")).to_have_text(  # as text
        "<img src=x onerror=alert(1)> order.html")
    assert await failed.locator(".body img, .body script").count() == 0
    await expect(failed.locator(".meta")).to_have_text(
        "Not sent: send an image (PNG, JPEG, GIF, WebP), a PDF or a text file")
    box = await page.locator("iframe[title=Chat]").bounding_box()
    assert box
    await page.screenshot(path=artifacts / "widget-refused-upload.png",
                          clip={"x": box["x"], "y": box["y"], "width": box["width"],
                                "height": 320})
    # A file that goes through: its link replaces the name.
    text_file = tmp_path / "sizes.txt"
    text_file.write_text("42, 43, 44")
    await frame.locator("#file").set_input_files(text_file)
    sent = frame.locator(".msg.mine:not(.pending):not(.failed)")
    await expect(sent).to_have_count(1)
    await expect(sent.get_by_role("link")).to_contain_text("sizes.txt")
    await expect(sent.locator(".body")).to_have_text("sizes.txt · 10 B")
    # A right-to-left name stays whole, in its own direction, before its size; in the panel it
    # read "txt · 6 B.שלום עולם" (a black-box tester).
    hebrew = tmp_path / "שלום עולם.txt"
    hebrew.write_text("shalom")
    await frame.locator("#file").set_input_files(hebrew)
    await expect(sent).to_have_count(2)
    agent = await agent_page(browser, sites)
    await agent.locator(".item button").first.click()
    link = agent.locator("#messages a.file").last
    await expect(link.locator("bdi")).to_have_text("שלום עולם.txt")
    await expect(link).to_have_text("שלום עולם.txt · 6 B")
    # Both pickers offer what the server keeps as text (.csv and .md were greyed out).
    for picker in (frame.locator("#file"), agent.locator("#file")):
        await expect(picker).to_have_attribute("accept", re.compile(r"\.log,\.csv,\.md$"))
    name, whole = await link.locator("bdi").bounding_box(), await link.bounding_box()
    assert name and whole and abs(name["x"] - whole["x"]) < 2, (name, whole)
    await agent.screenshot(path=artifacts / "panel-rtl-file-name.png")


# Every WebSocket the page (and its frames) makes, counted on <html data-sockets>.
COUNT_SOCKETS = """
  (() => {
    const Native = window.WebSocket;
    let made = 0;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        document.documentElement.dataset.sockets = String(++made);
      }
    };
  })();
"""


#: The WCAG contrast ratio of two computed ``rgb(…)`` colours.
CONTRAST = """([a, b]) => {
  const lum = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}"""


async def test_what_was_not_sent_is_no_longer_shown_as_pending(
        browser: Browser, sites: Sites, artifacts: Path, tmp_path: Path) -> None:  # noqa: F811
    """Before: a refused file or message was marked ``failed`` and kept ``pending``: faded (its
    bubble at 75 % opacity) for ever, as if it were still on its way."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 750})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    refused = tmp_path / "order.html"  # refused by the upload (415)
    refused.write_text("<html>order</html>")
    await frame.locator("#file").set_input_files(refused)
    await expect(frame.locator(".msg.mine.failed")).to_have_count(1)
    # A message the server refuses (bad_text: a lone surrogate), then one it takes.
    composer = frame.get_by_label("Message", exact=True)
    await composer.evaluate("box => { box.value = 'Half an emoji \\ud83d'; }")
    await composer.press("Enter")
    await composer.fill("Is this one through?")
    await composer.press("Enter")
    failed = frame.locator(".msg.mine.failed")
    await expect(failed.locator(".meta")).to_have_text([
        "Not sent: send an image (PNG, JPEG, GIF, WebP), a PDF or a text file",
        "Not sent: the message has a character that can't be sent"])
    await expect(frame.locator(".msg.mine[data-seq] .body")).to_have_text(["Is this one through?"])
    await expect(frame.locator(".msg.mine.pending")).to_have_count(0)
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        looks = await failed.locator(".body").evaluate_all(
            "bodies => bodies.map(b => { const s = getComputedStyle(b);"
            " return [s.opacity, s.color, s.backgroundColor]; })")
        sent = await frame.locator(".msg.mine[data-seq] .body").evaluate(
            "b => getComputedStyle(b).backgroundColor")
        for opacity, color, background in looks:
            assert opacity == "1", (scheme, looks)
            assert background != sent, (scheme, looks, sent)  # not like one that went
            ratio = await page.evaluate(CONTRAST, [color, background])
            assert ratio >= 4.5, (scheme, looks, ratio)
        box = await page.locator("iframe[title=Chat]").bounding_box()
        assert box
        await page.screenshot(path=artifacts / f"widget-not-sent-{scheme}.png",
                              clip={"x": box["x"], "y": box["y"], "width": box["width"],
                                    "height": 360})
    assert errors == []


async def test_reconnecting_shows_as_soon_as_the_browser_is_offline(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    """Before: the browser said it was offline at once, and the chat went on looking connected
    for about 27 seconds (until a ping went unanswered); a message written then just waited."""
    context = await browser.new_context(viewport={"width": 1100, "height": 750})
    await context.add_init_script(COUNT_SOCKETS)
    page = await context.new_page()
    await page.clock.install()
    await page.goto(sites.page_url)
    frame = await open_widget(page)
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Before going offline")
    await composer.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    banner = frame.locator("#banner")
    await expect(banner).to_be_hidden()
    await expect(frame.locator("html[data-sockets='1']")).to_have_count(1)
    # From here no timer of the page fires unless the test runs the clock: what happens at once
    # is the browser's own "offline" and "online" at work (no ping went unanswered).
    await page.clock.pause_at(await page.evaluate("Date.now()") + 1000)
    await context.set_offline(True)
    await expect(banner).to_have_text("Reconnecting…")
    await expect(frame.locator("html[data-state=online]")).to_have_count(0)
    await composer.fill("Written while offline")
    await composer.press("Enter")
    await page.screenshot(path=artifacts / "widget-offline-reconnecting.png")
    # Offline for a while: each try fails, and the next waits twice as long, up to 7.5-15 s.
    for tries in range(1, 6):
        await page.clock.run_for(15_000)  # (the longest wait)
        await expect(frame.locator(
            f"html[data-sockets='{1 + tries}'][data-state=reconnecting]")).to_have_count(1)
    await expect(banner).to_have_text("Reconnecting…")
    # Then online: at once, not when the next try is due.
    await context.set_offline(False)
    await expect(frame.locator("html[data-state=online]")).to_have_count(1)
    await expect(frame.locator("html[data-sockets='7']")).to_have_count(1)
    await expect(banner).to_be_hidden()
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(2)


async def field_error(frame: FrameLocator, label: str) -> Locator:
    """The error that describes the field labelled ``label`` (its aria-describedby)."""
    field = frame.get_by_label(label, exact=True)
    await expect(field).to_have_attribute("aria-invalid", "true")
    described = await field.get_attribute("aria-describedby")
    assert described
    return frame.locator(f"#{described}")


async def below(page: Page, field: Locator, error: Locator) -> None:
    """``error`` is right under ``field``: nothing between them."""
    f, e = await field.bounding_box(), await error.bounding_box()
    assert f and e and 0 <= e["y"] - (f["y"] + f["height"]) < 12, (f, e)


@pytest.mark.site_profile(offline="form")
async def test_form_errors_are_by_their_fields(browser: Browser, sites: Sites,  # noqa: F811
                                               artifacts: Path) -> None:
    """Before: "Please tell us your name." appeared under the message box, far from the Name
    field, one error at a time, and no field was marked invalid."""
    page = await (await browser.new_context(viewport={"width": 1100, "height": 800})).new_page()
    await page.goto(sites.page_url)
    await page.get_by_role("button", name="Open chat").click()
    frame = page.frame_locator("iframe[title=Chat]")
    await expect(frame.locator("#intake")).to_be_visible()
    name, email = frame.get_by_label("Name"), frame.get_by_label("Email")
    message = frame.get_by_label("Your message")
    await email.fill("maria@")
    await frame.get_by_role("button", name="Leave a message").click()
    # Every error at once, each under its field and tied to it; the first has the focus.
    await expect(name).to_be_focused()
    await expect(name).to_have_accessible_description("Please tell us your name.")
    await expect(email).to_have_accessible_description("Please enter a valid email address.")
    await expect(message).to_have_accessible_description("Please write a message.")
    for field, label in ((name, "Name"), (email, "Email"), (message, "Your message")):
        error = await field_error(frame, label)
        await expect(error).to_be_visible()
        await below(page, field, error)
    await page.screenshot(path=artifacts / "widget-offline-form-errors.png")
    assert await axe_violations(page, "/widget/frame") == []
    # Corrected fields are no longer invalid; the first still wrong has the focus.
    await name.fill("Maria Silva")
    await message.fill("Do the Trail Runner 3 come in size 46?")
    await frame.get_by_role("button", name="Leave a message").click()
    await expect(email).to_be_focused()
    for field in (name, message):
        await expect(field).not_to_have_attribute("aria-invalid", "true")
        await expect(field).to_have_accessible_description("")
    await expect(frame.get_by_text("Please tell us your name.")).to_be_hidden()
    await expect(email).to_have_attribute("aria-invalid", "true")
    # Pressing Enter in the one field still wrong (it has the focus already): said again.
    await email.press("Enter")
    await expect(email).to_be_focused()
    await email.fill("maria@example.com")
    await email.press("Enter")
    await expect(frame.locator(".msg.mine:not(.pending)")).to_have_count(1)
    assert await frame.locator("#intake [aria-invalid=true]").count() == 0

"""The knowledge base in a real Chromium: an admin writes and publishes an article on the Manage
page (live preview, a translation); a visitor on a hostile host page searches it in the widget,
opens it, comes back, sees it suggested while typing; an agent links it with ``#``; the public
help centre renders it with its meta tags. axe-core checks every page; screenshots go to
test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from server.auth import hash_password
from tests.live import PASSWORD, open_store
from tests.test_browser import (  # noqa: F401 — the browser and sites fixtures
    Sites,
    axe_violations,
    browser,
    sign_in_page,
    sites,
)

pytestmark = pytest.mark.browser

RETURNS_MD = """Send the item back within **30 days** and we refund you.

1. Open [your orders](https://shop.test/orders)
2. Choose *Return*

<script>window.pwned = 1</script>
[evil](javascript:window.pwned=1) <img src=x onerror="window.pwned=1">
"""


async def admin(browser: Browser, sites: Sites) -> Page:
    async with open_store(sites.chat.db) as store:
        await store.create_agent("root@acme.test", "Rita Root", hash_password(PASSWORD),
                                 "admin", [])
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    return await sign_in_page(await context.new_page(), sites.chat.http, "root@acme.test")


async def publish_by_hand(root: Page, artifacts: Path) -> None:
    """The admin writes the article in the editor, watches the preview, publishes it, and
    writes its Portuguese translation."""
    await root.get_by_role("button", name="Manage").click()
    await root.get_by_role("button", name="New article").click()
    form = root.locator("#kb-form")
    await form.get_by_label("Title").fill("Returns and refunds")
    await form.get_by_label("Language").fill("en")
    await form.get_by_label("Category").fill("Orders")
    await form.get_by_label("Text (Markdown)").fill(RETURNS_MD)
    preview = root.locator("#kb-preview")
    await expect(preview.locator("strong")).to_have_text("30 days")
    await expect(preview.get_by_role("link", name="your orders")).to_have_attribute(
        "href", "https://shop.test/orders")
    # The payloads are text in the preview: no script element, no handler, no javascript: link.
    await expect(preview).to_contain_text("<script>window.pwned = 1</script>")
    assert await preview.locator("script, img, a[href^=javascript]").count() == 0
    await form.get_by_label("Status").select_option("published")
    await form.get_by_role("button", name="Save article").click()
    await expect(form.locator(".secret")).to_have_text("Saved and published.")
    await expect(root.locator("#kb-list")).to_contain_text("Returns and refunds")
    await root.screenshot(path=artifacts / "kb-01-editor-preview.png", full_page=True)
    assert await axe_violations(root, "no frames") == []
    assert await root.evaluate("window.pwned") is None

    await form.get_by_role("button", name="Translate").click()
    await expect(root.locator("#kb-form-title")).to_have_text(
        "Translation of Returns and refunds")
    await expect(form.get_by_label("Language")).to_be_focused()
    await form.get_by_label("Language").fill("pt")
    await form.get_by_label("Title").fill("Devoluções e reembolsos")
    await form.get_by_label("Category").fill("Encomendas")
    await form.get_by_label("Text (Markdown)").fill("Devolva o artigo em **30 dias**.")
    await form.get_by_label("Status").select_option("published")
    await form.get_by_role("button", name="Save article").click()
    await expect(form.locator(".secret")).to_have_text("Saved and published.")
    await expect(root.locator("#kb-translations")).to_contain_text("en · Returns and refunds")
    await root.locator("#kb-address").get_by_label("Help centre address").fill("acme")
    await root.locator("#kb-address").get_by_role("button", name="Save address").click()
    await expect(root.locator("#kb-open")).to_have_attribute("href", f"{root.url.split('/agent')[0]}/help/acme")


async def test_an_admin_writes_publishes_and_translates_an_article(
        browser: Browser, sites: Sites, artifacts: Path) -> None:  # noqa: F811
    root = await admin(browser, sites)
    await publish_by_hand(root, artifacts)
    async with open_store(sites.chat.db) as store:
        found = await store.articles.search(sites.site_id, "reembolso", "pt")
        assert [f.article.title for f in found] == ["Devoluções e reembolsos"]
        en = (await store.articles.search(sites.site_id, "refund", "en"))[0].article
        assert found[0].article.group_id == en.group_id
        assert "<script" not in en.html and "<img" not in en.html  # (as text: escaped)
    async with httpx.AsyncClient() as http:
        listed = await http.get(f"{sites.chat.http}/api/admin/articles")
        assert listed.status_code == 401

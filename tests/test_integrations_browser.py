"""The Manage page's integrations in Chromium, as an admin: a token made and shown once, then
revoked; a webhook added, its delivery log read and an event redelivered to a real receiver; a
site's retention saved; and a visitor's data exported and erased from the conversation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.browser import axe_violations, browser  # noqa: F401 — the browser fixture
from tests.live import UNLIMITED, Seed, add_admin, api_token, serving, visitor
from tests.test_panel_browser import sign_in
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.browser


async def test_integrations_on_the_manage_page(browser: Browser, db: Path,  # noqa: F811
                                               seeded: Seed, artifacts: Path) -> None:
    await add_admin(db)
    env = {**UNLIMITED, "LIVECHAT_WEBHOOK_ALLOW_PRIVATE": "1", "LIVECHAT_WEBHOOK_POLL": "0.05"}
    async with receiving() as receiver:
        with serving(db, **env) as server:
            root = await sign_in(browser, server.http, "root@acme.test")
            await root.get_by_role("button", name="Manage").click()

            tokens = root.locator("#admin-tokens")
            await tokens.get_by_label("Name", exact=True).fill("Helpdesk sync")
            await tokens.get_by_label("Site").select_option(label="Acme")
            await tokens.get_by_label("conversations:read").check()
            await tokens.get_by_role("button", name="Create token").click()
            shown = tokens.locator(".secret")
            await expect(shown).to_contain_text("shown once")
            secret = (await shown.inner_text()).split()[-1]
            assert secret.startswith("lc.tok_")
            async with httpx.AsyncClient(base_url=server.http) as http:
                ok = await http.get("/api/v1/conversations",
                                    headers={"Authorization": f"Bearer {secret}"})
                assert ok.status_code == 200
            row = tokens.locator("#token-rows tr", has_text="Helpdesk sync")
            await expect(row).to_contain_text("conversations:read")
            await row.get_by_role("button", name="Revoke Helpdesk sync").click()
            await expect(row).to_contain_text("Revoked")

            hooks = root.locator("#admin-webhooks")
            await hooks.get_by_label("Site").select_option(label="Acme")
            await hooks.get_by_label("URL").fill(receiver.url)
            await hooks.get_by_label("message.created").check()
            await hooks.get_by_role("button", name="Add webhook").click()
            await expect(hooks.locator(".secret")).to_contain_text("whsec_")
            await expect(hooks.locator("#webhook-rows")).to_contain_text(receiver.url)

            widget, _ = await visitor(server, seeded.site_id)
            await widget.request({"type": "profile", "id": "p", "name": "Rui Costa"})
            await widget.request({"type": "send", "id": "m", "body": "Where is order 7?"})
            await receiver.until(lambda got: len(got) == 1)
            await hooks.get_by_role("button", name="Deliveries").click()
            log = hooks.locator(".deliveries")
            await expect(log).to_contain_text("HTTP 200")
            await log.get_by_role("button", name="Redeliver").first.click()
            await expect(log.get_by_role("button", name="Queued")).to_be_visible()
            got = await receiver.until(lambda got: len(got) == 2)
            assert got[0].id == got[1].id

            retention = root.locator("#admin-retention")
            acme = retention.locator("form", has_text="Acme:")
            await acme.get_by_role("spinbutton").fill("90")
            await acme.get_by_role("button", name="Save").click()
            await expect(acme).to_contain_text("Saved.")
            admin = httpx.AsyncClient(base_url=server.http, headers={
                "Authorization": f"Bearer {api_token(db, 'admin')}"})
            async with admin:
                kept = await admin.get(f"/api/v1/sites/{seeded.site_id}/retention")
                assert kept.json()["days"] == 90
            await root.screenshot(path=str(artifacts / "manage-integrations.png"),
                                  full_page=True)
            assert await axe_violations(root, "no frames") == []

            # The conversation's context column: export, then erase.
            await root.get_by_role("button", name="Inbox").click()
            await root.get_by_text("Where is order 7?").first.click()
            export = root.get_by_role("link", name="Export data")
            await expect(export).to_be_visible()
            async with root.expect_download() as download:
                await export.click()
            saved = await (await download.value).path()
            assert saved is not None
            assert (await asyncio.to_thread(Path(saved).read_bytes))[:2] == b"PK"
            root.once("dialog", lambda dialog: dialog.accept())
            await root.get_by_role("button", name="Erase visitor…").click()
            await expect(root.locator(".rights")).to_contain_text("Erased.")
            await root.screenshot(path=str(artifacts / "panel-erased.png"))
            async with httpx.AsyncClient(base_url=server.http, headers={
                    "Authorization": f"Bearer {api_token(db, 'admin')}"}) as http:
                erasures = (await http.get("/api/v1/erasures")).json()["data"]
            assert len(erasures) == 1 and erasures[0]["erased_by"].startswith("agent:")
            await widget.close()

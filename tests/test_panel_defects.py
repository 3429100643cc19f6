"""Defects of the agent panel, in a real Chromium (and the frame behind "My teams", on the wire):
times that stopped moving, words left in the old language after a switch, a composer disabled
without saying why, "My teams" and the Reports page's team filter that waited for a reload, and
notices ("Saved.") left in the old language. Screenshots go to test-artifacts/
(LIVECHAT_ARTIFACTS)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.browser import sign_in_page
from tests.live import ADMIN_EMAIL, PASSWORD, Seed, ServerProcess, agent, login, open_store
from tests.test_admin import admin_cookie, call  # noqa: F401 — the admin's cookie fixture
from tests.test_panel_browser import (  # noqa: F401 — fixtures
    Desk,
    axe_violations,
    browser,
    desk,
    sign_in,
)
from tests.test_panel_polish import visitor_writes

LOCAL_TIME = "xpath=//dl[@id='visitor-facts']/dt[.='Local time']/following-sibling::dd[1]"


async def claimed(browser: Browser, desk: Desk) -> Page:  # noqa: F811
    """Ana signed in, the first conversation of her list opened and claimed."""
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    await ana.get_by_role("button", name="Claim").click()
    return ana


@pytest.mark.browser
async def test_times_move_on_in_place(browser: Browser, desk: Desk) -> None:  # noqa: F811
    """"5m" in the inbox, beside the visitor's pages, and the visitor's local time go on
    moving while the conversation stays open — updated where they are, so the list is not
    drawn again under the agent (the focus stays where it was)."""
    await visitor_writes(browser, desk, "Is the Summit Tent in stock?")
    context = await browser.new_context(viewport={"width": 1400, "height": 860},
                                        timezone_id="UTC")
    ana = await context.new_page()
    await ana.clock.install()
    await sign_in_page(ana, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    page_when = ana.locator("#pages li .when")
    await expect(page_when).to_have_text(re.compile(r"· current$"))
    await expect(ana.locator("#list .item .unread")).to_have_count(0)  # (read: drawn again)
    local = ana.locator(LOCAL_TIME)
    await expect(local).to_have_text(re.compile(r"\d\d.* \(.+\)$"))  # "01:20 PM (UTC)"
    local_before = await local.inner_text()
    listed = ana.locator("#list .item button").first
    await listed.focus()

    await ana.clock.fast_forward("02:00:00")
    await expect(page_when).to_have_text(re.compile(r"^\s*2h · current$"))
    await expect(ana.locator("#list .item .when")).to_have_text("2h")
    await expect(local).not_to_have_text(local_before)
    await expect(listed).to_be_focused()


@pytest.mark.browser
async def test_every_word_follows_a_language_switch(browser: Browser, desk: Desk,  # noqa: F811
                                                    artifacts: Path) -> None:
    """Words drawn once by a script — Block… and its form, the account section and the email
    line of the Settings, the Manage page's sections and lists — change with the language,
    without a reload."""
    await visitor_writes(browser, desk, "Hello, is anyone there?")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    await expect(ana.get_by_role("button", name="Block…", exact=True)).to_be_visible()
    await ana.get_by_role("button", name="Settings").click()
    await expect(ana.locator("#email-status")).to_contain_text("Email is off")
    await ana.get_by_label("Language").select_option("el")
    block = ana.get_by_role("button", name="Αποκλεισμός…", exact=True)
    await expect(block).to_be_visible()
    account = ana.locator("#account")
    await expect(account.get_by_role("heading", name="Λογαριασμός")).to_be_visible()
    await expect(account.get_by_label("Τρέχων κωδικός")).to_be_visible()
    await expect(account.get_by_role("button", name="Αλλαγή κωδικού")).to_be_visible()
    await expect(ana.locator("#email-status")).to_have_text(
        "Το email είναι απενεργοποιημένο σε αυτόν τον διακομιστή (δεν έχει οριστεί "
        "LIVECHAT_SMTP_URL).")
    await ana.keyboard.press("Escape")
    await block.click()
    form = ana.locator("#block-form")
    await expect(form.get_by_label("Αποκλεισμός για")).to_be_visible()
    await expect(form.get_by_role("button", name="Αποκλεισμός αυτού του επισκέπτη")
                 ).to_be_visible()
    await ana.screenshot(path=artifacts / "panel-defects-2-language.png")

    # An admin on the Manage page switches to Portuguese: its sections and lists follow.
    root = await sign_in(browser, desk.chat.http, "root@acme.test")
    await root.get_by_role("button", name="Manage").click()
    await expect(root.locator("#admin-tokens h2")).to_have_text("API tokens")
    await expect(root.locator("#admin-agents")).to_contain_text("Reset link")
    await root.get_by_role("button", name="Settings").click()
    await root.get_by_label("Language").select_option("pt")
    await root.keyboard.press("Escape")
    await expect(root.locator("#admin-tokens h2")).to_have_text("Tokens da API")
    await expect(root.locator("section.blocks h2")).to_have_text("Visitantes bloqueados")
    await expect(root.locator("#team-form-title")).to_have_text("Nova equipa")
    await expect(root.locator("#admin-agents")).to_contain_text("Ligação de reposição")
    await root.screenshot(path=artifacts / "panel-defects-2-manage.png", full_page=True)
    await root.locator("#admin-tokens").screenshot(path=artifacts / "panel-defects-2-tokens.png")


@pytest.mark.browser
async def test_the_composer_says_why_it_is_off(browser: Browser, desk: Desk,  # noqa: F811
                                               artifacts: Path) -> None:
    """Only the assignee may reply: anyone else's composer says so (an admin: transfer it
    first), in the agent's language, with the assignee's name as text."""
    await visitor_writes(browser, desk, "Where is my order?")
    ana = await claimed(browser, desk)
    await expect(ana.locator("#conv-status")).to_have_text("Assigned to you")
    await expect(ana.locator("#reply-input")).to_be_enabled()

    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await bo.get_by_role("tab", name=re.compile("^All open")).click()
    await bo.locator(".item", has_text="Ana Lima").locator("button").click()
    reply = bo.locator("#reply-input")
    await expect(reply).to_be_disabled()
    await expect(reply).to_have_attribute(
        "placeholder",
        "Assigned to \u2068Ana Lima\u2069: only they can reply. Write an internal note instead.")
    await bo.screenshot(path=artifacts / "panel-defects-3-reason.png")
    await bo.get_by_role("radio", name="Internal note").check()
    await expect(reply).to_be_enabled()
    await bo.get_by_role("radio", name="To the visitor").check()
    await expect(reply).to_be_disabled()
    await bo.get_by_role("button", name="Settings").click()
    await bo.get_by_label("Language").select_option("ar")
    await expect(reply).to_have_attribute(
        "placeholder",
        "مسندة إلى \u2068Ana Lima\u2069: الرد له وحده. اكتب ملاحظة داخلية بدلًا من ذلك.")
    await bo.keyboard.press("Escape")
    # The visitor's English in the Arabic list keeps its own direction: "?" after "order", at
    # its right end, not before "Where" (the list's preview took the page's direction before).
    preview = bo.locator("#list .item .preview")
    await expect(preview).to_have_text("Where is my order?")
    # (Retried: the list may be drawn again meanwhile, and a replaced element has no style.)
    await expect(preview).to_have_css("direction", "ltr")
    await bo.screenshot(path=artifacts / "panel-defects-3-reason-arabic.png")

    root = await sign_in(browser, desk.chat.http, "root@acme.test")
    await root.get_by_role("tab", name=re.compile("^All open")).click()
    await root.locator(".item", has_text="Ana Lima").locator("button").click()
    await expect(root.locator("#reply-input")).to_have_attribute(
        "placeholder", "Assigned to \u2068Ana Lima\u2069: only they can reply. Write an internal "
        "note, or transfer the conversation.")
    await expect(root.get_by_role("button", name="Transfer", exact=True)).to_be_visible()

    # A name is the agent's own words: shown as they are, never read as markup.
    async with open_store(desk.chat.db) as store:
        ana_id = next(a.id for a in await store.agents() if a.email == "ana@acme.test")
        await store.update_agent(ana_id, name="Ana <img src=x>")
    await root.reload()
    await root.get_by_role("tab", name=re.compile("^All open")).click()
    await root.locator(".item button").first.click()
    await expect(root.locator("#reply-input")).to_have_attribute(
        "placeholder", "Assigned to \u2068Ana <img src=x>\u2069: only they can reply. Write an "
        "internal note, or transfer the conversation.")
    await expect(root.locator("#conversation img[src=x]")).to_have_count(0)


async def team_of_ana(root: Page) -> Locator:
    """The admin makes the team "Gear" with Ana in it, on the Manage page; its form."""
    await root.get_by_role("button", name="Manage").click()
    form = root.locator("#team-form")
    await form.get_by_label("Name", exact=True).fill("Gear")
    await form.get_by_label("Ana Lima").check()
    await form.get_by_role("button", name="Save team").click()
    await expect(root.locator("#admin-teams")).to_contain_text("Gear · Acme Outdoor Ana Lima")
    return form


@pytest.mark.browser
async def test_my_teams_follows_the_admin(browser: Browser, desk: Desk) -> None:  # noqa: F811
    """An admin adds Ana to a team: her "My teams" appears at once (and the admin's own team
    menu has the new team), with what is given to it; taken out, it goes; the team deleted,
    the conversation given to it no longer says so."""
    await visitor_writes(browser, desk, "I need a new tent pole")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    root = await sign_in(browser, desk.chat.http, "root@acme.test")
    my_teams = ana.get_by_role("tab", name=re.compile("^My teams"))
    await expect(ana.locator("#list .item")).to_have_count(1)
    await expect(my_teams).to_be_hidden()

    form = await team_of_ana(root)
    await expect(my_teams).to_be_visible()

    await root.get_by_role("button", name="Inbox").click()
    await root.locator("#list .item button").first.click()
    await root.locator("#team-select").select_option(label="Team: Gear")
    await expect(ana.locator("#count-team")).to_have_text("1")
    await my_teams.click()
    await expect(ana.locator("#list .item .team")).to_have_text("Gear")

    await root.get_by_role("button", name="Manage").click()
    await root.get_by_role("button", name="Edit team Gear").click()
    await form.get_by_label("Ana Lima").uncheck()
    await form.get_by_role("button", name="Save team").click()
    await expect(my_teams).to_be_hidden()
    await expect(ana.locator("#tab-queue")).to_have_attribute("aria-selected", "true")
    await expect(ana.locator("#list .item .team")).to_have_text("Gear")
    # Renamed while Ana has the conversation open: her list and header say the new name.
    await ana.locator("#list .item button").first.click()
    await expect(ana.locator("#team-select")).to_have_value(re.compile("."))
    await root.get_by_role("button", name="Edit team Gear").click()
    await form.get_by_label("Name", exact=True).fill("Camping")
    await form.get_by_role("button", name="Save team").click()
    await expect(root.locator("#admin-teams")).to_contain_text("Camping")
    await expect(ana.locator("#list .item .team")).to_have_text("Camping")
    await expect(ana.locator("#team-select option:checked")).to_have_text("Team: Camping")
    await expect(root.locator("#list .item .team")).to_have_text("Camping")
    await root.get_by_role("button", name="Delete team Camping").click()
    await expect(ana.locator("#list .item .team")).to_have_count(0)
    await expect(root.locator("#list .item .team")).to_have_count(0)
    await expect(ana.locator("#list .item")).to_have_count(1)


@pytest.mark.browser
async def test_a_team_edited_before_the_admin_lists_arrive_is_saved_as_edited(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """Before: "Manage" shows the lists it had at once and asks the server for fresh ones. An
    admin who clicked "Edit" on a team before they came lost the edit when they did: the form
    became a "New team" one with the name kept, and "Save team" made a second team, leaving the
    first as it was (CI saw it as Ana kept in her team). The answer is held here until the
    admin has taken Ana out."""
    await visitor_writes(browser, desk, "I need a new tent pole")
    root = await sign_in(browser, desk.chat.http, "root@acme.test")
    form = await team_of_ana(root)
    await root.get_by_role("button", name="Inbox").click()

    held: list[Route] = []
    await root.route(re.compile(r"/api/admin/teams$"), lambda route: held.append(route))
    async with root.expect_request(re.compile(r"/api/admin/teams$")):
        await root.get_by_role("button", name="Manage").click()
    await root.get_by_role("button", name="Edit team Gear").click()
    await form.get_by_label("Name", exact=True).fill("Gear and tents")
    await form.get_by_label("Ana Lima").uncheck()
    # Meanwhile another admin made a team: the fresh lists are drawn when it shows.
    async with open_store(desk.chat.db) as store:
        await store.save_team(None, "Returns", [], site_id=desk.site_id)
    await held[0].continue_()
    await expect(root.locator("#admin-teams li")).to_have_count(2)
    await expect(root.locator("#team-form-title")).to_have_text("Team: Gear")
    await expect(form.get_by_label("Name", exact=True)).to_have_value("Gear and tents")
    await expect(form.get_by_label("Ana Lima")).not_to_be_checked()
    await form.get_by_role("button", name="Save team").click()
    await expect(root.locator("#admin-teams li", has_text="Gear and tents")).to_have_text(
        re.compile(r"^Gear and tents .* no members "))
    await root.screenshot(path=artifacts / "team-edited-before-lists.png")
    async with open_store(desk.chat.db) as store:
        teams = await store.teams()
    assert sorted((x.name, x.members) for x in teams) == [("Gear and tents", ()),
                                                          ("Returns", ())]


async def test_the_agents_of_a_site_are_told_its_teams(server: ServerProcess, seeded: Seed,
                                                       admin_cookie: str) -> None:  # noqa: F811
    """The ``teams`` frame (docs/protocol.md): every team of the site, to its agents only,
    after each change an admin makes."""
    ana, welcome = await agent(server, await login(server, seeded.agent_email))
    oz, _ = await agent(server, await login(server, seeded.other_agent_email))
    made = (await call(server, "POST", "/api/admin/teams", admin_cookie,
                       {"name": "Returns", "members": [welcome["agent"]["id"]],
                        "site_id": seeded.site_id})).json()["team"]
    assert await ana.of_type("teams") == {"type": "teams", "site_id": seeded.site_id,
                                          "teams": [made]}
    changed = (await call(server, "PATCH", f"/api/admin/teams/{made['id']}", admin_cookie,
                          {"name": "Refunds", "members": []})).json()["team"]
    assert (await ana.of_type("teams"))["teams"] == [changed]
    other = (await call(server, "POST", "/api/admin/teams", admin_cookie,
                        {"name": "Sales", "site_id": seeded.other_site_id})).json()["team"]
    # Oz, of the other site only, was told of that one first: nothing of Ana's site.
    assert await oz.of_type("teams") == {"type": "teams", "site_id": seeded.other_site_id,
                                         "teams": [other]}
    assert (await call(server, "DELETE", f"/api/admin/teams/{made['id']}",
                       admin_cookie)).status_code == 200
    assert await ana.of_type("teams") == {"type": "teams", "site_id": seeded.site_id,
                                          "teams": []}
    assert not [f for f in ana.frames if f.get("type") == "teams"
                and f.get("site_id") != seeded.site_id]
    for client in (ana, oz):
        await client.close()


@pytest.mark.browser
async def test_the_report_team_filter_follows_the_admin(browser: Browser, desk: Desk,  # noqa: F811
                                                        artifacts: Path) -> None:
    """An admin makes, renames and deletes a team while the Reports page is open: its team
    filter follows at once. The team chosen stays chosen under its new name; deleted, the
    filter is back on all teams and the report is drawn again for them."""
    root = await sign_in(browser, desk.chat.http, ADMIN_EMAIL)
    await root.get_by_role("button", name="Reports").click()
    teams = root.locator("#report-team")
    csv = root.locator("#report-csv")  # its address is the report's query, drawn with it
    await expect(csv).to_have_attribute("href", re.compile(r"^/api/reports\?"))
    await expect(teams.locator("option")).to_have_text(["All teams"])

    cookie = await login(desk.chat, ADMIN_EMAIL)
    gear = (await call(desk.chat, "POST", "/api/admin/teams", cookie,
                       {"name": "Gear", "site_id": desk.site_id})).json()["team"]
    await expect(teams.locator("option")).to_have_text(["All teams", "Gear"])
    await teams.select_option(label="Gear")
    await root.get_by_role("button", name="Show", exact=True).click()
    await expect(csv).to_have_attribute("href", re.compile(f"team={gear['id']}"))

    assert (await call(desk.chat, "PATCH", f"/api/admin/teams/{gear['id']}", cookie,
                       {"name": "Camping", "members": []})).status_code == 200
    await call(desk.chat, "POST", "/api/admin/teams", cookie,
               {"name": "Returns", "site_id": desk.site_id})
    await expect(teams.locator("option")).to_have_text(["All teams", "Camping", "Returns"])
    await expect(teams).to_have_value(gear["id"])
    await expect(csv).to_have_attribute("href", re.compile(f"team={gear['id']}"))

    assert (await call(desk.chat, "DELETE", f"/api/admin/teams/{gear['id']}",
                       cookie)).status_code == 200
    await expect(teams.locator("option")).to_have_text(["All teams", "Returns"])
    await expect(teams).to_have_value("")
    await expect(csv).not_to_have_attribute("href", re.compile("team="))
    await expect(root.locator("#report-tiles .tile")).to_have_count(8)
    await root.screenshot(path=artifacts / "panel-defects-5-report-teams.png", full_page=True)


@pytest.mark.browser
async def test_notices_follow_a_language_switch(browser: Browser, desk: Desk,  # noqa: F811
                                                artifacts: Path) -> None:
    """What a form says after it is sent ("Saved.", "Password changed…") is said again in the
    language switched to; what the server said is left as it said it."""
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.get_by_role("button", name="Settings").click()
    account = ana.locator("#account")
    status = account.get_by_role("status")
    await account.get_by_label("Current password").fill(PASSWORD)
    await account.get_by_label("Replacement password", exact=True).fill("a new password 1")
    await account.get_by_label("Replacement password, again").fill("a new password 2")
    await account.get_by_role("button", name="Change password").click()
    await expect(status).to_have_text("The two replacement passwords differ.")
    language = ana.locator("#opt-language")  # (its label changes with the language)
    await language.select_option("el")
    await expect(status).to_have_text("Οι δύο νέοι κωδικοί διαφέρουν.")

    await account.get_by_label("Νέος κωδικός, ξανά").fill("a new password 1")
    await account.get_by_role("button", name="Αλλαγή κωδικού").click()
    await expect(status).to_have_text(
        "Ο κωδικός άλλαξε. Όλες οι άλλες συνεδρίες σας αποσυνδέθηκαν.")
    await language.select_option("pt")
    await expect(status).to_have_text(
        "Palavra-passe mudada. Todas as suas outras sessões foram terminadas.")
    await ana.screenshot(path=artifacts / "panel-defects-6-notice.png")

    # The server's own answer replaces the notice: a switch leaves it as the server said it.
    await account.locator("input[name=current]").fill("not the password")
    await account.locator("input[name=password]").fill("a new password 3")
    await account.locator("input[name=again]").fill("a new password 3")
    await account.locator("button[type=submit]").click()
    await expect(status).not_to_have_text(re.compile("Palavra-passe mudada"))
    said = await status.inner_text()
    await language.select_option("de")
    await expect(account.locator("button[type=submit]")).to_have_text("Passwort ändern")
    await expect(status).to_have_text(said)

    # "Saved." on the Manage page.
    root = await sign_in(browser, desk.chat.http, ADMIN_EMAIL)
    await root.get_by_role("button", name="Manage").click()
    await root.get_by_role("button", name="Edit Acme Outdoor").click()
    site_form = root.locator("#site-form")
    await site_form.get_by_role("button", name="Save site").click()
    saved = site_form.get_by_role("status")
    await expect(saved).to_have_text("Saved.")
    await root.get_by_role("button", name="Settings").click()
    await root.get_by_label("Language").select_option("fr")
    await root.keyboard.press("Escape")
    await expect(saved).to_have_text("Enregistré.")
    await expect(site_form.get_by_role("button", name="Enregistrer le site")).to_be_visible()


@pytest.mark.browser
async def test_every_view_follows_live_changes(browser: Browser, desk: Desk,  # noqa: F811
                                               artifacts: Path) -> None:
    """The Resolved view, like the others, follows what happens while it is shown: a
    conversation resolved by a colleague appears in it (newest activity first), one reopened
    leaves it at once, for the agent who reopened it and for everyone else."""
    await visitor_writes(browser, desk, "First: my parcel is late")
    await visitor_writes(browser, desk, "Second: the wrong size came")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await bo.get_by_role("tab", name="Resolved").click()
    await expect(bo.locator("#list")).to_have_text("No resolved conversations.")
    bo_resolved = bo.locator("#list .item .preview")
    ana_list = ana.locator("#list .item .preview")

    for text in ("First", "Second"):
        await ana.locator("#list .item", has_text=text).locator("button").first.click()
        await ana.get_by_role("button", name="Resolve", exact=True).click()
        await expect(ana.locator("#conv-status")).to_have_text("Resolved")
    await expect(bo_resolved).to_have_text(["Second: the wrong size came",
                                            "First: my parcel is late"])
    await expect(ana.locator("#count-queue")).to_have_text("0")
    await expect(bo.locator("#count-queue")).to_have_text("0")

    # Ana reopens the first from her Resolved view: it leaves both agents' Resolved lists.
    await ana.get_by_role("tab", name="Resolved").click()
    await expect(ana_list).to_have_count(2)
    await ana.locator("#list .item", has_text="First").locator("button").click()
    await ana.get_by_role("button", name="Reopen", exact=True).click()
    await expect(ana.locator("#conv-status")).to_have_text("Assigned to you")
    await expect(ana_list).to_have_text(["Second: the wrong size came"])
    await expect(bo_resolved).to_have_text(["Second: the wrong size came"])
    await expect(ana.locator("#count-mine")).to_have_text("1")
    await expect(bo.locator("#count-open")).to_have_text("1")
    await ana.screenshot(path=artifacts / "panel-defects-7-reopened-leaves-resolved.png")

    # Resolved again: back in both lists, at the top (its activity is the newest).
    await ana.get_by_role("button", name="Resolve", exact=True).click()
    await expect(bo_resolved).to_have_text(["First: my parcel is late",
                                            "Second: the wrong size came"])
    await expect(ana_list).to_have_text(["First: my parcel is late",
                                         "Second: the wrong size came"])
    await expect(ana.locator("#count-mine")).to_have_text("0")
    await expect(bo.locator("#count-open")).to_have_text("0")
    await bo.screenshot(path=artifacts / "panel-defects-7-resolved-live.png")


@pytest.mark.browser
async def test_reopen_only_when_the_visitor_has_no_other_open_one(
        browser: Browser, desk: Desk, artifacts: Path) -> None:  # noqa: F811
    """A visitor has one open conversation at a time: their earlier, resolved one offers no
    Reopen while another is open, and offers it as soon as that one is resolved."""
    visitor = await visitor_writes(browser, desk, "First question")
    frame = visitor.frame_locator("iframe[title=Chat]")
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    await ana.locator("#list .item button").first.click()
    await ana.get_by_role("button", name="Resolve", exact=True).click()
    await expect(ana.locator("#conv-status")).to_have_text("Resolved")
    await frame.get_by_role("button", name="Start a new conversation").click()
    composer = frame.get_by_label("Message", exact=True)
    await composer.fill("Second question")
    await composer.press("Enter")
    await expect(ana.locator("#count-queue")).to_have_text("1")

    await ana.locator("#list .item", has_text="Second question").locator("button").click()
    earlier = ana.locator("#earlier button")
    await expect(earlier).to_have_count(1)
    await earlier.click()
    await expect(ana.locator("#conv-status")).to_have_text("Resolved")
    await expect(ana.locator("#messages")).to_contain_text("First question")
    reopen = ana.get_by_role("button", name="Reopen", exact=True)
    await expect(reopen).to_be_hidden()
    await ana.screenshot(path=artifacts / "panel-defects-8-no-reopen.png")

    # Bo resolves the other one: Ana, still on the earlier one, may reopen it now.
    bo = await sign_in(browser, desk.chat.http, "bo@acme.test")
    await bo.locator("#list .item", has_text="Second question").locator("button").click()
    await bo.get_by_role("button", name="Resolve", exact=True).click()
    await expect(reopen).to_be_visible()
    await reopen.click()
    await expect(ana.locator("#conv-status")).to_have_text("Assigned to you")
    await expect(ana.locator("#notice")).to_be_hidden()


@pytest.mark.browser
async def test_search_marks_the_matches(browser: Browser, desk: Desk,  # noqa: F811
                                        artifacts: Path) -> None:
    """The words that matched are marked (the server's snippet puts them in […]); brackets
    the visitor typed are shown as typed, and what they wrote stays text."""
    said = "Please [urgent] check order [A-17] <b>now</b>"
    await visitor_writes(browser, desk, said)
    ana = await sign_in(browser, desk.chat.http, "ana@acme.test")
    search = ana.get_by_label("Search conversations")
    preview = ana.locator("#list .item .preview")
    for query, marked in (("check", ["check"]), ("ORD", ["order"]),
                          ("urgent a-17", ["urgent", "A-17"])):
        await search.fill(query)
        await search.press("Enter")
        await expect(preview.locator("mark")).to_have_text(marked)
        await expect(preview).to_have_text(said)
    await expect(ana.locator("#list b")).to_have_count(0)
    await ana.screenshot(path=artifacts / "panel-defects-9-search-marks.png")
    assert await axe_violations(ana, "no frames") == []  # the marks' contrast too
    await ana.get_by_role("button", name="Settings").click()
    await ana.locator("#settings").get_by_label("Colours").select_option("dark")
    await ana.keyboard.press("Escape")
    await ana.screenshot(path=artifacts / "panel-defects-9-search-marks-dark.png")
    assert await axe_violations(ana, "no frames") == []

    # A visitor's name that matched is shown as it is (the server marks nothing in it).
    async with open_store(desk.chat.db) as store:
        visitor_id = (await store.conversation_list([desk.site_id]))[0].visitor_id
        await store.set_visitor_profile(desk.site_id, visitor_id, "[VIP] Maria", None)
    await search.fill("vip")
    await search.press("Enter")
    await expect(preview).to_have_text("[VIP] Maria")
    await expect(preview.locator("mark")).to_have_count(0)

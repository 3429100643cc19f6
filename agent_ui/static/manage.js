/* The panel's "Manage" page: sites, agents and teams (admins; the server checks it on every
 * request), the knowledge base (articles.js), integrations (integrations.js), and canned
 * responses (everyone: their own; admins: shared ones too). */
import { showIntegrations } from "./integrations.js";
import { agentActions } from "./account.js";
import { showArticles } from "./articles.js";
import { $, api, avatar, clear, el } from "./kit.js";
import { notice, onLanguage, t } from "./i18n.js";

var w = window;
var state = { me: null, sites: [], agents: [], teams: [], canned: [], request: null,
              loaded: false };  // loaded: the admin lists are the server's (not the welcome's)
function field(form, name) { return form.querySelector("[name=" + name + "]"); }
/** A form's outcome: the server's ``error``, as it says it, or ``done``, the words of what was
 * done (a notice: they follow the language). */
function say(form, error, done) {
  form.querySelector(".error").textContent = error || "";
  var s = form.querySelector(".secret");
  if (s) notice(s, done || null);
}
function checkboxes(box, items, name, checked) {
  Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (l) { box.removeChild(l); });
  items.forEach(function (item) {
    var label = el("label", "", box);
    var input = el("input", "", label);
    input.type = "checkbox";
    input.name = name;
    input.value = item.id;
    input.checked = checked.indexOf(item.id) >= 0;
    label.appendChild(document.createTextNode(" " + item.name));
  });
}
function checked(form, name) {
  return Array.prototype.slice.call(form.querySelectorAll("input[name=" + name + "]:checked"))
    .map(function (i) { return i.value; });
}

// --- sites ---------------------------------------------------------------------------------

function renderSites() {
  var list = $("admin-sites");
  clear(list);
  checkboxes($("invite-sites"), state.sites, "invite-site", checked($("agent-invite"), "invite-site"));
  state.sites.forEach(function (s) {
    var item = el("li", "", list);
    el("b", "", item, s.name);
    el("span", "muted", item, " " + s.id + " · " + (s.allowed_origins.join(", ") || t("no origins yet")) + " ");
    var b = el("button", "secondary small", item, t("Edit"));
    b.type = "button";
    b.setAttribute("aria-label", t("Edit {name}", { name: s.name }));
    b.addEventListener("click", function () { editSite(s); });
  });
}
var editing = null;
function editSite(s) {
  editing = s;
  var f = $("site-form");
  f.hidden = false;
  titles();
  field(f, "name").value = s.name;
  field(f, "allowed_origins").value = s.allowed_origins.join("\n");
  field(f, "greeting").value = s.greeting;
  field(f, "color").value = s.color;
  field(f, "logo").value = s.logo;
  field(f, "hours").value = s.hours ? s.hours.text : "";
  field(f, "tz").value = s.hours ? s.hours.tz : "";
  f.querySelectorAll("input[name=prechat]").forEach(function (i) { i.checked = s.prechat.indexOf(i.value) >= 0; });
  field(f, "offline").value = s.offline;
  field(f, "auto_assign").checked = s.auto_assign;
  field(f, "typing_preview").checked = s.typing_preview;
  field(f, "theme").value = s.theme;
  field(f, "identity_mode").value = s.identity_mode;
  field(f, "new_secret").checked = false;
  say(f, "");
  field(f, "name").focus();
}
$("site-form").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = this, body = {
    name: field(f, "name").value, greeting: field(f, "greeting").value, color: field(f, "color").value,
    logo: field(f, "logo").value.trim(), hours: field(f, "hours").value.trim(), prechat: checked(f, "prechat"),
    offline: field(f, "offline").value, auto_assign: field(f, "auto_assign").checked,
    typing_preview: field(f, "typing_preview").checked, theme: field(f, "theme").value,
    allowed_origins: field(f, "allowed_origins").value.split(/\s+/).filter(Boolean)
  };
  if (field(f, "tz").value.trim()) body.tz = field(f, "tz").value.trim();
  if (field(f, "new_secret").checked) body.identity_secret = "new";
  // Mandatory needs a secret: make one in the same change if there is none.
  if (field(f, "identity_mode").value === "mandatory" && !editing.identity_secret) body.identity_secret = "new";
  api("/api/admin/sites/" + editing.id, body, "PATCH").then(function (j) {
    var mode = field(f, "identity_mode").value;
    return (mode !== j.site.identity_mode ? api("/api/admin/sites/" + editing.id, { identity_mode: mode }, "PATCH")
      : Promise.resolve(j)).then(function (k) { return { site: k.site, secret: j.identity_secret }; });
  }).then(function (r) {
    state.sites = state.sites.map(function (s) { return s.id === r.site.id ? r.site : s; });
    editing = r.site;
    renderSites();
    say(f, "", function () {
      return r.secret ? t("Saved. Identity secret (shown once, keep it on your backend): {secret}", { secret: r.secret }) : t("Saved.");
    });
  }).catch(function (e) { say(f, e.message); });
});
$("site-create").addEventListener("submit", function (event) {
  event.preventDefault();
  api("/api/admin/sites", { name: $("site-new-name").value }).then(function (j) {
    state.sites.push(j.site);
    $("site-new-name").value = "";
    renderSites();
    editSite(j.site);
  }).catch(function (e) { w.alert(e.message); });
});

// --- agents --------------------------------------------------------------------------------

function siteNames(ids) {
  return state.sites.filter(function (s) { return ids.indexOf(s.id) >= 0; }).map(function (s) { return s.name; }).join(", ");
}
function renderAgents() {
  var body = $("admin-agents");
  clear(body);
  state.agents.forEach(function (a) {
    var row = el("tr", a.active ? "" : "inactive", body);
    var nameCell = el("td", "name-cell", row);
    avatar(nameCell, a, "tiny");
    nameCell.appendChild(document.createTextNode(a.name));
    el("td", "", row, a.email);
    el("td", "", row, a.role === "admin" ? t("Admin") : t("Agent"));
    el("td", "", row, a.role === "admin" ? t("all") : siteNames(a.sites) || "—");
    el("td", "", row, String(a.capacity));
    el("td", "", row, !a.active ? t("deactivated") : a.invited ? t("invited") : t("active"));
    var actions = el("td", "", row);
    var change = el("button", "secondary small", actions, t("Edit"));
    change.type = "button";
    change.setAttribute("aria-label", t("Edit {name}", { name: a.name }));
    change.addEventListener("click", function () { editAgent(a); });
    if (!a.invited) agentActions(actions, a);
    if (a.id === state.me.id) return;
    var toggle = el("button", "secondary small", actions, a.active ? t("Deactivate") : t("Reactivate"));
    toggle.type = "button";
    toggle.setAttribute("aria-label", a.active ? t("Deactivate {name}", { name: a.name }) : t("Reactivate {name}", { name: a.name }));
    toggle.addEventListener("click", function () {
      api("/api/admin/agents/" + a.id, { active: !a.active }, "PATCH").then(function (j) {
        state.agents = state.agents.map(function (x) { return x.id === a.id ? j.agent : x; });
        renderAgents();
      }).catch(function (e) { w.alert(e.message); });
    });
  });
}
var agentEditing = null;
function editAgent(a) {
  agentEditing = a;
  var f = $("agent-edit");
  f.hidden = false;
  titles();
  field(f, "name").value = a.name;
  field(f, "role").value = a.role;
  field(f, "capacity").value = a.capacity;
  checkboxes($("edit-sites"), state.sites, "edit-site", a.sites);
  say(f, "");
  field(f, "name").focus();
}
$("agent-edit").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = this, a = agentEditing;
  api("/api/admin/agents/" + a.id, {
    name: field(f, "name").value, role: field(f, "role").value,
    capacity: parseInt(field(f, "capacity").value, 10) || 0, sites: checked(f, "edit-site")
  }, "PATCH").then(function (j) {
    state.agents = state.agents.map(function (x) { return x.id === a.id ? j.agent : x; });
    renderAgents();
    say(f, "", function () { return t("Saved. Their open panels reconnect with the new permissions."); });
  }).catch(function (e) { say(f, e.message); });
});
$("agent-invite").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = this;
  api("/api/admin/agents", {
    name: field(f, "name").value, email: field(f, "email").value, role: field(f, "role").value,
    capacity: parseInt(field(f, "capacity").value, 10) || 0, sites: checked(f, "invite-site")
  }).then(function (j) {
    state.agents.push(j.agent);
    renderAgents();
    f.reset();
    say(f, "", function () { return t("Invited. Send them this link (valid 7 days, once): {link}", { link: j.invite_url }); });
  }).catch(function (e) { say(f, e.message); });
});

// --- teams ---------------------------------------------------------------------------------

/** The team list, and the form empty for a new team (after a save or a delete), or, with
 * ``keep``, as the admin has it: the fresh lists can arrive after they began editing (the team
 * they edit is then the fresh copy; one deleted meanwhile leaves a form for a new team). */
function renderTeams(keep) {
  var f = $("team-form"), site = field(f, "site_id");
  var chosen = keep ? site.value : "", members = keep ? checked(f, "member") : [];
  teamEditing = keep && teamEditing && state.teams.filter(function (x) {
    return x.id === teamEditing.id;
  })[0] || null;
  renderTeamList();
  titles();
  clear(site);
  state.sites.forEach(function (s) { el("option", "", site, s.name).value = s.id; });
  if (chosen) site.value = chosen;
  site.disabled = !!teamEditing;
  teamMembers(site.value, members);
}
function renderTeamList() {
  var list = $("admin-teams");
  clear(list);
  state.teams.forEach(function (team) {
    var item = el("li", "", list);
    el("b", "", item, team.name);
    el("span", "muted", item, " · " + siteNames([team.site_id]));
    var names = state.agents.filter(function (a) { return team.members.indexOf(a.id) >= 0; })
      .map(function (a) { return a.name; });
    el("span", "muted", item, " " + (names.join(", ") || t("no members")) + " ");
    var change = el("button", "secondary small", item, t("Edit"));
    change.type = "button";
    change.setAttribute("aria-label", t("Edit team {name}", { name: team.name }));
    change.addEventListener("click", function () { editTeam(team); });
    var del = el("button", "secondary small", item, t("Delete"));
    del.type = "button";
    del.setAttribute("aria-label", t("Delete team {name}", { name: team.name }));
    del.addEventListener("click", function () {
      api("/api/admin/teams/" + team.id, undefined, "DELETE").then(function () {
        state.teams = state.teams.filter(function (x) { return x.id !== team.id; });
        renderTeams();
      });
    });
  });
}
/** A team belongs to one site: its members are agents of that site (admins work on all). */
function teamMembers(siteId, members) {
  checkboxes($("team-members"), state.agents.filter(function (a) {
    return a.active && (a.role === "admin" || a.sites.indexOf(siteId) >= 0);
  }), "member", members);
}
field($("team-form"), "site_id").addEventListener("change", function () {
  teamMembers(this.value, checked($("team-form"), "member"));
});
var teamEditing = null;
function editTeam(team) {
  teamEditing = team;
  var f = $("team-form");
  titles();
  field(f, "name").value = team.name;
  field(f, "site_id").value = team.site_id;
  field(f, "site_id").disabled = true;  // a team stays on its site
  teamMembers(team.site_id, team.members);
  field(f, "name").focus();
}
$("team-form").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = this, team = teamEditing;
  api(team ? "/api/admin/teams/" + team.id : "/api/admin/teams",
      { name: field(f, "name").value, members: checked(f, "member"),
        site_id: team ? undefined : field(f, "site_id").value },
      team ? "PATCH" : "POST").then(function (j) {
    state.teams = state.teams.filter(function (x) { return x.id !== j.team.id; })
      .concat([j.team]);
    f.reset();
    say(f, "");
    renderTeams();
  }).catch(function (e) { say(f, e.message); });
});

// --- canned responses ------------------------------------------------------------------------

function renderCanned() {
  var list = $("admin-canned");
  clear(list);
  state.canned.slice().sort(function (a, b) { return a.shortcut < b.shortcut ? -1 : 1; }).forEach(function (c) {
    var item = el("li", "", list);
    el("b", "", item, "/" + c.shortcut);
    el("span", "muted", item, " " + (c.shared ? t("(shared)") : t("(mine)")) + " " + c.body.slice(0, 90) + " ");
    if (c.shared && state.me.role !== "admin") return;
    var del = el("button", "secondary small", item, t("Delete"));
    del.type = "button";
    del.setAttribute("aria-label", t("Delete /{shortcut}", { shortcut: c.shortcut }));
    del.addEventListener("click", function () {
      state.request({ type: "canned_delete", canned_id: c.id }, function (f) {
        if (f.type !== "ack") { w.alert(f.message); return; }
        // By its id, if still there: the server's "canned" frame may have taken it off first
        // (splice(-1) took the last one away, another response).
        var i = state.canned.map(function (x) { return x.id; }).indexOf(c.id);
        if (i >= 0) state.canned.splice(i, 1);
        renderCanned();
      });
    });
  });
  var select = field($("canned-form"), "site_id"), chosen = select.value;
  clear(select);
  state.sites.forEach(function (s) { el("option", "", select, s.name).value = s.id; });
  if (chosen) select.value = chosen;
}
$("canned-form").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = this;
  state.request({ type: "canned_save", site_id: field(f, "site_id").value, shortcut: field(f, "shortcut").value,
                  body: field(f, "body").value, shared: field(f, "shared").checked }, function (r) {
    if (r.type !== "ack") { say(f, r.message); return; }
    f.reset();  // (the panel has put r.canned in the shared list)
    say(f, "");
    renderCanned();
  });
});

/** The titles of the forms, for what each is editing. */
function titles() {
  if (editing) $("site-form-title").textContent = t("Site: {name}", { name: editing.name });
  if (agentEditing) {
    $("agent-edit-title").textContent = t("Agent: {name}", { name: agentEditing.name });
  }
  $("team-form-title").textContent = teamEditing ? t("Team: {name}", { name: teamEditing.name })
    : t("New team");
}

// The language changed: what the page shows, again in it, from what it has (nothing is fetched,
// and the forms keep what is being edited).
onLanguage(function () {
  if (!state.me) return;
  renderCanned();
  if (!state.loaded) return;
  renderSites();
  renderAgents();
  renderTeamList();
  titles();
});

/** Show the page with what the panel knows, then refresh the admin lists. */
export function showManage(me, sites, agents, teams, canned, request) {
    state.me = me; state.request = request; state.canned = canned;
    state.sites = sites.slice(); state.teams = teams.slice(); state.loaded = false;
    renderCanned();
    if (me.role !== "admin") return;
    Promise.all([api("/api/admin/sites"), api("/api/admin/agents"), api("/api/admin/teams")]).then(function (r) {
      state.sites = r[0].sites; state.agents = r[1].agents; state.teams = r[2].teams;
      state.loaded = true;
      renderSites();
      renderAgents();
      renderTeams(true);
      renderCanned();
      showIntegrations(me, state.sites);
      showArticles(state.sites);
    });
}

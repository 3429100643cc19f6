/* The Manage page's integrations (admins): API tokens (made here, shown once, revoked),
 * webhooks with their delivery log and "Redeliver", and how long each site keeps resolved
 * conversations. All through the REST API (/api/v1, docs/api.md), which takes an admin's
 * session cookie from our own pages. Text only, never HTML. */
import { $, api, clear, el } from "./kit.js";
import { locale, notice, onLanguage, t, visitorName } from "./i18n.js";

var SCOPES = ["conversations:read", "conversations:write", "visitors:read", "visitors:write",
              "reports:read", "webhooks", "articles:read", "articles:write", "admin"];
var EVENTS = ["conversation.created", "message.created", "note.created", "conversation.assigned",
              "conversation.requeued", "conversation.resolved", "conversation.reopened",
              "conversation.rated", "visitor.updated"];
var sites = [], built = false;

function when(ms) {
  return new Date(ms).toLocaleString(locale(), { month: "short", day: "numeric",
                                                 hour: "2-digit", minute: "2-digit" });
}

function siteName(id) {
  var s = sites.filter(function (x) { return x.id === id; })[0];
  return id ? (s ? s.name : id) : t("All sites");
}

/** A label of ``parent`` whose words are ``words()`` (in the language of the moment). */
function labelled(parent, words) {
  var label = el("label", "", parent);
  var text = el("span", "", label);
  onLanguage(function () { text.textContent = words(); });
  return label;
}

function siteSelect(parent, id, withAll) {
  var select = el("select", "", labelled(parent, function () { return t("Site"); }));
  select.id = id;
  if (withAll) {
    var all = el("option", "", select);
    all.value = "";
    onLanguage(function () { all.textContent = t("All sites"); });
  }
  sites.forEach(function (s) { el("option", "", select, s.name).value = s.id; });
  return select;
}

function checks(parent, legend, names, prefix) {
  var set = el("fieldset", "", parent);
  var title = el("legend", "", set);
  onLanguage(function () { title.textContent = legend(); });
  names.forEach(function (name) {
    var label = el("label", "", set);
    var box = el("input", "", label);
    box.type = "checkbox"; box.value = name; box.name = prefix;
    label.appendChild(document.createTextNode(" " + name));
  });
  return set;
}

function picked(set) {
  return Array.prototype.map.call(set.querySelectorAll("input:checked"),
                                  function (i) { return i.value; });
}

/** ``headings()``: the columns' names, in the language of the moment. */
function table(parent, headings) {
  var grid = el("table", "admin-table", parent);
  var row = el("tr", "", el("thead", "", grid));
  var cells = headings().map(function () { return el("th", "", row); });
  onLanguage(function () {
    headings().forEach(function (h, i) { cells[i].textContent = h; });
  });
  return el("tbody", "", grid);
}

/** The words of a built section (headings, hints, buttons), now and after every switch. */
function words(pairs) {
  onLanguage(function () {
    pairs().forEach(function (pair) { pair[0].textContent = pair[1]; });
  });
}

// --- tokens ----------------------------------------------------------------------------------

function buildTokens(page) {
  var section = el("section", "tokens", page);
  section.id = "admin-tokens";
  var title = el("h2", "", section), hint = el("p", "hint", section);
  var body = table(section, function () {
    return [t("Name"), t("Site"), t("Scopes"), t("Last used"), t("Revoke")];
  });
  body.id = "token-rows";
  var form = el("form", "admin-form", section);
  form.id = "token-form";
  var formTitle = el("h3", "", form);
  var name = el("input", "", labelled(form, function () { return t("Name"); }));
  name.required = true; name.maxLength = 100; name.id = "token-name";
  var site = siteSelect(form, "token-site", true);
  var scopes = checks(form, function () { return t("Scopes"); }, SCOPES, "token-scope");
  var out = el("p", "secret", form);
  out.setAttribute("role", "status");
  var create = el("button", "", form);
  create.type = "submit";
  words(function () {
    return [[title, t("API tokens")],
            [hint, t("For your other systems: they call the REST API with a token (docs/api.md).")],
            [formTitle, t("New token")], [create, t("Create token")]];
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var wanted = { name: name.value, scopes: picked(scopes) };
    if (site.value) wanted.site_id = site.value;
    api("/api/v1/tokens", wanted).then(function (j) {
      form.reset();
      notice(out, function () { return t("Copy the token now: it is shown once.") + " " + j.secret; });
      refreshTokens();
    }).catch(function (e) { out.textContent = e.message; });
  });
}

function refreshTokens() {
  api("/api/v1/tokens").then(function (j) {
    var body = $("token-rows");
    clear(body);
    if (!j.data.length) el("td", "muted", el("tr", "", body), t("No tokens yet.")).colSpan = 5;
    j.data.forEach(function (tok) {
      var row = el("tr", tok.revoked_at ? "inactive" : "", body);
      el("td", "", row, tok.name);
      el("td", "", row, siteName(tok.site_id));
      el("td", "", row, tok.scopes.join(", "));
      el("td", "", row, tok.revoked_at ? t("Revoked") :
         (tok.last_used_at ? when(tok.last_used_at) : t("Never")));
      var cell = el("td", "", row);
      if (tok.revoked_at) return;
      var revoke = el("button", "secondary small", cell, t("Revoke"));
      revoke.type = "button";
      revoke.setAttribute("aria-label", t("Revoke {name}", { name: tok.name }));
      revoke.addEventListener("click", function () {
        api("/api/v1/tokens/" + encodeURIComponent(tok.id), undefined, "DELETE")
          .then(refreshTokens).catch(function (e) { window.alert(e.message); });
      });
    });
  });
}

// --- webhooks --------------------------------------------------------------------------------

function buildWebhooks(page) {
  var section = el("section", "webhooks", page);
  section.id = "admin-webhooks";
  var title = el("h2", "", section), hint = el("p", "hint", section);
  var list = el("ul", "admin-list", section);
  list.id = "webhook-rows";
  var form = el("form", "admin-form", section);
  form.id = "webhook-form";
  var formTitle = el("h3", "", form);
  var site = siteSelect(form, "webhook-site", false);
  var url = el("input", "", labelled(form, function () { return t("URL"); }));
  url.type = "url"; url.required = true; url.id = "webhook-url"; url.placeholder = "https://";
  var events = checks(form, function () { return t("Events"); }, EVENTS, "webhook-event");
  var out = el("p", "secret", form);
  out.setAttribute("role", "status");
  var add = el("button", "", form);
  add.type = "submit";
  words(function () {
    return [[title, t("Webhooks")],
            [hint, t("Each event is sent to the URL, signed (Standard Webhooks), retried for a day (docs/api.md).")],
            [formTitle, t("New webhook")], [add, t("Add webhook")]];
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    api("/api/v1/webhooks", { site_id: site.value, url: url.value, events: picked(events) })
      .then(function (j) {
        form.reset();
        notice(out, function () {
          return t("Copy the signing secret now: it is shown once.") + " " + j.secret;
        });
        refreshWebhooks();
      }).catch(function (e) { out.textContent = e.message; });
  });
}

function refreshWebhooks() {
  api("/api/v1/webhooks").then(function (j) {
    var list = $("webhook-rows");
    clear(list);
    if (!j.data.length) el("li", "muted", list, t("No webhooks yet."));
    j.data.forEach(function (hook) {
      var item = el("li", "", list);
      el("b", "", item, hook.url);
      el("span", "muted", item, " · " + siteName(hook.site_id) + " · " + hook.events.join(", ") +
         " · " + (hook.active ? t("Active") : t("Disabled: {reason}", {
           reason: hook.disabled_reason || "" })) + " ");
      var log = el("button", "secondary small", item, t("Deliveries"));
      log.type = "button";
      log.setAttribute("aria-expanded", "false");
      var rows = el("ul", "admin-list deliveries", item);
      rows.hidden = true;
      log.addEventListener("click", function () {
        rows.hidden = !rows.hidden;
        log.setAttribute("aria-expanded", String(!rows.hidden));
        if (!rows.hidden) showDeliveries(hook, rows);
      });
      if (!hook.active) {
        var enable = el("button", "secondary small", item, t("Enable"));
        enable.type = "button";
        enable.addEventListener("click", function () {
          api("/api/v1/webhooks/" + hook.id + "/enable", {}).then(refreshWebhooks);
        });
      }
      var remove = el("button", "secondary small", item, t("Delete"));
      remove.type = "button";
      remove.addEventListener("click", function () {
        api("/api/v1/webhooks/" + hook.id, undefined, "DELETE").then(refreshWebhooks);
      });
      item.appendChild(rows);  // the log under the buttons
    });
  });
}

function showDeliveries(hook, rows) {
  api("/api/v1/webhooks/" + hook.id + "/deliveries?limit=20").then(function (j) {
    clear(rows);
    if (!j.data.length) el("li", "muted", rows, t("No deliveries yet."));
    j.data.forEach(function (d) {
      var item = el("li", "", rows);
      el("span", "", item, when(d.at) + " · " + d.event + " · " +
         (d.status === null ? t("no answer") : "HTTP " + d.status) + " · " +
         t("{ms} ms", { ms: d.latency_ms }) + (d.error ? " · " + d.error : "") +
         (d.excerpt ? " · " + d.excerpt.slice(0, 120) : "") + " ");
      var again = el("button", "secondary small", item, t("Redeliver"));
      again.type = "button";
      again.addEventListener("click", function () {
        api("/api/v1/webhooks/" + hook.id + "/events/" + d.event_id + "/redeliver", {})
          .then(function () { again.textContent = t("Queued"); again.disabled = true; })
          .catch(function (e) { window.alert(e.message); });
      });
    });
  });
}

// --- retention -------------------------------------------------------------------------------

function buildRetention(page) {
  var section = el("section", "retention", page);
  section.id = "admin-retention";
  var title = el("h2", "", section), hint = el("p", "hint", section);
  var list = el("ul", "admin-list", section);
  list.id = "retention-rows";
  words(function () {
    return [[title, t("Data retention")],
            [hint, t("Resolved conversations (and their files) older than this are deleted. Empty: kept for ever.")]];
  });
}

function refreshRetention() {
  var list = $("retention-rows");
  clear(list);
  sites.forEach(function (s) {
    var item = el("li", "", list);
    var form = el("form", "inline-form", item);
    var label = el("label", "", form, t("{site}: days to keep", { site: s.name }));
    var days = el("input", "", label);
    days.type = "number"; days.min = "1"; days.max = "36500";
    days.name = "days";
    var save = el("button", "secondary small", form, t("Save"));
    save.type = "submit";
    var said = el("span", "muted", form);
    said.setAttribute("role", "status");
    api("/api/v1/sites/" + s.id + "/retention").then(function (j) {
      days.value = j.days === null ? "" : String(j.days);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      api("/api/v1/sites/" + s.id + "/retention",
          { days: days.value ? parseInt(days.value, 10) : null }, "PUT")
        .then(function () { notice(said, function () { return t("Saved."); }); })
        .catch(function (e) { said.textContent = e.message; });
    });
  });
}

/** (Admins, on the Manage page.) Build once, then refresh from the server. */
export function showIntegrations(me, knownSites) {
  if (me.role !== "admin") return;
  sites = knownSites || [];
  var page = $("page-admin");
  if (!page) return;
  if (!built) {
    built = true;
    buildTokens(page);
    buildWebhooks(page);
    buildRetention(page);
    // The lists, now, and again in a new language when it changes while they are shown.
    onLanguage(function () { if (!page.hidden) refreshAll(); });
  } else refreshAll();
}

function refreshAll() {
  refreshTokens();
  refreshWebhooks();
  refreshRetention();
}

/** (Admins, in a conversation's context column.) The visitor's data rights: download
 * everything held about them, or erase them. */
export function visitorRights(parent, me, visitor) {
  if (!me || me.role !== "admin" || !visitor || !visitor.id) return;
  // Erased: the conversation leads to nobody now (an id that starts so), and it is drawn
  // again when its summary says so, before or after the erasure's answer came.
  if (String(visitor.id).indexOf("erased_") === 0) {
    el("p", "rights muted", parent, t("Erased.")).setAttribute("role", "status");
    return;
  }
  var box = el("p", "rights", parent);
  var link = el("a", "", box, t("Export data"));
  link.href = "/api/v1/visitors/" + encodeURIComponent(visitor.id) + "/export";
  link.setAttribute("download", "");
  box.appendChild(document.createTextNode(" · "));
  var erase = el("button", "link danger-link", box, t("Erase visitor…"));
  erase.type = "button";
  var said = el("span", "muted", box);
  said.setAttribute("role", "status");
  erase.addEventListener("click", function () {
    if (!window.confirm(t("Erase everything about {name}? Their messages, files and details are deleted for good; reports keep counting the conversation.", { name: visitorName(visitor) }))) return;
    api("/api/v1/visitors/" + encodeURIComponent(visitor.id), undefined, "DELETE")
      .then(function () {
        notice(said, function () { return " " + t("Erased."); });
        erase.disabled = true;
      })
      .catch(function (e) { said.textContent = " " + e.message; });
  });
}

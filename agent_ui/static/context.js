/* The visitor's context column: who they are, their browser, where they came from, the pages
 * they visited (live: a new page is added while the conversation is open), the site's
 * attributes, and their earlier conversations. */
import { $, clear, el } from "./kit.js";
import { day, t, theirs, visitorName } from "./i18n.js";
import { visitorRights } from "./integrations.js";
import { siteName, state } from "./state.js";
import { clockIn, since, zoneTime } from "./times.js";

var pages = [];   // the open conversation's visitor's pages, newest first

function browserOf(ua) {
  if (!ua) return null;
  var b = /Edg\//.test(ua) ? "Edge" : /OPR\//.test(ua) ? "Opera" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : ua.split(" ")[0];
  var os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android"
    : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS"
    : /Linux/.test(ua) ? "Linux" : "";
  return os ? t("{browser} on {os}", { browser: b, os: os }) : b;
}

/** A URL on one line: the host and path, shortened at its end with an ellipsis (never broken
 * in the middle of a word); the whole address in its tooltip and link. */
function address(parent, url) {
  var shown = url;
  try {
    var u = new URL(url);
    shown = u.host + (u.pathname === "/" ? "" : u.pathname) + u.search;
  } catch (e) { /* not a URL: shown as it is */ }
  var link = el("a", "url", parent, shown);
  if (/^https?:\/\//i.test(url)) {
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  link.title = url;
  return link;
}

export function renderContext(f, openConversation) {
  var v = f.visitor || {}, c = f.conversation;
  state.currentVisitor = { name: c.visitor.name, email: v.email || c.visitor.email,
                           named: !!v.name };
  var facts = $("visitor-facts");
  clear(facts);
  // What the visitor (or the site's page) told is in <bdi>s: in its own direction, whatever
  // the panel's ("Maria Silva (Acme Inc.)" in Hebrew), with the panel's words after it.
  [[t("Name"), visitorName(c.visitor), "theirs", c.visitor.verified ? " ✓ " + t("verified") : ""],
   [t("Email"), v.email, "theirs",
    " · " + (state.email ? t("unseen replies go by email") : t("email is off"))],
   [t("Local time"), v.timezone && zoneTime(v.timezone) && v.timezone, "zone"],
   [t("Language"), v.language, "theirs"], [t("Browser"), browserOf(v.user_agent)],
   [t("Came from"), v.referrer, "url"], [t("Site"), siteName(c.site_id)]]
    .forEach(function (fact) {
      if (!fact[1]) return;
      el("dt", "", facts, fact[0]);
      var value = el("dd", "", facts);
      if (fact[2] === "url") address(value, fact[1]);
      else if (fact[2] === "zone") clockIn(value, fact[1]);  // kept up to date (times.js)
      else if (fact[2] === "theirs") theirs(value, fact[1]);
      else value.textContent = fact[1];
      if (fact[3]) value.appendChild(document.createTextNode(fact[3]));
    });
  var details = $("visitor-details");
  clear(details);
  Object.keys(v.attributes || {}).forEach(function (k) {
    var row = el("span", "attr", details);
    theirs(el("b", "", row), k).after(": ");
    theirs(row, String(v.attributes[k]));
  });
  visitorRights(details, state.me, c.visitor);
  pages = (f.pages || []).slice();
  renderPages();
  var earlier = $("earlier");
  clear(earlier);
  (f.earlier || []).forEach(function (e) {
    state.known[e.id] = e;
    var b = el("button", "link", el("li", "", earlier), day(e.created_at) + " — ");
    theirs(b, e.last_message || "…");
    b.type = "button";
    b.addEventListener("click", function () { openConversation(e.id); });
  });
  if (!(f.earlier || []).length) el("li", "none", earlier, t("None."));
}

function renderPages() {
  var box = $("pages");
  clear(box);
  pages.forEach(function (p, i) {
    var item = el("li", i === 0 ? "now" : "", box);
    var link = el("a", "", item, p.title || p.url);
    link.dir = "auto";  // the page's title, in its own direction
    link.href = p.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.title = p.url;
    var when = el("span", "when", item, " ");
    since(when, "", p.at);  // kept up to date (times.js)
    if (i === 0) when.appendChild(document.createTextNode(" · " + t("current")));
  });
  if (!pages.length) el("li", "none", box, t("No pages recorded."));
}

/** Where there is no room for the column beside the conversation (panel.css), "Visitor details"
 * shows it over the conversation, and the focus in it; the button again, "Close" or Esc put it
 * away, the focus back on the button. */
export function setUpContext() {
  var column = $("context"), toggle = $("context-toggle");
  function show(open) {
    column.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) column.focus(); else toggle.focus();
  }
  toggle.addEventListener("click", function () { show(!column.classList.contains("open")); });
  $("context-close").addEventListener("click", function () { show(false); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && column.classList.contains("open") && toggle.offsetParent) {
      show(false);
    }
  });
}

/** The visitor of the open conversation went to another page (the ``visited`` frame). */
export function visited(f) {
  if (f.conversation_id !== state.current) return;
  if (pages.length && pages[0].url === f.page.url) pages[0] = f.page;  // a reload
  else pages.unshift(f.page);
  renderPages();
}

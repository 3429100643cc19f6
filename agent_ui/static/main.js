/* The agent panel: sign-in, the socket to /ws/agent and what it brings, and the pages. Each
 * concern is a module of its own: inbox, conversation, composer, context (the visitor's column),
 * notifications, settings, shortcuts, reports, manage; state.js holds what they share, i18n.js
 * the words and times.js the times that move on ("5m" ago). A new part of the panel is a module with a setUp…() called below, and, if
 * it is a page, a button with data-page and a <main id="page-…"> in index.html. Everything a
 * visitor or agent wrote is put on the page as text, never as HTML. */
import { ChatSocket } from "/widget/static/socket.js";
import { setUpAccount } from "./account.js";
import { setUpBlocks } from "./blocks.js";
import { $, api, el } from "./kit.js";
import { preferred, t, use } from "./i18n.js";
import { refused, resend, setUpComposer } from "./composer.js";
import { setUpContext, visited } from "./context.js";
import {
  forgetAbove, markRead, openConversation, renderHead, renderMessage, renderSeen, reopen,
  setUpConversation, showTyping, showVisitorOnline
} from "./conversation.js";
import { mentioned, renderList, replaceInbox, replaceTeams, setUpInbox, update } from "./inbox.js";
import { loadMentions } from "./mentions.js";
import { showManage } from "./manage.js";
import { announce, setUpNotifications, showAway } from "./notifications.js";
import { fillFilters, loadReport, setUpReports } from "./reports.js";
import { applyTheme, renderMe, setUpSettings } from "./settings.js";
import { setUpShortcuts } from "./shortcuts.js";
import { replaceColleagues, request, state, summary } from "./state.js";
import { setUpTimes } from "./times.js";

// --- sign-in and invitations ----------------------------------------------------------------

// Signed in from a form: the focus goes into the list once it is there (landInList), not left
// on <body> where the form that had it went.
var justSignedIn = false;

/** The focus on the first conversation of the list, or on the selected view's tab when the
 * list is empty, unless the agent put it somewhere already. */
function landInList() {
  var at = document.activeElement;
  if (at && at !== document.body) return;
  var target = document.querySelector("#list .item button") ||
    document.querySelector(".views [aria-selected=true]");
  if (target) target.focus({ preventScroll: true });
}

function showLogin() {
  $("app").hidden = true;
  $("login").hidden = false;
  var invite = /#invite=([^&]+)/.exec(location.hash);
  $("login-form").hidden = !!invite;
  $("invite-form").hidden = !invite;
  (invite ? $("new-password") : $("email")).focus();
}

function setUpLogin() {
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("/api/agent/login", { email: $("email").value, password: $("password").value })
      .then(function (j) { $("password").value = ""; justSignedIn = true; begin(j.agent); })
      .catch(function (e) {
        $("login-error").textContent = e.message === "Failed to fetch"
          ? t("The server cannot be reached.") : e.message;
      });
  });
  $("forgot").addEventListener("click", function () {
    // A reset link by email (docs/email.md): the same answer whether or not it is an agent's.
    var email = $("email").value.trim();
    $("forgot-status").textContent = "";
    if (!email) {
      $("login-error").textContent = t("Enter your email address first.");
      $("email").focus();
      return;
    }
    $("login-error").textContent = "";
    api("/api/agent/forgot", { email: email })
      .then(function () {
        $("forgot-status").textContent =
          t("If this address is an agent's, a link to choose a new password is on its way.");
      })
      .catch(function (e) { $("login-error").textContent = e.message; });
  });
  $("invite-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = (/#invite=([^&]+)/.exec(location.hash) || [])[1];
    api("/api/agent/accept", { token: token, password: $("new-password").value })
      .then(function (j) {
        history.replaceState(null, "", location.pathname);
        justSignedIn = true;
        begin(j.agent);
      })
      .catch(function (e) { $("invite-error").textContent = e.message; });
  });
  $("logout").addEventListener("click", function () {
    api("/api/agent/logout", {}).then(function () { location.reload(); });
  });
}

// --- pages: inbox, reports, manage ------------------------------------------------------------

function showPage(name) {
  document.querySelectorAll(".pages button").forEach(function (b) {
    if (b.getAttribute("data-page") === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  document.querySelectorAll("[id^=page-]").forEach(function (page) {
    page.hidden = page.id !== "page-" + name;
  });
  if (name === "reports") loadReport();
  if (name === "admin") {
    showManage(state.me, state.sites, state.colleagues, state.teams, state.canned, request);
  }
}

// --- the socket -------------------------------------------------------------------------------

function welcome(f) {
  state.me = f.agent;
  state.colleagues = f.agents || [];
  state.sites = f.sites || [];
  state.teams = f.teams || [];
  state.canned = f.canned || [];
  state.email = !!f.email;  // whether this server sends email (unseen replies, transcripts)
  renderMe();
  document.querySelectorAll(".admin-only").forEach(function (n) {
    n.hidden = state.me.role !== "admin";
  });
  var siteSelect = $("filter-site");
  while (siteSelect.options.length > 1) siteSelect.remove(1);
  state.sites.forEach(function (s) { el("option", "", siteSelect, s.name).value = s.id; });
  siteSelect.hidden = state.sites.length < 2;
  fillFilters();
  if (state.epoch && f.epoch !== state.epoch) {
    // The store was restored from a backup: what is shown may no longer exist.
    forgetAbove(0);
  }
  state.epoch = f.epoch;
  replaceInbox(f.conversations);
  if (justSignedIn) { justSignedIn = false; landInList(); }
  if (state.current) reopen();
  else openLinked();
  resend();
}

/** A link to one conversation (``/agent#conversation=<id>``: the emails to agents link so),
 * opened once the inbox is known (or at once, when the address changes to one later), then
 * taken off the address. One not in the inbox (resolved, say) is asked for first: an ``open``
 * from past its end brings its summary and no message. */
function openLinked() {
  var linked = /#conversation=([\w-]+)/.exec(location.hash);
  if (!linked) return;
  var id = linked[1];
  history.replaceState(null, "", location.pathname + location.search);
  if ($("page-inbox").hidden) showPage("inbox");
  if (summary(id)) { openConversation(id); return; }
  request({ type: "open", conversation_id: id, last_seq: Number.MAX_SAFE_INTEGER }, function (f) {
    if (f.type !== "ack") { announce(f.message); return; }
    state.known[id] = f.conversation;
    openConversation(id);
  });
}

/** A canned response saved (``canned``) or deleted (``deleted``, its id), in place: the Manage
 * page holds the same list. */
function placeCanned(canned, deleted) {
  var i = state.canned.map(function (c) { return c.id; }).indexOf(deleted || canned.id);
  if (deleted) { if (i >= 0) state.canned.splice(i, 1); }
  else if (i >= 0) state.canned.splice(i, 1, canned);
  else state.canned.push(canned);
}

function onFrame(f) {
  if (f.type === "welcome") welcome(f);
  else if (f.type === "conversation") update(f.conversation);
  else if (f.type === "conversations") f.conversations.forEach(update);
  else if (f.type === "read") {
    if (f.conversation_id === state.current && f.reader === "visitor") {
      state.visitorReadSeq = Math.max(state.visitorReadSeq, f.up_to);
      renderSeen();
    }
  } else if (f.type === "presence") {
    if (f.conversation_id === state.current) showVisitorOnline(f.visitor_online);
  } else if (f.type === "visited") visited(f);
  else if (f.type === "teams") { replaceTeams(f); fillFilters(); }
  else if (f.type === "colleagues") {
    replaceColleagues(f);
    fillFilters();
    if (state.current) renderHead();  // (its transfer menu)
  }
  else if (f.type === "canned") placeCanned(f.canned, f.deleted);  // (saved on another panel)
  else if (f.type === "mention") mentioned(f);
  else if (f.type === "mentions_seen") {
    // Another panel of mine opened or read it: the notes there are seen (this one's own open
    // or read has told it already).
    if (f.conversation_id !== state.current) loadMentions(renderList);
  }
  else if (f.type === "typing") showTyping(f);
  else if (f.type === "inbox") {
    replaceInbox(f.conversations);
    if (state.current) renderHead();
  } else if (f.type === "message") renderMessage(f);
  else if (f.type === "ack") {
    if (typeof f.away === "boolean") showAway(f.away);
    if (f.conversation && f.conversation.id) update(f.conversation);
    // A reply's or note's ack carries the message: this socket is not sent it again.
    if (f.message) renderMessage(f.message);
    if (f.canned) placeCanned(f.canned);
    var done = state.pending[f.id];
    if (done) { delete state.pending[f.id]; done(f); }
  } else if (f.type === "error") {
    var mine = refused(f);
    var callback = state.pending[f.id];
    if (callback) { delete state.pending[f.id]; callback(f); }
    else if (!mine) {
      announce(f.code === "already_claimed" ? t("Another agent took this conversation.")
        : f.message);
    }
  }
}

var connection = "connecting";
function renderConnection() {
  $("conn").textContent = connection === "online" ? t("Online")
    : connection === "failed" ? t("Signed out")
    : connection === "connecting" ? t("Connecting…") : t("Reconnecting…");
  $("conn").className = "conn " + connection;
}

function begin(agent) {
  state.me = agent;
  $("login").hidden = true;
  $("app").hidden = false;
  renderMe();
  state.socket = new ChatSocket(ChatSocket.url("/ws/agent"), {
    hello: function () { return { type: "hello", v: 1 }; },
    onFrame: onFrame,
    onState: function (socketState) {
      connection = socketState;
      renderConnection();
      // (Known again from the conversation's "open" once online.)
      if (socketState !== "online") showVisitorOnline(null);
      if (socketState === "failed") showLogin();
    },
    onUnauthorized: function () {
      state.socket.stopped = true;
      showLogin();
      // (Signed out elsewhere, a password changed, the account deactivated: said, not bare.)
      $("login-error").textContent = t("You were signed out. Sign in again to go on.");
    }
  });
  state.socket.connect();
}

/** A setting changed: what was drawn with the old one, again. ``language``: the words did,
 * and the open conversation is drawn again in them too (its events, times and the visitor's
 * column), keeping the focus where it is. */
function redraw(language) {
  renderConnection();
  showAway(state.away);
  renderList();
  if (state.current && language === true) openConversation(state.current, true);
  else if (state.current) renderHead();
  if (state.me) renderMe();
  if (!$("page-reports").hidden) loadReport();
}

applyTheme();
use(preferred()).then(function () {
  renderConnection();
  showAway(false);
  setUpLogin();
  setUpNotifications(openConversation);
  setUpSettings(redraw);
  setUpInbox(openConversation, renderHead);
  setUpConversation();
  setUpContext();
  setUpComposer();
  setUpShortcuts();
  setUpReports();
  setUpAccount();
  setUpBlocks();
  setUpTimes();
  document.querySelectorAll(".pages button").forEach(function (b) {
    b.addEventListener("click", function () { showPage(b.getAttribute("data-page")); });
  });
  markRead();
  window.addEventListener("hashchange", function () { if (state.epoch) openLinked(); });
  api("/api/agent/me").then(function (j) { begin(j.agent); }).catch(showLogin);
});

/* The chat frame: it runs on the chat server's origin inside an iframe of the customer's page
 * (widget/widget.js made it), and talks to that page only by postMessage, with the page's origin
 * named and checked. Modules, by concern: connection (the socket), conversation (the list),
 * composer (writing), intake (forms before a chat), rating, status, appearance, i18n. */
import { greet, localize, scheme, theme } from "./appearance.js";
import { fit, request, setUpComposer, toggleEmoji } from "./composer.js";
import { sendContext, start } from "./connection.js";
import { flushRead, markRead, resetList, scrollToEnd } from "./conversation.js";
import { use } from "./i18n.js";
import { focusIntake, renderIntake, submitIntake } from "./intake.js";
import { renderStatus } from "./status.js";
import { ChatSocket } from "../socket.js";
import { $, page, state, toParent } from "./page.js";

function setAttributes(attributes) {
  if (!attributes || typeof attributes !== "object") return;
  request({ type: "attributes", id: ChatSocket.newId(), attributes: attributes });
}

function setMuted(value) {
  state.muted = !!value;
  $("mute").setAttribute("aria-pressed", String(state.muted));
  $("mute").classList.toggle("muted", state.muted);
}

function relocalize(tag) {
  return use(tag || navigator.language).then(function () {
    localize();
    fit();  // (another placeholder)
    greet();
    renderStatus();
    renderIntake();
  });
}

var started = false;
function fromPage(event) {
  if (event.origin !== page.parentOrigin || event.source !== window.parent) return;
  var m = event.data || {};
  if (m.type === "init" && !started) {
    started = true;
    state.identity = m.identity || null;
    state.isOpen = !!m.open;
    setMuted(m.muted);
    if (/^#[0-9a-f]{6}$/i.test(m.color || "")) { state.pageColor = m.color; theme(m.color); }
    setAttributes(m.attributes);
    state.hostPage = m.page || null;
    start(typeof m.token === "string" ? m.token : null);
    if (m.open && m.focus) $("input").focus();  // (the page's own open leaves focus be)
  } else if (m.type === "identify" || m.type === "reset") {
    // Someone else now: start over with a new hello.
    state.identity = m.type === "identify" ? m.identity : null;
    state.token = null; state.conversationId = null; state.epoch = null;
    state.outbox = []; state.pending = {}; state.lastSeq = {};
    state.visitor = { name: null, email: null };
    state.fresh = false; state.leftMessage = null; state.resolved = false; state.rating = null;
    resetList();
    if (started) state.socket.restart();
  } else if (m.type === "attributes") {
    setAttributes(m.attributes);
  } else if (m.type === "open") {
    state.isOpen = true;
    scrollToEnd();  // it may have been rendered hidden: the newest message, in view
    markRead();
    if (!m.focus) return;  // opened by the page (LiveChat('open')): the visitor's focus stays
    if ($("intake").hidden) $("input").focus();
    else focusIntake();
  } else if (m.type === "closed") {
    flushRead();  // what was on screen until now was seen
    state.isOpen = false;
  } else if (m.type === "locale") {
    relocalize(m.lang);
  } else if (m.type === "page" && started) {
    // A single-page app's route changed (the loader sends only a new address or title): agents
    // see it. Offline, the next welcome tells it.
    state.hostPage = m.page || null;
    sendContext();
  }
}

// The knowledge base's code (kb.js) comes only when the visitor searches, or writes a first
// message on a site that has articles (it suggests some).
var kb;
function withKb(then) { (kb = kb || import("./kb.js")).then(then); }
$("kb-q").addEventListener("input", function () { withKb(function (m) { m.search(); }); });
$("kb-search").addEventListener("submit", function (event) {
  event.preventDefault();
  withKb(function (m) { m.search(true); });
});
// (The first message is written in the composer, or in the form before a chat.)
["input", "intake-message"].forEach(function (id) {
  $(id).addEventListener("input", function () {
    if (state.siteInfo.help && !state.conversationId) withKb(function (m) { m.suggest($(id)); });
  });
});

setUpComposer();
$("intake").addEventListener("submit", submitIntake);
$("mute").addEventListener("click", function () {
  setMuted(!state.muted);
  toParent({ type: "mute", muted: state.muted });
});
$("close").addEventListener("click", function () { toParent({ type: "close" }); });
$("transcript").addEventListener("click", function () {
  if (state.conversationId) {
    request({ type: "transcript", id: ChatSocket.newId(), conversation_id: state.conversationId });
  }
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  if (!$("emoji-panel").hidden) { toggleEmoji(false); $("emoji").focus(); return; }
  toParent({ type: "close" });
});
document.addEventListener("visibilitychange", markRead);
window.addEventListener("message", fromPage);

scheme();
relocalize(page.lang).then(function () {
  resetList();
  if (page.embedded && page.parentOrigin) toParent({ type: "ready" });
  else { started = true; start(null); }
});

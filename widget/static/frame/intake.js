/* The forms before a chat: "leave a message" when nobody can answer (the site's choice), and the
 * pre-chat questions (name, email) the site asks, which verified visitors skip; and, during a
 * chat nobody can answer now, the email the answer can go to. */
import { ChatSocket } from "../socket.js";
import { greet } from "./appearance.js";
import { request, send, startNew } from "./composer.js";
import { t } from "./i18n.js";
import { backAt, offline } from "./status.js";
import { $, clear, state } from "./page.js";

var intake = $("intake"), ask = $("ask-email");
// An email address as the server takes one (server/parsing.py, valid_email; docs/protocol.md):
// one it refused was said here to be saved. L: a character of a name or a label; E: of a
// label's ends.
var L = '[^\\s@<>()[\\]\\\\,;:"\\x00-\\x1f\\x7f-\\x9f\\ufeff.]', E = L.replace(".]", ".-]");
var EMAIL = new RegExp("^(?=[^@]{1,64}@)" + L + "+(\\." + L + "+)*@(?=.{1,189}$)(" + E + "(" + L +
  "{0,61}" + E + ")?\\.)+(?![0-9]+$)" + E + L + "{0,61}" + E + "$");
export function validEmail(v) { return EMAIL.test(v); }

function missing(field) {
  return (state.siteInfo.prechat || []).indexOf(field) >= 0 && !state.visitor[field];
}

/** Which form, if any, comes before the chat: "offline", "prechat" or null. */
export function intakeKind() {
  var open = state.conversationId && !state.resolved && !state.fresh;
  // (A message left with the form waits for its answer: no form again, unless the visitor
  // starts a new conversation.)
  if (open || (state.leftMessage !== null && !state.fresh) || !state.token) return null;
  if (state.conversationId && state.resolved && !state.fresh) return null;  // the old one stays
  // (A site's bot answers at any hour: the chat, not the form.)
  if (state.siteInfo.offline === "form" && offline() && !state.siteInfo.bot) return "offline";
  if (!state.verified && (missing("name") || missing("email"))) return "prechat";
  return null;
}

export function renderIntake() {
  var kind = intakeKind();
  var wasHidden = intake.hidden;
  intake.hidden = !kind;
  $("composer").hidden = !!kind;
  if (!kind) return;
  // A form shown anew has no errors; one still showing has them in the words chosen now.
  FIELDS.forEach(function (field) {
    mark(field, wasHidden ? null : $("intake-" + field + "-error").getAttribute("data-key"));
  });
  var offlineForm = kind === "offline";
  $("intake-title").textContent = t(offlineForm ? "offlineTitle" : "prechatTitle");
  // (An answer by email only where this server sends email; else it comes here.)
  $("intake-text").textContent = offlineForm ? t(state.email ? "offlineText" : "offline") +
    backAt() : t("prechatText");
  $("intake-name-row").hidden = !(offlineForm ? !state.visitor.name : missing("name"));
  $("intake-email-row").hidden = !(offlineForm ? !state.visitor.email : missing("email"));
  $("intake-submit").textContent = t(offlineForm ? "leaveMessage" : "startChat");
  // The form takes the keyboard as it appears only from the chat itself (the visitor's click
  // on the launcher put it in the composer, or they started a new conversation): never from
  // the page, where the visitor may be typing while the page opened the chat.
  if (wasHidden && state.isOpen && document.hasFocus()) focusIntake();
}

/** The first field of the form, without scrolling the greeting away. */
export function focusIntake() {
  intake.querySelector(".field:not([hidden]) :is(input, textarea)").focus({ preventScroll: true });
}

// --- errors: each under its field, which is marked invalid and described by it ----------------

var FIELDS = ["name", "email", "message"];

/** The error ``key`` (t's) for ``field``, or none (null). */
function mark(field, key) {
  var input = $("intake-" + field), error = $("intake-" + field + "-error");
  error.hidden = !key;
  error.textContent = key ? t(key) : "";
  if (key) {
    error.setAttribute("data-key", key);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
  } else {
    error.removeAttribute("data-key");
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}
// A field the visitor corrects is no longer said to be wrong (it is checked again on submit).
intake.addEventListener("input", function (event) {
  if (event.target.hasAttribute("aria-invalid")) mark(event.target.name, null);
});

export function submitIntake(event) {
  event.preventDefault();
  var name = $("intake-name").value.trim(), email = $("intake-email").value.trim();
  var body = $("intake-message").value;
  var nameRow = !$("intake-name-row").hidden, emailRow = !$("intake-email-row").hidden;
  var offlineForm = intakeKind() === "offline";
  // Every error at once, each by its field; the visitor's own submit: the keyboard goes to the
  // first field to correct (away and back if it is there already, so that it is read out again).
  var wrong = [nameRow && !name && "needName",
               emailRow && !validEmail(email) && "needEmail",
               !body.trim() && "needMessage"];
  FIELDS.forEach(function (field, i) { mark(field, wrong[i] || null); });
  var first = intake.querySelector("[aria-invalid]");
  if (first) {
    if (document.activeElement === first) first.blur();
    first.focus();
    return;
  }
  if ((nameRow && name) || (emailRow && email)) {
    var profile = { type: "profile", id: ChatSocket.newId() };
    if (nameRow && name) { profile.name = name; state.visitor.name = name; }
    if (emailRow && email) { profile.email = email; state.visitor.email = email; }
    request(profile);
    greet();
  }
  if (offlineForm) state.leftMessage = state.email ? state.visitor.email || email || "" : "";
  state.fresh = false;
  $("intake-message").value = "";
  startNew();
  send(body);
  renderIntake();
  $("input").focus();
}

// --- during a chat nobody can answer now (ask-email.js, fetched when first shown) ----------

/** Whether to ask for the email the answer can go to: while the visitor waits for a person and
 * nobody can answer, where this server sends email and their address is not known. */
export function askShown() {
  return !!(state.email && state.conversationId && !state.resolved && !state.fresh &&
    !state.assignee && !state.verified && !state.visitor.email && offline());
}
var card = null;
export function renderAskEmail() {
  if (!askShown()) { ask.hidden = true; clear(ask); return; }
  (card = card || import("./ask-email.js")).then(function (m) { m.render(); });
}
/** The server's answer to a ``profile`` (``id``): the card's, if it was. */
export function emailAnswered(id, saved) {
  if (card) card.then(function (m) { m.answered(id, saved); });
}

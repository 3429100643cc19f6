/* The forms before a chat: "leave a message" when nobody can answer (the site's choice), and the
 * pre-chat questions (name, email) the site asks, which verified visitors skip; and, during a
 * chat nobody can answer now, the email the answer can go to. */
import { ChatSocket } from "../socket.js";
import { greet, renderHeader } from "./appearance.js";
import { request, send, startNew } from "./composer.js";
import { append, notice } from "./conversation.js";
import { t } from "./i18n.js";
import { backAt, offline } from "./status.js";
import { $, clear, el, state } from "./page.js";

var intake = $("intake"), ask = $("ask-email");
var BAD = /[\s@<>()[\]\\,;:"\x00-\x1f\x7f]/;
/** An email address as the server takes one (server/parsing.py, valid_email; docs/protocol.md):
 * one it refused was said here to be saved. */
function validEmail(v) {
  var at = v.lastIndexOf("@"), local = v.slice(0, at), domain = v.slice(at + 1);
  var labels = domain.split("."), last = labels[labels.length - 1];
  return at > 0 && local.length <= 64 && domain.length <= 189 && !BAD.test(local) &&
    !BAD.test(domain) && local.split(".").every(Boolean) && labels.length > 1 &&
    labels.every(function (x) { return x && x.length <= 63 && !/^-|-$/.test(x); }) &&
    last.length >= 2 && !/^\d+$/.test(last);
}

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

// --- during a chat nobody can answer now -----------------------------------------------------

/** "Leave your email and we'll send the reply there": while the visitor waits for a person and
 * nobody can answer (away, or out of hours: a site that lets them chat then, or its bot's
 * handoff), where this server sends email and their address is not known. Their answer then
 * reaches them after they have gone (docs/email.md). */
export function renderAskEmail() {
  var shown = !!(state.email && state.conversationId && !state.resolved && !state.fresh &&
    !state.assignee && !state.verified && !state.visitor.email && offline());
  // Made as it is shown, and gone when not: never a second email field beside the forms'.
  if (!shown) { ask.hidden = true; clear(ask); return; }
  if (ask.hidden) {
    ask.hidden = false;
    var label = el("label", "", ask);
    label.id = "ask-email-label";
    label.htmlFor = "ask-email-input";
    var row = el("div", "row", ask), input = el("input", "", row);
    input.id = "ask-email-input";
    input.type = "email";
    input.autocomplete = "email";
    input.maxLength = 254;
    el("button", "primary", row).type = "submit";
    var made = el("p", "error", ask);
    made.id = "ask-email-error";
    made.hidden = true;
  }
  ask.querySelector("label").textContent = t("askEmail");
  ask.querySelector("button").textContent = t("notifyMe");
  var error = ask.querySelector(".error");
  if (!error.hidden) error.textContent = t("needEmail");
}
ask.addEventListener("submit", function (event) {
  event.preventDefault();
  var input = ask.querySelector("input"), email = input.value.trim();
  var error = $("ask-email-error");
  error.hidden = validEmail(email);
  error.textContent = error.hidden ? "" : t("needEmail");
  if (!error.hidden) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
    input.focus();
    return;
  }
  var frame = { type: "profile", id: ChatSocket.newId(), email: email };
  asked[frame.id] = true;
  request(frame);
  state.visitor.email = email;  // (asked no more meanwhile: the server's answer decides)
  renderAskEmail();
  $("input").focus();
});
var asked = {};

/** The server's answer to an address left here (``profile`` ``id``): said in the chat once it
 * is saved; refused, asked for again, with why. */
export function emailAnswered(id, saved) {
  if (!asked[id]) return;
  delete asked[id];
  if (saved) {
    append(notice(t("willEmail", { email: state.visitor.email || "" })));
    renderHeader();  // ("Send me a transcript": the address is known now)
  } else {
    state.visitor.email = null;
    renderAskEmail();
    var error = $("ask-email-error");
    error.hidden = false;
    error.textContent = t("needEmail");
  }
}

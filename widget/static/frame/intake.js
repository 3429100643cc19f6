/* The forms before a chat: "leave a message" when nobody can answer (the site's choice), and the
 * pre-chat questions (name, email) the site asks, which verified visitors skip. */
import { ChatSocket } from "../socket.js";
import { greet } from "./appearance.js";
import { request, send, startNew } from "./composer.js";
import { t } from "./i18n.js";
import { backAt, offline } from "./status.js";
import { $, state } from "./page.js";

var intake = $("intake");

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
  if (state.siteInfo.offline === "form" && offline()) return "offline";
  if (!state.verified && (missing("name") || missing("email"))) return "prechat";
  return null;
}

export function renderIntake() {
  var kind = intakeKind();
  var wasHidden = intake.hidden;
  intake.hidden = !kind;
  $("composer").hidden = !!kind;
  if (!kind) return;
  var offlineForm = kind === "offline";
  $("intake-title").textContent = t(offlineForm ? "offlineTitle" : "prechatTitle");
  // (An answer by email only where this server sends email; else it comes here.)
  $("intake-text").textContent = offlineForm ? t(state.email ? "offlineText" : "offline") +
    backAt() : t("prechatText");
  $("intake-name-row").hidden = !(offlineForm ? !state.visitor.name : missing("name"));
  $("intake-email-row").hidden = !(offlineForm ? !state.visitor.email : missing("email"));
  $("intake-submit").textContent = t(offlineForm ? "leaveMessage" : "startChat");
  if (wasHidden && state.isOpen) focusIntake();
}

/** The first field of the form, without scrolling the greeting away. */
export function focusIntake() {
  var first = intake.querySelector("label:not([hidden]) input, textarea");
  if (first) first.focus({ preventScroll: true });
}

export function submitIntake(event) {
  event.preventDefault();
  var name = $("intake-name").value.trim(), email = $("intake-email").value.trim();
  var body = $("intake-message").value, error = $("intake-error");
  var nameRow = !$("intake-name-row").hidden, emailRow = !$("intake-email-row").hidden;
  var offlineForm = intakeKind() === "offline";
  if (nameRow && !name) { error.textContent = t("needName"); $("intake-name").focus(); return; }
  if (emailRow && !/^[^\s@]+@[^\s@]+$/.test(email)) {
    error.textContent = t("needEmail"); $("intake-email").focus(); return;
  }
  if (!body.trim()) { error.textContent = t("needMessage"); $("intake-message").focus(); return; }
  error.textContent = "";
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
  send(body, null);
  renderIntake();
  $("input").focus();
}

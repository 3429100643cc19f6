/* "Leave your email and we'll send the reply there" (intake.js decides when: askShown): during
 * a chat nobody can answer now, away or out of hours (a site that lets visitors chat then, or its
 * bot's handoff), where this server sends email. The answer then reaches the visitor after they
 * have gone (docs/email.md). Fetched the first time it shows: most chats never need it. */
import { ChatSocket } from "../socket.js";
import { renderHeader } from "./appearance.js";
import { request } from "./composer.js";
import { append, notice } from "./conversation.js";
import { t } from "./i18n.js";
import { askShown, validEmail } from "./intake.js";
import { $, clear, el, state } from "./page.js";

var ask = $("ask-email"), asked = {};

/** The card, or none: made as it is shown, and gone when not (never a second email field
 * beside the forms'). */
export function render() {
  if (!askShown()) { ask.hidden = true; clear(ask); return; }
  if (ask.hidden) {
    ask.hidden = false;
    var label = el("label", "", ask);
    label.htmlFor = "ask-email-input";
    var row = el("div", "row", ask), input = el("input", "", row);
    input.id = "ask-email-input";
    input.type = "email";
    input.autocomplete = "email";
    input.maxLength = 254;
    el("button", "primary", row).type = "submit";
    el("p", "error", ask).id = "ask-email-error";
    $("ask-email-error").hidden = true;
  }
  ask.querySelector("label").textContent = t("askEmail");
  ask.querySelector("button").textContent = t("notifyMe");
  var error = $("ask-email-error");
  if (!error.hidden) error.textContent = t("needEmail");
}

function refused(input) {
  var error = $("ask-email-error");
  error.hidden = false;
  error.textContent = t("needEmail");
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", error.id);
  input.focus();
}

ask.addEventListener("submit", function (event) {
  event.preventDefault();
  var input = ask.querySelector("input"), email = input.value.trim();
  if (!validEmail(email)) { refused(input); return; }
  var frame = { type: "profile", id: ChatSocket.newId(), email: email };
  asked[frame.id] = true;
  request(frame);
  state.visitor.email = email;  // (asked no more meanwhile: the server's answer decides)
  render();
  $("input").focus();
});

/** The server's answer to an address left here (``profile`` ``id``): said in the chat once it
 * is saved; refused, asked for again, with why. */
export function answered(id, saved) {
  if (!asked[id]) return;
  delete asked[id];
  if (saved) {
    append(notice(t("willEmail", { email: state.visitor.email || "" })));
    renderHeader();  // ("Send me a transcript": the address is known now)
  } else {
    state.visitor.email = null;
    render();
    refused(ask.querySelector("input"));
  }
}

/* The signed-in agent's account (in the Settings popover): change the password, sign out
 * everywhere; and, for admins, a password-reset link per agent on the Manage page. Text only,
 * never HTML. */
import { $, api, el } from "./kit.js";
import { notice, onLanguage, t } from "./i18n.js";

/** A labelled field; its words are set by the section's drawer (they follow the language). */
function labelled(form, name, type, autocomplete) {
  var label = el("label", "", form);
  var text = el("span", "", label);
  label.appendChild(document.createTextNode(" "));
  var input = el("input", "", label);
  input.name = name; input.type = type; input.required = true;
  if (autocomplete) input.autocomplete = autocomplete;
  if (type === "password" && name !== "current") input.minLength = 8;
  return { text: text, input: input };
}

export function setUpAccount() {
  var box = $("settings");
  if (!box || $("account")) return;
  var section = el("section", "account", box);
  section.id = "account";
  section.setAttribute("aria-labelledby", "account-title");
  var title = el("h2", "", section);
  title.id = "account-title";
  var form = el("form", "account-form", section);
  form.id = "password-form";
  var current = labelled(form, "current", "password", "current-password");
  var fresh = labelled(form, "password", "password", "new-password");
  var again = labelled(form, "again", "password", "new-password");
  var say = el("p", "account-status", form);
  say.setAttribute("role", "status");
  var submit = el("button", "small", form);
  submit.type = "submit";
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    say.className = "account-status";
    if (fresh.input.value !== again.input.value) {
      say.className += " error";
      notice(say, function () { return t("The two replacement passwords differ."); });
      return;
    }
    submit.disabled = true;
    api("/api/agent/password", { current: current.input.value, password: fresh.input.value })
      .then(function () {
        form.reset();
        notice(say, function () {
          return t("Password changed. Every other session of yours was signed out.");
        });
      }).catch(function (e) {
        say.className += " error";
        say.textContent = e.message;
      }).then(function () { submit.disabled = false; });
  });
  var everywhere = el("button", "secondary small", section);
  everywhere.type = "button";
  everywhere.id = "logout-everywhere";
  onLanguage(function () {  // built once, in the popover where the language is switched
    title.textContent = t("Account");
    current.text.textContent = t("Current password");
    fresh.text.textContent = t("Replacement password");
    again.text.textContent = t("Replacement password, again");
    submit.textContent = t("Change password");
    everywhere.textContent = t("Sign out everywhere");
  });
  everywhere.addEventListener("click", function () {
    api("/api/agent/logout", { everywhere: true }).then(function () { location.reload(); })
      .catch(function (e) { say.className = "account-status error"; say.textContent = e.message; });
  });
}

var resetStatus = null;
/** For each agent row of the Manage page (admins): a "Reset link" button. */
export function agentActions(cell, agent) {
  var button = el("button", "secondary small", cell, t("Reset link"));
  button.type = "button";
  button.setAttribute("aria-label", t("Password reset link for {name}", { name: agent.name }));
  button.addEventListener("click", function () {
    if (!resetStatus || !resetStatus.isConnected) {
      resetStatus = el("p", "secret reset-link", null);
      resetStatus.setAttribute("role", "status");
      var table = cell.closest("table");
      table.parentNode.insertBefore(resetStatus, table.nextSibling);
    }
    api("/api/admin/agents/" + agent.id + "/reset", {}).then(function (j) {
      notice(resetStatus, function () {
        return t("Send {name} this link to choose a new password (good once, for a day; their sessions end when it is used): {url}",
                 { name: agent.name, url: j.reset_url });
      });
    }).catch(function (e) { resetStatus.textContent = e.message; });
  });
}

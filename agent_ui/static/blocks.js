/* The block list: "Block…" on an open conversation (the visitor, and for a while the address
 * they came from), and the blocks in force on the Manage page, with Unblock. Text only, never
 * HTML. */
import { $, clear, el } from "./kit.js";
import { locale, onLanguage, t, tInto, theirs, visitorName } from "./i18n.js";
import { request, state } from "./state.js";


function when(ms) {
  return ms ? t("until {when}", { when: new Date(ms).toLocaleString(locale(), {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) })
    : t("until unblocked");
}

// --- on a conversation -------------------------------------------------------------------------

function buildBlockMenu() {
  var actions = document.querySelector("#conversation .actions");
  if (!actions || $("block-button")) return;
  var menu = el("div", "menu", null);
  actions.insertBefore(menu, $("resolve"));
  var button = el("button", "secondary", menu);
  button.type = "button"; button.id = "block-button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "block-form");
  var form = el("form", "popover block-form", menu);
  form.id = "block-form"; form.hidden = true;
  var hint = el("p", "hint", form);
  var hoursLabel = el("label", "", form);
  hoursLabel.htmlFor = "block-hours";
  var hours = el("select", "", form);
  hours.id = "block-hours";
  var choices = ["", "1", "24", "168", "720"].map(function (value) {
    var option = el("option", "", hours);
    option.value = value;
    return option;
  });
  var check = el("label", "", form);
  var address = el("input", "", check);
  address.type = "checkbox"; address.id = "block-address";
  var addressText = el("span", "", check);
  var reasonLabel = el("label", "", form);
  var reasonText = el("span", "", reasonLabel);
  var reason = el("input", "", reasonLabel);
  reason.maxLength = 100; reason.id = "block-reason";
  var status = el("p", "error", form);
  status.setAttribute("role", "alert");
  var submit = el("button", "danger", form);
  submit.type = "submit";
  var blocked = false;  // "Blocked" on the button for a few seconds after a block
  var words = function () {
    button.textContent = blocked ? t("Blocked") : t("Block…");
    hint.textContent = t("The visitor's chat closes at once, and they cannot write or send files here again while the block lasts.");
    hoursLabel.textContent = t("Block for");
    [t("Until unblocked"), t("1 hour"), t("24 hours"), t("7 days"), t("30 days")]
      .forEach(function (text, i) { choices[i].textContent = text; });
    addressText.textContent =
      " " + t("Also block the address they came from (24 hours unless a time is chosen)");
    reasonText.textContent = t("Reason (for your colleagues)") + " ";
    submit.textContent = t("Block this visitor");
  };
  onLanguage(words);  // built once: its words follow the language the agent switches to
  button.addEventListener("click", function () {
    form.hidden = !form.hidden;
    button.setAttribute("aria-expanded", String(!form.hidden));
    status.textContent = "";
    if (!form.hidden) hours.focus();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var frame = { type: "block", conversation_id: state.current };
    if (hours.value) frame.hours = parseInt(hours.value, 10);
    if (address.checked) frame.address = true;
    if (reason.value.trim()) frame.reason = reason.value.trim();
    request(frame, function (f) {
      if (f.type !== "ack") { status.textContent = f.message; return; }
      form.reset();
      form.hidden = true;
      button.setAttribute("aria-expanded", "false");
      blocked = true;
      words();
      setTimeout(function () { blocked = false; words(); }, 4000);
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !form.hidden) {
      form.hidden = true; button.setAttribute("aria-expanded", "false"); button.focus();
    }
  });
}

// --- the Manage page ---------------------------------------------------------------------------

var list = null;
function buildSection() {
  var page = $("page-admin");
  if (!page || $("admin-blocks")) return;
  var section = el("section", "blocks", page);
  var title = el("h2", "", section);
  list = el("ul", "admin-list", section);
  list.id = "admin-blocks";
  onLanguage(function () {
    title.textContent = t("Blocked visitors");
    if (!page.hidden) refreshBlocks();  // the list, in the new language too
  });
  document.querySelectorAll("[data-page=admin]").forEach(function (b) {
    b.addEventListener("click", refreshBlocks);
  });
}

export function refreshBlocks() {
  if (!list || !state.socket) return;
  request({ type: "blocks" }, function (f) {
    if (f.type !== "ack") return;
    clear(list);
    if (!f.blocks.length) el("li", "muted", list, t("Nobody is blocked."));
    f.blocks.forEach(function (b) {
      var item = el("li", "", list);
      var name = visitorName(b.visitor);
      var who = b.kind === "address" ? t("The address of {name}", { name: name }) : name;
      // (The name in its own direction, in the panel's sentence.)
      var shown = el("b", "", item);
      if (b.kind === "address") tInto(shown, "The address of {name}", { name: name });
      else theirs(shown, name);
      el("span", "muted", item, " · " + when(b.until) + " · " + t("by {name}", { name: b.by.name })
         + (b.reason ? " · " + b.reason : "") + " ");
      var undo = el("button", "secondary small", item, t("Unblock"));
      undo.type = "button";
      undo.setAttribute("aria-label", t("Unblock {name}", { name: who }));
      undo.addEventListener("click", function () {
        request({ type: "unblock", block_id: b.id }, function (r) {
          if (r.type === "ack") refreshBlocks(); else window.alert(r.message);
        });
      });
    });
  });
}

export function setUpBlocks() {
  buildBlockMenu();
  buildSection();
}

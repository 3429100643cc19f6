/* The block list: "Block…" on an open conversation (the visitor, and for a while the address
 * they came from), and the blocks in force on the Manage page, with Unblock. Text only, never
 * HTML. */
import { $, clear, el } from "./kit.js";
import { locale, t } from "./i18n.js";
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
  var button = el("button", "secondary", menu, t("Block…"));
  button.type = "button"; button.id = "block-button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "block-form");
  var form = el("form", "popover block-form", menu);
  form.id = "block-form"; form.hidden = true;
  el("p", "hint", form, t("The visitor's chat closes at once, and they cannot write or send files here again while the block lasts."));
  el("label", "", form, t("Block for")).htmlFor = "block-hours";
  var hours = el("select", "", form);
  hours.id = "block-hours";
  [["", t("Until unblocked")], ["1", t("1 hour")], ["24", t("24 hours")], ["168", t("7 days")],
   ["720", t("30 days")]].forEach(function (d) { el("option", "", hours, d[1]).value = d[0]; });
  var check = el("label", "", form);
  var address = el("input", "", check);
  address.type = "checkbox"; address.id = "block-address";
  check.appendChild(document.createTextNode(
    " " + t("Also block the address they came from (24 hours unless a time is chosen)")));
  var reasonLabel = el("label", "", form, t("Reason (for your colleagues)") + " ");
  var reason = el("input", "", reasonLabel);
  reason.maxLength = 100; reason.id = "block-reason";
  var status = el("p", "error", form);
  status.setAttribute("role", "alert");
  var submit = el("button", "danger", form, t("Block this visitor"));
  submit.type = "submit";
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
      button.textContent = t("Blocked");
      setTimeout(function () { button.textContent = t("Block…"); }, 4000);
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
  el("h2", "", section, t("Blocked visitors"));
  list = el("ul", "admin-list", section);
  list.id = "admin-blocks";
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
      var who = b.kind === "address" ? t("The address of {name}", { name: b.visitor.name })
        : b.visitor.name;
      el("b", "", item, who);
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

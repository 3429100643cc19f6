/* Keyboard shortcuts: j/k next/previous, c claim, e resolve, s snooze, r reply, n note,
 * / search, Esc leaves a field or closes a menu. */
import { $ } from "./kit.js";
import { setMode } from "./composer.js";
import { state } from "./state.js";

export function setUpShortcuts() {
  document.addEventListener("keydown", function (event) {
    var target = event.target, typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
    if (event.key === "Escape") {
      // An open menu closes, says so, and gives the focus back to its button (Block… does the
      // same in blocks.js).
      var closed = false;
      [["snooze", "snooze-menu"], ["transfer-button", "transfer"],
       ["follow-up-button", "follow-up"], ["settings-button", "settings"]].forEach(function (pair) {
        var button = $(pair[0]), menu = $(pair[1]);
        if (menu.hidden) return;
        var inside = menu.contains(document.activeElement) || document.activeElement === button ||
          document.activeElement === document.body;
        menu.hidden = true;
        button.setAttribute("aria-expanded", "false");
        if (inside) { button.focus(); closed = true; }
      });
      if (typing && !closed) target.blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey || $("page-inbox").hidden) return;
    var items = Array.prototype.slice.call(document.querySelectorAll("#list .item button"));
    var index = items.map(function (b) { return b.parentNode.classList.contains("active"); })
      .indexOf(true);
    var key = event.key;
    if (key === "j" || key === "k") {
      var next = items[Math.min(items.length - 1, Math.max(0, index + (key === "j" ? 1 : -1)))];
      if (next) {
        next.click();
        // The list was drawn again and the composer took the focus: back to the list, so that
        // the next j or k moves on too (r or n goes to the reply box).
        var active = document.querySelector("#list .item.active button");
        if (active) active.focus();
      }
    } else if (key === "/") { event.preventDefault(); $("search").focus(); }
    else if (!state.current) return;
    else if (key === "c" && !$("claim").hidden) $("claim").click();
    else if (key === "e" && !$("resolve").hidden) $("resolve").click();
    else if (key === "s" && !$("snooze").hidden) { event.preventDefault(); $("snooze").click(); }
    else if (key === "r") { event.preventDefault(); setMode(false); $("reply-input").focus(); }
    else if (key === "n") { event.preventDefault(); setMode(true); $("reply-input").focus(); }
  });
}

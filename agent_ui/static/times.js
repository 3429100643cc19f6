/* Times that move on while they are shown: how long ago something was ("5m", in the inbox and
 * the visitor's pages) and the visitor's local time. Whoever draws one makes it here, marked
 * with what it is counted from; one timer brings every such element on the page up to date in
 * place — every 30 seconds, and when the tab is shown again — whichever module drew it and
 * however often it has been drawn again since (nothing keeps a node that a redraw replaced). */
import { el } from "./kit.js";
import { ago, locale } from "./i18n.js";

/** "14:05 (Europe/Lisbon)": the time now in ``tz``; null for a zone the browser does not know. */
export function zoneTime(tz) {
  try {
    return new Date().toLocaleTimeString(locale(), { timeZone: tz, hour: "2-digit",
                                                     minute: "2-digit" }) + " (" + tz + ")";
  } catch (e) { return null; }
}

/** How long ago ``ms`` was, in ``parent``, kept up to date. */
export function since(parent, cls, ms) {
  var node = el("time", cls, parent, ago(ms));
  node.dateTime = new Date(ms).toISOString();
  node.setAttribute("data-since", String(ms));
  return node;
}

/** The time now in ``tz``, in ``parent``, kept up to date. */
export function clockIn(parent, tz) {
  var node = el("span", "", parent, zoneTime(tz) || tz);
  node.setAttribute("data-zone", tz);
  return node;
}

/** Every moving time on the page, as it is now. */
export function refreshTimes() {
  document.querySelectorAll("[data-since]").forEach(function (node) {
    node.textContent = ago(Number(node.getAttribute("data-since")));
  });
  document.querySelectorAll("[data-zone]").forEach(function (node) {
    node.textContent = zoneTime(node.getAttribute("data-zone")) || node.textContent;
  });
}

export function setUpTimes() {
  setInterval(refreshTimes, 30000);
  // A hidden tab's timers are slowed down: shown again, it is brought up to date at once.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refreshTimes();
  });
}

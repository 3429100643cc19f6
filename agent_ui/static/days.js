/* Day separators in the open conversation: "Today", "Yesterday" or the date, above the first
 * message or event of each day, in the agent's own time zone and language (the browser's
 * words for today and yesterday, Intl); named again at midnight. */
import { el } from "./kit.js";
import { locale } from "./i18n.js";

function startOf(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(); }

/** The day's name for a separator. */
export function dayName(ms) {
  var d = new Date(ms), today = new Date();
  // (Rounded: a day the clocks change on is 23 or 25 hours long.)
  var ago = Math.round((startOf(today) - startOf(d)) / 864e5);
  if (ago === 0 || ago === 1) {
    var word = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" }).format(-ago, "day");
    return word.charAt(0).toLocaleUpperCase(locale()) + word.slice(1);
  }
  return d.toLocaleDateString(locale(), {
    weekday: "long", day: "numeric", month: "long",
    year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" });
}

var midnight = null;

/** Puts a separator above the first shown message of each day of ``box`` and takes away the
 * ones no longer needed (a message shown before or after others, older pages, forgetAbove);
 * touches only what changes (the list is a live region). */
export function separateDays(box) {
  var wanted = [], last = null;
  Array.prototype.forEach.call(box.querySelectorAll("li[data-seq]"), function (n) {
    if (n.at === undefined) return;
    var day = new Date(n.at).toDateString();
    if (day !== last) wanted.push({ node: n, day: day, name: dayName(n.at) });
    last = day;
  });
  Array.prototype.slice.call(box.querySelectorAll("li.day")).forEach(function (s) {
    var want = wanted.filter(function (w) { return w.node === s.nextElementSibling; })[0];
    if (!want || want.kept) { box.removeChild(s); return; }
    want.kept = true;
    if (s.textContent !== want.name) s.textContent = want.name;
  });
  wanted.forEach(function (w) {
    if (!w.kept) box.insertBefore(el("li", "day", null, w.name), w.node);
  });
  clearTimeout(midnight);
  var next = new Date();
  next.setHours(24, 0, 1, 0);
  midnight = setTimeout(function () { separateDays(box); }, next - Date.now());
}

/* The Reports page: first response, resolution and queue times, missed chats and satisfaction
 * for a period, per site, team or agent, with charts drawn in SVG and a CSV download. The team's
 * numbers are people's; what bots did is shown apart (docs/reports.md). */
import { $, api, clear, el } from "./kit.js";
import { locale, t } from "./i18n.js";
import { state } from "./state.js";

var SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, parent) {
  var node = document.createElementNS(SVG, tag);
  for (var k in attrs) node.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(node);
  return node;
}
function seconds(s) {
  if (s === null || s === undefined) return "—";
  s = Math.round(s);
  var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), rest = s % 60;
  if (h) return t("{h} h", { h: h }) + (m ? " " + t("{m} min", { m: m }) : "");
  if (m) return t("{m} min", { m: m }) + (rest ? " " + t("{s} s", { s: rest }) : "");
  return t("{s} s", { s: rest });
}
function barChart(box, days, values, missed, label) {
  clear(box);
  var w = 720, h = 200, pad = 28, max = Math.max.apply(null, values.concat([1]));
  var chart = svg("svg", { viewBox: "0 0 " + w + " " + (h + 40), role: "img", "aria-label": label,
                           "class": "chart" }, box);
  var step = (w - pad) / Math.max(1, days.length), bw = Math.max(4, step * 0.7);
  svg("line", { x1: pad, y1: h, x2: w, y2: h, "class": "axis" }, chart);
  svg("text", { x: 0, y: 12, "class": "tick" }, chart).textContent = String(Math.round(max));
  days.forEach(function (day, i) {
    var x = pad + i * step + (step - bw) / 2, v = values[i] || 0, bh = (h - 10) * v / max;
    var bar = svg("rect", { x: x, y: h - bh, width: bw, height: bh, "class": "bar" }, chart);
    svg("title", {}, bar).textContent = day + ": " + v;
    if (missed) {
      var mh = (h - 10) * (missed[i] || 0) / max;
      svg("rect", { x: x, y: h - mh, width: bw, height: mh, "class": "bar missed" }, chart);
    }
    if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0) {
      svg("text", { x: x + bw / 2, y: h + 16, "class": "tick", "text-anchor": "middle" }, chart)
        .textContent = day.slice(5);
    }
  });
}
function isoDay(d) {
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" +
    String(d.getDate()).padStart(2, "0");
}
function reportQuery() {
  var q = new URLSearchParams({ from: $("report-from").value, to: $("report-to").value,
                                tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  ["site", "team", "agent"].forEach(function (k) {
    if ($("report-" + k).value) q.set(k, $("report-" + k).value);
  });
  return q;
}

/** ``select``'s choices after its first ("All …"): ``items``. What was chosen stays chosen if it
 * is still there; else "All …" is, and the answer is false. */
function refill(select, items) {
  var chosen = select.value;
  while (select.options.length > 1) select.remove(1);
  items.forEach(function (x) { el("option", "", select, x.name).value = x.id; });
  select.value = items.some(function (x) { return x.id === chosen; }) ? chosen : "";
  return select.value === chosen;
}

/** The site, team and agent filters, from what the panel knows: at each welcome, and when an
 * admin changes the teams or the colleagues of a site (``teams``, ``colleagues``) while the
 * panel is open. A report on
 * show whose site, team or agent is gone is drawn again, for all of them. */
export function fillFilters() {
  // People only: a bot's figures are its own (the Bots section), not an agent's.
  var people = state.colleagues.filter(function (a) { return String(a.id).indexOf("bot_") !== 0; });
  var kept = [["report-site", state.sites], ["report-team", state.teams],
              ["report-agent", people]].map(function (pair) {
    return refill($(pair[0]), pair[1]);
  });
  if (kept.indexOf(false) >= 0 && !$("page-reports").hidden) loadReport();
}

export function loadReport() {
  if (!$("report-from").value) {
    var to = new Date(), from = new Date();
    from.setDate(to.getDate() - 13);
    $("report-from").value = isoDay(from);
    $("report-to").value = isoDay(to);
  }
  var q = reportQuery();
  $("report-csv").href = "/api/reports?" + q + "&format=csv";
  $("kb-csv").href = "/api/reports?" + q + "&format=csv&report=knowledge_base";
  api("/api/reports?" + q).then(function (r) {
    var total = r.total, number = new Intl.NumberFormat(locale());
    drawTiles($("report-tiles"), [
      [t("Conversations"), total.conversations], [t("Missed"), total.missed],
      [t("First response, median"), seconds(total.first_response.median)],
      [t("First response, 90th pct"), seconds(total.first_response.p90)],
      [t("Resolution, median"), seconds(total.resolution.median)],
      [t("Resolution, 90th pct"), seconds(total.resolution.p90)],
      [t("Wait in queue, median"), seconds(total.wait.median)],
      [t("Satisfaction"), satisfaction(total.satisfaction, number)]]);
    // What bots did, apart: shown when a bot answered conversations first in the period.
    $("bot-report").hidden = !total.bot_conversations;
    drawTiles($("bot-tiles"), [
      [t("Answered first by a bot"), total.bot_conversations],
      [t("Handled by a bot alone"), total.handled_by_bot],
      [t("Resolved without a person"), total.bot_resolved],
      [t("Handed to a person"), total.bot_conversations - total.handled_by_bot],
      [t("Bot satisfaction"), satisfaction(total.bot_satisfaction, number)]]);
    var days = r.days.map(function (d) { return d.day; });
    barChart($("report-chart"), days, r.days.map(function (d) { return d.conversations; }),
             r.days.map(function (d) { return d.missed; }), t("Conversations per day"));
    barChart($("report-frt"), days,
             r.days.map(function (d) { return d.first_response.median || 0; }), null,
             t("Median first response per day, in seconds"));
    knowledge(r.knowledge_base, number);
  }).catch(function (e) {
    clear($("report-tiles"));
    $("bot-report").hidden = true;
    el("p", "error", $("report-tiles"), e.message);
  });
}

/** ``box``'s tiles: one per [label, value]. */
function drawTiles(box, pairs) {
  clear(box);
  pairs.forEach(function (pair) {
    var tile = el("div", "tile", box);
    el("span", "label", tile, pair[0]);
    el("span", "value", tile, String(pair[1]));
  });
}

function satisfaction(s, number) {
  return s.average === null ? "—"
    : t("{average} / 5 ({percent}% happy, {n} ratings)",
        { average: number.format(s.average), percent: number.format(s.satisfied_percent),
          n: s.ratings });
}

/** The knowledge base's numbers: what visitors searched for, read, and found helpful. */
function knowledge(k, number) {
  var votes = k.helpful + k.not_helpful;
  drawTiles($("kb-tiles"), [
    [t("Searches"), k.searches], [t("Searches with no result"), k.searches_without_result],
    [t("Articles viewed"), k.views], [t("Suggestions opened"), k.suggestions_opened],
    [t("Answered by a suggestion (no chat started)"), k.suggestions_accepted],
    [t("Did this help?"), votes ? t("{percent}% yes ({n} answers)",
                                   { percent: number.format(k.helpful_percent), n: votes }) : "—"]]);
  function rows(body, items, cells) {
    clear(body);
    if (!items.length) {
      var td = el("td", "muted", el("tr", "", body), t("Nothing yet."));
      td.colSpan = 4;
    }
    items.forEach(function (item) {
      var tr = el("tr", "", body);
      cells(item).forEach(function (c) { el("td", "", tr, String(c)); });
    });
  }
  rows($("kb-misses"), k.no_results, function (m) { return [m.query, m.count]; });
  rows($("kb-read"), k.articles, function (a) {
    var answered = a.helpful + a.not_helpful;
    return [a.title + " (" + a.lang + ")", a.views, a.suggestions_opened,
            answered ? t("{yes} of {n}", { yes: a.helpful, n: answered }) : "—"];
  });
}

export function setUpReports() {
  $("report-form").addEventListener("submit", function (event) {
    event.preventDefault();
    loadReport();
  });
}

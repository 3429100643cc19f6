/* Telling the agent: a chime, a desktop notification while the tab is hidden, the count in the
 * tab's title, the notice line, and going away by itself after ten idle minutes. */
import { ChatSocket } from "/widget/static/socket.js";
import { $, clear } from "./kit.js";
import { t, theirs } from "./i18n.js";
import { state } from "./state.js";

export var prefs = loadPrefs();
var audio = null, noticeTimer = null, idleTimer = null;
var openConversation = function () {};

function loadPrefs() {
  var p = { desktop: false, sound: true, title: true, autoaway: true };
  try {
    var saved = JSON.parse(localStorage.getItem("livechat:prefs"));
    for (var k in saved) p[k] = saved[k];
  } catch (e) { /* none */ }
  return p;
}
export function savePrefs() {
  try { localStorage.setItem("livechat:prefs", JSON.stringify(prefs)); } catch (e) { /* private */ }
}

function chime() {
  if (!prefs.sound || !audio || audio.state !== "running") return;
  var now = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
  osc.frequency.setValueAtTime(660, now);
  osc.frequency.setValueAtTime(990, now + 0.1);
  gain.gain.setValueAtTime(0.0001, now);
  gain.gain.exponentialRampToValueAtTime(0.15, now + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.4);
  osc.connect(gain); gain.connect(audio.destination);
  osc.start(now); osc.stop(now + 0.45);
}

/** Someone else's words (a visitor's name, what they wrote) in a notice: in their own
 * direction wherever it is shown (a <bdi> on the page, between U+2068 and U+2069 in a desktop
 * notification's plain text), so that "Maria Silva (Acme Inc.)" keeps its brackets where she put
 * them in an Arabic or Hebrew panel. */
export function their(text) {
  return { theirs: text === undefined || text === null ? "" : String(text) };
}

/** ``parts`` (a string, their(…), or a list of them) as plain text. */
function plain(parts) {
  return [].concat(parts).map(function (p) {
    return typeof p === "string" ? p : "\u2068" + p.theirs + "\u2069";
  }).join("");
}

/** ``parts`` as the text of ``node``, theirs each in a <bdi>. */
function put(node, parts) {
  clear(node);
  [].concat(parts).forEach(function (p) {
    if (typeof p !== "string") theirs(node, p.theirs);
    else if (p) node.appendChild(document.createTextNode(p));
  });
}

/** ``title`` and ``body``: strings (the panel's words) or their(…) (someone else's), or lists
 * of them. */
export function notify(title, body, conversationId) {
  chime();
  var hidden = document.visibilityState !== "visible";
  if (prefs.desktop && hidden && window.Notification && Notification.permission === "granted") {
    var n = new Notification(plain(title), { body: plain(body), tag: conversationId });
    n.onclick = function () { window.focus(); openConversation(conversationId); n.close(); };
  }
  announce(plain(body) ? [].concat(title, ": ", body) : title);
}

/** The notice line above the open conversation (it takes its own room, never covering a
 * message), for ten seconds. With no conversation open, a screen reader hears it from the
 * inbox's status line (#list-status): the list itself is no live region, or the ages in it
 * ("5m", every 30 seconds) and every redraw would be read out. ``parts``: as notify()'s
 * title and body. */
export function announce(parts) {
  var text = plain(parts || "");
  clearTimeout(noticeTimer);
  put($("notice-text"), parts || "");
  $("notice").hidden = !text || !state.current;
  put($("list-status"), state.current ? "" : parts || "");
  if (text) noticeTimer = setTimeout(function () { $("notice").hidden = true; }, 10000);
}

/** "(2) Live chat — agent panel": waiting conversations and mine with unread messages. */
export function titleCount(count) {
  document.title = (prefs.title && count ? "(" + count + ") " : "") + t("Live chat — agent panel");
}

export function setAway(value) {
  state.socket.send({ type: "status", id: ChatSocket.newId(), away: value });
}

function activity() {
  clearTimeout(idleTimer);
  if (state.autoAway && state.away) { state.autoAway = false; setAway(false); }
  idleTimer = setTimeout(function () {
    if (prefs.autoaway && !state.away && state.socket) { state.autoAway = true; setAway(true); }
  }, 10 * 60000);
}

export function setUpNotifications(open) {
  openConversation = open;
  ["pointerdown", "keydown"].forEach(function (type) {
    window.addEventListener(type, function () {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!audio && AC) audio = new AC();
      if (audio && audio.state === "suspended") audio.resume();
    }, { capture: true });
  });
  ["pointerdown", "keydown", "mousemove"].forEach(function (type) {
    window.addEventListener(type, activity, { passive: true });
  });
  $("notice-close").addEventListener("click", function () { announce(""); });
  $("away").addEventListener("click", function () {
    state.autoAway = false;
    setAway(!state.away);
  });
  activity();
}

export function showAway(away) {
  state.away = !!away;
  $("away").textContent = away ? t("Away") : t("Available");
  $("away").setAttribute("aria-pressed", away ? "true" : "false");
}

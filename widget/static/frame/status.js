/* The header's status line (who is answering, the queue, online or away and until when), the
 * banner (reconnecting, refused), the typing line, and business hours changing while open. */
import { ChatSocket } from "../socket.js";
import { back, minutes, t } from "./i18n.js";
import { renderAskEmail, renderIntake } from "./intake.js";
import { $, state } from "./page.js";

var statusLine = $("status"), banner = $("banner"), typingNode = $("typing");
var handoffButton = $("handoff");
var hoursTimer = null, typingTimer = null;

export function offline() { return !state.agentsOnline || !state.siteInfo.open; }

export function backAt() {
  var site = state.siteInfo;
  return !site.open && site.next_change ? " " + back(site.next_change) : "";
}

/** "Talk to a person", while the site's bot answers (the server hands the conversation over
 * and a `requeued` event with `handoff` follows). */
handoffButton.addEventListener("click", function () {
  handoffButton.disabled = true;
  if (state.socket) state.socket.send({ type: "handoff", id: ChatSocket.newId() });
});

export function renderStatus() {
  var queue = state.queue, bot = !!(state.assignee && state.assignee.bot && !state.resolved);
  handoffButton.hidden = !bot;
  handoffButton.textContent = t("talkToPerson");
  if (!bot) handoffButton.disabled = false;
  if (bot) {
    statusLine.textContent = t("botAnswering", { name: state.assignee.name || t("agent") });
  } else if (state.assignee && !state.resolved) {
    statusLine.textContent = t("answering", { name: state.assignee.name || t("agent") });
  } else if (queue && !state.resolved && !(offline() && state.siteInfo.offline === "form")) {
    // (Away, on a site that takes messages then: the answer comes by email, not "You're next".
    // Away on a site that lets visitors chat then: their place, and when it is back, not a
    // wait nobody is there to make come true.)
    var wait = offline() ? (backAt() ? " ·" + backAt() : "") :
      queue.expected_wait !== null ? " · " + minutes(queue.expected_wait) : "";
    statusLine.textContent = (queue.position === 1 ? t("next") :
      t("position", { n: queue.position })) + wait;
  } else if (!offline()) {
    statusLine.textContent = state.typicalWait !== null ?
      t("typically", { time: minutes(state.typicalWait) }) : t("online");
  } else statusLine.textContent = t("offline") + backAt();
  renderAskEmail();
}

/** Business hours change while the page is open: flip at the time told, and the server's next
 * ``availability`` (or welcome) says the change after it. */
export function scheduleHours() {
  clearTimeout(hoursTimer);
  var site = state.siteInfo, wait = site.next_change ? site.next_change - Date.now() : -1;
  if (wait > 0 && wait < 86400000) {
    hoursTimer = setTimeout(function () {
      site.open = !site.open;
      site.next_change = null;
      renderStatus();
      renderIntake();
    }, wait);
  }
}

export function showBanner(text) {
  if (text) { banner.textContent = text; banner.removeAttribute("hidden"); }
  else banner.setAttribute("hidden", "");
}

export function onState(socketState, code) {
  document.documentElement.setAttribute("data-state", socketState);  // for scripts and tests
  if (socketState === "online") showBanner("");
  else if (socketState === "reconnecting") showBanner(t("reconnecting"));
  else if (socketState === "failed" && code === 4402) showBanner(t("signIn"));
  else if (socketState === "failed" && code === 4423) showBanner(t("blocked"));  // (no number)
  else if (socketState === "failed") showBanner(t("unavailable", { code: code }));
  // Refused for good (4400-4499: no identity, blocked, another origin): nothing can be sent,
  // so the composer is off, and the header promises nothing, until a connection is made again
  // (after `identify`, say).
  var refused = socketState === "failed";
  $("composer").querySelectorAll("textarea, button").forEach(function (control) {
    control.disabled = refused;
  });
  if (refused) statusLine.textContent = "";
}

export function showTyping(name) {
  clearTimeout(typingTimer);
  typingNode.textContent = name ? t("typing", { name: name }) : "";
  if (name) typingTimer = setTimeout(function () { showTyping(null); }, 6000);
}

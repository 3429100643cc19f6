/* The socket to /ws/visitor: the hello (token, identity, where we were), the welcome, and every
 * frame the server sends (docs/protocol.md). */
import { ChatSocket } from "../socket.js";
import { greet, renderHeader, scheme, theme } from "./appearance.js";
import { flush, next, unsent } from "./composer.js";
import {
  afterChange, append, forgetAbove, notice, notSent, render, renderRating, renderSeen, resetList,
  seen, switchTo
} from "./conversation.js";
import { reason, t } from "./i18n.js";
import { emailAnswered, renderIntake } from "./intake.js";
import {
  offline, onState, renderStatus, scheduleHours, showBanner, showTyping
} from "./status.js";
import { $, page, state, toParent } from "./page.js";

export function start(initialToken) {
  state.token = initialToken;
  state.socket = new ChatSocket(ChatSocket.url("/ws/visitor"), {
    hello: hello,
    // (After every frame: the next message of the outbox may go, composer.js.)
    onFrame: function (f) {
      onFrame(f);
      next();
      // "We'll send yours in a moment" (failed): until everything it was about has gone.
      if (state.retrying && !state.outbox.length && !Object.keys(state.pending).length) {
        state.retrying = false;
        showBanner("");
      }
    },
    onState: onState,
    onUnauthorized: function () {
      // A token that no longer verifies (expired, or a key was retired): start afresh.
      state.token = null;
      state.conversationId = null;
      toParent({ type: "token", token: null });
    }
  });
  state.socket.connect();
}

function hello() {
  var frame = { type: "hello", v: 1, site: page.site }, identity = state.identity;
  if (state.token) frame.token = state.token;
  if (identity && identity.jwt) frame.user_jwt = identity.jwt;
  else if (identity) {
    frame.user_id = identity.id;
    frame.user_expires = identity.expires;
    frame.user_hash = identity.hash;
    if (identity.name) frame.user_name = identity.name;
    if (identity.email) frame.user_email = identity.email;
  }
  if (state.conversationId) {
    frame.conversation_id = state.conversationId;
    frame.last_seq = state.lastSeq[state.conversationId] || 0;
    frame.epoch = state.epoch;
  }
  return frame;
}

function onFrame(f) {
  if (f.type === "welcome") welcome(f);
  else if (f.type === "message") {
    render(f);
    if (f.author && f.author.type === "visitor") noteLeftMessage();
  }
  else if (f.type === "availability") {
    state.agentsOnline = f.agents_online;
    if (typeof f.open === "boolean") {  // the site's hours, and when they next change
      state.siteInfo.open = f.open;
      state.siteInfo.next_change = f.next_change;
      scheduleHours();
    }
    renderStatus();
    renderIntake();
  } else if (f.type === "typing") {
    if (f.author.type === "agent") showTyping(f.active ? (f.author.name || t("agent")) : null);
  } else if (f.type === "read") {
    if (f.conversation_id !== state.conversationId) return;
    if (f.reader === "agent") {
      state.agentReadSeq = Math.max(state.agentReadSeq, f.up_to);
      renderSeen();
    } else seen(f.up_to);
  } else if (f.type === "queue") {
    if (f.conversation_id === state.conversationId && !state.assignee) {
      state.queue = { position: f.position, expected_wait: f.expected_wait };
      renderStatus();
    }
  } else if (f.type === "ack") {
    acknowledged(f);
  } else if (f.type === "conversation") {
    // Another tab opened a conversation: follow it here too.
    if (!(f.conversation.id in state.lastSeq)) {
      switchTo(f.conversation);
      state.socket.send({ type: "open", id: ChatSocket.newId(),
                          conversation_id: f.conversation.id });
    }
  } else if (f.type === "error") {
    failed(f);
  }
}

function welcome(f) {
  var asked = state.token;
  if (f.token !== state.token) {
    state.token = f.token;
    toParent({ type: "token", token: state.token });
  }
  $("site-name").textContent = f.site.name;
  document.title = f.site.name;
  state.siteInfo = f.site;
  if (state.pageColor) scheme(); else theme(f.site.color);
  $("preview-notice").hidden = !f.site.typing_preview;
  $("kb-search").hidden = !f.site.help;
  state.visitor = f.visitor || state.visitor;
  state.verified = f.verified;
  state.email = !!f.email;
  state.agentsOnline = f.agents_online;
  var conv = f.conversation;
  if (f.epoch !== state.epoch || !conv || conv.id !== state.conversationId) {
    // Another conversation, or the store was reset: start the list afresh.
    state.epoch = f.epoch;
    state.conversationId = conv ? conv.id : null;
    state.leftMessage = null;  // (what was left was another conversation's)
    resetList();
    state.liveFrom = 0;
    state.unreadSeqs = [];
    state.visitorRead = 0;
  } else if ((state.lastSeq[conv.id] || 0) > conv.last_seq) {
    // Our last_seq was beyond the conversation's, and taken as its (docs/protocol.md, Resume).
    forgetAbove(conv.last_seq);
  }
  state.epoch = f.epoch;
  state.conversationId = conv ? conv.id : null;
  state.assignee = conv && conv.assignee ? conv.assignee : null;
  state.resolved = !!conv && conv.status === "resolved";
  state.rating = conv ? conv.rating : null;
  state.agentReadSeq = conv ? conv.agent_read_seq : 0;
  state.visitorRead = Math.max(state.visitorRead, conv ? conv.visitor_read_seq || 0 : 0);
  // (What was missed while disconnected arrives as history: no chime for it.)
  state.liveFrom = Math.max(state.liveFrom, conv ? conv.last_seq : 0);
  state.queue = f.queue;
  state.typicalWait = typeof f.typical_wait === "number" ? f.typical_wait : null;
  // A message left with the offline form that nobody has taken yet (a reload, another page):
  // its notice is shown again after it (noteLeftMessage), with where the answer will go.
  // (Not on a site whose bot answers: the form is never shown there.)
  if (state.leftMessage === null && conv && conv.status === "waiting" && !state.assignee &&
      state.siteInfo.offline === "form" && offline() && !state.siteInfo.bot) {
    state.leftMessage = state.email ? state.visitor.email || "" : "";
  }
  greet();
  renderHeader();
  scheduleHours();
  afterChange();
  flush();
  unsent(asked);
  sendContext();
}

/** Where the visitor is, in their language and time zone: the agent's context column (on every
 * welcome, and when a single-page app's route changes: main.js). */
export function sendContext() {
  var frame = { type: "context", language: navigator.language }, host = state.hostPage;
  try { frame.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old */ }
  if (host && /^https?:/.test(host.url)) {
    frame.url = host.url.split("#")[0].slice(0, 2000);
    frame.title = String(host.title || "").replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 300);
    if (/^https?:/.test(host.referrer || "")) frame.referrer = host.referrer.slice(0, 2000);
  }
  state.socket.send(frame);
}

function acknowledged(f) {
  if (state.pending[f.id]) {
    var frame = state.pending[f.id];
    delete state.pending[f.id];
    // (A welcome in between said what the server knew before: the address is known now.)
    if (frame.type === "profile" && frame.email) {
      state.visitor.email = frame.email;
      renderStatus();
      emailAnswered(frame.id, true);
    }
    if (frame.type === "rate" && f.conversation) {
      state.rating = f.conversation.rating;
      renderRating();
    }
    if (frame.type === "transcript") {
      append(notice(t("transcriptSent", { email: state.visitor.email || "" })));
    }
  }
  if (f.conversation_id && f.conversation_id !== state.conversationId) {
    switchTo({ id: f.conversation_id, status: "waiting" });
  }
  // A send's ack carries the message: this socket is not sent it again as a frame.
  if (f.message) render(f.message);
  if (f.conversation_id) noteLeftMessage();
}

/** "Thanks! We got your message…", once, after the message left with the offline form: as it is
 * acknowledged, and again after a reload while it still waits (welcome) for nobody's answer. */
function noteLeftMessage() {
  if (state.leftMessage === null || $("messages").querySelector(".left")) return;
  var item = notice(state.leftMessage ? t("leftMessage", { email: state.leftMessage })
    : t("leftMessageNoEmail"));
  item.classList.add("left");
  append(item);
}

function failed(f) {
  var p = state.outbox.filter(function (o) { return o.id === f.id; })[0];
  if (f.code === "rate_limited" || f.code === "unavailable") {
    // Nothing was written: the same frame (same id) goes again, which is harmless.
    state.retrying = true;
    showBanner(t(f.code === "rate_limited" ? "slowDown" : "retrying"));
    setTimeout(flush, Math.max(500, Math.min(f.retry_after || 2000, 30000)));
    return;
  }
  var asked = state.pending[f.id];
  if (asked) {
    if (asked.type === "transcript") append(notice(t("transcriptNoEmail")));
    // For the site's developer: none of them is kept (a black-box tester had no hint).
    if (asked.type === "attributes") console.warn("livechat: LiveChat('set') refused: " + f.message);
    // An address the server refused is not known: asked for again.
    if (asked.type === "profile" && asked.email === state.visitor.email) state.visitor.email = null;
    delete state.pending[f.id];
    renderStatus();
    emailAnswered(f.id, false);
  }
  if (p) {
    state.outbox = state.outbox.filter(function (o) { return o !== p; });
    notSent(p.node, reason(f.code, f.message));
  }
}

/* The conversation on screen: messages and events in seq order, grouped by author and day,
 * "seen" receipts, the unread count the launcher shows, and keeping the newest message in view.
 * Everything anyone wrote is put on the page as text (ChatSocket.richText makes links with DOM
 * nodes). */
import { ChatSocket } from "../socket.js";
import { greet, greetingNode, renderHeader } from "./appearance.js";
import { dayLabel, dayOf, t, time } from "./i18n.js";
import { renderIntake } from "./intake.js";
import { renderStatus, showTyping } from "./status.js";
import { $, el, state, toParent } from "./page.js";

var list = $("messages"), stream = $("stream");
var last = null;         // the last rendered message: {key, at, day, node}, for grouping
var following = true;    // the visitor is at the newest message (we keep them there)
var readTimer = null, toldActive = 0;
var rating = null;       // rating.js, fetched the first time a conversation is resolved

// --- staying at the newest message --------------------------------------------------------

/** Show the newest message, now and whenever the list changes size: also when the chat was
 * rendered hidden (a frame connected on an idle page, opened later), where scrolling does
 * nothing until it has a size. */
export function scrollToEnd() {
  following = true;
  keepFollowing();
}
function keepFollowing() {
  // A form before the chat is read from the top, greeting first.
  if (!$("intake").hidden) stream.scrollTop = 0;
  else if (following) stream.scrollTop = stream.scrollHeight;
}
stream.addEventListener("scroll", function () {
  if (!stream.clientHeight) return;  // hidden: no scrolling happens
  following = stream.scrollHeight - stream.scrollTop - stream.clientHeight < 40;
});
if (window.ResizeObserver) {
  var watch = new ResizeObserver(keepFollowing);
  watch.observe(stream);
  watch.observe(list);
}

// --- building messages ----------------------------------------------------------------------

export function bubble(kind, text, meta, attachment, avatar) {
  var item = el("li", "msg " + kind);
  var body = el("div", "body", item);
  if (attachment) {
    ChatSocket.attachment(body, attachment, keepFollowing);
    if (ChatSocket.isImage(attachment) && text === attachment.name) body.classList.add("media");
  }
  if (text && (!attachment || text !== attachment.name)) {
    ChatSocket.richText(el("div", "text", body), text);
  }
  el("div", "meta", item, meta || "");
  if (avatar) {
    var img = el("img", "avatar", null);
    img.src = avatar;
    img.alt = "";
    item.insertBefore(img, item.firstChild);
    item.classList.add("with-avatar");
  }
  return item;
}

/** The visitor's message or file was not sent (refused, or its upload given up): no longer
 * pending (faded), but failed, with why. */
export function notSent(node, why) {
  node.classList.remove("pending");
  node.classList.add("failed");
  node.day = dayOf(Date.now());  // (the day separator that comes next goes above it: insert)
  node.querySelector(".meta").textContent = t("notSent", { why: why });
}

export function notice(text) { return el("li", "notice", null, text); }

/** A day separator when the day changes, and grouping of one author's consecutive messages
 * (within two minutes): only the last of a group shows its name, time and picture (the others
 * are ``grouped``, which hides them: a message that is the last again shows them, forgetAbove). */
export function place(item, m) {
  var day = dayOf(m.at);
  if (!last || last.day !== day) {
    var separator = el("li", "day", null, dayLabel(m.at));
    separator.at = m.at;
    insert(separator, day);
    relabelDays();
  }
  var key = m.kind === "text" ? m.author.type + ":" + (m.author.name || "") : null;
  if (key && last && last.key === key && m.at - last.at < 120000 && last.node.parentNode) {
    last.node.classList.add("grouped");
  }
  last = item.placed = { key: key, at: m.at, day: day, node: item };
  insert(item);
}

/** "Today" becomes "Yesterday" at midnight: every day separator is named again then, and when
 * a new one is added. */
var midnight = null;
function relabelDays() {
  Array.prototype.forEach.call(list.querySelectorAll("li.day"), function (n) {
    // (Only a name that changes: the list is a live region, read out as it changes.)
    var name = n.at && dayLabel(n.at);
    if (name && n.textContent !== name) n.textContent = name;
  });
  clearTimeout(midnight);
  var next = new Date();
  next.setHours(24, 0, 1, 0);
  midnight = setTimeout(relabelDays, next - Date.now());
}

export function insert(item, day) {
  // Pending messages stay at the bottom until their own copy arrives.
  var firstPending = state.outbox.length ? state.outbox[0].node : null;
  var before = firstPending && firstPending.parentNode === list ? firstPending : null;
  // A day's separator goes above the messages of that day that were not sent.
  var above = before ? before.previousSibling : list.lastChild;
  while (day && above && above.day === day) {
    before = above;
    above = above.previousSibling;
  }
  list.insertBefore(item, before);
}

export function append(item) {
  list.appendChild(item);
  scrollToEnd();
}

export function resetList() {
  while (list.firstChild) list.removeChild(list.firstChild);
  state.lastSeq = {};
  last = null;
  greet();
  list.appendChild(greetingNode);
  state.outbox.forEach(function (p) { list.appendChild(p.node); });
}

/** The store has less of this conversation than was shown (it lost its last moments, or a copy
 * of it was put back: docs/protocol.md, Resume): what is shown above ``seq`` goes, with what
 * was counted of it, so that the messages written next with those seqs show. */
export function forgetAbove(seq) {
  state.lastSeq[state.conversationId] = seq;
  state.liveFrom = Math.min(state.liveFrom, seq);
  state.visitorRead = Math.min(state.visitorRead, seq);
  state.unreadSeqs = state.unreadSeqs.filter(function (s) { return s <= seq; });
  tellUnread();
  var day = null, shown = false;
  Array.prototype.slice.call(list.children).forEach(function (n) {
    if (+n.getAttribute("data-seq") > seq) list.removeChild(n);
    else if (n.classList.contains("day")) {
      if (day && !shown) list.removeChild(day);  // (a day with nothing left under it)
      day = n;
      shown = false;
    } else if (n.placed) {
      shown = true;
      last = n.placed;
    }
  });
  if (day && !shown) list.removeChild(day);
  if (last && !last.node.parentNode) last = null;
  if (last) last.node.classList.remove("grouped");  // (with what came after it)
}

/** Something was shown already: a new conversation starts under it. */
export function hasHistory() { return !!last; }

/** The page remembers when this visitor's conversation last moved (its loader then connects
 * on later pages, for two weeks after): the newest message's time, at most once a minute. */
function active(at) {
  if (at - toldActive < 60000) return;
  toldActive = at;
  toParent({ type: "active", at: at });
}

/** An agent's name as visitors see it: a bot says it is one. */
function shownName(who) {
  var name = who.name || t("agent");
  return who.bot ? t("botName", { name: name }) : name;
}

export function render(m) {
  var seen = state.lastSeq[m.conversation_id] || 0;
  if (m.seq <= seen) {
    // Shown already, yet still in the outbox (a seq the page had seen before the store lost
    // it: docs/protocol.md, Resume): stored, so it leaves the outbox, which goes on.
    state.outbox = state.outbox.filter(function (p) {
      if (p.id === m.id) p.node.classList.remove("pending");
      return p.id !== m.id;
    });
    return;
  }
  state.lastSeq[m.conversation_id] = m.seq;
  if (m.conversation_id !== state.conversationId) return;
  if (m.kind === "text") active(m.at);
  var item, who = m.author || {};
  if (m.kind === "text" || m.kind === "checkin") {
    var mine = who.type === "visitor";
    // An agent checking in after a resolve: answering it goes on in this conversation.
    if (m.kind === "checkin") { state.resolved = false; state.fresh = false; }
    item = bubble(mine ? "mine" : "theirs", m.body,
                  (mine ? "" : shownName(who) + " · ") + time(m.at), m.attachment,
                  mine ? null : who.avatar);
    // An agent's link to a help article: a card that opens it here (kb.js, fetched for it).
    if (!mine && (m.body || "").indexOf(location.origin + "/help/") >= 0) {
      var card = item;
      import("./kb.js").then(function (kb) { kb.cards(card); });
    }
    if (mine) {
      state.outbox = state.outbox.filter(function (p) {
        if (p.id !== m.id) return true;
        if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
        return false;
      });
    } else {
      showTyping(null);
      if (m.seq > state.visitorRead) state.unreadSeqs.push(m.seq);
      if (m.seq > state.liveFrom) {
        toParent({ type: "message", message: { body: m.body, author: who.name } });
      }
      tellUnread();
    }
  } else if (m.kind === "joined" || m.kind === "transferred" || m.kind === "reopened") {
    state.assignee = { name: who.name, avatar: who.avatar || null, bot: !!who.bot };
    state.resolved = false;
    state.queue = null;
    item = notice(t(m.kind, { name: shownName(who) }));
  } else if (m.kind === "requeued") {
    state.assignee = null;
    item = notice(t(m.handoff ? "handoff" : "requeued"));
  } else if (m.kind === "resolved") {
    state.resolved = true;
    item = notice(t("resolved"));
  } else if (m.kind === "rated") {
    state.rating = { score: m.score, comment: m.body || null };
    item = notice(t("thanksRating", { n: m.score }));
    item.classList.add("thanks");  // (rating.js puts focus on it after the visitor's rating)
  }
  if (!item) return;
  item.setAttribute("data-seq", m.seq);
  place(item, m);
  afterChange();
}

/** After anything changed: every part that depends on the conversation, and the newest in view
 * (unless the visitor scrolled up to read). */
export function afterChange() {
  renderHeader();
  renderStatus();
  renderSeen();
  renderRating();
  renderIntake();
  keepFollowing();
  markRead();
}

/** The rating card after a resolved conversation (its module fetched when first needed). */
export function renderRating() {
  if (!rating && !state.resolved) return;
  (rating = rating || import("./rating.js")).then(function (m) { m.renderRatingCard(); });
}
export function dropRating() {
  if (rating) rating.then(function (m) { m.dropRatingCard(); });
}

// --- receipts and the unread count ----------------------------------------------------------

/** "Seen" under the visitor's last message, once an agent has read it. */
export function renderSeen() {
  var old = list.querySelector(".seen");
  if (old) old.parentNode.removeChild(old);
  var mine = list.querySelectorAll("li.msg.mine[data-seq]");
  var lastMine = mine[mine.length - 1];
  if (lastMine && +lastMine.getAttribute("data-seq") <= state.agentReadSeq) {
    el("span", "seen", lastMine.querySelector(".meta"), t("seen"));
  }
}

/** Tell the server the visitor has seen everything shown, when they can see it. */
export function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(flushRead, 250);  // once for a burst (a catch-up renders many)
}
export function flushRead() {
  clearTimeout(readTimer);
  var seq = state.lastSeq[state.conversationId] || 0;
  if (!state.isOpen || document.visibilityState !== "visible" || seq <= state.visitorRead) return;
  if (state.socket && state.socket.send({ type: "read", seq: seq })) seen(seq);
}

/** Everything up to ``seq`` is read (here, or in another tab): no longer unread. */
export function seen(seq) {
  state.visitorRead = Math.max(state.visitorRead, seq);
  state.unreadSeqs = state.unreadSeqs.filter(function (s) { return s > state.visitorRead; });
  tellUnread();
}
/** The launcher's badge: agent messages the visitor has not seen, across page loads. */
export function tellUnread() {
  if (state.unreadSeqs.length === state.toldUnread) return;
  state.toldUnread = state.unreadSeqs.length;
  toParent({ type: "unread", count: state.toldUnread });
}

/** Another conversation is now the visitor's (a new one, or another tab's). */
export function switchTo(conv) {
  if (conv.id === state.conversationId) return;
  state.conversationId = conv.id;
  state.resolved = conv.status === "resolved";
  state.rating = conv.rating || null;
  state.assignee = conv.assignee || null;
  state.agentReadSeq = conv.agent_read_seq || 0;
  state.visitorRead = conv.visitor_read_seq || 0;
  state.liveFrom = 0;  // a new conversation: everything in it is live
  state.unreadSeqs = [];
  tellUnread();
  state.fresh = false;
  if (last) place(notice(t("newConversation")), { at: Date.now(), kind: "notice" });
  afterChange();
}

/* One conversation: its header (status, tags, the actions), its messages and events in seq
 * order with older ones on request (links to help articles with a card, cards.js), receipts,
 * the visitor's presence and typing. */
import { ChatSocket } from "/widget/static/socket.js";
import { $, avatar, clear, el } from "./kit.js";
import { articleCards } from "./cards.js";
import { separateDays } from "./days.js";
import { clock, t, theirs, tInto, visitorName, when } from "./i18n.js";
import { renderContext } from "./context.js";
import { seenMentions } from "./mentions.js";
import { noteMode } from "./composer.js";
import { assigneeName, loadFollowUps, renderList } from "./inbox.js";
import { announce } from "./notifications.js";
import { PAGE, otherOpen, request, siteName, snoozed, state, summary } from "./state.js";

var HOUR = 3600000, typingTimer = null;
var following = true;  // the agent is at the newest message: it stays in view

/** The newest message stays in view while the agent is at it, whatever changes the list's size
 * (the notice line coming and going, the window, images loading). */
function keepFollowing() {
  var box = $("messages");
  if (following) box.scrollTop = box.scrollHeight;
}
function toEnd() {
  following = true;
  keepFollowing();
}

export function renderHead() {
  var c = summary(state.current), me = state.me;
  if (!c) return;
  $("conv-title").textContent = visitorName(c.visitor);  // (dir="auto": index.html)
  // What the visitor wrote (their email, their rating's comment) in <bdi>s: in its own direction.
  var status = $("conv-status");
  clear(status);
  var say = function (text) { status.appendChild(document.createTextNode(text)); };
  if (c.status === "waiting") say(t("Waiting in the queue"));
  else if (c.status === "resolved") say(t("Resolved"));
  else if (c.assignee.id === me.id) say(t("Assigned to you"));
  else tInto(status, "Assigned to {name}", { name: assigneeName(c.assignee) });  // (a <bdi>)
  if (snoozed(c)) say(" · " + t("snoozed until {when}", { when: when(c.snoozed_until) }));
  if (c.visitor.email) {
    say(" · ");
    theirs(status, c.visitor.email);
    if (c.visitor.verified) say(" " + t("(verified)"));
  }
  if (c.rating) {
    say(" · " + t("Rated {n}/5", { n: c.rating.score }));
    if (c.rating.comment) { say(": “"); theirs(status, c.rating.comment); say("”"); }
  }
  if (state.sites.length > 1) say(" · " + siteName(c.site_id));
  var open = c.status !== "resolved";
  // Reopened only while the visitor has no other open conversation (the server's rule too).
  var busy = !open && otherOpen(c);
  $("claim").hidden = c.status !== "waiting";
  $("reopen").hidden = open || busy;
  $("snooze").hidden = !open || snoozed(c);
  $("unsnooze").hidden = !snoozed(c);
  // (Any agent of the site may take a conversation over from its bot: the server's rule too.)
  var mayTransfer = open && (!c.assignee || c.assignee.id === me.id || me.role === "admin" ||
                             c.assignee.bot);
  var select = $("transfer-to");
  clear(select);
  state.colleagues.forEach(function (a) {
    if (c.assignee && a.id === c.assignee.id) return;
    if ((a.sites || []).indexOf(c.site_id) < 0) return;  // (the server would refuse them)
    el("option", "", select, a.id === me.id ? t("{name} (me)", { name: a.name }) : a.name)
      .value = a.id;
  });
  $("transfer-button").hidden = !mayTransfer || !select.options.length;
  var teamSelect = $("team-select");
  var siteTeams = state.teams.filter(function (x) { return x.site_id === c.site_id; });
  teamSelect.hidden = !siteTeams.length;
  clear(teamSelect);
  el("option", "", teamSelect, t("No team")).value = "";
  siteTeams.forEach(function (x) {
    el("option", "", teamSelect, t("Team: {name}", { name: x.name })).value = x.id;
  });
  teamSelect.value = c.team ? c.team.id : "";
  // As the server decides: a waiting one by anyone of the site, else its agent or an admin.
  $("resolve").hidden = !(open && (!c.assignee || c.assignee.id === me.id || me.role === "admin"));
  $("email-transcript").hidden = !(state.email && c.visitor && c.visitor.email);
  // A check-in later: on resolving (the conversation is resolved first), or once resolved.
  $("follow-up-button").hidden = !(c.status === "resolved" || c.assignee &&
                                   (c.assignee.id === me.id || me.role === "admin"));
  var note = noteMode();
  var canReply = note || c.status === "waiting" ||
    (c.status === "assigned" && c.assignee.id === me.id);
  $("reply-input").disabled = !canReply;
  $("reply").querySelector("button[type=submit]").disabled = !canReply;
  // Why the composer is off, where it is: only the assignee may reply (the server answers
  // anyone else not_assignee; an admin transfers it first). The name is put in as text, in its
  // own direction (between U+2068 and U+2069: a placeholder is plain text).
  var who = { name: c.assignee ? "\u2068" + c.assignee.name + "\u2069" : "" };
  $("reply-input").placeholder = note ? t("An internal note: only agents see it")
    : busy ? t("Resolved, and the visitor has another conversation open: reply there, or write an internal note")
    : c.status === "resolved" ? t("Resolved: reopen it to reply, or write an internal note")
    : canReply ? t("Type a reply — Enter sends, Shift+Enter for a new line, / for canned responses")
    : mayTransfer ? t("Assigned to {name}: only they can reply. Write an internal note, or transfer the conversation.", who)
    : t("Assigned to {name}: only they can reply. Write an internal note instead.", who);
  renderTags(c);
}

function renderTags(c) {
  var box = $("tag-list");
  clear(box);
  c.tags.forEach(function (x) {
    var chip = el("span", "tag", box, x + " ");
    var remove = el("button", "untag", chip, "×");
    remove.type = "button";
    remove.setAttribute("aria-label", t("Remove tag {tag}", { tag: x }));
    remove.addEventListener("click", function () {
      request({ type: "tag", conversation_id: c.id, tag: x, on: false });
    });
  });
}

export function openConversation(id, keepFocus) {
  var c = summary(id);
  if (!c) return;
  delete state.mentioned[id];
  seenMentions(id);
  if (state.current !== id) {
    // Another conversation starts as a reply: a note begun in the last one must not turn
    // what is typed here into a note (the visitor would never get it).
    document.querySelector("input[name=mode][value=reply]").checked = true;
    $("reply").classList.remove("noting");
  }
  if (state.current && state.current !== id) {
    // What was shown of the one left is read, even if it is left within the quarter second
    // markRead waits (j pressed on: before, its "1 new" stayed).
    clearTimeout(readTimer);
    sendRead();
    // (Nothing to tell: one deleted meanwhile is not_found, and is left all the same.)
    request({ type: "leave", conversation_id: state.current }, function () {});
  }
  state.current = id;
  state.currentSeq = Math.max(0, c.last_seq - PAGE);
  state.oldestSeq = state.currentSeq + 1;
  state.visitorReadSeq = c.visitor_read_seq || 0;
  state.sentRead = 0;
  clear($("messages"));
  following = true;
  $("older").hidden = state.currentSeq === 0;
  $("empty").hidden = true;
  $("empty").textContent = t("Pick a conversation from the list.");
  $("conversation").hidden = false;
  $("context").hidden = false;
  announce("");
  renderHead();
  renderList();
  reopen();
  if (!keepFocus && !$("reply-input").disabled) $("reply-input").focus();
}

/** Ask for the open conversation from where we are (at open, and after a reconnect). The
 * answer is followed by every message after ``from``; the socket may still follow the
 * conversation (it was open already), so some can come before it too (renderMessage). */
export function reopen() {
  var id = state.current, from = state.currentSeq, mine = state.opening = {};
  request({ type: "open", conversation_id: id, last_seq: from }, function (f) {
    if (state.opening === mine) state.opening = null;
    if (f.type !== "ack" && f.code === "not_found" && id === state.current) {
      // Not mine to see any more (an admin took me off its site): nothing of it stays on
      // screen, nor can be written to (its messages, its notes, the visitor's details stayed).
      closeConversation();
      $("empty").textContent = t("You no longer have access to that conversation.");
      return;
    }
    if (f.type !== "ack") { announce(f.message); return; }
    if (id !== state.current) return;
    state.known[id] = f.conversation;
    // Our last_seq was beyond the conversation's, and taken as its (docs/protocol.md, Resume).
    if (from > f.conversation.last_seq) forgetAbove(f.conversation.last_seq);
    if (f.visitor_online !== undefined) showVisitorOnline(f.visitor_online);
    state.visitorReadSeq = Math.max(state.visitorReadSeq, f.conversation.visitor_read_seq || 0);
    renderContext(f, openConversation);
    renderHead();
  });
}

/** No conversation on screen: the list's "Pick a conversation" in its place. */
function closeConversation() {
  state.current = null;
  clear($("messages"));
  $("conversation").hidden = true;
  $("context").hidden = true;
  $("empty").hidden = false;
  renderList();
}

/** The store has less of the open conversation than was shown (it lost its last moments, a
 * copy of it was put back; or, with ``seq`` 0, another store: main.js): what is shown above
 * ``seq`` goes, with the receipts counted from it, so that what is written next with those
 * seqs shows. */
export function forgetAbove(seq) {
  Array.prototype.slice.call($("messages").querySelectorAll("li[data-seq]")).forEach(function (n) {
    if (+n.getAttribute("data-seq") > seq) n.parentNode.removeChild(n);
  });
  separateDays($("messages"));
  state.currentSeq = Math.min(state.currentSeq, seq);
  state.oldestSeq = Math.min(state.oldestSeq, seq + 1);
  $("older").hidden = state.oldestSeq <= 1;
  state.sentRead = Math.min(state.sentRead, seq);
  state.visitorReadSeq = Math.min(state.visitorReadSeq, seq);
  renderSeen();
}

function older() {
  if (!state.current || state.oldestSeq <= 1) return;
  var id = state.current;
  request({ type: "history", conversation_id: id, before_seq: state.oldestSeq, limit: PAGE },
    function (f) {
      if (f.type !== "ack" || id !== state.current) return;
      var box = $("messages"), first = box.firstChild, height = box.scrollHeight;
      f.messages.forEach(function (m) { box.insertBefore(messageNode(m), first); });
      separateDays(box);
      if (f.messages.length) state.oldestSeq = f.messages[0].seq;
      $("older").hidden = state.oldestSeq <= 1 || !f.messages.length;
      box.scrollTop = box.scrollHeight - height;
    });
}

function messageNode(m) {
  var item, c = summary(m.conversation_id), who = m.author || {};
  if (m.kind === "text" || m.kind === "note" || m.kind === "checkin") {
    var fromVisitor = who.type === "visitor";
    item = el("li", "msg " + (m.kind === "note" ? "note" : fromVisitor ? "visitor" : "agent"));
    var body = el("div", "body", item);
    if (m.kind === "note") el("div", "label", body, t("Internal note"));
    if (m.kind === "checkin") el("div", "label", body, t("Follow-up check-in"));
    if (m.attachment) ChatSocket.attachment(body, m.attachment);
    // An erasure empties every message of the visitor's conversations (no message is blank
    // otherwise): said so, not an empty bubble.
    if (!m.attachment && !m.body) el("div", "erased", body, t("Erased."));
    else if (!m.attachment || m.body !== m.attachment.name) {
      var said = el("div", "", body);
      ChatSocket.richText(said, m.body);
      // Links to the site's help articles: a card each, as the visitor sees them (cards.js).
      articleCards(said, c && c.site_id, keepFollowing);
    }
    var name = fromVisitor ? (c ? visitorName(c.visitor) : t("Visitor")) : (who.name || t("Agent"));
    var meta = el("div", "meta", item);
    if (!fromVisitor) avatar(meta, who, "tiny");
    var byline = el("span", "", meta);  // the name in its own direction, then the time
    theirs(byline, name);
    byline.appendChild(document.createTextNode(" · " + clock(m.at)));
  } else {
    var text = {
      joined: t("{name} joined", { name: who.name }),
      resolved: t("Resolved by {name}", { name: who.name }),
      transferred: t("Transferred to {name}", { name: who.name }),
      requeued: t("Back in the queue (the agent went offline)"),
      reopened: t("Reopened by {name}", { name: who.name }),
      rated: t("The visitor rated this conversation {n}/5", { n: m.score })
    }[m.kind];
    item = el("li", "event" + (m.kind === "email" && m.email && m.email.status === "failed"
                                ? " failed" : ""), null, text || (m.email ? "" : m.kind));
    // What the visitor wrote (a rating's comment, their address) in its own direction.
    if (m.kind === "rated" && m.body) {
      item.appendChild(document.createTextNode(": “"));
      theirs(item, m.body);
      item.appendChild(document.createTextNode("”"));
    }
    if (m.kind === "email" && m.email) {
      if (m.email.status === "sent") tInto(item, "Emailed to {to}", { to: m.email.to });
      else tInto(item, "Email to {to} failed: {error}", { to: m.email.to, error: m.email.error });
    }
  }
  item.setAttribute("data-seq", m.seq);
  item.at = m.at;  // (its day's separator: days.js)
  return item;
}

export { toEnd };

/** A message of the open conversation: each shown once, in seq order. One that came while an
 * ``open`` was on its way (the conversation was open already) comes again after the answer,
 * with those before it: ``currentSeq`` (where a reconnect resumes, and what is marked read)
 * passes it only then. */
export function renderMessage(m) {
  if (m.conversation_id !== state.current || m.seq < state.oldestSeq) return;
  if (!state.opening) state.currentSeq = Math.max(state.currentSeq, m.seq);
  var box = $("messages"), shown = box.querySelectorAll("li[data-seq]"), later = null;
  for (var i = shown.length - 1; i >= 0 && +shown[i].getAttribute("data-seq") >= m.seq; i--) {
    if (+shown[i].getAttribute("data-seq") === m.seq) return;
    later = shown[i];
  }
  var item = messageNode(m);
  state.outbox = state.outbox.filter(function (p) {
    if (p.id !== m.id) return true;
    if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
    return false;
  });
  var firstPending = state.outbox.filter(function (p) {
    return p.conversation_id === state.current;
  })[0];
  box.insertBefore(item, later || (firstPending ? firstPending.node : null));
  separateDays(box);
  keepFollowing();
  if (m.kind === "text" && m.author.type === "visitor") $("typing").textContent = "";
  renderSeen();
  markRead();
}

/** "Seen" under the last agent message the visitor has read. */
export function renderSeen() {
  var old = $("messages").querySelector(".seen");
  if (old) old.parentNode.removeChild(old);
  var ours = $("messages").querySelectorAll("li.msg.agent[data-seq]");
  var last = ours[ours.length - 1];
  if (last && +last.getAttribute("data-seq") <= state.visitorReadSeq) {
    el("span", "seen", last.querySelector(".meta"), " · " + t("Seen"));
  }
}

/** One "seen" for what is on screen, at most every quarter second: a conversation that opens
 * with 50 messages, or a visitor writing fast, must not send a receipt per message (the socket's
 * rate limit answered them "slow down"). */
var readTimer = null;
export function markRead() {
  if (readTimer === null) readTimer = setTimeout(sendRead, 250);
}

function sendRead() {
  readTimer = null;
  if (!state.current || document.visibilityState !== "visible" ||
      state.currentSeq <= state.sentRead) return;
  if (state.socket.send({ type: "read", conversation_id: state.current, seq: state.currentSeq })) {
    state.sentRead = state.currentSeq;
    // A note for me, read here: seen (its line in the Mentions view on show too).
    if (seenMentions(state.current, state.sentRead) && state.view === "mentions") renderList();
  }
}

/** The visitor's presence badge; ``null``: not known (the panel is not connected: a badge
 * kept from before would say what nobody knows now). */
export function showVisitorOnline(online) {
  $("visitor-online").hidden = online === null;
  $("visitor-online").textContent = online ? t("online") : t("offline");
  $("visitor-online").className = "presence " + (online ? "on" : "off");
}

export function showTyping(f) {
  if (f.conversation_id !== state.current || f.author.type !== "visitor") return;
  clearTimeout(typingTimer);
  var who = visitorName(summary(state.current).visitor), line = $("typing");
  clear(line);
  if (f.active && f.preview) tInto(line, "{name} is typing: “{text}”", { name: who, text: f.preview });
  else if (f.active) tInto(line, "{name} is typing…", { name: who });
  if (f.active) typingTimer = setTimeout(function () { $("typing").textContent = ""; }, 6000);
}

// --- actions ---------------------------------------------------------------------------------

function act(frame) {
  frame.conversation_id = state.current;
  request(frame, function (f) {
    if (f.type === "error") {
      announce(f.code === "already_claimed" ? t("Another agent took this conversation.")
        : f.code === "already_open"
          ? t("The visitor has another open conversation: this one can be reopened once that one is resolved.")
        : f.message);
    }
  });
}

function toggleMenu(button, menu, show) {
  menu.hidden = !show;
  button.setAttribute("aria-expanded", String(show));
  if (show) { var first = menu.querySelector("button, select, input"); if (first) first.focus(); }
}

function snoozeUntil(ms) {
  toggleMenu($("snooze"), $("snooze-menu"), false);
  act({ type: "snooze", until: ms });
}
// The date pickers offer what the server takes: from now to 365 days ahead (a snooze or a
// follow-up later than that is refused), in the agent's own time zone, to the minute.
function bound(input) {
  var local = function (ms) {
    return new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  };
  input.min = local(Date.now() + 60000);  // (the next minute: this one is passing)
  input.max = local(Date.now() + 365 * 24 * HOUR);
  if (input.value && input.value < input.min) input.value = "";  // a time gone by is not offered
}
function nextMorning(days) {
  var d = new Date(); d.setDate(d.getDate() + days); d.setHours(9, 0, 0, 0); return d.getTime();
}

export function setUpConversation() {
  var box = $("messages");
  box.addEventListener("scroll", function () {
    if (box.clientHeight) following = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  });
  if (window.ResizeObserver) new ResizeObserver(keepFollowing).observe(box);
  $("older").addEventListener("click", older);
  $("claim").addEventListener("click", function () { act({ type: "claim" }); });
  $("resolve").addEventListener("click", function () { act({ type: "resolve" }); });
  $("email-transcript").addEventListener("click", function () {
    var c = summary(state.current);
    request({ type: "transcript", conversation_id: state.current }, function (f) {
      announce(f.type === "error" ? f.message
        : t("The transcript is on its way to {email}.",  // (the address in its own direction)
            { email: "\u2068" + c.visitor.email + "\u2069" }));
    });
  });
  $("reopen").addEventListener("click", function () { act({ type: "reopen" }); });
  $("unsnooze").addEventListener("click", function () { act({ type: "snooze" }); });
  $("team-select").addEventListener("change", function () {
    var frame = { type: "team" };
    if (this.value) frame.team_id = this.value;
    act(frame);
  });
  $("snooze").addEventListener("click", function () {
    bound($("snooze-at"));
    toggleMenu($("snooze"), $("snooze-menu"), $("snooze-menu").hidden);
  });
  $("follow-up-button").addEventListener("click", function () {
    bound($("follow-up-at"));
    toggleMenu($("follow-up-button"), $("follow-up"), $("follow-up").hidden);
  });
  $("follow-up-when").addEventListener("change", function () {
    $("follow-up-at").hidden = this.value !== "date";
    $("follow-up-at").required = this.value === "date";
  });
  $("follow-up").addEventListener("submit", function (event) {
    event.preventDefault();
    var choice = $("follow-up-when").value;
    var at = choice === "date" ? new Date($("follow-up-at").value).getTime()
      : Date.now() + Number(choice) * 24 * HOUR;
    if (!(at > Date.now())) { announce(t("Choose a time in the future.")); return; }
    var frame = { type: "follow_up", conversation_id: state.current, at: Math.round(at) };
    var body = $("follow-up-body").value.trim();
    if (body) frame.body = body;
    var schedule = function () {
      request(frame, function (f) {
        if (f.type === "error") { announce(f.message); return; }
        announce(t("Follow-up scheduled for {when}", { when: when(f.follow_up.at) }));
        $("follow-up-body").value = "";
        toggleMenu($("follow-up-button"), $("follow-up"), false);
        loadFollowUps();
      });
    };
    var c = summary(state.current);
    if (c && c.status !== "resolved") {
      request({ type: "resolve", conversation_id: state.current }, function (f) {
        if (f.type === "error") announce(f.message); else schedule();
      });
    } else schedule();
  });
  $("transfer-button").addEventListener("click", function () {
    toggleMenu($("transfer-button"), $("transfer"), $("transfer").hidden);
  });
  document.querySelectorAll("[data-snooze]").forEach(function (b) {
    b.addEventListener("click", function () {
      var kind = b.getAttribute("data-snooze");
      if (kind === "hour") snoozeUntil(Date.now() + HOUR);
      else if (kind === "tomorrow") snoozeUntil(nextMorning(1));
      else snoozeUntil(nextMorning(((8 - new Date().getDay()) % 7) || 7));
    });
  });
  $("snooze-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var at = new Date($("snooze-at").value).getTime();
    if (at > Date.now()) snoozeUntil(at); else announce(t("Choose a time in the future."));
  });
  $("transfer").addEventListener("submit", function (event) {
    event.preventDefault();
    var frame = { type: "transfer", agent_id: $("transfer-to").value };
    var note = $("transfer-note").value.trim();
    if (note) frame.note = note;
    if (!frame.agent_id) return;
    act(frame);
    $("transfer-note").value = "";
    toggleMenu($("transfer-button"), $("transfer"), false);
  });
  $("tag-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var tag = $("tag-input").value.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, "").slice(0, 32);
    if (!tag || !state.current) return;
    request({ type: "tag", conversation_id: state.current, tag: tag, on: true }, function (f) {
      if (f.type === "error") announce(f.message); else $("tag-input").value = "";
    });
  });
  document.addEventListener("visibilitychange", markRead);
}

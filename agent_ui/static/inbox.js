/* The inbox: views (queue, mine, my teams, all open, snoozed, resolved, follow-ups, mentions,
 * search results), site and tag filters, counts, and what changes in it live. */
import { $, avatar, clear, el } from "./kit.js";
import { t, theirs, visitorName, when } from "./i18n.js";
import { announce, notify, their, titleCount } from "./notifications.js";
import { PAGE, request, snoozed, state, summary } from "./state.js";
import { since } from "./times.js";
import { loadMentions, renderMentions, showMentionCount } from "./mentions.js";

var open = function () {};   // conversation.js opens one (set by main.js)
var headChanged = function () {};

function myTeams() {
  return state.teams.filter(function (x) { return x.members.indexOf(state.me.id) >= 0; })
    .map(function (x) { return x.id; });
}
function filtered(list) {
  var f = state.filters;
  return list.filter(function (c) {
    return (!f.site || c.site_id === f.site) && (!f.tag || c.tags.indexOf(f.tag) >= 0);
  });
}
function inView(c, name) {
  if (name === "snoozed") return snoozed(c) && c.status !== "resolved";
  if (c.status === "resolved" || snoozed(c)) return false;
  if (name === "queue") return c.status === "waiting";
  if (name === "mine") return !!c.assignee && c.assignee.id === state.me.id;
  if (name === "team") return !!c.team && myTeams().indexOf(c.team.id) >= 0;
  return name === "open";
}
function all() {
  return Object.keys(state.conversations).map(function (k) { return state.conversations[k]; });
}
/** Newest activity first, as the server lists resolved ones (``list``: by ``updated_at``, then
 * by id, both descending). */
function newer(a, b) {
  return b.updated_at - a.updated_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

// What a search hit's snippet holds: words as the search sees them (letters and digits, accents
// and case aside), and whether a "[…]" in it is a match the server marked (see ``snippet``).
var WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;
function words(text) {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().match(WORD) || [];
}
function matched(inside, wanted) {
  var found = words(inside);
  return found.length > 0 && found.every(function (w) {
    return wanted.some(function (q) { return w.indexOf(q) === 0; });
  });
}

/** A search hit's snippet in ``parent``, its matches in <mark> (as text, like the rest). The
 * server puts each match between "[" and "]" (docs/protocol.md, ``search``) and leaves brackets
 * the visitor typed as they are: a "[…]" is a match when what it holds has words and each starts
 * with a word of the query — brackets the visitor typed around such words get the server's
 * inside them ("[[urgent]]"), and around any other words they are not a match. */
function snippet(parent, text, query) {
  var wanted = words(query), plain = "", i = 0;
  function flush() {
    if (plain) parent.appendChild(document.createTextNode(plain));
    plain = "";
  }
  while (i < text.length) {
    var end = text.charAt(i) === "[" ? text.indexOf("]", i + 1) : -1;
    var inside = end > 0 ? text.slice(i + 1, end) : "";
    if (end > 0 && inside.indexOf("[") < 0 && matched(inside, wanted)) {
      flush();
      el("mark", "", parent, inside);
      i = end + 1;
    } else {
      plain += text.charAt(i);
      i += 1;
    }
  }
  flush();
}

export function renderList() {
  if (!state.me) return;
  var openOnes = filtered(all()), view = state.view, me = state.me;
  ["queue", "mine", "team", "open", "snoozed"].forEach(function (name) {
    $("count-" + name).textContent = openOnes.filter(function (c) { return inView(c, name); }).length;
  });
  $("tab-team").hidden = !myTeams().length;
  var shown;
  if (view === "resolved") shown = filtered(state.resolvedPage);
  else if (view === "search") shown = state.searchHits.map(function (h) { return h.conversation; });
  else {
    shown = openOnes.filter(function (c) { return inView(c, view); });
    // (The queue's order: since each reached people — its start, its bot's handoff, or its
    // reopening by the visitor's answer to a check-in.)
    shown.sort(view === "queue" ? function (a, b) { return a.queued_at - b.queued_at; }
      : function (a, b) {
        return (b.unread > 0) - (a.unread > 0) || b.updated_at - a.updated_at;
      });
  }
  var list = $("list"), focused = whereFocused(list);
  clear(list);
  if (view === "followups" || view === "mentions") {
    if (view === "followups") renderFollowUps(list); else renderMentions(list, open, conversationLine);
    refocus(list, focused);
    return finishList(openOnes, me);
  }
  var empty = { queue: t("Nobody is waiting."), mine: t("No open conversations."),
                search: t("Nothing found."), resolved: t("No resolved conversations."),
                snoozed: t("Nothing snoozed.") };
  if (!shown.length) el("li", "none", list, empty[view] || t("Nothing here."));
  shown.forEach(function (c, i) {
    var button = conversationLine(list, c, c.id);
    since(button, "when", view === "queue" ? c.queued_at : c.updated_at);
    var hit = view === "search" ? state.searchHits[i] : null;
    // What the visitor wrote, in its own direction ("Where is my order?" in an Arabic panel).
    var preview = el("span", "preview", button);
    preview.dir = "auto";
    // A matching message's snippet marks the match; a name or email that matched is as it is.
    if (hit && hit.snippet && hit.seq > 0) snippet(preview, hit.snippet, state.searchQuery);
    else preview.textContent = hit && hit.snippet ? hit.snippet : (c.last_message || "…");
    var meta = el("span", "meta", button);
    if (c.unread > 0 && c.status !== "resolved") {
      el("span", "unread", meta, t("{n} new", { n: c.unread }));
    }
    if (state.mentioned[c.id]) el("span", "unread mention", meta, t("mentioned you"));
    if (c.assignee && view !== "mine") {
      var who = el("span", "who", meta);
      avatar(who, c.assignee, "tiny");
      // Names, teams and tags keep their own direction ("Dana Cohen" in an Arabic panel).
      if (c.assignee.id === me.id) who.appendChild(document.createTextNode(t("you")));
      else theirs(who, assigneeName(c.assignee));
    }
    if (snoozed(c)) el("span", "who", meta, t("until {when}", { when: when(c.snoozed_until) }));
    if (c.team) el("span", "team", meta, c.team.name).dir = "auto";
    c.tags.forEach(function (x) { el("span", "tag", meta, x).dir = "auto"; });
    if (c.rating) el("span", "rating", meta, "★ " + c.rating.score);
    button.addEventListener("click", function () { open(c.id); });
  });
  refocus(list, focused);
  finishList(openOnes, me);
}

/** A line of the list for conversation ``c`` (``key``: what the focus finds it by), the
 * current one marked, with its visitor's name: its button, to fill in. */
export function conversationLine(list, c, key) {
  var item = el("li", "item" + (state.current === c.id ? " active" : ""), list);
  item.setAttribute("data-id", key);
  var button = el("button", "", item);
  button.type = "button";
  if (state.current === c.id) button.setAttribute("aria-current", "true");
  // Names, as previews, in their own direction ("Maria Silva (Acme Inc.)" in a Hebrew panel).
  var name = el("span", "name", button, visitorName(c.visitor));
  name.dir = "auto";
  name.title = visitorName(c.visitor);
  return button;
}

/** Which of the list's buttons has the focus (null: none of them): its conversation, whether
 * it is a follow-up's "Cancel", and its place. */
function whereFocused(list) {
  var at = document.activeElement, item = at && list.contains(at) && at.closest("li[data-id]");
  if (!item) return null;
  return { id: item.getAttribute("data-id"), cancel: at.classList.contains("cancel"),
           index: Array.prototype.indexOf.call(list.children, item) };
}

/** The list drawn again replaced its buttons: the focus back on the same conversation's (a
 * screen reader's place in the list kept), or, when it left the view, on the one now in its
 * place, else the view's tab; never scrolling for it. */
function refocus(list, focused) {
  if (!focused) return;
  var items = Array.prototype.filter.call(list.children, function (li) {
    return li.hasAttribute("data-id");
  });
  var item = items.filter(function (li) { return li.getAttribute("data-id") === focused.id; })[0]
    || items[Math.min(focused.index, items.length - 1)];
  var target = item ? item.querySelector(focused.cancel ? "button.cancel" : "button")
    : document.querySelector(".views [aria-selected=true]");
  if (target) target.focus({ preventScroll: true });
}

function finishList(openOnes, me) {
  $("more").hidden = !(state.view === "resolved" && state.resolvedNext);
  showMentionCount();
  // The agent's load and the tab's title are theirs, whatever the list is filtered by.
  var everything = all();
  var waiting = everything.filter(function (c) { return inView(c, "queue"); }).length;
  var unread = everything.filter(function (c) { return inView(c, "mine") && c.unread > 0; }).length;
  var mine = everything.filter(function (c) { return inView(c, "mine"); }).length;
  $("load").textContent = mine + " / " + me.capacity;
  $("load").title = t("{n} open conversations of your capacity of {capacity}",
                      { n: mine, capacity: me.capacity });
  titleCount(waiting + unread);
  renderTagOptions();
}

/** The agent's upcoming follow-ups: when, who, what they will be told; open or cancel. */
function renderFollowUps(list) {
  if (!state.followUps.length) el("li", "none", list, t("No follow-ups scheduled."));
  state.followUps.forEach(function (f) {
    var c = f.conversation;
    state.known[c.id] = c;
    var item = el("li", "item follow-up" + (state.current === c.id ? " active" : ""), list);
    item.setAttribute("data-id", c.id);
    var button = el("button", "", item);
    button.type = "button";
    if (state.current === c.id) button.setAttribute("aria-current", "true");
    el("span", "name", button, visitorName(c.visitor)).dir = "auto";
    el("span", "when", button, when(f.at));
    el("span", "preview", button, f.body).dir = "auto";
    button.addEventListener("click", function () { open(c.id); });
    var cancel = el("button", "link cancel", item, t("Cancel follow-up"));
    cancel.type = "button";
    cancel.addEventListener("click", function () {
      request({ type: "follow_up_cancel", follow_up_id: f.id }, function (r) {
        if (r.type === "error") announce(r.message); else loadFollowUps();
      });
    });
  });
}

var dueTimer = null;
export function loadFollowUps() {
  request({ type: "follow_ups" }, function (f) {
    if (f.type !== "ack") return;
    state.followUps = f.follow_ups;
    if (state.view === "followups") renderList();
    // One that comes due is sent (its conversation changes: read again, update) or skipped
    // (its visitor has another conversation open: nothing else changes). So the view is read
    // again a few seconds after the soonest is due (at most every few hours ahead: a timer's
    // delay has a limit).
    clearTimeout(dueTimer);
    var soonest = Math.min.apply(null, f.follow_ups.map(function (x) { return x.at; }));
    if (isFinite(soonest)) {
      dueTimer = setTimeout(function () {
        if (state.view === "followups") loadFollowUps();
      }, Math.min(Math.max(0, soonest - Date.now()) + 3000, 6 * 3600 * 1000));
    }
  });
}

function renderTagOptions() {
  var tags = {};
  all().concat(state.resolvedPage).forEach(function (c) {
    c.tags.forEach(function (x) { tags[x] = 1; });
  });
  // The tag filtered by stays chosen when no conversation has it any more (the list is then
  // empty, as it says): before, the menu showed "Any tag" while the list kept filtering.
  if (state.filters.tag) tags[state.filters.tag] = 1;
  var select = $("filter-tag"), datalist = $("tag-options"), value = state.filters.tag;
  while (select.options.length > 1) select.remove(1);
  clear(datalist);
  Object.keys(tags).sort().forEach(function (x) {
    el("option", "", select, x).value = x;
    el("option", "", datalist).value = x;
  });
  select.value = tags[value] ? value : "";
}

export function setView(name) {
  state.view = name;
  document.querySelectorAll(".views button").forEach(function (tab) {
    tab.setAttribute("aria-selected", tab.getAttribute("data-view") === name ? "true" : "false");
  });
  $("tab-search").hidden = name !== "search";
  if (name === "resolved") loadResolved(true);
  if (name === "followups") loadFollowUps();
  if (name === "mentions") loadMentions(renderList);
  renderList();
}

// Conversations changed live while a first page of the Resolved view is on its way (null when
// none is), and how many such pages are: each is newer than the page the server read.
var changed = null, asked = 0;

function loadResolved(fresh) {
  var frame = { type: "list", status: "resolved", limit: PAGE };
  if (state.filters.tag) frame.tag = state.filters.tag;
  if (!fresh && state.resolvedNext) {
    frame.before = state.resolvedNext.before;
    frame.before_id = state.resolvedNext.before_id;
  }
  if (fresh && !asked++) changed = {};
  request(frame, function (f) {
    var meanwhile = changed;
    if (fresh && !--asked) changed = null;
    if (f.type !== "ack") return;
    var listed = {}, had = fresh ? [] : state.resolvedPage, page = [];
    had.forEach(function (c) { listed[c.id] = true; });
    f.conversations.forEach(function (c) {
      // What came live is newer than what was read, unless the page says otherwise.
      var live = state.known[c.id];
      if (!live || c.updated_at > live.updated_at ||
          (c.updated_at === live.updated_at && c.last_seq > live.last_seq)) {
        state.known[c.id] = live = c;
      }
      if (live.status === "resolved" && !listed[c.id]) page.push(live);
      listed[c.id] = true;
    });
    state.resolvedPage = had.concat(page).sort(newer);
    state.resolvedNext = f.next;
    // A fresh page: what changed while it was on its way, in its place.
    if (fresh) Object.keys(meanwhile).forEach(function (id) { placeResolved(meanwhile[id]); });
    renderList();
  });
}

/** The Resolved view's conversations after ``c`` changed: out when it is open again, in its
 * place (newest activity first) when it is resolved — unless it falls after the page loaded so
 * far, where "Load more" will bring it. */
function placeResolved(c) {
  var next = state.resolvedNext;
  var was = state.resolvedPage.some(function (r) { return r.id === c.id; });
  var page = state.resolvedPage.filter(function (r) { return r.id !== c.id; });
  if (c.status === "resolved" &&
      (was || !next || newer(c, { updated_at: next.before, id: next.before_id }) < 0)) {
    page.push(c);
    page.sort(newer);
  }
  state.resolvedPage = page;
}

/** An assignee's name, "(bot)" after a bot's (the summary says which). */
export function assigneeName(a) { return a.bot ? t("{name} (bot)", { name: a.name }) : a.name; }

/** A conversation of my sites changed (or arrived). */
export function update(c) {
  var before = state.conversations[c.id] || state.known[c.id], me = state.me;
  if (before && before.last_seq > c.last_seq) return;  // an older update
  state.known[c.id] = c;
  if (c.status === "resolved") delete state.conversations[c.id];
  else state.conversations[c.id] = c;
  // Every view follows: the open ones are drawn from state.conversations, the Resolved one
  // from its page, and search results keep their line with what the conversation is now.
  if (changed) changed[c.id] = c;
  placeResolved(c);
  state.searchHits.forEach(function (h) { if (h.conversation.id === c.id) h.conversation = c; });
  var mineNow = c.assignee && c.assignee.id === me.id;
  // New for people: one they did not know, or one its bot handed to them.
  var handedOff = before && before.assignee && before.assignee.bot && !c.assignee;
  if ((!before || handedOff) && c.status === "waiting" && !snoozed(c)) {
    notify(t("New conversation"), [their(visitorName(c.visitor)), ": ", their(c.last_message)],
           c.id);
  } else if (before && snoozed(before) && !snoozed(c) && c.status !== "resolved") {
    notify(t("Back from snooze"), their(visitorName(c.visitor)), c.id);
  } else if (before && mineNow && c.unread > before.unread && c.id !== state.current) {
    notify(their(visitorName(c.visitor)), their(c.last_message), c.id);
  } else if (mineNow && !(before && before.assignee && before.assignee.id === me.id) &&
             c.status !== "resolved" && c.id !== state.current) {
    // Given to me by someone else (a colleague's transfer, an admin, auto-assignment): what
    // I do myself is on the conversation I have open.
    notify(t("Assigned to you"), [their(visitorName(c.visitor)), ": ", their(c.last_message)],
           c.id);
  }
  // A follow-up of mine may have been sent (its conversation changed): the view, read again.
  if (state.view === "followups" && state.followUps.some(function (f) {
    return f.conversation_id === c.id;
  })) loadFollowUps();
  // A note that mentions me in a conversation whose visitor was erased: emptied, read again.
  if (state.view === "mentions" && before && before.visitor.id !== c.visitor.id &&
      state.mentionNotes.some(function (m) { return m.conversation.id === c.id; })) {
    loadMentions(renderList);
  }
  renderList();
  // The open conversation moved to another visitor: theirs was erased, and its messages were
  // emptied. What is on the screen goes too: it is read again (docs/api.md, Erasure).
  if (before && c.id === state.current && before.visitor.id !== c.visitor.id) {
    open(c.id, true);
  }
  // The open conversation, or another of its visitor's (whether Reopen is offered depends on it).
  var current = state.current && summary(state.current);
  if (current && (c.id === current.id || c.visitor.id === current.visitor.id)) headChanged();
}

/** The teams of a site, as an admin just made them (the ``teams`` frame): "My teams" appears
 * or goes, and the conversations given to a team renamed or deleted say so. */
export function replaceTeams(f) {
  var byId = {};
  f.teams.forEach(function (x) { byId[x.id] = x; });
  state.teams = state.teams.filter(function (x) { return x.site_id !== f.site_id; })
    .concat(f.teams);
  // Every copy of a summary the panel holds (an open conversation's may be the ack's own).
  var copies = Object.keys(state.known).map(function (id) { return state.known[id]; })
    .concat(all(), state.resolvedPage,
            state.searchHits.map(function (h) { return h.conversation; }));
  copies.forEach(function (c) {
    var team = c.team && byId[c.team.id];
    if (c.site_id === f.site_id && c.team) c.team = team ? { id: team.id, name: team.name } : null;
  });
  if (state.view === "team" && !myTeams().length) setView("queue");
  else renderList();
  if (state.current) headChanged();
}

/** A colleague's note is for me (``mention``): told as a new message is, and "@ you" on the
 * conversation's line until I open it (this panel's, not kept across a reload). */
export function mentioned(f) {
  if (!summary(f.conversation.id)) state.known[f.conversation.id] = f.conversation;  // (to open)
  if (f.conversation.id !== state.current) state.mentioned[f.conversation.id] = true;
  loadMentions(renderList);  // (the view, and the tab's count of new ones)
  notify(t("{name} mentioned you", { name: "\u2068" + f.message.author.name + "\u2069" }),
         their(f.message.body), f.conversation.id);
  renderList();
}

/** Every open conversation, from the server (at connect, or after the broker dropped some). */
export function replaceInbox(list) {
  state.conversations = {};
  list.forEach(function (c) { state.conversations[c.id] = c; state.known[c.id] = c; });
  // What changed while the panel was not told (a reconnect): open again, out of Resolved; and
  // the Resolved view on show is asked for again, for those resolved meanwhile.
  state.resolvedPage = state.resolvedPage.filter(function (c) {
    return !state.conversations[c.id];
  });
  if (state.view === "resolved") loadResolved(true);
  // (Mentions are not sent again after a reconnect: they are asked for.)
  loadMentions(renderList);
  renderList();
}

export function setUpInbox(openConversation, renderHead) {
  open = openConversation;
  headChanged = renderHead;
  document.querySelectorAll(".views button").forEach(function (tab) {
    tab.addEventListener("click", function () { setView(tab.getAttribute("data-view")); });
  });
  ["site", "tag"].forEach(function (name) {
    $("filter-" + name).addEventListener("change", function () {
      state.filters[name] = this.value;
      if (state.view === "resolved") loadResolved(true);
      renderList();
    });
  });
  $("more").addEventListener("click", function () { loadResolved(false); });
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var query = $("search").value.trim();
    if (!query) return;
    // (The 200 newest matches, the most a search gives: 30, the default, hid the rest.)
    request({ type: "search", query: query.slice(0, 100), limit: 200 }, function (f) {
      if (f.type !== "ack") { announce(f.message); return; }
      state.searchQuery = query.slice(0, 100);  // what the snippets' marks are checked against
      var seen = {};  // one line per conversation, with its newest match
      state.searchHits = f.results.filter(function (h) {
        if (seen[h.conversation.id]) return false;
        seen[h.conversation.id] = true;
        state.known[h.conversation.id] = h.conversation;
        return true;
      });
      setView("search");
    });
  });
}

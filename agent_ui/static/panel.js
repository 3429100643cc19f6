/* The agent panel: the inbox and its views, one conversation with the visitor's context, notes,
 * tags, canned responses, snooze, transfer, search, notifications, shortcuts, and reports.
 * Everything a visitor or agent wrote is put on the page as text, never as HTML. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var HOUR = 3600000, PAGE = 50;

  var me = null, socket = null, epoch = null;
  var conversations = {};   // open conversations of my sites: id -> summary (live)
  var known = {};           // every summary seen (resolved, earlier, search results) by id
  var sites = [], colleagues = [], teams = [], canned = [];
  var view = "queue", filters = { site: "", tag: "" };
  var resolvedPage = [], resolvedNext = null, searchHits = [];
  var current = null, currentSeq = 0, oldestSeq = 0;
  var outbox = [];          // replies sent but not acknowledged
  var pending = {};         // request id -> callback for its ack or error
  var typingTimer = null, lastTyping = 0, away = false, autoAway = false;
  var visitorReadSeq = 0, sentRead = 0, currentVisitor = null;
  var prefs = loadPrefs();

  var el = PanelKit.el, clear = PanelKit.clear, api = PanelKit.api;

  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.round(s / 60) + "m";
    if (s < 86400) return Math.round(s / 3600) + "h";
    return Math.round(s / 86400) + "d";
  }
  function when(ms) {
    var d = new Date(ms);
    return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }


  /** Send a frame with an id; ``done`` gets its ack or error. */
  function request(frame, done) {
    frame.id = ChatSocket.newId();
    if (done) pending[frame.id] = done;
    if (!socket.send(frame) && done) { delete pending[frame.id]; done({ type: "error", message: "offline" }); }
  }
  // For the panel's other scripts (blocks.js): requests on this socket, the open conversation.
  window.PanelHooks = { request: request, current: function () { return current; } };

  // --- preferences, notifications, sound --------------------------------------------------

  function loadPrefs() {
    var p = { desktop: false, sound: true, title: true, autoaway: true };
    try { var saved = JSON.parse(localStorage.getItem("livechat:prefs")); for (var k in saved) p[k] = saved[k]; } catch (e) { /* none */ }
    return p;
  }
  function savePrefs() { try { localStorage.setItem("livechat:prefs", JSON.stringify(prefs)); } catch (e) { /* private */ } }
  ["desktop", "sound", "title", "autoaway"].forEach(function (name) {
    var box = $("opt-" + name);
    box.checked = !!prefs[name];
    box.addEventListener("change", function () {
      prefs[name] = box.checked;
      savePrefs();
      if (name === "desktop" && box.checked && window.Notification && Notification.permission === "default") {
        Notification.requestPermission();
      }
      renderList();
    });
  });
  $("settings-button").addEventListener("click", function () {
    var open = $("settings").hidden;
    $("settings").hidden = !open;
    $("settings-button").setAttribute("aria-expanded", String(open));
  });

  var audio = null;
  ["pointerdown", "keydown"].forEach(function (type) {
    window.addEventListener(type, function () {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!audio && AC) audio = new AC();
      if (audio && audio.state === "suspended") audio.resume();
    }, { capture: true });
  });
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
  function notify(title, body, conversationId) {
    chime();
    var hidden = document.visibilityState !== "visible";
    if (prefs.desktop && hidden && window.Notification && Notification.permission === "granted") {
      var n = new Notification(title, { body: body, tag: conversationId });
      n.onclick = function () { window.focus(); openConversation(conversationId); n.close(); };
    }
    announce(title + (body ? ": " + body : ""));
  }
  function announce(text) { $("notice").textContent = text; $("notice").hidden = !text || !current; }

  // --- login and invitations -------------------------------------------------------------

  function showLogin() {
    $("app").hidden = true;
    $("login").hidden = false;
    var invite = /#invite=([^&]+)/.exec(location.hash);
    $("login-form").hidden = !!invite;
    $("invite-form").hidden = !invite;
    (invite ? $("new-password") : $("email")).focus();
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("/api/agent/login", { email: $("email").value, password: $("password").value })
      .then(function (j) { $("password").value = ""; begin(j.agent); })
      .catch(function (e) { $("login-error").textContent = e.message === "Failed to fetch" ? "The server cannot be reached." : e.message; });
  });
  $("invite-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = (/#invite=([^&]+)/.exec(location.hash) || [])[1];
    api("/api/agent/accept", { token: token, password: $("new-password").value })
      .then(function (j) { history.replaceState(null, "", location.pathname); begin(j.agent); })
      .catch(function (e) { $("invite-error").textContent = e.message; });
  });
  $("logout").addEventListener("click", function () {
    api("/api/agent/logout", {}).then(function () { location.reload(); });
  });

  // --- pages: inbox, reports, manage ----------------------------------------------------------

  function showPage(name) {
    document.querySelectorAll(".pages button").forEach(function (b) {
      if (b.getAttribute("data-page") === name) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    });
    $("page-inbox").hidden = name !== "inbox";
    $("page-reports").hidden = name !== "reports";
    $("page-admin").hidden = name !== "admin";
    if (name === "reports") loadReport();
    if (name === "admin" && window.PanelAdmin) window.PanelAdmin.show(me, sites, colleagues, teams, canned, request);
  }
  document.querySelectorAll(".pages button").forEach(function (b) {
    b.addEventListener("click", function () { showPage(b.getAttribute("data-page")); });
  });

  // --- the inbox ---------------------------------------------------------------------------

  function snoozed(c) { return c.snoozed_until !== null && c.snoozed_until !== undefined; }
  function myTeams() { return teams.filter(function (t) { return t.members.indexOf(me.id) >= 0; }).map(function (t) { return t.id; }); }
  function filtered(list) {
    return list.filter(function (c) {
      return (!filters.site || c.site_id === filters.site) && (!filters.tag || c.tags.indexOf(filters.tag) >= 0);
    });
  }
  function inView(c, name) {
    if (name === "snoozed") return snoozed(c) && c.status !== "resolved";
    if (c.status === "resolved" || snoozed(c)) return false;
    if (name === "queue") return c.status === "waiting";
    if (name === "mine") return !!c.assignee && c.assignee.id === me.id;
    if (name === "team") return !!c.team && myTeams().indexOf(c.team.id) >= 0;
    return name === "open";
  }
  function all() { return Object.keys(conversations).map(function (k) { return conversations[k]; }); }

  function renderList() {
    var open = filtered(all());
    ["queue", "mine", "team", "open", "snoozed"].forEach(function (name) {
      $("count-" + name).textContent = open.filter(function (c) { return inView(c, name); }).length;
    });
    $("tab-team").hidden = !myTeams().length;
    var shown;
    if (view === "resolved") shown = filtered(resolvedPage);
    else if (view === "search") shown = searchHits.map(function (h) { return h.conversation; });
    else {
      shown = open.filter(function (c) { return inView(c, view); });
      shown.sort(view === "queue" ? function (a, b) { return a.created_at - b.created_at; }
        : function (a, b) { return (b.unread > 0) - (a.unread > 0) || b.updated_at - a.updated_at; });
    }
    var list = $("list");
    clear(list);
    if (!shown.length) {
      el("li", "none", list, { queue: "Nobody is waiting.", mine: "No open conversations.", search: "Nothing found.",
                               resolved: "No resolved conversations.", snoozed: "Nothing snoozed." }[view] || "Nothing here.");
    }
    shown.forEach(function (c, i) {
      var item = el("li", "item" + (current === c.id ? " active" : ""), list);
      var button = el("button", "", item);
      button.type = "button";
      el("span", "name", button, c.visitor.name);
      el("span", "when", button, view === "queue" ? ago(c.created_at) : ago(c.updated_at));
      var hit = view === "search" ? searchHits[i] : null;
      el("span", "preview", button, hit && hit.snippet ? hit.snippet : (c.last_message || "…"));
      var meta = el("span", "meta", button);
      if (c.unread > 0 && c.status !== "resolved") el("span", "unread", meta, c.unread + " new");
      if (c.assignee && view !== "mine") el("span", "who", meta, c.assignee.id === me.id ? "you" : c.assignee.name);
      if (snoozed(c)) el("span", "who", meta, "until " + when(c.snoozed_until));
      if (c.team) el("span", "team", meta, c.team.name);
      c.tags.forEach(function (t) { el("span", "tag", meta, t); });
      if (c.rating) el("span", "rating", meta, "★ " + c.rating.score);
      button.addEventListener("click", function () { openConversation(c.id); });
    });
    $("more").hidden = !(view === "resolved" && resolvedNext);
    var waiting = open.filter(function (c) { return inView(c, "queue"); }).length;
    var unread = open.filter(function (c) { return inView(c, "mine") && c.unread > 0; }).length;
    var count = waiting + unread;
    var mine = open.filter(function (c) { return inView(c, "mine"); }).length;
    $("load").textContent = mine + " / " + me.capacity;
    $("load").title = mine + " open conversations of your capacity of " + me.capacity;
    document.title = (prefs.title && count ? "(" + count + ") " : "") + "Live chat — agent panel";
    renderTagOptions();
  }

  function renderTagOptions() {
    var tags = {};
    all().concat(resolvedPage).forEach(function (c) { c.tags.forEach(function (t) { tags[t] = 1; }); });
    var select = $("filter-tag"), datalist = $("tag-options"), value = select.value;
    while (select.options.length > 1) select.remove(1);
    clear(datalist);
    Object.keys(tags).sort().forEach(function (t) {
      el("option", "", select, t).value = t;
      el("option", "", datalist).value = t;
    });
    select.value = tags[value] ? value : "";
  }

  function setView(name) {
    view = name;
    document.querySelectorAll(".views button").forEach(function (t) {
      t.setAttribute("aria-selected", t.getAttribute("data-view") === name ? "true" : "false");
    });
    $("tab-search").hidden = name !== "search";
    if (name === "resolved") loadResolved(true);
    renderList();
  }
  document.querySelectorAll(".views button").forEach(function (tab) {
    tab.addEventListener("click", function () { setView(tab.getAttribute("data-view")); });
  });
  $("filter-site").addEventListener("change", function () { filters.site = this.value; if (view === "resolved") loadResolved(true); renderList(); });
  $("filter-tag").addEventListener("change", function () { filters.tag = this.value; if (view === "resolved") loadResolved(true); renderList(); });

  function loadResolved(fresh) {
    var frame = { type: "list", status: "resolved", limit: PAGE };
    if (filters.tag) frame.tag = filters.tag;
    if (!fresh && resolvedNext) { frame.before = resolvedNext.before; frame.before_id = resolvedNext.before_id; }
    request(frame, function (f) {
      if (f.type !== "ack") return;
      f.conversations.forEach(function (c) { known[c.id] = c; });
      resolvedPage = fresh ? f.conversations : resolvedPage.concat(f.conversations);
      resolvedNext = f.next;
      renderList();
    });
  }
  $("more").addEventListener("click", function () { loadResolved(false); });

  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var query = $("search").value.trim();
    if (!query) return;
    request({ type: "search", query: query.slice(0, 100) }, function (f) {
      if (f.type !== "ack") { announce(f.message); return; }
      var seen = {};  // one line per conversation, with its newest match
      searchHits = f.results.filter(function (h) {
        if (seen[h.conversation.id]) return false;
        seen[h.conversation.id] = true;
        known[h.conversation.id] = h.conversation;
        return true;
      });
      setView("search");
    });
  });

  // --- one conversation --------------------------------------------------------------------

  function summary(id) { return conversations[id] || known[id]; }
  function siteName(id) { var s = sites.filter(function (x) { return x.id === id; })[0]; return s ? s.name : id; }

  function renderHead() {
    var c = summary(current);
    if (!c) return;
    $("conv-title").textContent = c.visitor.name;
    var status = c.status === "waiting" ? "Waiting in the queue"
      : c.status === "resolved" ? "Resolved"
      : "Assigned to " + (c.assignee.id === me.id ? "you" : c.assignee.name);
    if (snoozed(c)) status += " · snoozed until " + when(c.snoozed_until);
    if (c.visitor.email) status += " · " + c.visitor.email + (c.visitor.verified ? " (verified)" : "");
    if (c.rating) {
      status += " · Rated " + c.rating.score + "/5" + (c.rating.comment ? ": “" + c.rating.comment + "”" : "");
    }
    if (sites.length > 1) status += " · " + siteName(c.site_id);
    $("conv-status").textContent = status;
    var open = c.status !== "resolved";
    $("claim").hidden = c.status !== "waiting";
    $("reopen").hidden = open;
    $("snooze").hidden = !open || snoozed(c);
    $("unsnooze").hidden = !snoozed(c);
    var mayTransfer = open && (!c.assignee || c.assignee.id === me.id || me.role === "admin");
    var select = $("transfer-to");
    clear(select);
    colleagues.forEach(function (a) {
      if (c.assignee && a.id === c.assignee.id) return;
      el("option", "", select, a.id === me.id ? a.name + " (me)" : a.name).value = a.id;
    });
    $("transfer-button").hidden = !mayTransfer || !select.options.length;
    var teamSelect = $("team-select"), siteTeams = teams.filter(function (t) { return t.site_id === c.site_id; });
    teamSelect.hidden = !siteTeams.length;
    clear(teamSelect);
    el("option", "", teamSelect, "No team").value = "";
    siteTeams.forEach(function (t) { el("option", "", teamSelect, "Team: " + t.name).value = t.id; });
    teamSelect.value = c.team ? c.team.id : "";
    $("resolve").hidden = !open;
    var note = noteMode();
    var canReply = note || c.status === "waiting" || (c.status === "assigned" && c.assignee.id === me.id);
    $("reply-input").disabled = !canReply;
    $("reply").querySelector("button[type=submit]").disabled = !canReply;
    $("reply-input").placeholder = note ? "An internal note: only agents see it"
      : c.status === "resolved" ? "Resolved: reopen it to reply, or write an internal note"
      : "Type a reply — Enter sends, Shift+Enter for a new line, / for canned responses";
    renderTags(c);
  }

  function renderTags(c) {
    var box = $("tag-list");
    clear(box);
    c.tags.forEach(function (t) {
      var chip = el("span", "tag", box, t + " ");
      var x = el("button", "untag", chip, "×");
      x.type = "button";
      x.setAttribute("aria-label", "Remove tag " + t);
      x.addEventListener("click", function () { request({ type: "tag", conversation_id: c.id, tag: t, on: false }); });
    });
  }
  $("tag-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var tag = $("tag-input").value.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, "").slice(0, 32);
    if (!tag || !current) return;
    request({ type: "tag", conversation_id: current, tag: tag, on: true }, function (f) {
      if (f.type === "error") announce(f.message); else $("tag-input").value = "";
    });
  });

  function openConversation(id) {
    var c = summary(id);
    if (!c) return;
    if (current && current !== id) socket.send({ type: "leave", id: ChatSocket.newId(), conversation_id: current });
    current = id;
    currentSeq = Math.max(0, c.last_seq - PAGE);
    oldestSeq = currentSeq + 1;
    visitorReadSeq = c.visitor_read_seq || 0;
    sentRead = 0;
    clear($("messages"));
    $("older").hidden = currentSeq === 0;
    $("empty").hidden = true;
    $("conversation").hidden = false;
    $("context").hidden = false;
    announce("");
    renderHead();
    renderList();
    request({ type: "open", conversation_id: id, last_seq: currentSeq }, function (f) {
      if (f.type !== "ack") { announce(f.message); return; }
      known[id] = f.conversation;
      showVisitorOnline(f.visitor_online);
      visitorReadSeq = Math.max(visitorReadSeq, f.conversation.visitor_read_seq || 0);
      renderContext(f);
      renderHead();
    });
    if (!$("reply-input").disabled) $("reply-input").focus();
  }

  $("older").addEventListener("click", function () {
    if (!current || oldestSeq <= 1) return;
    var id = current;
    request({ type: "history", conversation_id: id, before_seq: oldestSeq, limit: PAGE }, function (f) {
      if (f.type !== "ack" || id !== current) return;
      var box = $("messages"), first = box.firstChild, height = box.scrollHeight;
      f.messages.forEach(function (m) { box.insertBefore(messageNode(m), first); });
      if (f.messages.length) oldestSeq = f.messages[0].seq;
      $("older").hidden = oldestSeq <= 1 || !f.messages.length;
      box.scrollTop = box.scrollHeight - height;
    });
  });

  function messageNode(m) {
    var item, c = summary(m.conversation_id);
    if (m.kind === "text" || m.kind === "note") {
      var fromVisitor = m.author.type === "visitor";
      item = el("li", "msg " + (m.kind === "note" ? "note" : fromVisitor ? "visitor" : "agent"));
      var body = el("div", "body", item);
      if (m.kind === "note") el("div", "label", body, "Internal note");
      if (m.attachment) ChatSocket.attachment(body, m.attachment);
      if (!m.attachment || m.body !== m.attachment.name) ChatSocket.richText(el("div", "", body), m.body);
      var who = fromVisitor ? (c ? c.visitor.name : "Visitor") : (m.author.name || "Agent");
      el("div", "meta", item, who + " · " + new Date(m.at).toLocaleTimeString());
    } else {
      var text = {
        joined: m.author.name + " joined",
        resolved: "Resolved by " + m.author.name,
        transferred: "Transferred to " + m.author.name,
        requeued: "Back in the queue (the agent went offline)",
        reopened: "Reopened by " + m.author.name,
        rated: "The visitor rated this conversation " + m.score + "/5" + (m.body ? ": “" + m.body + "”" : "")
      }[m.kind] || m.kind;
      item = el("li", "event", null, text);
    }
    item.setAttribute("data-seq", m.seq);
    return item;
  }

  function renderMessage(m) {
    if (m.conversation_id !== current || m.seq <= currentSeq) return;
    currentSeq = m.seq;
    var item = messageNode(m);
    outbox = outbox.filter(function (p) {
      if (p.id !== m.id) return true;
      if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
      return false;
    });
    var box = $("messages");
    var firstPending = outbox.filter(function (p) { return p.conversation_id === current; })[0];
    box.insertBefore(item, firstPending ? firstPending.node : null);
    box.scrollTop = box.scrollHeight;
    if (m.kind === "text" && m.author.type === "visitor") $("typing").textContent = "";
    renderSeen();
    markRead();
  }

  /** "Seen" under the last agent message the visitor has read. */
  function renderSeen() {
    var old = $("messages").querySelector(".seen");
    if (old) old.parentNode.removeChild(old);
    var ours = $("messages").querySelectorAll("li.msg.agent[data-seq]");
    var last = ours[ours.length - 1];
    if (last && +last.getAttribute("data-seq") <= visitorReadSeq) {
      el("span", "seen", last.querySelector(".meta"), " · Seen");
    }
  }

  function markRead() {
    if (!current || document.visibilityState !== "visible" || currentSeq <= sentRead) return;
    if (socket.send({ type: "read", conversation_id: current, seq: currentSeq })) sentRead = currentSeq;
  }
  document.addEventListener("visibilitychange", markRead);

  function showVisitorOnline(online) {
    $("visitor-online").textContent = online ? "online" : "offline";
    $("visitor-online").className = "presence " + (online ? "on" : "off");
  }

  // --- the visitor's context -----------------------------------------------------------------

  function browserOf(ua) {
    if (!ua) return null;
    var b = /Edg\//.test(ua) ? "Edge" : /OPR\//.test(ua) ? "Opera" : /Firefox\//.test(ua) ? "Firefox"
      : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : ua.split(" ")[0];
    var os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
      : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
    return b + (os ? " on " + os : "");
  }
  function localTime(tz) {
    try { return new Date().toLocaleTimeString([], { timeZone: tz, hour: "2-digit", minute: "2-digit" }) + " (" + tz + ")"; }
    catch (e) { return null; }
  }

  function renderContext(f) {
    var v = f.visitor || {}, c = f.conversation;
    currentVisitor = { name: c.visitor.name, email: v.email || c.visitor.email, named: !!v.name };
    var facts = $("visitor-facts");
    clear(facts);
    [["Name", c.visitor.name + (c.visitor.verified ? " ✓ verified" : "")], ["Email", v.email],
     ["Local time", v.timezone && localTime(v.timezone)], ["Language", v.language],
     ["Browser", browserOf(v.user_agent)], ["Came from", v.referrer], ["Site", siteName(c.site_id)]]
      .forEach(function (pair) {
        if (!pair[1]) return;
        el("dt", "", facts, pair[0]);
        el("dd", "", facts, pair[1]);
      });
    var details = $("visitor-details");
    clear(details);
    Object.keys(v.attributes || {}).forEach(function (k) {
      var row = el("span", "attr", details);
      el("b", "", row, k + ": ");
      row.appendChild(document.createTextNode(String(v.attributes[k])));
    });
    var pages = $("pages");
    clear(pages);
    (f.pages || []).forEach(function (p, i) {
      var item = el("li", i === 0 ? "now" : "", pages);
      var link = el("a", "", item, p.title || p.url);
      link.href = p.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      el("span", "when", item, " " + ago(p.at) + (i === 0 ? " · current" : ""));
    });
    if (!(f.pages || []).length) el("li", "none", pages, "No pages recorded.");
    var earlier = $("earlier");
    clear(earlier);
    (f.earlier || []).forEach(function (e) {
      known[e.id] = e;
      var b = el("button", "link", el("li", "", earlier), new Date(e.created_at).toLocaleDateString() + " — " + (e.last_message || "…"));
      b.type = "button";
      b.addEventListener("click", function () { openConversation(e.id); });
    });
    if (!(f.earlier || []).length) el("li", "none", earlier, "None.");
  }

  // --- actions ---------------------------------------------------------------------------------

  function act(frame) {
    frame.conversation_id = current;
    request(frame, function (f) { if (f.type === "error") announce(f.code === "already_claimed" ? "Another agent took this conversation." : f.message); });
  }
  $("claim").addEventListener("click", function () { act({ type: "claim" }); });
  $("resolve").addEventListener("click", function () { act({ type: "resolve" }); });
  $("reopen").addEventListener("click", function () { act({ type: "reopen" }); });
  $("unsnooze").addEventListener("click", function () { act({ type: "snooze" }); });
  $("team-select").addEventListener("change", function () {
    var frame = { type: "team" };
    if (this.value) frame.team_id = this.value;
    act(frame);
  });

  function toggleMenu(button, menu, show) {
    menu.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    if (show) { var first = menu.querySelector("button, select, input"); if (first) first.focus(); }
  }
  $("snooze").addEventListener("click", function () { toggleMenu($("snooze"), $("snooze-menu"), $("snooze-menu").hidden); });
  $("transfer-button").addEventListener("click", function () { toggleMenu($("transfer-button"), $("transfer"), $("transfer").hidden); });

  function snoozeUntil(ms) {
    toggleMenu($("snooze"), $("snooze-menu"), false);
    act({ type: "snooze", until: ms });
  }
  function nextMorning(days) {
    var d = new Date(); d.setDate(d.getDate() + days); d.setHours(9, 0, 0, 0); return d.getTime();
  }
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
    if (at > Date.now()) snoozeUntil(at); else announce("Choose a time in the future.");
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

  // --- the composer: replies, notes, canned responses, files ---------------------------------

  function noteMode() { return document.querySelector("input[name=mode]:checked").value === "note"; }
  document.querySelectorAll("input[name=mode]").forEach(function (r) {
    r.addEventListener("change", function () {
      $("reply").classList.toggle("noting", noteMode());
      renderHead();
      $("reply-input").focus();
    });
  });
  function setMode(note) {
    document.querySelector("input[name=mode][value=" + (note ? "note" : "reply") + "]").checked = true;
    $("reply").classList.toggle("noting", note);
    renderHead();
  }

  function sendReply(event) {
    if (event) event.preventDefault();
    var input = $("reply-input"), body = input.value;
    if (!body.trim() || !current) return;
    var note = noteMode();
    var p = { id: ChatSocket.newId(), conversation_id: current, body: body, type: note ? "note" : "send" };
    p.node = el("li", "msg pending " + (note ? "note" : "agent"));
    el("div", "body", p.node, body);
    el("div", "meta", p.node, "Sending…");
    $("messages").appendChild(p.node);
    $("messages").scrollTop = $("messages").scrollHeight;
    outbox.push(p);
    input.value = "";
    closePicker();
    lastTyping = 0;
    socket.send({ type: p.type, id: p.id, conversation_id: p.conversation_id, body: body });
  }
  $("reply").addEventListener("submit", sendReply);

  function fill(text) {
    var v = currentVisitor || {}, first = function (n) { return (n || "").split(" ")[0]; };
    var values = {
      "visitor.name": v.named ? v.name : "there", "visitor.first_name": v.named ? first(v.name) : "there",
      "visitor.email": v.email || "", "agent.name": me.name, "agent.first_name": first(me.name)
    };
    return text.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, function (all, key) { return key in values ? values[key] : all; });
  }

  var pickerItems = [], pickerIndex = 0;
  function closePicker() { $("canned-picker").hidden = true; pickerItems = []; }
  function renderPicker() {
    var box = $("canned-picker");
    clear(box);
    pickerItems.forEach(function (c, i) {
      var option = el("div", "option" + (i === pickerIndex ? " active" : ""), box);
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(i === pickerIndex));
      el("b", "", option, "/" + c.shortcut + " ");
      el("span", "", option, c.body.slice(0, 80));
      option.addEventListener("mousedown", function (event) { event.preventDefault(); pick(i); });
    });
    box.hidden = !pickerItems.length;
  }
  function pick(i) {
    var c = pickerItems[i];
    if (!c) return;
    $("reply-input").value = fill(c.body);  // filled in, and editable before sending
    closePicker();
    $("reply-input").focus();
  }
  $("reply-input").addEventListener("input", function () {
    var input = $("reply-input"), m = /^\/([a-z0-9_-]*)$/.exec(input.value);
    var c = summary(current);
    if (m && c) {
      pickerItems = canned.filter(function (x) { return x.site_id === c.site_id && x.shortcut.indexOf(m[1]) === 0; });
      pickerIndex = 0;
      renderPicker();
    } else closePicker();
    if (noteMode()) return;
    var active = input.value.trim() !== "" && !m, now = Date.now();
    if (!current || (active && now - lastTyping < 3000)) return;
    lastTyping = active ? now : 0;
    socket.send({ type: "typing", conversation_id: current, active: active });
  });
  $("reply-input").addEventListener("keydown", function (event) {
    if (!$("canned-picker").hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        pickerIndex = (pickerIndex + (event.key === "ArrowDown" ? 1 : pickerItems.length - 1)) % pickerItems.length;
        renderPicker();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); pick(pickerIndex); return; }
      if (event.key === "Escape") { event.preventDefault(); closePicker(); return; }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendReply(event);
  });

  $("attach").addEventListener("click", function () { $("file").click(); });
  $("file").addEventListener("change", function () {
    var file = $("file").files[0], id = current;
    $("file").value = "";
    if (!file || !id) return;
    fetch("/api/files", { method: "POST", body: file, credentials: "same-origin",
                          headers: { "X-File-Name": encodeURIComponent(file.name) } })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message); return j; }); })
      .then(function (a) { request({ type: "send", conversation_id: id, attachment: a.id }, function (f) { if (f.type === "error") announce(f.message); }); })
      .catch(function (e) { announce("Not sent: " + e.message); });
  });

  $("away").addEventListener("click", function () { autoAway = false; setAway(!away); });
  function setAway(value) { socket.send({ type: "status", id: ChatSocket.newId(), away: value }); }

  // Automatic away after ten idle minutes; back on the next sign of life.
  var idleTimer = null;
  function activity() {
    clearTimeout(idleTimer);
    if (autoAway && away) { autoAway = false; setAway(false); }
    idleTimer = setTimeout(function () {
      if (prefs.autoaway && !away && socket) { autoAway = true; setAway(true); }
    }, 10 * 60000);
  }
  ["pointerdown", "keydown", "mousemove"].forEach(function (t) { window.addEventListener(t, activity, { passive: true }); });

  // --- keyboard shortcuts ------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    var target = event.target, typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
    if (event.key === "Escape") {
      ["snooze-menu", "transfer", "settings"].forEach(function (id) { $(id).hidden = true; });
      if (typing) target.blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey || $("page-inbox").hidden) return;
    var items = Array.prototype.slice.call(document.querySelectorAll("#list .item button"));
    var index = items.map(function (b) { return b.parentNode.classList.contains("active"); }).indexOf(true);
    var key = event.key;
    if (key === "j" || key === "k") {
      var next = items[Math.min(items.length - 1, Math.max(0, index + (key === "j" ? 1 : -1)))];
      if (next) { next.click(); next.focus(); }
    } else if (key === "/") { event.preventDefault(); $("search").focus(); }
    else if (!current) return;
    else if (key === "c" && !$("claim").hidden) $("claim").click();
    else if (key === "e" && !$("resolve").hidden) $("resolve").click();
    else if (key === "s" && !$("snooze").hidden) { event.preventDefault(); $("snooze").click(); }
    else if (key === "r") { event.preventDefault(); setMode(false); $("reply-input").focus(); }
    else if (key === "n") { event.preventDefault(); setMode(true); $("reply-input").focus(); }
    else return;
  });

  // --- the socket ----------------------------------------------------------------------------

  function update(c) {
    var before = conversations[c.id] || known[c.id];
    if (before && before.last_seq > c.last_seq) return;  // an older update
    known[c.id] = c;
    if (c.status === "resolved") delete conversations[c.id]; else conversations[c.id] = c;
    resolvedPage = resolvedPage.map(function (r) { return r.id === c.id ? c : r; });
    var mineNow = c.assignee && c.assignee.id === me.id;
    if (!before && c.status === "waiting" && !snoozed(c)) notify("New conversation", c.visitor.name + ": " + c.last_message, c.id);
    else if (before && snoozed(before) && !snoozed(c) && c.status !== "resolved") notify("Back from snooze", c.visitor.name, c.id);
    else if (before && mineNow && c.unread > before.unread && c.id !== current) notify(c.visitor.name, c.last_message, c.id);
    renderList();
    if (c.id === current) renderHead();
  }

  /** Every open conversation, from the server (at connect, or after the broker dropped some). */
  function replaceInbox(list) {
    conversations = {};
    list.forEach(function (c) { conversations[c.id] = c; known[c.id] = c; });
    renderList();
  }

  function onFrame(f) {
    if (f.type === "welcome") {
      me = f.agent;
      colleagues = f.agents || [];
      sites = f.sites || [];
      teams = f.teams || [];
      canned = f.canned || [];
      $("me-name").textContent = me.name;
      document.querySelectorAll(".admin-only").forEach(function (n) { n.hidden = me.role !== "admin"; });
      var siteSelect = $("filter-site");
      while (siteSelect.options.length > 1) siteSelect.remove(1);
      sites.forEach(function (s) { el("option", "", siteSelect, s.name).value = s.id; });
      siteSelect.hidden = sites.length < 2;
      if (epoch && f.epoch !== epoch) currentSeq = 0;
      epoch = f.epoch;
      replaceInbox(f.conversations);
      if (current) {
        request({ type: "open", conversation_id: current, last_seq: currentSeq }, function (a) {
          if (a.type === "ack") { known[current] = a.conversation; renderContext(a); renderHead(); }
        });
      }
      outbox.forEach(function (p) {
        socket.send({ type: p.type, id: p.id, conversation_id: p.conversation_id, body: p.body });
      });
    } else if (f.type === "conversation") {
      update(f.conversation);
    } else if (f.type === "read") {
      if (f.conversation_id === current && f.reader === "visitor") {
        visitorReadSeq = Math.max(visitorReadSeq, f.up_to);
        renderSeen();
      }
    } else if (f.type === "presence") {
      if (f.conversation_id === current) showVisitorOnline(f.visitor_online);
    } else if (f.type === "typing") {
      if (f.conversation_id === current && f.author.type === "visitor") {
        clearTimeout(typingTimer);
        var who = summary(current).visitor.name;
        $("typing").textContent = !f.active ? "" : f.preview ? who + " is typing: “" + f.preview + "”"
          : who + " is typing…";
        if (f.active) typingTimer = setTimeout(function () { $("typing").textContent = ""; }, 6000);
      }
    } else if (f.type === "inbox") {
      replaceInbox(f.conversations);
      if (current) renderHead();
    } else if (f.type === "message") {
      renderMessage(f);
    } else if (f.type === "ack") {
      if (typeof f.away === "boolean") {
        away = f.away;
        $("away").textContent = away ? "Away" : "Available";
        $("away").setAttribute("aria-pressed", away ? "true" : "false");
      }
      if (f.conversation && f.conversation.id) update(f.conversation);
      if (f.canned) {  // in place: the Manage page holds the same list
        var i = canned.map(function (c) { return c.id; }).indexOf(f.canned.id);
        if (i >= 0) canned.splice(i, 1, f.canned); else canned.push(f.canned);
      }
      var done = pending[f.id];
      if (done) { delete pending[f.id]; done(f); }
    } else if (f.type === "error") {
      var p = outbox.filter(function (o) { return o.id === f.id; })[0];
      if (p && f.code !== "rate_limited") {
        outbox = outbox.filter(function (o) { return o !== p; });
        p.node.classList.add("failed");
        p.node.querySelector(".meta").textContent = "Not sent: " + f.message;
      }
      var callback = pending[f.id];
      if (callback) { delete pending[f.id]; callback(f); }
      else if (!p) announce(f.code === "already_claimed" ? "Another agent took this conversation." : f.message);
    }
  }

  function begin(agent) {
    me = agent;
    $("login").hidden = true;
    $("app").hidden = false;
    $("me-name").textContent = agent.name;
    socket = new ChatSocket(ChatSocket.url("/ws/agent"), {
      hello: function () { return { type: "hello", v: 1 }; },
      onFrame: onFrame,
      onState: function (state) {
        $("conn").textContent = state === "online" ? "Online" : state === "failed" ? "Signed out" : "Reconnecting…";
        $("conn").className = "conn " + state;
        if (state === "failed") showLogin();
      },
      onUnauthorized: function () { socket.stopped = true; showLogin(); }
    });
    socket.connect();
    activity();
  }
  setInterval(function () { if (me) renderList(); }, 30000);  // keep the waiting times fresh

  // --- reports ---------------------------------------------------------------------------------

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
    if (h) return h + " h" + (m ? " " + m + " min" : "");
    if (m) return m + " min" + (rest ? " " + rest + " s" : "");
    return rest + " s";
  }
  function barChart(box, days, values, missed, label) {
    clear(box);
    var w = 720, h = 200, pad = 28, max = Math.max.apply(null, values.concat([1]));
    var chart = svg("svg", { viewBox: "0 0 " + w + " " + (h + 40), role: "img", "aria-label": label, "class": "chart" }, box);
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
        svg("text", { x: x + bw / 2, y: h + 16, "class": "tick", "text-anchor": "middle" }, chart).textContent = day.slice(5);
      }
    });
  }
  function isoDay(d) { return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); }
  function reportQuery() {
    var q = new URLSearchParams({ from: $("report-from").value, to: $("report-to").value,
                                  tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
    ["site", "team", "agent"].forEach(function (k) { if ($("report-" + k).value) q.set(k, $("report-" + k).value); });
    return q;
  }
  function loadReport() {
    if (!$("report-from").value) {
      var to = new Date(), from = new Date(); from.setDate(to.getDate() - 13);
      $("report-from").value = isoDay(from); $("report-to").value = isoDay(to);
      [["report-site", sites], ["report-team", teams], ["report-agent", colleagues]].forEach(function (pair) {
        var select = $(pair[0]);
        while (select.options.length > 1) select.remove(1);
        pair[1].forEach(function (x) { el("option", "", select, x.name).value = x.id; });
      });
    }
    var q = reportQuery();
    $("report-csv").href = "/api/reports?" + q + "&format=csv";
    api("/api/reports?" + q).then(function (r) {
      var t = r.total, tiles = $("report-tiles");
      clear(tiles);
      [["Conversations", t.conversations], ["Missed", t.missed],
       ["First response, median", seconds(t.first_response.median)], ["First response, 90th pct", seconds(t.first_response.p90)],
       ["Resolution, median", seconds(t.resolution.median)], ["Resolution, 90th pct", seconds(t.resolution.p90)],
       ["Wait in queue, median", seconds(t.wait.median)],
       ["Satisfaction", t.satisfaction.average === null ? "—" : t.satisfaction.average + " / 5 (" + t.satisfaction.satisfied_percent + "% happy, " + t.satisfaction.ratings + " ratings)"]]
        .forEach(function (pair) {
          var tile = el("div", "tile", tiles);
          el("span", "label", tile, pair[0]);
          el("span", "value", tile, String(pair[1]));
        });
      var days = r.days.map(function (d) { return d.day; });
      barChart($("report-chart"), days, r.days.map(function (d) { return d.conversations; }),
               r.days.map(function (d) { return d.missed; }), "Conversations per day");
      barChart($("report-frt"), days, r.days.map(function (d) { return d.first_response.median || 0; }), null,
               "Median first response per day, in seconds");
    }).catch(function (e) { clear($("report-tiles")); el("p", "error", $("report-tiles"), e.message); });
  }
  $("report-form").addEventListener("submit", function (event) { event.preventDefault(); loadReport(); });

  api("/api/agent/me").then(function (j) { begin(j.agent); }).catch(showLogin);
})();

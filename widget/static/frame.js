/* The chat frame: runs on the chat server's origin inside an iframe of the customer's page.
 * Everything a visitor types or an agent writes is put on the page as text (textContent), never
 * as HTML; links are made with DOM nodes by ChatSocket.richText. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var site = params.get("site") || "";
  var parentOrigin = params.get("parent") || "";
  var embedded = window.parent !== window;
  var $ = function (id) { return document.getElementById(id); };
  var t = ChatI18n.t;
  var EMOJI = ["😀", "😂", "😊", "😍", "🤔", "😢", "😮", "😡", "👍", "👎", "👏", "🙏", "🎉", "❤️",
               "🔥", "✅", "❌", "👀", "💡", "📦", "🚚", "💳", "⏰", "👋"];

  var list = $("messages"), input = $("input"), statusLine = $("status"), banner = $("banner");
  var intake = $("intake");

  var token = null, epoch = null, conversationId = null, agentsOnline = false, assignee = null;
  var identity = null;     // the site's signed identity for its logged-in user, if any
  var siteInfo = { prechat: [], offline: "form", open: true, next_change: null };
  var visitor = { name: null, email: null }, verified = false;
  var lastSeq = {};        // conversation id -> highest seq rendered
  var outbox = [];         // [{id, body, attachment, node}] sent but not acknowledged
  var pending = {};        // frames resent on every connect until acknowledged (profile, attributes)
  var resolved = false, rating = null, agentReadSeq = 0;
  var visitorRead = 0;     // the visitor's read mark (any tab): agent messages after it are unread
  var unreadSeqs = [], toldUnread = -1;
  var liveFrom = 0;        // messages after this seq arrived live, not as history
  var queue = null;        // {position, expected_wait} while waiting
  var typicalWait = null;  // seconds: how long the site's visitors wait for an agent, lately
  var fresh = false;       // the visitor asked to start a new conversation
  var leftMessage = null;  // the email an offline message will be answered at
  var isOpen = !embedded, muted = false;
  var pageColor = null;    // data-color on the site's tag wins over the site's setting
  var page = null;         // {url, title, referrer} of the host page, for the agent's context
  var last = null;         // the last rendered message: {key, at, day}, for grouping
  var socket, hoursTimer = null, readTimer = null;

  function localize(tag) {
    ChatI18n.use(tag || navigator.language);
    input.placeholder = t("placeholder");
    document.querySelector("label[for=input]").textContent = t("message");
    [["send", "send"], ["close", "close"], ["emoji", "emoji"], ["attach", "attach"]]
      .forEach(function (p) { $(p[0]).setAttribute("aria-label", t(p[1])); });
    $("emoji-panel").setAttribute("aria-label", t("emoji"));
    $("mute").setAttribute("aria-label", t("mute"));
    list.setAttribute("aria-label", t("conversation"));
    $("intake-name-label").textContent = t("name");
    $("intake-email-label").textContent = t("email");
    $("intake-message-label").textContent = t("yourMessage");
  }
  localize(params.get("lang"));

  function toParent(message) {
    if (embedded && parentOrigin) window.parent.postMessage(message, parentOrigin);
  }

  function el(tag, cls, parent, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function dayOf(ms) { return new Date(ms).toDateString(); }
  function dayLabel(ms) {
    var d = new Date(ms), today = new Date();
    if (d.toDateString() === today.toDateString()) return t("today");
    today.setDate(today.getDate() - 1);
    if (d.toDateString() === today.toDateString()) return t("yesterday");
    return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" });
  }
  function when(ms) {
    var d = new Date(ms), sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? time(ms) : d.toLocaleString([], { weekday: "long", hour: "2-digit",
                                                       minute: "2-digit" });
  }

  function scroll() { list.scrollTop = list.scrollHeight; }

  function minutes(seconds) {
    var m = Math.max(1, Math.round(seconds / 60));
    return m === 1 ? t("minute") : t("minutes", { n: m });
  }

  // --- appearance: the site's colour, logo and greeting --------------------------------------

  function luminance(hex) {
    var c = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function theme(color) {
    if (!/^#[0-9a-f]{6}$/i.test(color || "")) return;
    // Text on the accent is white or near-black, whichever contrasts more (WCAG AA).
    var l = luminance(color), onWhite = 1.05 / (l + 0.05), onDark = (l + 0.05) / 0.0622;
    var root = document.documentElement.style;  // CSSOM: allowed by a strict style-src
    root.setProperty("--accent", color);
    root.setProperty("--on-accent", onWhite >= onDark ? "#ffffff" : "#111418");
    if (color !== pageColor) toParent({ type: "theme", color: color });
  }

  /** The site's greeting, first in the list (shown, not stored), by name when we know it. */
  var greetingNode = el("li", "msg theirs greeting");
  function greet() {
    var text = siteInfo.greeting || t("greeting");
    if (visitor.name) text = t("hi", { name: visitor.name.split(" ")[0] }) + " " + text;
    while (greetingNode.firstChild) greetingNode.removeChild(greetingNode.firstChild);
    ChatSocket.richText(el("div", "body", greetingNode), text);
  }

  function resetList() {
    while (list.firstChild) list.removeChild(list.firstChild);
    lastSeq = {};
    last = null;
    greet();
    list.appendChild(greetingNode);
    outbox.forEach(function (p) { list.appendChild(p.node); });
  }

  // --- status line and the forms before a chat ------------------------------------------------

  function offline() { return !agentsOnline || !siteInfo.open; }

  function backAt() {
    return !siteInfo.open && siteInfo.next_change ? " " + t("backAt", { when: when(siteInfo.next_change) }) : "";
  }

  function renderStatus() {
    if (assignee && !resolved) statusLine.textContent = t("answering", { name: assignee });
    else if (queue && !resolved) {
      statusLine.textContent = (queue.position === 1 ? t("next") :
        t("position", { n: queue.position })) +
        (queue.expected_wait !== null ? " · " + minutes(queue.expected_wait) : "");
    }
    else if (!offline()) {
      statusLine.textContent = typicalWait !== null ?
        t("typically", { time: minutes(typicalWait) }) : t("online");
    }
    else statusLine.textContent = t("offline") + backAt();
  }

  function missing(field) { return (siteInfo.prechat || []).indexOf(field) >= 0 && !visitor[field]; }

  /** Which form, if any, comes before the chat: "offline", "prechat" or null. */
  function intakeKind() {
    var open = conversationId && !resolved && !fresh;
    if (open || leftMessage || !token) return null;
    if (conversationId && resolved && !fresh) return null;  // the old one stays on screen
    if (siteInfo.offline === "form" && offline()) return "offline";
    if (!verified && (missing("name") || missing("email"))) return "prechat";
    return null;
  }

  function renderIntake() {
    var kind = intakeKind();
    var wasHidden = intake.hidden;
    intake.hidden = !kind;
    $("composer").hidden = !!kind;
    if (!kind) return;
    var offlineForm = kind === "offline";
    $("intake-title").textContent = t(offlineForm ? "offlineTitle" : "prechatTitle");
    $("intake-text").textContent = offlineForm ? t("offlineText") + backAt() : t("prechatText");
    $("intake-name-row").hidden = !(offlineForm ? !visitor.name : missing("name"));
    $("intake-email-row").hidden = !(offlineForm ? !visitor.email : missing("email"));
    $("intake-submit").textContent = t(offlineForm ? "leaveMessage" : "startChat");
    if (wasHidden && isOpen) {
      var first = intake.querySelector("label:not([hidden]) input, textarea");
      if (first) first.focus();
    }
  }

  function submitIntake(event) {
    event.preventDefault();
    var name = $("intake-name").value.trim(), email = $("intake-email").value.trim();
    var body = $("intake-message").value, error = $("intake-error");
    var nameRow = !$("intake-name-row").hidden, emailRow = !$("intake-email-row").hidden;
    var offlineForm = intakeKind() === "offline";
    if (nameRow && !name) { error.textContent = t("needName"); $("intake-name").focus(); return; }
    if (emailRow && !/^[^\s@]+@[^\s@]+$/.test(email)) {
      error.textContent = t("needEmail"); $("intake-email").focus(); return;
    }
    if (!body.trim()) { error.textContent = t("needMessage"); $("intake-message").focus(); return; }
    error.textContent = "";
    if ((nameRow && name) || (emailRow && email)) {
      var profile = { type: "profile", id: ChatSocket.newId() };
      if (nameRow && name) { profile.name = name; visitor.name = name; }
      if (emailRow && email) { profile.email = email; visitor.email = email; }
      request(profile);
      greet();
    }
    if (offlineForm) leftMessage = visitor.email || email || "";
    fresh = false;
    $("intake-message").value = "";
    startNew();
    send(body, null);
    renderIntake();
    input.focus();
  }

  /** Resent on every (re)connect until the server acknowledges it. */
  function request(frame) {
    pending[frame.id] = frame;
    if (socket) socket.send(frame);
  }

  // --- messages --------------------------------------------------------------------------------

  function bubble(kind, text, meta, attachment) {
    var item = el("li", "msg " + kind);
    var body = el("div", "body", item);
    if (attachment) {
      ChatSocket.attachment(body, attachment, scroll);
      if (ChatSocket.isImage(attachment) && text === attachment.name) body.classList.add("media");
    }
    if (text && (!attachment || text !== attachment.name)) {
      ChatSocket.richText(el("div", "text", body), text);
    }
    el("div", "meta", item, meta || "");
    return item;
  }

  function notice(text) { return el("li", "notice", null, text); }

  /** A day separator when the day changes, and grouping of one author's consecutive messages
   * (within two minutes): only the last of a group shows its name and time. */
  function place(item, m) {
    var day = dayOf(m.at);
    if (!last || last.day !== day) insert(el("li", "day", null, dayLabel(m.at)));
    var key = m.kind === "text" ? m.author.type + ":" + (m.author.id || m.author.name || "") : null;
    if (key && last && last.key === key && m.at - last.at < 120000 && last.node.parentNode) {
      last.node.classList.add("grouped");
    }
    last = { key: key, at: m.at, day: day, node: item };
    insert(item);
  }

  function insert(item) {
    // Pending messages stay at the bottom until their own copy arrives.
    var firstPending = outbox.length ? outbox[0].node : null;
    list.insertBefore(item, firstPending && firstPending.parentNode === list ? firstPending : null);
  }

  var toldActive = 0;
  /** The page remembers when this visitor's conversation last moved (its loader then connects
   * on later pages, for two weeks after): the newest message's time, at most once a minute. */
  function active(at) {
    if (at - toldActive < 60000) return;
    toldActive = at;
    toParent({ type: "active", at: at });
  }

  function render(m) {
    var seen = lastSeq[m.conversation_id] || 0;
    if (m.seq <= seen) return;
    lastSeq[m.conversation_id] = m.seq;
    if (m.conversation_id !== conversationId) return;
    if (m.kind === "text") active(m.at);
    var item;
    if (m.kind === "text") {
      var mine = m.author.type === "visitor";
      item = bubble(mine ? "mine" : "theirs", m.body,
                    (mine ? "" : (m.author.name || t("agent")) + " · ") + time(m.at), m.attachment);
      if (mine) {
        outbox = outbox.filter(function (p) {
          if (p.id !== m.id) return true;
          if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
          return false;
        });
      } else {
        showTyping(null);
        if (m.seq > visitorRead) unreadSeqs.push(m.seq);
        if (m.seq > liveFrom) toParent({ type: "message", message: { body: m.body, author: m.author.name } });
        tellUnread();
      }
    } else if (m.kind === "joined" || m.kind === "transferred" || m.kind === "reopened") {
      assignee = m.author.name;
      resolved = false;
      queue = null;
      item = notice(t(m.kind, { name: m.author.name || t("agent") }));
    } else if (m.kind === "requeued") {
      assignee = null;
      item = notice(t("requeued"));
    } else if (m.kind === "resolved") {
      resolved = true;
      item = notice(t("resolved"));
    } else if (m.kind === "rated") {
      rating = { score: m.score, comment: m.body || null };
      item = notice(t("thanksRating", { n: m.score }));
    }
    if (!item) return;
    item.setAttribute("data-seq", m.seq);
    place(item, m);
    afterChange();
  }

  function afterChange() {
    renderStatus();
    renderSeen();
    renderRatingCard();
    renderIntake();
    scroll();
    markRead();
  }

  /** "Seen" under the visitor's last message, once an agent has read it. */
  function renderSeen() {
    var old = list.querySelector(".seen");
    if (old) old.parentNode.removeChild(old);
    var mine = list.querySelectorAll("li.msg.mine[data-seq]");
    var lastMine = mine[mine.length - 1];
    if (lastMine && +lastMine.getAttribute("data-seq") <= agentReadSeq) {
      el("span", "seen", lastMine.querySelector(".meta"), t("seen"));
    }
  }

  /** Tell the server the visitor has seen everything shown, when they can see it. */
  function markRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(flushRead, 250);  // once for a burst (a catch-up renders many)
  }
  function flushRead() {
    clearTimeout(readTimer);
    var seq = lastSeq[conversationId] || 0;
    if (!isOpen || document.visibilityState !== "visible" || seq <= visitorRead) return;
    if (socket && socket.send({ type: "read", seq: seq })) seen(seq);
  }

  /** Everything up to ``seq`` is read (here, or in another tab): no longer unread. */
  function seen(seq) {
    visitorRead = Math.max(visitorRead, seq);
    unreadSeqs = unreadSeqs.filter(function (s) { return s > visitorRead; });
    tellUnread();
  }
  /** The launcher's badge: agent messages the visitor has not seen, across page loads. */
  function tellUnread() {
    if (unreadSeqs.length === toldUnread) return;
    toldUnread = unreadSeqs.length;
    toParent({ type: "unread", count: toldUnread });
  }

  // --- after the conversation: rating and a new start -----------------------------------------

  var card = null;
  function renderRatingCard() {
    var wanted = resolved && !fresh && conversationId;
    if (card && (!wanted || (rating && card.getAttribute("data-rated") !== "1"))) {
      card.parentNode.removeChild(card);
      card = null;
    }
    if (!wanted || card) return;
    card = el("li", "card");
    if (rating) {
      card.setAttribute("data-rated", "1");
    } else {
      var form = el("form", "rate", card);
      el("p", "ask", form, t("rateTitle"));
      var stars = el("div", "stars", form), chosen = 0;
      stars.setAttribute("role", "group");
      stars.setAttribute("aria-label", t("rateTitle"));
      for (var n = 1; n <= 5; n++) {
        (function (n) {
          var b = el("button", "star", stars, "★");
          b.type = "button";
          b.setAttribute("aria-label", t("stars", { n: n }));
          b.setAttribute("aria-pressed", "false");
          b.addEventListener("click", function () {
            chosen = n;
            Array.prototype.forEach.call(stars.children, function (s, i) {
              s.setAttribute("aria-pressed", String(i < n));
            });
            submitButton.disabled = false;
          });
        })(n);
      }
      var comment = el("textarea", "comment", form);
      comment.rows = 2;
      comment.maxLength = 1000;
      comment.setAttribute("aria-label", t("comment"));
      comment.placeholder = t("comment");
      var submitButton = el("button", "primary", form, t("rate"));
      submitButton.type = "submit";
      submitButton.disabled = true;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (!chosen) return;
        var frame = { type: "rate", id: ChatSocket.newId(), conversation_id: conversationId,
                      score: chosen };
        if (comment.value.trim()) frame.comment = comment.value.trim();
        submitButton.disabled = true;
        request(frame);
      });
    }
    var again = el("button", "link", card, t("newConversation"));
    again.type = "button";
    again.addEventListener("click", function () {
      fresh = true;
      resetList();
      card = null;
      renderIntake();
      renderStatus();
      if (intake.hidden) input.focus();
    });
    list.appendChild(card);
  }

  /** The visitor writes after a resolved conversation: the next message opens a new one. */
  function startNew() {
    if (resolved || fresh) {
      fresh = true;
      if (card && card.parentNode) card.parentNode.removeChild(card);
      card = null;
    }
  }

  function send(body, attachment, node) {
    var p = { id: ChatSocket.newId(), body: body, attachment: attachment,
              node: node || bubble("mine pending", body, t("sending")) };
    outbox.push(p);
    if (!p.node.parentNode) list.appendChild(p.node);
    scroll();
    transmit(p);
  }

  function transmit(p) {
    var frame = { type: "send", id: p.id };
    if (p.body) frame.body = p.body;
    if (p.attachment) frame.attachment = p.attachment.id;
    if (socket) socket.send(frame);
  }

  function flush() {
    outbox.forEach(transmit);
    Object.keys(pending).forEach(function (id) { socket.send(pending[id]); });
  }

  // --- attachments and emoji -------------------------------------------------------------------

  function upload(file) {
    if (!file || !token) return;
    startNew();
    var node = bubble("mine pending", "", t("uploading", { name: file.name }));
    list.appendChild(node);
    scroll();
    fetch("/api/files", {
      method: "POST", body: file, credentials: "omit",
      headers: { "Authorization": "Bearer " + token, "X-File-Name": encodeURIComponent(file.name) }
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.message || r.status);
        return data;
      });
    }).then(function (a) {
      var body = node.querySelector(".body");
      ChatSocket.attachment(body, a, scroll);
      if (ChatSocket.isImage(a)) body.classList.add("media");
      node.querySelector(".meta").textContent = t("sending");
      send("", a, node);
    }).catch(function (e) {
      node.classList.add("failed");
      node.querySelector(".meta").textContent = t("notSent", { why: e.message });
    });
  }

  var emojiPanel = $("emoji-panel"), emojiButton = $("emoji");
  EMOJI.forEach(function (e) {
    var b = el("button", null, emojiPanel, e);
    b.type = "button";
    b.addEventListener("click", function () {
      var at = input.selectionStart || input.value.length;
      input.value = input.value.slice(0, at) + e + input.value.slice(input.selectionEnd || at);
      input.selectionStart = input.selectionEnd = at + e.length;
      toggleEmoji(false);
      input.focus();
    });
  });
  function toggleEmoji(show) {
    emojiPanel.hidden = !show;
    emojiButton.setAttribute("aria-expanded", String(show));
    if (show) emojiPanel.firstChild.focus();
  }

  // --- the socket ------------------------------------------------------------------------------

  function onFrame(f) {
    if (f.type === "welcome") welcome(f);
    else if (f.type === "message") render(f);
    else if (f.type === "availability") {
      agentsOnline = f.agents_online;
      renderStatus();
      renderIntake();
    } else if (f.type === "typing") {
      if (f.author.type === "agent") showTyping(f.active ? (f.author.name || t("agent")) : null);
    } else if (f.type === "read") {
      if (f.conversation_id !== conversationId) return;
      if (f.reader === "agent") {
        agentReadSeq = Math.max(agentReadSeq, f.up_to);
        renderSeen();
      } else seen(f.up_to);
    } else if (f.type === "queue") {
      if (f.conversation_id === conversationId && !assignee) {
        queue = { position: f.position, expected_wait: f.expected_wait };
        renderStatus();
      }
    } else if (f.type === "ack") {
      acknowledged(f);
    } else if (f.type === "conversation") {
      // Another tab opened a conversation: follow it here too.
      if (!(f.conversation.id in lastSeq)) {
        switchTo(f.conversation);
        socket.send({ type: "open", id: ChatSocket.newId(), conversation_id: f.conversation.id });
      }
    } else if (f.type === "error") {
      failed(f);
    }
  }

  function welcome(f) {
    if (f.token !== token) { token = f.token; toParent({ type: "token", token: token }); }
    $("site-name").textContent = f.site.name;
    document.title = f.site.name;
    siteInfo = f.site;
    theme(pageColor || siteInfo.color);
    $("preview-notice").textContent = siteInfo.typing_preview ? t("previewNotice") : "";
    $("preview-notice").hidden = !siteInfo.typing_preview;
    var logo = $("logo");
    if (siteInfo.logo) { logo.src = siteInfo.logo; logo.hidden = false; } else logo.hidden = true;
    visitor = f.visitor || visitor;
    verified = f.verified;
    agentsOnline = f.agents_online;
    var conv = f.conversation;
    if (f.epoch !== epoch || !conv || conv.id !== conversationId) {
      // Another conversation, or the store was reset: start the list afresh.
      epoch = f.epoch;
      conversationId = conv ? conv.id : null;
      resetList();
      liveFrom = 0;
      unreadSeqs = [];
      visitorRead = 0;
    }
    epoch = f.epoch;
    conversationId = conv ? conv.id : null;
    assignee = conv && conv.assignee ? conv.assignee.name : null;
    resolved = !!conv && conv.status === "resolved";
    rating = conv ? conv.rating : null;
    agentReadSeq = conv ? conv.agent_read_seq : 0;
    visitorRead = Math.max(visitorRead, conv ? conv.visitor_read_seq || 0 : 0);
    // (What was missed while disconnected arrives as history: no chime for it.)
    liveFrom = Math.max(liveFrom, conv ? conv.last_seq : 0);
    queue = f.queue;
    typicalWait = typeof f.typical_wait === "number" ? f.typical_wait : null;
    greet();
    scheduleHours();
    afterChange();
    flush();
    sendContext();
  }

  /** Where the visitor is, in their language and time zone: the agent's context column. */
  function sendContext() {
    var frame = { type: "context", language: navigator.language };
    try { frame.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old */ }
    if (page && /^https?:/.test(page.url)) {
      frame.url = page.url.split("#")[0].slice(0, 2000);
      frame.title = String(page.title || "").replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 300);
      if (/^https?:/.test(page.referrer || "")) frame.referrer = page.referrer.slice(0, 2000);
    }
    socket.send(frame);
  }

  function switchTo(conv) {
    if (conv.id === conversationId) return;
    conversationId = conv.id;
    resolved = conv.status === "resolved";
    rating = conv.rating || null;
    assignee = conv.assignee ? conv.assignee.name : null;
    agentReadSeq = conv.agent_read_seq || 0;
    visitorRead = conv.visitor_read_seq || 0;
    liveFrom = 0;  // a new conversation: everything in it is live
    unreadSeqs = [];
    tellUnread();
    fresh = false;
    if (last) place(notice(t("newConversation")), { at: Date.now(), kind: "notice" });
    afterChange();
  }

  function acknowledged(f) {
    if (pending[f.id]) {
      var frame = pending[f.id];
      delete pending[f.id];
      if (frame.type === "rate" && f.conversation) {
        rating = f.conversation.rating;
        renderRatingCard();
      }
    }
    if (f.conversation_id && f.conversation_id !== conversationId) {
      switchTo({ id: f.conversation_id, status: "waiting" });
    }
    if (leftMessage !== null && f.conversation_id && !list.querySelector(".left")) {
      var item = notice(leftMessage ? t("leftMessage", { email: leftMessage }) : t("leftMessageNoEmail"));
      item.classList.add("left");
      list.appendChild(item);
      scroll();
    }
  }

  function failed(f) {
    var p = outbox.filter(function (o) { return o.id === f.id; })[0];
    if (f.code === "rate_limited") {
      showBanner(t("slowDown"));
      setTimeout(flush, 2000);
      return;
    }
    if (pending[f.id]) delete pending[f.id];
    if (p) {
      outbox = outbox.filter(function (o) { return o !== p; });
      p.node.classList.add("failed");
      p.node.querySelector(".meta").textContent = t("notSent", { why: f.message });
    }
  }

  /** Business hours change while the page is open: flip, and the next welcome corrects. */
  function scheduleHours() {
    clearTimeout(hoursTimer);
    var wait = siteInfo.next_change ? siteInfo.next_change - Date.now() : -1;
    if (wait > 0 && wait < 86400000) {
      hoursTimer = setTimeout(function () {
        siteInfo.open = !siteInfo.open;
        siteInfo.next_change = null;
        renderStatus();
        renderIntake();
      }, wait);
    }
  }

  function showBanner(text) {
    if (text) { banner.textContent = text; banner.removeAttribute("hidden"); }
    else banner.setAttribute("hidden", "");
  }

  function onState(state, code) {
    document.documentElement.setAttribute("data-state", state);  // for scripts and tests
    if (state === "online") showBanner("");
    else if (state === "reconnecting") showBanner(t("reconnecting"));
    else if (state === "failed" && code === 4402) showBanner(t("signIn"));
    else if (state === "failed") showBanner(t("unavailable", { code: code }));
  }

  var typingTimer = null, typingNode = $("typing");
  function showTyping(name) {
    clearTimeout(typingTimer);
    typingNode.textContent = name ? t("typing", { name: name }) : "";
    if (name) typingTimer = setTimeout(function () { showTyping(null); }, 6000);
  }

  var lastTyping = 0, previewTimer = null;
  function typing(active) {
    var now = Date.now();
    if (siteInfo.typing_preview && active) return preview();
    if (active && now - lastTyping < 3000) return;
    lastTyping = active ? now : 0;
    if (socket) socket.send({ type: "typing", active: active });
  }
  /** The site shows agents what is being typed (the visitor is told, under the composer):
   * the text, at most every 600 ms. */
  function preview() {
    if (previewTimer) return;
    previewTimer = setTimeout(function () {
      previewTimer = null;
      var text = input.value.slice(0, 1000);
      lastTyping = Date.now();
      if (socket) socket.send({ type: "typing", active: text.trim() !== "", text: text });
    }, 600);
  }

  function submit(event) {
    if (event) event.preventDefault();
    var body = input.value;
    if (!body.trim()) return;
    startNew();
    input.value = "";
    typing(false);
    send(body, null);
  }

  function start(initialToken) {
    token = initialToken;
    socket = new ChatSocket(ChatSocket.url("/ws/visitor"), {
      hello: function () {
        var frame = { type: "hello", v: 1, site: site };
        if (token) frame.token = token;
        if (identity && identity.jwt) frame.user_jwt = identity.jwt;
        else if (identity) {
          frame.user_id = identity.id;
          frame.user_expires = identity.expires;
          frame.user_hash = identity.hash;
          if (identity.name) frame.user_name = identity.name;
          if (identity.email) frame.user_email = identity.email;
        }
        if (conversationId) {
          frame.conversation_id = conversationId;
          frame.last_seq = lastSeq[conversationId] || 0;
          frame.epoch = epoch;
        }
        return frame;
      },
      onFrame: onFrame,
      onState: onState,
      onUnauthorized: function () {
        // A token that no longer verifies (expired, or a key was retired): start afresh.
        token = null; conversationId = null;
        toParent({ type: "token", token: null });
      }
    });
    socket.connect();
  }

  function setAttributes(attributes) {
    if (!attributes || typeof attributes !== "object") return;
    request({ type: "attributes", id: ChatSocket.newId(), attributes: attributes });
  }

  function setMuted(value) {
    muted = !!value;
    $("mute").setAttribute("aria-pressed", String(muted));
    $("mute").classList.toggle("muted", muted);
  }

  $("composer").addEventListener("submit", submit);
  intake.addEventListener("submit", submitIntake);
  input.addEventListener("input", function () { typing(input.value.trim() !== ""); });
  input.addEventListener("blur", function () { if (lastTyping) typing(false); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  });
  $("attach").addEventListener("click", function () { $("file").click(); });
  $("file").addEventListener("change", function () {
    upload($("file").files[0]);
    $("file").value = "";
  });
  emojiButton.addEventListener("click", function () { toggleEmoji(emojiPanel.hidden); });
  $("mute").addEventListener("click", function () {
    setMuted(!muted);
    toParent({ type: "mute", muted: muted });
  });
  $("close").addEventListener("click", function () { toParent({ type: "close" }); });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (!emojiPanel.hidden) { toggleEmoji(false); emojiButton.focus(); return; }
    toParent({ type: "close" });
  });
  document.addEventListener("visibilitychange", markRead);

  var started = false;
  window.addEventListener("message", function (event) {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    var m = event.data || {};
    if (m.type === "init" && !started) {
      started = true;
      identity = m.identity || null;
      isOpen = !!m.open;
      setMuted(m.muted);
      if (/^#[0-9a-f]{6}$/i.test(m.color || "")) { pageColor = m.color; theme(pageColor); }
      setAttributes(m.attributes);
      page = m.page || null;
      start(typeof m.token === "string" ? m.token : null);
      if (m.open) input.focus();
    } else if (m.type === "identify" || m.type === "reset") {
      // Someone else now: start over with a new hello.
      identity = m.type === "identify" ? m.identity : null;
      token = null; conversationId = null; epoch = null;
      outbox = []; pending = {}; lastSeq = {}; visitor = { name: null, email: null };
      fresh = false; leftMessage = null; resolved = false; rating = null;
      resetList();
      if (started) socket.restart();
    } else if (m.type === "attributes") {
      setAttributes(m.attributes);
    } else if (m.type === "open") {
      isOpen = true;
      markRead();
      if (intake.hidden) input.focus();
      else renderIntake();
    } else if (m.type === "closed") {
      flushRead();  // what was on screen until now was seen
      isOpen = false;
    } else if (m.type === "locale") {
      localize(m.lang);
      greet();
      renderStatus();
      renderIntake();
    }
  });
  resetList();
  if (embedded && parentOrigin) toParent({ type: "ready" });
  else { started = true; start(null); }
})();

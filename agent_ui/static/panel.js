/* The agent panel: login, live queue and "mine", a conversation view with claim/reply/resolve. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var me = null, socket = null, epoch = null;
  var conversations = {};   // id -> summary
  var view = "queue", current = null, currentSeq = 0;
  var outbox = [];          // replies sent but not acknowledged: [{id, conversation_id, body, node}]
  var colleagues = [];      // agents of my sites, for transfers
  var typingTimer = null, lastTyping = 0, away = false;
  var visitorReadSeq = 0, sentRead = 0;  // "seen" both ways, for the open conversation
  var IMAGES = { "image/png": 1, "image/jpeg": 1, "image/gif": 1, "image/webp": 1 };

  function el(tag, cls, parent, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.round(s / 60) + "m";
    return Math.round(s / 3600) + "h";
  }

  function api(path, body) {
    return fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin"
    });
  }

  // --- login ---------------------------------------------------------------------------------

  function showLogin() {
    $("app").hidden = true;
    $("login").hidden = false;
    $("email").focus();
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("/api/agent/login", { email: $("email").value, password: $("password").value })
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (!res[0]) { $("login-error").textContent = res[1].message || "Sign-in failed"; return; }
        $("password").value = "";
        begin(res[1].agent);
      })
      .catch(function () { $("login-error").textContent = "The server cannot be reached."; });
  });

  $("logout").addEventListener("click", function () {
    api("/api/agent/logout", {}).then(function () { location.reload(); });
  });

  // --- the inbox -----------------------------------------------------------------------------

  function inView(c) {
    if (c.status === "resolved") return false;
    if (view === "queue") return c.status === "waiting";
    return c.assignee && c.assignee.id === me.id;
  }

  function renderList() {
    var all = Object.keys(conversations).map(function (k) { return conversations[k]; });
    var waiting = all.filter(function (c) { return c.status === "waiting"; });
    var mine = all.filter(function (c) {
      return c.status !== "resolved" && c.assignee && c.assignee.id === me.id;
    });
    $("count-queue").textContent = waiting.length;
    $("count-mine").textContent = mine.length;
    var list = $("list");
    while (list.firstChild) list.removeChild(list.firstChild);
    var shown = all.filter(inView).sort(function (a, b) { return a.created_at - b.created_at; });
    if (!shown.length) el("li", "none", list, view === "queue" ? "Nobody is waiting." : "No open conversations.");
    shown.forEach(function (c) {
      var item = el("li", "item" + (current === c.id ? " active" : ""), list);
      var button = el("button", "", item);
      button.type = "button";
      el("span", "name", button, c.visitor.name);
      el("span", "when", button, ago(c.created_at));
      el("span", "preview", button, c.last_message || "…");
      button.addEventListener("click", function () { openConversation(c.id); });
    });
    document.title = (waiting.length ? "(" + waiting.length + ") " : "") + "Live chat — agent panel";
  }

  document.querySelectorAll(".tabs button").forEach(function (tab) {
    tab.addEventListener("click", function () {
      view = tab.getAttribute("data-view");
      document.querySelectorAll(".tabs button").forEach(function (t) {
        t.setAttribute("aria-selected", t === tab ? "true" : "false");
      });
      renderList();
    });
  });

  // --- one conversation ----------------------------------------------------------------------

  function renderHead() {
    var c = conversations[current];
    if (!c) return;
    $("conv-title").textContent = c.visitor.name;
    var status = c.status === "waiting" ? "Waiting in the queue"
      : c.status === "resolved" ? "Resolved"
      : "Assigned to " + (c.assignee.id === me.id ? "you" : c.assignee.name);
    if (c.visitor.email) status += " · " + c.visitor.email + (c.visitor.verified ? " (verified)" : "");
    if (c.rating) {
      status += " · Rated " + c.rating.score + "/5" + (c.rating.comment ? ": “" + c.rating.comment + "”" : "");
    }
    $("conv-status").textContent = status;
    $("claim").hidden = c.status !== "waiting";
    var mayTransfer = c.status !== "resolved" &&
      (!c.assignee || c.assignee.id === me.id || me.role === "admin");
    $("transfer").hidden = !mayTransfer;
    var select = $("transfer-to");
    while (select.firstChild) select.removeChild(select.firstChild);
    colleagues.forEach(function (a) {
      if (c.assignee && a.id === c.assignee.id) return;
      var option = el("option", "", select, a.id === me.id ? a.name + " (me)" : a.name);
      option.value = a.id;
    });
    if (!select.options.length) $("transfer").hidden = true;  // nobody to hand it to
    $("resolve").hidden = c.status === "resolved";
    var canReply = c.status === "waiting" || (c.status === "assigned" && c.assignee.id === me.id);
    $("reply-input").disabled = !canReply;
    $("reply").querySelector("button").disabled = !canReply;
  }

  function openConversation(id) {
    if (current && current !== id) socket.send({ type: "leave", id: ChatSocket.newId(), conversation_id: current });
    current = id;
    currentSeq = 0;
    visitorReadSeq = (conversations[id] && conversations[id].visitor_read_seq) || 0;
    sentRead = 0;
    $("visitor-details").textContent = "";
    var box = $("messages");
    while (box.firstChild) box.removeChild(box.firstChild);
    $("empty").hidden = true;
    $("conversation").hidden = false;
    notice("");
    renderHead();
    renderList();
    socket.send({ type: "open", id: ChatSocket.newId(), conversation_id: id, last_seq: 0 });
    $("reply-input").focus();
  }

  function renderMessage(m) {
    if (m.conversation_id !== current || m.seq <= currentSeq) return;
    currentSeq = m.seq;
    var box = $("messages"), item;
    if (m.kind === "text") {
      var fromVisitor = m.author.type === "visitor";
      item = el("li", "msg " + (fromVisitor ? "visitor" : "agent"));
      var body = el("div", "body", item);
      if (m.attachment) attachment(body, m.attachment);
      if (!m.attachment || m.body !== m.attachment.name) ChatSocket.richText(el("div", "", body), m.body);
      var who = fromVisitor ? conversations[current].visitor.name : (m.author.name || "Agent");
      el("div", "meta", item, who + " · " + new Date(m.at).toLocaleTimeString());
      outbox = outbox.filter(function (p) {
        if (p.id !== m.id) return true;
        if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
        return false;
      });
    } else {
      var text = {
        joined: m.author.name + " joined",
        resolved: "Resolved by " + m.author.name,
        transferred: "Transferred to " + m.author.name,
        requeued: "Back in the queue (the agent went offline)",
        rated: "The visitor rated this conversation " + m.score + "/5" + (m.body ? ": “" + m.body + "”" : "")
      }[m.kind] || m.kind;
      item = el("li", "event", null, text);
    }
    var firstPending = outbox.filter(function (p) { return p.conversation_id === current; })[0];
    item.setAttribute("data-seq", m.seq);
    box.insertBefore(item, firstPending ? firstPending.node : null);
    box.scrollTop = box.scrollHeight;
    renderSeen();
    markRead();
  }

  function attachment(parent, a) {
    var link = el("a", "file", parent);
    link.href = a.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (IMAGES[a.type]) {
      var img = el("img", "preview", link);
      img.src = a.url;
      img.alt = a.name;
    } else {
      link.textContent = a.name + " (" + Math.max(1, Math.round(a.size / 1024)) + " KB)";
    }
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

  function showVisitor(v) {
    var box = $("visitor-details");
    box.textContent = "";
    if (!v) return;
    Object.keys(v.attributes || {}).forEach(function (k) {
      var row = el("span", "attr", box);
      el("b", "", row, k + ": ");
      row.appendChild(document.createTextNode(String(v.attributes[k])));
    });
  }

  function showVisitorOnline(online) {
    $("visitor-online").textContent = online ? "online" : "offline";
    $("visitor-online").className = "presence " + (online ? "on" : "off");
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  $("claim").addEventListener("click", function () {
    socket.send({ type: "claim", id: ChatSocket.newId(), conversation_id: current });
  });
  $("transfer").addEventListener("submit", function (event) {
    event.preventDefault();
    var to = $("transfer-to").value;
    if (to) socket.send({ type: "transfer", id: ChatSocket.newId(), conversation_id: current, agent_id: to });
  });
  $("resolve").addEventListener("click", function () {
    socket.send({ type: "resolve", id: ChatSocket.newId(), conversation_id: current });
  });

  function sendReply(event) {
    if (event) event.preventDefault();
    var input = $("reply-input"), body = input.value;
    if (!body.trim() || !current) return;
    var pending = { id: ChatSocket.newId(), conversation_id: current, body: body };
    pending.node = el("li", "msg agent pending");
    el("div", "body", pending.node, body);
    el("div", "meta", pending.node, "Sending…");
    $("messages").appendChild(pending.node);
    outbox.push(pending);
    input.value = "";
    lastTyping = 0;
    socket.send({ type: "send", id: pending.id, conversation_id: current, body: body });
  }
  $("reply").addEventListener("submit", sendReply);
  $("reply-input").addEventListener("input", function () {
    var active = $("reply-input").value.trim() !== "", now = Date.now();
    if (!current || (active && now - lastTyping < 3000)) return;
    lastTyping = active ? now : 0;
    socket.send({ type: "typing", conversation_id: current, active: active });
  });
  $("away").addEventListener("click", function () {
    socket.send({ type: "status", id: ChatSocket.newId(), away: !away });
  });
  $("reply-input").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendReply(event);
  });

  // --- the socket ----------------------------------------------------------------------------

  function onFrame(f) {
    if (f.type === "welcome") {
      me = f.agent;
      colleagues = f.agents || [];
      $("me-name").textContent = me.name;
      if (epoch && f.epoch !== epoch) currentSeq = 0;
      epoch = f.epoch;
      conversations = {};
      f.conversations.forEach(function (c) { conversations[c.id] = c; });
      renderList();
      if (current) {
        socket.send({ type: "open", id: ChatSocket.newId(), conversation_id: current, last_seq: currentSeq });
        renderHead();
      }
      outbox.forEach(function (p) {
        socket.send({ type: "send", id: p.id, conversation_id: p.conversation_id, body: p.body });
      });
    } else if (f.type === "conversation") {
      var known = conversations[f.conversation.id];
      if (known && known.last_seq > f.conversation.last_seq) return;  // an older update
      conversations[f.conversation.id] = f.conversation;
      renderList();
      if (f.conversation.id === current) renderHead();
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
        $("typing").textContent = f.active ? conversations[current].visitor.name + " is typing…" : "";
        if (f.active) typingTimer = setTimeout(function () { $("typing").textContent = ""; }, 6000);
      }
    } else if (f.type === "inbox") {
      conversations = {};
      f.conversations.forEach(function (c) { conversations[c.id] = c; });
      renderList();
      if (current) renderHead();
    } else if (f.type === "message") {
      renderMessage(f);
    } else if (f.type === "ack") {
      if (typeof f.away === "boolean") {
        away = f.away;
        $("away").textContent = away ? "Away" : "Available";
        $("away").setAttribute("aria-pressed", away ? "true" : "false");
      }
      if (typeof f.visitor_online === "boolean" && f.conversation && f.conversation.id === current) {
        showVisitorOnline(f.visitor_online);
        showVisitor(f.visitor);
        visitorReadSeq = Math.max(visitorReadSeq, f.conversation.visitor_read_seq || 0);
      }
      if (f.conversation && f.conversation.id) {
        conversations[f.conversation.id] = f.conversation;
        renderList();
        if (f.conversation.id === current) renderHead();
      }
    } else if (f.type === "error") {
      var pending = outbox.filter(function (p) { return p.id === f.id; })[0];
      if (pending && f.code !== "rate_limited") {
        outbox = outbox.filter(function (p) { return p !== pending; });
        pending.node.classList.add("failed");
        pending.node.querySelector(".meta").textContent = "Not sent: " + f.message;
      }
      notice(f.code === "already_claimed" ? "Another agent took this conversation." : f.message);
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
  }
  setInterval(function () { if (me) renderList(); }, 30000);  // keep the waiting times fresh

  api("/api/agent/me").then(function (r) {
    if (!r.ok) { showLogin(); return null; }
    return r.json();
  }).then(function (j) { if (j) begin(j.agent); }).catch(showLogin);
})();

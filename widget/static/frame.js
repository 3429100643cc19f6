/* The chat frame: runs on the chat server's origin inside an iframe of the customer's page. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var site = params.get("site") || "";
  var parentOrigin = params.get("parent") || "";
  var embedded = window.parent !== window;
  var $ = function (id) { return document.getElementById(id); };
  var t = ChatI18n.t;
  function localize(tag) {
    ChatI18n.use(tag || navigator.language);
    $("input").placeholder = t("placeholder");
    document.querySelector("label[for=input]").textContent = t("message");
    $("send").setAttribute("aria-label", t("send"));
    $("close").setAttribute("aria-label", t("close"));
    $("messages").setAttribute("aria-label", t("conversation"));
  }
  localize(params.get("lang"));
  var list = $("messages"), input = $("input"), statusLine = $("status"), banner = $("banner");

  var token = null, epoch = null, conversationId = null, agentsOnline = false, assignee = null;
  var identity = null;     // the site's signed identity for its logged-in user, if any
  var lastSeq = {};        // conversation id -> highest seq rendered
  var outbox = [];         // [{id, body, node}] sent but not acknowledged, resent on reconnect
  var resolved = false;
  var queue = null;        // {position, expected_wait} while waiting
  var socket;

  function toParent(message) {
    if (embedded && parentOrigin) window.parent.postMessage(message, parentOrigin);
  }

  function el(tag, cls, parent) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function scroll() { list.scrollTop = list.scrollHeight; }

  function minutes(seconds) {
    var m = Math.max(1, Math.round(seconds / 60));
    return m === 1 ? t("minute") : t("minutes", { n: m });
  }

  function renderStatus() {
    if (assignee && !resolved) statusLine.textContent = t("answering", { name: assignee });
    else if (queue && !resolved) {
      statusLine.textContent = (queue.position === 1 ? t("next") :
        t("position", { n: queue.position })) +
        (queue.expected_wait !== null ? " · " + minutes(queue.expected_wait) : "");
    }
    else if (agentsOnline) statusLine.textContent = t("online");
    else statusLine.textContent = t("offline");
  }

  function bubble(kind, text, meta) {
    var item = el("li", "msg " + kind);
    var body = el("div", "body", item);
    ChatSocket.richText(body, text);
    if (meta) el("div", "meta", item).textContent = meta;
    return item;
  }

  function notice(text) {
    var item = el("li", "notice");
    item.textContent = text;
    return item;
  }

  function render(m) {
    var seen = lastSeq[m.conversation_id] || 0;
    if (m.seq <= seen) return;
    lastSeq[m.conversation_id] = m.seq;
    var item;
    if (m.kind === "text") {
      var mine = m.author.type === "visitor";
      item = bubble(mine ? "mine" : "theirs", m.body,
                    (mine ? "" : (m.author.name || t("agent")) + " · ") + time(m.at));
      if (mine) {
        outbox = outbox.filter(function (p) {
          if (p.id !== m.id) return true;
          if (p.node.parentNode) p.node.parentNode.removeChild(p.node);
          return false;
        });
      } else {
        toParent({ type: "message", message: { body: m.body, author: m.author.name } });
      }
    } else if (m.kind === "joined" || m.kind === "transferred") {
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
    }
    if (!item) return;
    item.setAttribute("data-seq", m.seq);
    // Pending messages stay at the bottom until their own copy arrives.
    var firstPending = outbox.length ? outbox[0].node : null;
    list.insertBefore(item, firstPending && firstPending.parentNode === list ? firstPending : null);
    renderStatus();
    scroll();
  }

  function flush() {
    outbox.forEach(function (p) { socket.send({ type: "send", id: p.id, body: p.body }); });
  }

  function onFrame(f) {
    if (f.type === "welcome") {
      if (f.token !== token) { token = f.token; toParent({ type: "token", token: token }); }
      $("site-name").textContent = f.site.name;
      document.title = f.site.name;
      agentsOnline = f.agents_online;
      var conv = f.conversation;
      if (f.epoch !== epoch || !conv || conv.id !== conversationId) {
        // Another conversation, or the store was reset: start the list afresh.
        while (list.firstChild) list.removeChild(list.firstChild);
        lastSeq = {};
        outbox.forEach(function (p) { list.appendChild(p.node); });
      }
      epoch = f.epoch;
      conversationId = conv ? conv.id : null;
      assignee = conv && conv.assignee ? conv.assignee.name : null;
      resolved = !!conv && conv.status === "resolved";
      queue = f.queue;
      renderStatus();
      flush();
    } else if (f.type === "message") {
      render(f);
    } else if (f.type === "availability") {
      agentsOnline = f.agents_online;
      renderStatus();
    } else if (f.type === "typing") {
      if (f.author.type === "agent") showTyping(f.active ? (f.author.name || t("agent")) : null);
    } else if (f.type === "queue") {
      if (f.conversation_id === conversationId && !assignee) {
        queue = { position: f.position, expected_wait: f.expected_wait };
        renderStatus();
      }
    } else if (f.type === "ack") {
      if (f.conversation_id) conversationId = f.conversation_id;
    } else if (f.type === "conversation") {
      // Another tab opened a conversation: follow it here too.
      if (!(f.conversation.id in lastSeq)) {
        socket.send({ type: "open", id: ChatSocket.newId(), conversation_id: f.conversation.id });
      }
    } else if (f.type === "error") {
      failed(f);
    }
  }

  function failed(f) {
    var pending = outbox.filter(function (p) { return p.id === f.id; })[0];
    if (f.code === "rate_limited") {
      showBanner(t("slowDown"));
      setTimeout(flush, 2000);
      return;
    }
    if (pending) {
      outbox = outbox.filter(function (p) { return p !== pending; });
      pending.node.classList.add("failed");
      pending.node.querySelector(".meta").textContent = t("notSent", { why: f.message });
    }
  }

  function showBanner(text) {
    if (text) { banner.textContent = text; banner.removeAttribute("hidden"); }
    else banner.setAttribute("hidden", "");
  }

  function onState(state, code) {
    if (state === "online") showBanner("");
    else if (state === "reconnecting") showBanner(t("reconnecting"));
    else if (state === "failed" && code === 4402) showBanner(t("signIn"));
    else if (state === "failed") showBanner(t("unavailable", { code: code }));
  }

  var typingTimer = null, typingNode = null;
  function showTyping(name) {
    clearTimeout(typingTimer);
    if (!typingNode) {
      typingNode = el("p", "typing");
      typingNode.setAttribute("aria-live", "off");
      list.parentNode.insertBefore(typingNode, list.nextSibling);
    }
    typingNode.textContent = name ? t("typing", { name: name }) : "";
    if (name) typingTimer = setTimeout(function () { showTyping(null); }, 6000);
  }

  var lastTyping = 0;
  function typing(active) {
    var now = Date.now();
    if (active && now - lastTyping < 3000) return;
    lastTyping = active ? now : 0;
    if (socket) socket.send({ type: "typing", active: active });
  }

  function submit(event) {
    if (event) event.preventDefault();
    var body = input.value;
    if (!body.trim()) return;
    var pending = { id: ChatSocket.newId(), body: body, node: bubble("mine pending", body, t("sending")) };
    outbox.push(pending);
    list.appendChild(pending.node);
    scroll();
    input.value = "";
    typing(false);
    socket.send({ type: "send", id: pending.id, body: body });
  }

  function start(initialToken) {
    token = initialToken;
    socket = new ChatSocket(ChatSocket.url("/ws/visitor"), {
      hello: function () {
        var frame = { type: "hello", v: 1, site: site };
        if (token) frame.token = token;
        if (identity) {
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

  $("composer").addEventListener("submit", submit);
  input.addEventListener("input", function () { typing(input.value.trim() !== ""); });
  input.addEventListener("blur", function () { if (lastTyping) typing(false); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  });
  $("close").addEventListener("click", function () { toParent({ type: "close" }); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") toParent({ type: "close" });
  });

  var started = false;
  window.addEventListener("message", function (event) {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    var m = event.data || {};
    if (m.type === "init" && !started) {
      started = true;
      identity = m.identity || null;
      start(typeof m.token === "string" ? m.token : null);
      if (m.open) input.focus();
    } else if (m.type === "identify" || m.type === "reset") {
      // Someone else now: start over with a new hello.
      identity = m.type === "identify" ? m.identity : null;
      token = null; conversationId = null; epoch = null;
      while (list.firstChild) list.removeChild(list.firstChild);
      outbox = []; lastSeq = {};
      if (started) socket.restart();
    } else if (m.type === "open") {
      input.focus();
    } else if (m.type === "locale") {
      localize(m.lang);
      renderStatus();
    }
  });
  if (embedded && parentOrigin) toParent({ type: "ready" });
  else { started = true; start(null); }
})();

/* A WebSocket that keeps itself connected: backoff with jitter, an application ping that detects
 * half-dead sockets, reconnecting as soon as the browser says it is offline (its socket would
 * look alive until a ping went unanswered) and at once when it is back online or the tab is
 * shown, and the close-code ranges of docs/protocol.md (4000-4399 reconnect, 4400-4499 give up).
 * An ES module, used by the chat frame and by the agent panel. */
var w = window;
var PING_EVERY = 20000, PONG_WITHIN = 10000, MAX_BACKOFF = 15000;

function shouldReconnect(code) {
  return !(code >= 4400 && code < 4500);
}

function ChatSocket(url, options) {
  this.url = url;
  this.opts = options;
  this.ws = null;
  this.attempt = 0;
  this.stopped = false;
  this.timer = null;
  this.pingTimer = null;
  this.pongTimer = null;
  var self = this;
  w.addEventListener("offline", function () { self.drop(); });
  w.addEventListener("online", function () { self.now(true); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") self.now();
  });
}

ChatSocket.prototype.connect = function () {
  var self = this;
  if (this.stopped) return;
  clearTimeout(this.timer);
  this.timer = null;
  var ws = new WebSocket(this.url);
  this.ws = ws;
  this.opts.onState("connecting");
  ws.onopen = function () { ws.send(JSON.stringify(self.opts.hello())); self.heartbeat(); };
  ws.onmessage = function (event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (frame.type === "pong") { clearTimeout(self.pongTimer); return; }
    if (frame.type === "welcome") { self.attempt = 0; self.opts.onState("online"); }
    self.opts.onFrame(frame);
  };
  ws.onclose = function (event) {
    if (self.ws !== ws) return;
    self.ws = null;
    clearInterval(self.pingTimer);
    clearTimeout(self.pongTimer);
    if (event.code === 4401 && self.opts.onUnauthorized) {
      self.opts.onUnauthorized();
      self.schedule(0);
    } else if (shouldReconnect(event.code)) {
      self.schedule();
    } else {
      self.stopped = true;
      self.opts.onState("failed", event.code, event.reason);
    }
  };
};

ChatSocket.prototype.heartbeat = function () {
  var self = this;
  clearInterval(this.pingTimer);
  this.pingTimer = setInterval(function () {
    if (!self.send({ type: "ping" })) return;
    clearTimeout(self.pongTimer);
    self.pongTimer = setTimeout(function () { self.drop(); }, PONG_WITHIN);
  }, PING_EVERY);
};

ChatSocket.prototype.schedule = function (delay) {
  if (this.stopped || this.timer) return;
  this.opts.onState("reconnecting");
  if (delay === undefined) {
    var base = Math.min(MAX_BACKOFF, 500 * Math.pow(2, this.attempt++));
    delay = base / 2 + Math.random() * base / 2;
  }
  var self = this;
  this.timer = setTimeout(function () { self.timer = null; self.connect(); }, delay);
};

/** Reconnect at once if we are waiting to (the network or the tab came back). ``online``: the
 * network is back, so an attempt made while it was gone (it may hang) is made again. */
ChatSocket.prototype.now = function (online) {
  if (online && this.ws && this.ws.readyState === 0) this.drop();
  if (!this.ws && this.timer) { clearTimeout(this.timer); this.timer = null; this.connect(); }
};

/** Close a socket that looks dead (or the browser went offline) and schedule the reconnect. */
ChatSocket.prototype.drop = function () {
  var ws = this.ws;
  if (!ws) return;
  this.ws = null;
  clearInterval(this.pingTimer);
  clearTimeout(this.pongTimer);
  try { ws.close(); } catch (e) { /* already closing */ }
  this.schedule();
};

/** Start afresh at once (a new hello): the page's user changed. */
ChatSocket.prototype.restart = function () {
  var ws = this.ws;
  this.ws = null;
  clearInterval(this.pingTimer);
  clearTimeout(this.pongTimer);
  clearTimeout(this.timer);
  this.timer = null;
  this.attempt = 0;
  this.stopped = false;
  if (ws) { try { ws.close(); } catch (e) { /* already closing */ } }
  this.connect();
};

ChatSocket.prototype.send = function (frame) {
  if (!this.ws || this.ws.readyState !== 1) return false;
  this.ws.send(JSON.stringify(frame));
  return true;
};

ChatSocket.prototype.online = function () {
  return !!this.ws && this.ws.readyState === 1;
};

ChatSocket.newId = function () {
  if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
  var a = new Uint32Array(4);
  w.crypto.getRandomValues(a);
  return Array.prototype.map.call(a, function (n) { return n.toString(16); }).join("-");
};

ChatSocket.url = function (path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
};

var IMAGES = { "image/png": 1, "image/jpeg": 1, "image/gif": 1, "image/webp": 1 };
ChatSocket.isImage = function (a) { return !!IMAGES[a.type]; };

/** An attachment as a link: an image previewed in it, any other file by name and size. */
ChatSocket.attachment = function (parent, a, onload) {
  var link = document.createElement("a");
  link.className = "file";
  link.href = a.url;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  if (IMAGES[a.type]) {
    var img = document.createElement("img");
    img.className = "preview";
    img.src = a.url;
    img.alt = a.name;
    img.loading = "lazy";
    if (onload) img.addEventListener("load", onload);
    link.appendChild(img);
  } else {
    // The name in its own direction (a Hebrew name read "txt · 4 B.שלום" in the panel), then
    // the size in the line's.
    var n = a.size, name = document.createElement("bdi");
    name.textContent = a.name;
    link.appendChild(name);
    link.appendChild(document.createTextNode(" · " + (n < 1024 ? n + " B" : n < 1048576 ?
      Math.round(n / 1024) + " KB" : (n / 1048576).toFixed(1) + " MB")));
  }
  parent.appendChild(link);
  return link;
};

/** Text with http(s) and mailto links made clickable, built with DOM nodes only. */
ChatSocket.richText = function (parent, text) {
  var re = /\b(?:https?:\/\/[^\s<>"']+|mailto:[^\s<>"']+)/gi, last = 0, m;
  while ((m = re.exec(text)) !== null) {
    var href = m[0].replace(/[.,;:!?)\]]+$/, "");
    parent.appendChild(document.createTextNode(text.slice(last, m.index)));
    var a = document.createElement("a");
    a.href = href;
    a.textContent = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    parent.appendChild(a);
    last = m.index + href.length;
    re.lastIndex = last;
  }
  parent.appendChild(document.createTextNode(text.slice(last)));
};

export { ChatSocket };

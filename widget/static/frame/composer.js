/* Writing: the composer, sending (kept in the outbox and resent on every connect until the
 * server acknowledges it; the client-made id makes a resend harmless), typing notices and the
 * typing preview, attachments and emoji. */
import { ChatSocket } from "../socket.js";
import { append, bubble, dropRating, notSent, scrollToEnd } from "./conversation.js";
import { reason, t } from "./i18n.js";
import { $, el, state } from "./page.js";

var EMOJI = ["😀", "😂", "😊", "😍", "🤔", "😢", "😮", "😡", "👍", "👎", "👏", "🙏", "🎉", "❤️",
             "🔥", "✅", "❌", "👀", "💡", "📦", "🚚", "💳", "⏰", "👋"];
var input = $("input"), emojiPanel = $("emoji-panel"), emojiButton = $("emoji");
var lastTyping = 0, previewTimer = null;

/** The composer's height follows its text (or its placeholder) up to its max-height, then it
 * scrolls: CSS does it where the browser has field-sizing; else this, whenever the text or the
 * placeholder changes, and when the composer is shown or its width changes (the frame opened,
 * a phone turned). */
var grows = !!(window.CSS && CSS.supports("field-sizing", "content"));
input.classList.toggle("grows", grows);
export function fit() {
  if (grows || !input.clientWidth) return;  // (hidden: nothing to measure)
  input.style.height = "auto";
  input.style.height = input.offsetHeight - input.clientHeight + input.scrollHeight + "px";
}
// (In the next frame: a size changed by the observer's own callback would be a loop.)
if (!grows && window.ResizeObserver) {
  new ResizeObserver(function () { requestAnimationFrame(fit); }).observe(input);
}

/** Resent on every (re)connect until the server acknowledges it. */
export function request(frame) {
  state.pending[frame.id] = frame;
  if (state.socket) state.socket.send(frame);
}

/** The visitor writes after a resolved conversation (or asked for a new one): the next message
 * opens a new one. */
export function startNew() {
  if (state.resolved || state.fresh) {
    state.fresh = true;
    dropRating();
  }
}

export function send(body, id) {
  queue({ id: id || ChatSocket.newId(), body: body,
          node: bubble("mine pending", body, t("sending")) });
}

function queue(p) {
  state.outbox.push(p);
  append(p.node);
  next();
}

/** The outbox goes one message at a time, in the order written: the next once the one before
 * is stored (its ack or its frame took it out of the outbox). Sent all at once, one refused for
 * a while (too fast, the store busy) and sent again could be stored after a later one. A file
 * goes up when its turn comes and the widget is connected (it may have been picked before the
 * first welcome, when there was no token yet), then is sent like the rest. Called after every
 * frame from the server (connection.js). */
export function next() {
  var p = state.outbox[0];
  if (!p || p.sent || !state.socket) return;
  if (p.file) {
    if (!p.uploading && state.token && state.socket.online()) put(p);
    return;
  }
  p.sent = true;
  var frame = { type: "send", id: p.id };
  if (p.body) frame.body = p.body;
  if (p.attachment) frame.attachment = p.attachment.id;
  state.socket.send(frame);
}

/** After a (re)connect, or a refusal to try again: what is not yet acknowledged, again. */
export function flush() {
  state.outbox.forEach(function (p) { p.sent = false; });
  next();
  Object.keys(state.pending).forEach(function (id) { state.socket.send(state.pending[id]); });
}

// What was written and not yet stored when the page went (a reload, the next page of the site)
// is kept in this tab, and written again after the next welcome of the same visitor (``token``:
// the one its hello gave), with the same ids: one stored meanwhile is its own duplicate, shown
// once. (Files are not kept.)
addEventListener("pagehide", function () {
  try {
    sessionStorage.lcOut = JSON.stringify([state.token, state.outbox.filter(function (p) {
      return !p.file && !p.attachment;
    })]);
  } catch (e) {}
});
export function unsent(token) {
  try {
    var kept = JSON.parse(sessionStorage.lcOut);
    sessionStorage.removeItem("lcOut");
    // (One still in the outbox, the page back from the back-forward cache, is there twice
    // until its ack: both go with the message the ack brings.)
    if (kept[0] === token) kept[1].forEach(function (m) { send(m.body, m.id); });
  } catch (e) {}
}

export function typing(active) {
  var now = Date.now();
  if (state.siteInfo.typing_preview && active) return preview();
  if (active && now - lastTyping < 3000) return;
  lastTyping = active ? now : 0;
  if (state.socket) state.socket.send({ type: "typing", active: active });
}
/** The site shows agents what is being typed (the visitor is told, under the composer):
 * the text, at most every 600 ms. */
function preview() {
  if (previewTimer) return;
  previewTimer = setTimeout(function () {
    previewTimer = null;
    var text = input.value.slice(0, 1000);
    lastTyping = Date.now();
    if (state.socket) state.socket.send({ type: "typing", active: text.trim() !== "", text: text });
  }, 600);
}

export function submit(event) {
  if (event) event.preventDefault();
  var body = input.value;
  if (!body.trim()) return;
  startNew();
  input.value = "";
  fit();
  typing(false);
  send(body);
}

/** A file picked: at once a pending bubble with its name (as text); its link replaces it once
 * it has gone up (next). */
export function upload(file) {
  if (!file) return;
  startNew();
  var node = bubble("mine pending", "", t("uploading", { name: file.name }));
  var name = el("div", "text", node.querySelector(".body"), file.name);
  queue({ id: ChatSocket.newId(), file: file, name: name, node: node });
}

/* An upload that has not answered within a minute, and a second more for every 32 KB of the
 * file (as slow as 256 kbit/s goes through), is given up: it fails like a refused one, and the
 * messages after it go (docs/embedding.md, What visitors get). */
function put(p) {
  p.uploading = true;
  var node = p.node, body = node.querySelector(".body"), stop = new AbortController();
  var gone = function () { return state.outbox.indexOf(p) < 0; };  // (reset: main.js)
  var timer = setTimeout(function () { stop.abort(); }, 6e4 + p.file.size / 32);
  fetch("/api/files", {
    method: "POST", body: p.file, credentials: "omit", signal: stop.signal,
    headers: { "Authorization": "Bearer " + state.token,
               "X-File-Name": encodeURIComponent(p.file.name) }
  }).then(function (r) {
    return r.json().then(function (data) {
      if (!r.ok) throw Object.assign(new Error(data.message || r.status), { code: data.error });
      return data;
    });
  }).then(function (a) {
    if (gone()) return;
    p.file = null;
    p.attachment = a;
    body.removeChild(p.name);
    ChatSocket.attachment(body, a, scrollToEnd);
    if (ChatSocket.isImage(a)) body.classList.add("media");
    node.querySelector(".meta").textContent = t("sending");
  }).catch(function (e) {
    if (gone()) return;
    state.outbox = state.outbox.filter(function (o) { return o !== p; });
    // No code: the request itself failed (the network, or an answer that was not ours).
    notSent(node, stop.signal.aborted ? t("tooLong")
      : e.code ? reason(e.code, e.message) : t("uploadFailed"));
  }).then(function () {
    clearTimeout(timer);
    next();
  });
}

export function toggleEmoji(show) {
  emojiPanel.hidden = !show;
  emojiButton.setAttribute("aria-expanded", String(show));
  if (show) emojiPanel.firstChild.focus();
}

/** The composer's own controls. */
export function setUpComposer() {
  EMOJI.forEach(function (e) {
    var b = el("button", null, emojiPanel, e);
    b.type = "button";
    b.addEventListener("click", function () {
      var at = input.selectionStart || input.value.length;
      input.value = input.value.slice(0, at) + e + input.value.slice(input.selectionEnd || at);
      input.selectionStart = input.selectionEnd = at + e.length;
      fit();
      toggleEmoji(false);
      input.focus();
    });
  });
  $("composer").addEventListener("submit", submit);
  input.addEventListener("input", function () { fit(); typing(input.value.trim() !== ""); });
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
}

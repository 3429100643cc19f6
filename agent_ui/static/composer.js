/* Writing: replies and internal notes, canned responses (/shortcut, placeholders filled in and
 * editable), help articles (#word: a link to the article, which the visitor sees as a card),
 * attachments, and typing notices. */
import { ChatSocket } from "/widget/static/socket.js";
import { $, clear, el } from "./kit.js";
import { t } from "./i18n.js";
import { renderHead, toEnd } from "./conversation.js";
import { announce } from "./notifications.js";
import { request, state, summary } from "./state.js";

var pickerItems = [], pickerIndex = 0, lastTyping = 0, pickerKind = "canned";
var articleAsked = 0, articleTimer = 0;

export function noteMode() {
  return document.querySelector("input[name=mode]:checked").value === "note";
}

export function setMode(note) {
  document.querySelector("input[name=mode][value=" + (note ? "note" : "reply") + "]")
    .checked = true;
  $("reply").classList.toggle("noting", note);
  renderHead();
}

function sendReply(event) {
  if (event) event.preventDefault();
  var input = $("reply-input"), body = input.value;
  if (!body.trim() || !state.current) return;
  var note = noteMode();
  var p = { id: ChatSocket.newId(), conversation_id: state.current, body: body,
            type: note ? "note" : "send" };
  if (note) p.mentions = mentions(body);
  p.node = el("li", "msg pending " + (note ? "note" : "agent"));
  el("div", "body", p.node, body);
  el("div", "meta", p.node, t("Sending…"));
  $("messages").appendChild(p.node);
  toEnd();
  state.outbox.push(p);
  input.value = "";
  closePicker();
  lastTyping = 0;
  state.socket.send(frame(p));
}

/** The frame of a reply or note ``p`` (sent, or sent again). */
function frame(p) {
  var f = { type: p.type, id: p.id, conversation_id: p.conversation_id, body: p.body };
  if (p.mentions && p.mentions.length) f.mentions = p.mentions;
  return f;
}

/** Colleagues a note names as "@Name" (picked with "@", or typed): each is told. The longest
 * names first, each taken out once found: "@Ana Lima" is not also for a colleague "Ana". */
function mentions(body) {
  var rest = body.toLowerCase(), ids = [];  // ("@ana lima", typed so, is for her too)
  mentionable().sort(function (a, b) { return b.name.length - a.name.length; })
    .forEach(function (a) {
      var tag = "@" + a.name.toLowerCase();
      if (rest.indexOf(tag) < 0) return;
      ids.push(a.id);
      rest = rest.split(tag).join(" ");
    });
  return ids;
}
/** Whether ``q`` (lower case) starts a colleague's name, or its part from any word on: "li"
 * and "ana lima s" both find "Ana Lima Souza". */
function nameStarts(name, q) {
  var words = name.toLowerCase().split(/\s+/);
  return words.some(function (w, i) { return words.slice(i).join(" ").indexOf(q) === 0; });
}
/** Colleagues a note can be for: people of the conversation's site, not me. */
function mentionable() {
  var c = summary(state.current);
  return state.colleagues.filter(function (a) {
    return a.id !== state.me.id && String(a.id).indexOf("bot_") !== 0 && !!c &&
      (a.sites || []).indexOf(c.site_id) >= 0;
  });
}

/** After a reconnect: what was not acknowledged, again (the id makes it harmless). */
export function resend() {
  state.outbox.forEach(function (p) { state.socket.send(frame(p)); });
}

function fill(text) {
  var v = state.currentVisitor || {}, me = state.me;
  var first = function (n) { return (n || "").split(" ")[0]; };
  var there = "there";  // canned texts are written in the site's language, not the panel's
  var values = {
    "visitor.name": v.named ? v.name : there, "visitor.first_name": v.named ? first(v.name) : there,
    "visitor.email": v.email || "", "agent.name": me.name, "agent.first_name": first(me.name)
  };
  return text.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, function (whole, key) {
    return key in values ? values[key] : whole;
  });
}

function closePicker() { $("canned-picker").hidden = true; pickerItems = []; articleAsked++; }
function renderPicker() {
  var box = $("canned-picker");
  clear(box);
  box.setAttribute("aria-label", pickerKind === "article" ? t("Help articles")
    : pickerKind === "mention" ? t("Colleagues") : t("Canned responses"));
  pickerItems.forEach(function (c, i) {
    var option = el("div", "option" + (i === pickerIndex ? " active" : ""), box);
    option.id = "picker-option-" + i;
    option.setAttribute("role", "option");
    option.setAttribute("aria-selected", String(i === pickerIndex));
    if (pickerKind === "article") {
      el("b", "", option, c.title + " ");
      el("span", "", option, c.lang + " · " + c.excerpt.slice(0, 80));
    } else if (pickerKind === "mention") {
      el("b", "", option, "@" + c.name).dir = "auto";
    } else {
      el("b", "", option, "/" + c.shortcut + " ");
      el("span", "", option, c.body.slice(0, 80));
    }
    option.addEventListener("mousedown", function (event) { event.preventDefault(); pick(i); });
  });
  box.hidden = !pickerItems.length;
  var input = $("reply-input");
  if (pickerItems.length) input.setAttribute("aria-activedescendant", "picker-option-" + pickerIndex);
  else input.removeAttribute("aria-activedescendant");
}
function pick(i) {
  var c = pickerItems[i], input = $("reply-input");
  if (!c) return;
  if (pickerKind === "article") {
    // "#word" becomes the article's title and its link: the widget shows it as a card.
    var at = input.selectionStart, before = input.value.slice(0, at).replace(/#[^\s#]*$/, "");
    var link = c.title + ": " + c.url + " ";
    input.value = before + link + input.value.slice(at);
    input.selectionStart = input.selectionEnd = before.length + link.length;
  } else if (pickerKind === "mention") {
    // "@an" becomes "@Ana Lima ": the note is for her (sendReply finds the name).
    var end = input.selectionStart, start = input.value.slice(0, end).replace(/@[^@\n]*$/, "");
    var name = "@" + c.name + " ";
    input.value = start + name + input.value.slice(end);
    input.selectionStart = input.selectionEnd = start.length + name.length;
  } else {
    input.value = fill(c.body);  // filled in, and editable before sending
  }
  closePicker();
  input.focus();
}
/** "#word" just before the cursor: the site's published articles that match it. */
function findArticles(site, q) {
  clearTimeout(articleTimer);
  var mine = ++articleAsked;
  articleTimer = setTimeout(function () {
    fetch("/api/agent/articles?site=" + encodeURIComponent(site) + "&q=" + encodeURIComponent(q),
          { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
      if (mine !== articleAsked) return;
      pickerKind = "article";
      pickerItems = j.articles || [];
      pickerIndex = 0;
      renderPicker();
    });
  }, 150);
}

function attach() {
  var file = $("file").files[0], id = state.current;
  $("file").value = "";
  if (!file || !id) return;
  fetch("/api/files", { method: "POST", body: file, credentials: "same-origin",
                        headers: { "X-File-Name": encodeURIComponent(file.name) } })
    .then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.message); return j; });
    })
    .then(function (a) {
      request({ type: "send", conversation_id: id, attachment: a.id }, function (f) {
        if (f.type === "error") announce(f.message);
      });
    })
    .catch(function (e) { announce(t("Not sent: {why}", { why: e.message })); });
}

export function setUpComposer() {
  document.querySelectorAll("input[name=mode]").forEach(function (r) {
    r.addEventListener("change", function () {
      $("reply").classList.toggle("noting", noteMode());
      renderHead();
      $("reply-input").focus();
    });
  });
  $("reply").addEventListener("submit", sendReply);
  $("reply-input").addEventListener("input", function () {
    var input = $("reply-input"), m = /^\/([a-z0-9_-]*)$/.exec(input.value);
    var c = summary(state.current);
    var hash = /(^|\s)#([^\s#]{0,40})$/.exec(input.value.slice(0, input.selectionStart));
    // "@" and the start of a colleague's name (of any of its words, spaces and all), in a note:
    // the picker stays while someone's name goes on so ("@Ana Lima S": Ana Lima Souza).
    var at = /(^|\s)@([^@\n]{0,40})$/.exec(input.value.slice(0, input.selectionStart));
    var named = at && c && noteMode() ? mentionable().filter(function (a) {
      return nameStarts(a.name, at[2].toLowerCase());
    }).slice(0, 8) : [];
    if (named.length || (at && c && noteMode() && !/\s/.test(at[2]))) {
      pickerKind = "mention";
      pickerItems = named;
      pickerIndex = 0;
      renderPicker();
    } else if (m && c) {
      pickerKind = "canned";
      pickerItems = state.canned.filter(function (x) {
        return x.site_id === c.site_id && x.shortcut.indexOf(m[1]) === 0;
      });
      pickerIndex = 0;
      renderPicker();
    } else if (hash && c && !noteMode()) {
      findArticles(c.site_id, hash[2]);
    } else closePicker();
    if (noteMode()) return;
    var active = input.value.trim() !== "" && !m, now = Date.now();
    if (!state.current || (active && now - lastTyping < 3000)) return;
    lastTyping = active ? now : 0;
    state.socket.send({ type: "typing", conversation_id: state.current, active: active });
  });
  $("reply-input").addEventListener("keydown", function (event) {
    if (!$("canned-picker").hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        pickerIndex = (pickerIndex + (event.key === "ArrowDown" ? 1 : pickerItems.length - 1)) %
          pickerItems.length;
        renderPicker();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); pick(pickerIndex); return; }
      if (event.key === "Escape") { event.preventDefault(); closePicker(); return; }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendReply(event);
  });
  $("attach").addEventListener("click", function () { $("file").click(); });
  $("file").addEventListener("change", attach);
}

/** A refused reply: marked, with why. */
export function refused(f) {
  var p = state.outbox.filter(function (o) { return o.id === f.id; })[0];
  if (p && f.code === "unavailable") {
    // Nothing was written: the same frame (same id) goes again after the server's delay.
    setTimeout(function () {
      if (state.outbox.indexOf(p) >= 0) state.socket.send(frame(p));
    }, Math.max(500, Math.min(f.retry_after || 2000, 30000)));
    return true;
  }
  if (p && f.code !== "rate_limited") {
    state.outbox = state.outbox.filter(function (o) { return o !== p; });
    p.node.classList.remove("pending");  // (not faded as if on its way)
    p.node.classList.add("failed");
    p.node.querySelector(".meta").textContent = t("Not sent: {why}", { why: f.message });
  }
  return !!p;
}

/* The Mentions view: the notes colleagues wrote for this agent (their "@"), newest first, each
 * with its conversation as it is now (docs/protocol.md, ``mentions``). */

import { $, el } from "./kit.js";
import { t, when } from "./i18n.js";
import { request, state } from "./state.js";

/** The notes, asked for again (at every welcome, and at each new one); ``done`` draws the list
 * with them. One whose conversation I have not opened since is new: "mentioned you" on its
 * conversation's line too, after a reload as well. */
export function loadMentions(done) {
  request({ type: "mentions" }, function (f) {
    if (f.type !== "ack") return;
    var before = newMentions(), marked = false, listed = {}, unseen = {};
    state.mentionNotes = f.mentions;
    f.mentions.forEach(function (m) {
      var id = m.conversation.id;
      // One in the conversation on screen, shown in a visible tab: seen (its "read", within a
      // quarter second, says so to the server).
      if (id === state.current && m.message.seq <= state.currentSeq &&
          document.visibilityState === "visible") m.seen = true;
      listed[id] = true;
      if (!m.seen) unseen[id] = true;
    });
    Object.keys(unseen).forEach(function (id) {
      if (id !== state.current && !state.mentioned[id]) state.mentioned[id] = marked = true;
    });
    // Seen since, on another panel of mine: its conversation's line says so no more.
    Object.keys(state.mentioned).forEach(function (id) {
      if (listed[id] && !unseen[id]) { delete state.mentioned[id]; marked = true; }
    });
    // (Drawn again only for a change: a list drawn again takes the focus back by script, and
    // a focus ring shown after a click would go.)
    if (state.view === "mentions" || marked || newMentions() !== before) done();
  });
}

/** How many notes for me are new (the Mentions tab's count). */
export function newMentions() {
  return state.mentionNotes.filter(function (m) { return !m.seen; }).length;
}

/** I opened a conversation, or read it up to ``upTo``: its notes for me (up to there) are
 * seen (the server marks them so too); the tab's count says so. Whether one was new. */
export function seenMentions(id, upTo) {
  var changed = false;
  state.mentionNotes.forEach(function (m) {
    if (m.conversation.id === id && !m.seen && (upTo === undefined || m.message.seq <= upTo)) {
      m.seen = changed = true;
    }
  });
  showMentionCount();
  return changed;
}

/** The Mentions tab's count of new notes. */
export function showMentionCount() {
  var fresh = newMentions();
  $("count-mentions").textContent = fresh;
  $("count-mentions").hidden = !fresh;
}

/** One line per note: the visitor, when, who wrote what; ``open`` opens its conversation,
 * ``line`` makes a line of the list (inbox.js, which imports this module). */
export function renderMentions(list, open, line) {
  if (!state.mentionNotes.length) el("li", "none", list, t("Nobody has mentioned you yet."));
  state.mentionNotes.forEach(function (m) {
    var c = state.conversations[m.conversation.id] || m.conversation;
    if (!state.conversations[c.id]) state.known[c.id] = c;  // (to open: resolved, say)
    // (A conversation may have several: the focus finds its line by the note.)
    var button = line(list, c, c.id + ":" + m.message.seq);
    el("span", "when", button, when(m.message.at));
    // The colleague's name and the note, each in its own direction.
    el("span", "preview", button, "\u2068" + m.message.author.name + "\u2069: " +
       m.message.body).dir = "auto";
    var meta = el("span", "meta", button);
    if (!m.seen) el("span", "unread mention", meta, t("mentioned you"));
    if (c.status === "resolved") el("span", "who", meta, t("Resolved"));
    button.addEventListener("click", function () { open(c.id); });
  });
}

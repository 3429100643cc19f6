/* After a conversation is resolved: the rating card (1 to 5 stars and a comment), and a way to
 * start a new conversation. */
import { ChatSocket } from "../socket.js";
import { request } from "./composer.js";
import { resetList } from "./conversation.js";
import { t } from "./i18n.js";
import { renderIntake } from "./intake.js";
import { renderStatus } from "./status.js";
import { $, el, state } from "./page.js";

var card = null;
// The visitor sent a rating here: once it is taken, focus goes to the thanks (or, until that
// comes, to the card's link), not to the page's body with the form it was in.
var sent = false;

/** Focus is in the card, or was lost with a part of it that went. */
function focusHere() {
  var a = document.activeElement;
  return !a || a === document.body || !!(card && card.contains(a));
}

export function renderRatingCard() {
  var wanted = state.resolved && !state.fresh && state.conversationId;
  var hadFocus = focusHere();
  if (card && (!wanted || (state.rating && card.getAttribute("data-rated") !== "1"))) {
    card.parentNode.removeChild(card);
    card = null;
  }
  if (wanted && !card) build();
  if (sent && state.rating && card && hadFocus) {
    var thanks = $("messages").querySelectorAll(".thanks"), to = thanks[thanks.length - 1];
    if (to) { sent = false; to.tabIndex = -1; } else to = card.querySelector(".link");
    to.focus();
  }
}

/** The stars: a radio group (one tab stop; the arrows move and choose, Home and End too),
 * filled up to the one chosen. */
function starGroup(form, onChoose) {
  var stars = el("div", "stars", form), chosen = 0;
  stars.setAttribute("role", "radiogroup");
  stars.setAttribute("aria-label", t("rateTitle"));
  function choose(n, focus) {
    chosen = n;
    Array.prototype.forEach.call(stars.children, function (s, i) {
      s.setAttribute("aria-checked", String(i + 1 === n));
      s.tabIndex = i + 1 === (n || 1) ? 0 : -1;
      s.classList.toggle("on", i < n);
    });
    if (focus) stars.children[n - 1].focus();
    if (n) onChoose(n);
  }
  [1, 2, 3, 4, 5].forEach(function (n) {
    var b = el("button", "star", stars, "★");
    b.type = "button";
    b.setAttribute("role", "radio");
    b.setAttribute("aria-label", t("stars", { n: n }));
    b.addEventListener("click", function () { choose(n); });
  });
  stars.addEventListener("keydown", function (event) {
    var k = event.key, step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[k];
    // (Right to left, the first star is on the right.)
    if (/Right|Left/.test(k) && document.documentElement.dir === "rtl") step = -step;
    var at = Array.prototype.indexOf.call(stars.children, event.target);
    var n = k === "Home" ? 1 : k === "End" ? 5 : step ? (at + step + 5) % 5 + 1 : 0;
    if (!n || at < 0) return;
    event.preventDefault();
    choose(n, true);
  });
  choose(0);
}

function build() {
  card = el("li", "card");
  if (state.rating) {
    card.setAttribute("data-rated", "1");
  } else {
    var form = el("form", "rate", card), chosen = 0, submitButton;
    el("p", "ask", form, t("rateTitle"));
    starGroup(form, function (n) { chosen = n; submitButton.disabled = false; });
    var comment = el("textarea", "comment", form);
    comment.rows = 2;
    comment.maxLength = 1000;
    comment.setAttribute("aria-label", t("comment"));
    comment.placeholder = t("comment");
    submitButton = el("button", "primary", form, t("rate"));
    submitButton.type = "submit";
    submitButton.disabled = true;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!chosen) return;
      var frame = { type: "rate", id: ChatSocket.newId(), conversation_id: state.conversationId,
                    score: chosen };
      if (comment.value.trim()) frame.comment = comment.value.trim();
      submitButton.disabled = true;
      sent = true;
      request(frame);
    });
  }
  var again = el("button", "link", card, t("newConversation"));
  again.type = "button";
  again.addEventListener("click", function () {
    state.fresh = true;
    resetList();
    card = null;
    renderIntake();
    renderStatus();
    if ($("intake").hidden) $("input").focus();
  });
  $("messages").appendChild(card);
}

/** The visitor writes after a resolved conversation: the next message opens a new one. */
export function dropRatingCard() {
  if (card && card.parentNode) card.parentNode.removeChild(card);
  card = null;
}

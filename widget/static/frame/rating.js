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

export function renderRatingCard() {
  var wanted = state.resolved && !state.fresh && state.conversationId;
  if (card && (!wanted || (state.rating && card.getAttribute("data-rated") !== "1"))) {
    card.parentNode.removeChild(card);
    card = null;
  }
  if (!wanted || card) return;
  card = el("li", "card");
  if (state.rating) {
    card.setAttribute("data-rated", "1");
  } else {
    var form = el("form", "rate", card);
    el("p", "ask", form, t("rateTitle"));
    var stars = el("div", "stars", form), chosen = 0;
    stars.setAttribute("role", "group");
    stars.setAttribute("aria-label", t("rateTitle"));
    var submitButton;
    [1, 2, 3, 4, 5].forEach(function (n) {
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
    });
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

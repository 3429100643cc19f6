/* Under a message, a card for each of its links to this server's help-centre articles (among
 * its first three links, as the visitor's widget shows them): "Help article", the title and its
 * first words, a link that opens the article's page in a new tab. Each address is looked up
 * once per site (GET /api/agent/articles/by-url); a link that names no published article of the
 * conversation's site stays a plain link. Everything is put on the page as text. */
import { el } from "./kit.js";
import { t } from "./i18n.js";

// Any origin: the links carry the server's public address (LIVECHAT_PUBLIC_URL), which may not
// be the one this panel was opened on; the server tells which links are its own.
var HELP = /^https?:\/\/[^\/?#]+\/help\/[^\/?#]+\/[^\/?#]+\/[^\/?#]+$/;
var looked = {};  // site + " " + address -> a promise of its article, or of null

function lookUp(site, url) {
  var key = site + " " + url;
  if (!looked[key]) {
    looked[key] = fetch("/api/agent/articles/by-url?site=" + encodeURIComponent(site) +
                        "&url=" + encodeURIComponent(url), { credentials: "same-origin" })
      .then(function (r) {
        if (r.ok) return r.json().then(function (j) { return j.article; });
        if (r.status === 401 || r.status >= 500) delete looked[key];  // asked again later
        return null;
      }, function () { delete looked[key]; return null; });
  }
  return looked[key];
}

/** Cards after ``text`` (a message's text, its links made by ChatSocket.richText) for the
 * help articles of ``site`` it links to; ``shown`` is called when one appears. */
export function articleCards(text, site, shown) {
  // Among its first three links, as the widget does (the visitor sees the same cards).
  var links = Array.prototype.slice.call(text.querySelectorAll("a"), 0, 3).filter(function (a) {
    return HELP.test(a.href);
  });
  if (!site || !links.length) return;
  var box = el("div", "kb-cards", text.parentNode);
  links.forEach(function (a) {
    var card = el("a", "kb-card", box);  // in the links' order, whichever answers first
    card.hidden = true;
    lookUp(site, a.href).then(function (art) {
      if (!art) {
        box.removeChild(card);
        if (!box.firstChild && box.parentNode) box.parentNode.removeChild(box);
        return;
      }
      card.href = art.url;
      card.target = "_blank";
      card.rel = "noopener";
      el("span", "kb-card-label", card, t("Help article"));
      // The article's words in its own language and direction; the label in the panel's.
      [["kb-card-title", art.title], ["kb-card-excerpt", art.excerpt]].forEach(function (x) {
        if (!x[1]) return;
        var span = el("span", x[0], card, x[1]);
        span.lang = art.lang;
        span.dir = "auto";
      });
      card.hidden = false;
      if (shown) shown();
    });
  });
}

/* The knowledge base inside the chat frame: results as the visitor types in the search box, an
 * article with a way back, "Did this answer your question?" and "Still need help? Chat with
 * us", and up to three suggested articles under the composer while a first message is written.
 * Fetched only when used (main.js imports it), with its own stylesheet and its own words in
 * every language of the frame, so that visitors who never search download none of it.
 * An article's body comes from the server as sanitised HTML (server/kb.py); it is parsed into
 * an inert document and its nodes moved in. Everything else is put on the page as text. */
import { lang } from "./i18n.js";
import { focusIntake } from "./intake.js";
import { $, clear, el, page, state } from "./page.js";

var WORDS = {
  en: { article: "Help article", results: "Help articles", found: "Articles found: {n}",
        none: "No articles match. Try other words, or chat with us.", back: "Back",
        still: "Still need help? Chat with us", helped: "Did this answer your question?",
        yes: "Yes", no: "No", thanks: "Thanks for telling us.",
        suggested: "These articles may answer your question", sendAnyway: "Send anyway",
        helpCentre: "Open in the help centre", error: "Articles can't be shown right now." },
  pt: { article: "Artigo de ajuda", results: "Artigos de ajuda", found: "Artigos encontrados: {n}",
        none: "Nenhum artigo corresponde. Experimente outras palavras, ou fale connosco.",
        back: "Voltar", still: "Ainda precisa de ajuda? Fale connosco",
        helped: "Isto respondeu à sua pergunta?", yes: "Sim", no: "Não",
        thanks: "Obrigado por nos dizer.",
        suggested: "Estes artigos podem responder à sua pergunta", sendAnyway: "Enviar mesmo assim",
        helpCentre: "Abrir no centro de ajuda", error: "Não é possível mostrar os artigos agora." },
  el: { article: "Άρθρο βοήθειας", results: "Άρθρα βοήθειας", found: "Άρθρα που βρέθηκαν: {n}",
        none: "Κανένα άρθρο δεν ταιριάζει. Δοκιμάστε άλλες λέξεις ή μιλήστε μαζί μας.",
        back: "Πίσω", still: "Χρειάζεστε ακόμη βοήθεια; Μιλήστε μαζί μας",
        helped: "Απάντησε αυτό στην ερώτησή σας;", yes: "Ναι", no: "Όχι",
        thanks: "Ευχαριστούμε που μας το είπατε.",
        suggested: "Αυτά τα άρθρα ίσως απαντούν στην ερώτησή σας",
        sendAnyway: "Αποστολή ούτως ή άλλως", helpCentre: "Άνοιγμα στο κέντρο βοήθειας",
        error: "Τα άρθρα δεν μπορούν να εμφανιστούν τώρα." },
  es: { article: "Artículo de ayuda", results: "Artículos de ayuda", found: "Artículos encontrados: {n}",
        none: "Ningún artículo coincide. Pruebe con otras palabras o hable con nosotros.",
        back: "Volver", still: "¿Todavía necesita ayuda? Hable con nosotros",
        helped: "¿Esto respondió a su pregunta?", yes: "Sí", no: "No",
        thanks: "Gracias por decírnoslo.",
        suggested: "Estos artículos pueden responder a su pregunta",
        sendAnyway: "Enviar de todos modos", helpCentre: "Abrir en el centro de ayuda",
        error: "No se pueden mostrar los artículos ahora." },
  fr: { article: "Article d’aide", results: "Articles d’aide", found: "Articles trouvés : {n}",
        none: "Aucun article ne correspond. Essayez d’autres mots, ou écrivez-nous.",
        back: "Retour", still: "Besoin d’aide ? Écrivez-nous",
        helped: "Cela a-t-il répondu à votre question ?", yes: "Oui", no: "Non",
        thanks: "Merci de nous l’avoir dit.",
        suggested: "Ces articles peuvent répondre à votre question",
        sendAnyway: "Envoyer quand même", helpCentre: "Ouvrir dans le centre d’aide",
        error: "Les articles ne peuvent pas être affichés pour le moment." },
  de: { article: "Hilfeartikel", results: "Hilfeartikel", found: "Gefundene Artikel: {n}",
        none: "Kein Artikel passt. Versuchen Sie andere Wörter oder schreiben Sie uns.",
        back: "Zurück", still: "Brauchen Sie noch Hilfe? Schreiben Sie uns",
        helped: "Hat das Ihre Frage beantwortet?", yes: "Ja", no: "Nein",
        thanks: "Danke für Ihre Rückmeldung.",
        suggested: "Diese Artikel beantworten vielleicht Ihre Frage",
        sendAnyway: "Trotzdem senden", helpCentre: "Im Hilfe-Center öffnen",
        error: "Die Artikel können gerade nicht angezeigt werden." },
  ar: { article: "مقالة مساعدة", results: "مقالات المساعدة", found: "المقالات التي وُجدت: {n}",
        none: "لا توجد مقالة مطابقة. جرّب كلمات أخرى، أو تحدّث معنا.", back: "رجوع",
        still: "هل ما زلت بحاجة إلى مساعدة؟ تحدّث معنا", helped: "هل أجاب هذا عن سؤالك؟",
        yes: "نعم", no: "لا", thanks: "شكرًا لإخبارنا.",
        suggested: "قد تجيب هذه المقالات عن سؤالك", sendAnyway: "أرسل على أي حال",
        helpCentre: "افتح في مركز المساعدة", error: "لا يمكن عرض المقالات الآن." },
  he: { article: "מאמר עזרה", results: "מאמרי עזרה", found: "מאמרים שנמצאו: {n}",
        none: "אין מאמר מתאים. נסו מילים אחרות, או דברו איתנו.", back: "חזרה",
        still: "עדיין צריכים עזרה? דברו איתנו", helped: "האם זה ענה על השאלה שלך?",
        yes: "כן", no: "לא", thanks: "תודה שסיפרת לנו.",
        suggested: "ייתכן שמאמרים אלה עונים על שאלתך", sendAnyway: "לשלוח בכל זאת",
        helpCentre: "פתיחה במרכז העזרה", error: "לא ניתן להציג את המאמרים כרגע." }
};
export { WORDS };

function w(key, slots) {
  var text = (WORDS[lang()] || WORDS.en)[key] || WORDS.en[key];
  return text.replace(/\{(\w+)\}/g, function (_, k) { return String(slots[k]); });
}

var style = new Promise(function (resolve) {
  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/widget/static/kb.css";
  link.onload = link.onerror = resolve;
  document.head.appendChild(link);
});
var box = $("kb"), chat = document.querySelector(".chat"), query = $("kb-q");
var suggestions = $("kb-suggest"), input = $("input");
var writing = input;  // where the first message is being written: the composer, or the form's
var live = el("p", "sr-only", document.body);
live.setAttribute("aria-live", "polite");
var timer = 0, logTimer = 0, suggestTimer = 0, asked = 0, suggestAsked = 0;
var results = null, opener = null, logged = "", shownSuggestions = "";

function enc(s) { return encodeURIComponent(s); }
function get(path) {
  return fetch(path, { credentials: "omit" }).then(function (r) {
    return r.json().then(function (j) {
      if (!r.ok) throw new Error(j.message || r.status);
      return j;
    });
  });
}
function find(q, limit) {
  return get("/widget/kb/search?site=" + enc(page.site) + "&lang=" + enc(lang()) + "&limit=" +
             limit + "&q=" + enc(q.slice(0, 200))).then(function (j) { return j.articles; });
}
/** What the visitor did, for the site's reports (never waited for). */
function tell(type, fields) {
  if (!state.token) return;
  fields.type = type;
  fields.token = state.token;
  fetch("/widget/kb/events", { method: "POST", credentials: "omit", keepalive: true,
                               headers: { "Content-Type": "application/json" },
                               body: JSON.stringify(fields) }).catch(function () {});
}
function say(text) { live.textContent = text; }

function show() { chat.classList.add("kb-open"); box.hidden = false; }
function hide() { chat.classList.remove("kb-open"); box.hidden = true; clear(box); results = null; }

// --- searching -----------------------------------------------------------------------------

/** The search box changed (or, ``now``, the visitor pressed Enter). */
export function search(now) {
  clearTimeout(timer);
  clearTimeout(logTimer);
  var q = query.value.trim();
  if (!q) { hide(); say(""); return; }
  timer = setTimeout(function () { run(q); }, now ? 0 : 180);
  // A search is remembered once the visitor stops typing (not every prefix of it).
  logTimer = setTimeout(function () {
    if (q === logged) return;
    logged = q;
    tell("search", { q: q, lang: lang() });
  }, now ? 0 : 1500);
}

function run(q) {
  var mine = ++asked;
  Promise.all([style, find(q, 10)]).then(function (r) {
    if (mine === asked) list(r[1]);
  }).catch(function () { if (mine === asked) failed(); });
}

function failed() {
  show();
  clear(box);
  el("p", "kb-empty", box, w("error")).setAttribute("role", "alert");
  stillButton();
}

function list(articles) {
  results = articles;
  show();
  clear(box);
  say(articles.length ? w("found", { n: articles.length }) : w("none"));
  if (!articles.length) el("p", "kb-empty", box, w("none"));
  var ul = el("ul", "kb-results", box);
  ul.setAttribute("aria-label", w("results"));
  articles.forEach(function (a, i) {
    var b = el("button", "kb-result", el("li", "", ul));
    b.type = "button";
    b.setAttribute("data-i", String(i));
    b.lang = a.lang;
    b.dir = "auto";
    el("span", "kb-title", b, a.title);
    el("span", "kb-excerpt", b, a.snippet || a.excerpt);
    b.addEventListener("click", function () { read(a.id, b, false); });
  });
  stillButton();
}

function stillButton() {
  var b = el("button", "kb-still", box, w("still"));
  b.type = "button";
  b.addEventListener("click", toChat);
  return b;
}

/** Back to the conversation: the composer (or the form before a chat) has the focus. */
function toChat() {
  hide();
  query.value = "";
  if ($("intake").hidden) input.focus();
  else focusIntake();
}

// --- one article ---------------------------------------------------------------------------

/** Show the article ``id`` in the frame; ``from``: the control that opened it (focus goes
 * back there); ``suggested``: opened from the suggestions under the composer. */
export function read(id, from, suggested) {
  opener = from || null;
  Promise.all([style, get("/widget/kb/articles/" + enc(id) + "?site=" + enc(page.site))])
    .then(function (r) { article(r[1].article); }, failed);
  tell("view", { article: id });
  if (suggested) tell("suggestion_opened", { article: id });
}

function article(a) {
  show();
  clear(box);
  var back = el("button", "kb-back", box, w("back"));
  back.type = "button";
  back.addEventListener("click", goBack);
  var art = el("article", "kb-article", box);
  // In its own language and direction, whatever the frame's (an English article in Arabic).
  art.lang = a.lang;
  art.dir = /^(ar|he|fa|ur)\b/.test(a.lang) ? "rtl" : "ltr";
  var title = el("h2", "", art, a.title);
  title.id = "kb-article-title";
  title.tabIndex = -1;
  art.setAttribute("aria-labelledby", title.id);
  var body = el("div", "kb-body", art);
  var doc = new DOMParser().parseFromString("<body>" + a.html, "text/html");
  while (doc.body.firstChild) body.appendChild(document.adoptNode(doc.body.firstChild));
  var link = el("a", "kb-link", el("p", "kb-more", box), w("helpCentre"));
  link.href = a.url;
  link.target = "_blank";
  link.rel = "noopener";
  var vote = el("div", "kb-vote", box);
  vote.setAttribute("role", "group");
  var question = el("p", "", vote, w("helped"));
  question.id = "kb-helped";
  vote.setAttribute("aria-labelledby", question.id);
  var still = stillButton();
  [["yes", true], ["no", false]].forEach(function (choice) {
    var b = el("button", "kb-answer", vote, w(choice[0]));
    b.type = "button";
    b.addEventListener("click", function () {
      tell("vote", { article: a.id, helpful: choice[1] });
      clear(vote);
      el("p", "kb-thanks", vote, w("thanks")).setAttribute("role", "status");
      if (!choice[1]) still.focus();
    });
  });
  $("stream").scrollTop = 0;
  title.focus();
}

function goBack() {
  if (results) {
    var from = opener;
    list(results);
    // The same result again (a new node, at the same place in the list).
    var again = from && box.querySelector(".kb-result[data-i='" + from.getAttribute("data-i") + "']");
    (again || query).focus();
  } else {
    var back = opener;
    hide();
    (back && back.isConnected ? back : input).focus();
  }
}
query.addEventListener("keydown", function (event) {
  if (event.key !== "Escape" || box.hidden) return;
  event.stopPropagation();  // the results close first, then (another Escape) the chat
  event.preventDefault();   // (and the search keeps its words)
  hide();
});
box.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  event.stopPropagation();  // not the chat that closes: the article, or the results
  if (box.querySelector(".kb-article")) goBack();
  else { hide(); query.focus(); }
});

// --- an agent's link to an article: a card ----------------------------------------------------

var HELP = new RegExp("^" + location.origin.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&") +
                      "/help/([^/]+)/([^/]+)/([^/?#]+)$");

/** The links to this server's help centre in an agent's message ``item``: a card each (at most
 * three), which opens the article in the frame. */
export function cards(item) {
  var body = item.querySelector(".body");
  Array.prototype.slice.call(item.querySelectorAll(".text a")).slice(0, 3).forEach(function (a) {
    var m = HELP.exec(a.href);
    if (!m || m[3] === "search") return;
    Promise.all([style, get("/widget/kb/article?site=" + enc(page.site) + "&lang=" + enc(m[2]) +
                            "&slug=" + enc(m[3]) + "&address=" + enc(m[1]))]).then(function (r) {
      var art = r[1].article, card = el("button", "kb-card", body);
      card.type = "button";
      card.lang = art.lang;
      card.dir = "auto";
      el("span", "kb-card-label", card, w("article"));
      el("span", "kb-title", card, art.title);
      el("span", "kb-excerpt", card, art.excerpt);
      card.addEventListener("click", function () { read(art.id, card, false); });
      if (!item.nextSibling) $("stream").scrollTop = $("stream").scrollHeight;
    }, function () { /* not an article (any more): the link stays a link */ });
  });
}

// --- suggestions while a first message is written ------------------------------------------

/** ``field`` changed (the composer, or the message of the form before a chat: the offline
 * form, the pre-chat questions): up to three articles that may answer what is being written,
 * right under it. */
export function suggest(field) {
  if (field !== writing) {
    unsuggest();
    writing = field;
    (field === input ? $("composer") : field.parentNode).after(suggestions);
  }
  clearTimeout(suggestTimer);
  var text = field.value.trim();
  if (text.length < 8 || state.conversationId || state.outbox.length) { unsuggest(); return; }
  suggestTimer = setTimeout(function () {
    var mine = ++suggestAsked;
    Promise.all([style, find(text, 3)]).then(function (r) {
      if (mine === suggestAsked && field.value.trim()) offer(r[1]);
    }).catch(unsuggest);
  }, 400);
}

function unsuggest() {
  clearTimeout(suggestTimer);
  suggestAsked++;
  suggestions.hidden = true;
  clear(suggestions);
  shownSuggestions = "";
}

function offer(articles) {
  if (!articles.length) { unsuggest(); return; }
  var ids = articles.map(function (a) { return a.id; }).join();
  if (ids === shownSuggestions) return;
  shownSuggestions = ids;
  clear(suggestions);
  suggestions.hidden = false;
  var title = el("p", "kb-suggest-title", suggestions, w("suggested"));
  title.id = "kb-suggest-title";
  var ul = el("ul", "", suggestions);
  ul.setAttribute("aria-labelledby", title.id);
  articles.forEach(function (a) {
    var b = el("button", "kb-suggestion", el("li", "", ul), a.title);
    b.type = "button";
    b.lang = a.lang;
    b.dir = "auto";
    b.addEventListener("click", function () { read(a.id, b, true); });
  });
  if (writing === input) {
    var send = el("button", "kb-send", suggestions, w("sendAnyway"));
    send.type = "button";
    send.addEventListener("click", function () { $("composer").requestSubmit(); input.focus(); });
  } else {
    // In a form, its own button sends (right under them). They are scrolled into view (the
    // composer's always are), the message being written kept in view too; the stream only,
    // never the page around the chat.
    var stream = $("stream"), view = stream.getBoundingClientRect();
    var below = suggestions.getBoundingClientRect().bottom - view.bottom;
    var room = writing.getBoundingClientRect().top - view.top;
    stream.scrollTop += Math.max(0, Math.min(below, room));
  }
  say(w("suggested"));
}

$("composer").addEventListener("submit", unsuggest);
$("intake").addEventListener("submit", function () {  // (after the form's own handler)
  if (!$("intake-message").value) unsuggest();  // sent
});
input.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) unsuggest();
});

/* The Manage page's knowledge base (admins): the articles of a site, an editor with a live
 * preview, translations, and the help centre's address. The preview is the server's own
 * rendering (POST /api/admin/articles/preview), already sanitised there: it is parsed into an
 * inert document and its nodes moved in, so nothing in it can run (and the page's policy runs
 * no inline script anyway). Titles and everything else are text. */
import { $, api, clear, el } from "./kit.js";
import { notice, onLanguage, t, when } from "./i18n.js";

var state = { sites: [], site: "", articles: [], editing: null, translationOf: null, timer: 0 };
function field(name) { return $("kb-form").querySelector("[name=" + name + "]"); }
/** The editor's outcome: the server's ``error``, as it says it, or ``done``, the words of what was
 * done (a notice: they follow the language). */
function say(error, done) {
  $("kb-form").querySelector(".error").textContent = error || "";
  notice($("kb-form").querySelector(".secret"), done || null);
}

/** Put the server's sanitised HTML in ``node``. */
export function putHtml(node, html) {
  clear(node);
  var doc = new DOMParser().parseFromString("<body>" + html, "text/html");
  while (doc.body.firstChild) node.appendChild(document.adoptNode(doc.body.firstChild));
}

function load() {
  var q = $("kb-filter").value.trim();
  var path = "/api/admin/articles?site=" + encodeURIComponent(state.site) +
    (q ? "&q=" + encodeURIComponent(q) : "");
  return api(path).then(function (j) {
    state.articles = j.articles;
    var f = $("kb-address");
    f.querySelector("[name=slug]").value = j.help_slug || "";
    $("kb-open").href = j.help_url;
    render();
  });
}

function render() {
  var list = $("kb-list");
  clear(list);
  if (!state.articles.length) el("li", "muted", list, t("No articles yet."));
  state.articles.forEach(function (a) {
    var item = el("li", "", list);
    el("b", "", item, a.title);
    el("span", "muted", item, " " + [a.lang, a.category, a.status === "published" ? t("Published") : t("Draft"),
                                      a.author || "", when(a.updated_at)].filter(Boolean).join(" · ") + " ");
    var b = el("button", "secondary small", item, t("Edit"));
    b.type = "button";
    b.setAttribute("aria-label", t("Edit {name}", { name: a.title }));
    b.addEventListener("click", function () { edit(a.id); });
  });
}

function preview() {
  clearTimeout(state.timer);
  state.timer = setTimeout(function () {
    api("/api/admin/articles/preview", { body: field("body").value }).then(function (j) {
      putHtml($("kb-preview"), j.html);
    }).catch(function (e) { say(e.message); });
  }, 200);
}

function open(article, translationOf) {
  state.editing = article;
  state.translationOf = translationOf || null;
  var f = $("kb-form");
  f.hidden = false;
  title();
  var from = article || translationOf;
  field("title").value = from ? from.title : "";
  field("lang").value = article ? article.lang : "";
  field("category").value = from ? from.category : "";
  field("keywords").value = from ? from.keywords || "" : "";
  field("status").value = article ? article.status : "draft";
  field("body").value = from ? from.body : "";
  $("kb-translate").hidden = $("kb-delete").hidden = !article;
  say("");
  var others = $("kb-translations");
  clear(others);
  preview();
  (translationOf && !article ? field("lang") : field("title")).focus();
}

function edit(id, done) {
  return api("/api/admin/articles/" + encodeURIComponent(id)).then(function (j) {
    open(j.article);
    say("", done);
    var others = $("kb-translations");
    if (!j.translations.length) return;
    el("span", "translations-label", others, t("Translations:") + " ");
    j.translations.forEach(function (tr) {
      var b = el("button", "secondary small", others, tr.lang + " · " + tr.title);
      b.type = "button";
      b.addEventListener("click", function () { edit(tr.id); });
    });
  }).catch(function (e) { window.alert(e.message); });
}

$("kb-form").addEventListener("submit", function (event) {
  event.preventDefault();
  var a = state.editing, body = {
    title: field("title").value, lang: field("lang").value, category: field("category").value,
    keywords: field("keywords").value, status: field("status").value, body: field("body").value
  };
  if (!a) body.site_id = state.site;
  if (!a && state.translationOf) body.translation_of = state.translationOf.id;
  api(a ? "/api/admin/articles/" + encodeURIComponent(a.id) : "/api/admin/articles", body,
      a ? "PATCH" : "POST").then(function (j) {
    state.translationOf = null;
    return Promise.all([load(), edit(j.article.id, function () {
      return j.article.status === "published" ? t("Saved and published.") : t("Saved as a draft.");
    })]);
  }).catch(function (e) { say(e.message); });
});
field("body").addEventListener("input", preview);
$("kb-translate").addEventListener("click", function () { open(null, state.editing); });
$("kb-delete").addEventListener("click", function () {
  var a = state.editing;
  if (!a || !window.confirm(t("Delete the article {name}?", { name: a.title }))) return;
  api("/api/admin/articles/" + encodeURIComponent(a.id), undefined, "DELETE").then(function () {
    $("kb-form").hidden = true;
    return load();
  }).catch(function (e) { say(e.message); });
});
$("kb-close").addEventListener("click", function () { $("kb-form").hidden = true; $("kb-new").focus(); });
$("kb-new").addEventListener("click", function () { open(null, null); });
$("kb-site").addEventListener("change", function () { state.site = this.value; $("kb-form").hidden = true; load(); });
var filterTimer = 0;
$("kb-filter").addEventListener("input", function () { clearTimeout(filterTimer); filterTimer = setTimeout(load, 200); });
$("kb-address").addEventListener("submit", function (event) {
  event.preventDefault();
  var f = this;
  api("/api/admin/sites/" + encodeURIComponent(state.site) + "/help",
      { slug: f.querySelector("[name=slug]").value }, "PUT").then(function (j) {
    f.querySelector(".error").textContent = "";
    $("kb-open").href = j.url;
  }).catch(function (e) { f.querySelector(".error").textContent = e.message; });
});

/** The form's title, for what it edits. */
function title() {
  var article = state.editing, translationOf = state.translationOf;
  $("kb-form-title").textContent = article ? t("Article: {name}", { name: article.title })
    : translationOf ? t("Translation of {name}", { name: translationOf.title }) : t("New article");
}

// The language changed: the list and the form's words, again in it (what is typed stays).
onLanguage(function () {
  if (!state.sites.length) return;
  render();
  title();
  var label = $("kb-translations").querySelector(".translations-label");
  if (label) label.textContent = t("Translations:") + " ";
});

/** Show the knowledge base of the admin's sites (the first one to begin with). */
export function showArticles(sites) {
  state.sites = sites;
  var select = $("kb-site");
  clear(select);
  sites.forEach(function (s) { el("option", "", select, s.name).value = s.id; });
  if (!sites.length) return;
  if (!sites.some(function (s) { return s.id === state.site; })) state.site = sites[0].id;
  select.value = state.site;
  load();
}

"""The public help centre's pages as HTML: pure functions of the site and its articles, no I/O.

Every string but an article's body is escaped here; the body is the store's sanitised rendering
(server/kb.py). The pages run no script (their policy allows none) and take their colours from
``/help/<slug>/theme.css``, made from the site's accent colour.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from server import kb
from server.store.article_models import Article

WORDS: dict[str, dict[str, str]] = {
    "en": {"one": "1 article",
           "helped": "Did this answer your question?", "yes": "Yes", "no": "No",
           "thanks": "Thanks for telling us.",
           "help": "Help centre", "search": "Search", "searchLabel": "Search the help centre",
           "results": "Results for “{q}”", "none": "No articles match. Try other words.",
           "more": "More articles", "languages": "Other languages", "updated": "Updated",
           "home": "Help centre home", "articles": "{n} articles", "found": "Articles found: {n}",
           "notFound": "This page does not exist (any more)."},
    "pt": {"one": "1 artigo",
           "helped": "Isto respondeu à sua pergunta?", "yes": "Sim", "no": "Não",
           "thanks": "Obrigado por nos dizer.",
           "help": "Centro de ajuda", "search": "Pesquisar",
           "searchLabel": "Pesquisar no centro de ajuda", "results": "Resultados para “{q}”",
           "none": "Nenhum artigo corresponde. Experimente outras palavras.",
           "more": "Mais artigos", "languages": "Outros idiomas", "updated": "Atualizado",
           "home": "Início do centro de ajuda", "articles": "{n} artigos",
           "found": "Artigos encontrados: {n}",
           "notFound": "Esta página não existe (ou deixou de existir)."},
    "el": {"one": "1 άρθρο",
           "helped": "Απάντησε αυτό στην ερώτησή σας;", "yes": "Ναι", "no": "Όχι",
           "thanks": "Ευχαριστούμε που μας το είπατε.",
           "help": "Κέντρο βοήθειας", "search": "Αναζήτηση",
           "searchLabel": "Αναζήτηση στο κέντρο βοήθειας", "results": "Αποτελέσματα για «{q}»",
           "none": "Κανένα άρθρο δεν ταιριάζει. Δοκιμάστε άλλες λέξεις.",
           "more": "Περισσότερα άρθρα", "languages": "Άλλες γλώσσες", "updated": "Ενημερώθηκε",
           "home": "Αρχική του κέντρου βοήθειας", "articles": "{n} άρθρα",
           "found": "Άρθρα που βρέθηκαν: {n}",
           "notFound": "Αυτή η σελίδα δεν υπάρχει (πλέον)."},
    "es": {"one": "1 artículo",
           "helped": "¿Esto respondió a su pregunta?", "yes": "Sí", "no": "No",
           "thanks": "Gracias por decírnoslo.",
           "help": "Centro de ayuda", "search": "Buscar",
           "searchLabel": "Buscar en el centro de ayuda", "results": "Resultados para «{q}»",
           "none": "Ningún artículo coincide. Pruebe con otras palabras.",
           "more": "Más artículos", "languages": "Otros idiomas", "updated": "Actualizado",
           "home": "Inicio del centro de ayuda", "articles": "{n} artículos",
           "found": "Artículos encontrados: {n}", "notFound": "Esta página no existe (ya)."},
    "fr": {"one": "1 article",
           "helped": "Cela a-t-il répondu à votre question ?", "yes": "Oui", "no": "Non",
           "thanks": "Merci de nous l’avoir dit.",
           "help": "Centre d’aide", "search": "Rechercher",
           "searchLabel": "Rechercher dans le centre d’aide", "results": "Résultats pour « {q} »",
           "none": "Aucun article ne correspond. Essayez d’autres mots.",
           "more": "Autres articles", "languages": "Autres langues", "updated": "Mis à jour",
           "home": "Accueil du centre d’aide", "articles": "{n} articles",
           "found": "Articles trouvés : {n}", "notFound": "Cette page n’existe pas (ou plus)."},
    "de": {"one": "1 Artikel",
           "helped": "Hat das Ihre Frage beantwortet?", "yes": "Ja", "no": "Nein",
           "thanks": "Danke für Ihre Rückmeldung.",
           "help": "Hilfe-Center", "search": "Suchen", "searchLabel": "Im Hilfe-Center suchen",
           "results": "Ergebnisse für „{q}“",
           "none": "Kein Artikel passt. Versuchen Sie andere Wörter.",
           "more": "Weitere Artikel", "languages": "Andere Sprachen", "updated": "Aktualisiert",
           "home": "Startseite des Hilfe-Centers", "articles": "{n} Artikel",
           "found": "Gefundene Artikel: {n}",
           "notFound": "Diese Seite gibt es nicht (mehr)."},
    "ar": {"one": "مقالة واحدة",
           "helped": "هل أجاب هذا عن سؤالك؟", "yes": "نعم", "no": "لا",
           "thanks": "شكرًا لإخبارنا.",
           "help": "مركز المساعدة", "search": "بحث", "searchLabel": "ابحث في مركز المساعدة",
           "results": "نتائج «{q}»", "none": "لا توجد مقالة مطابقة. جرّب كلمات أخرى.",
           "more": "مقالات أخرى", "languages": "لغات أخرى", "updated": "حُدّثت",
           "home": "الصفحة الرئيسية لمركز المساعدة", "articles": "{n} مقالات",
           "found": "المقالات التي وُجدت: {n}", "notFound": "هذه الصفحة غير موجودة."},
    "he": {"one": "מאמר אחד",
           "helped": "האם זה ענה על השאלה שלך?", "yes": "כן", "no": "לא",
           "thanks": "תודה שסיפרת לנו.",
           "help": "מרכז העזרה", "search": "חיפוש", "searchLabel": "חיפוש במרכז העזרה",
           "results": "תוצאות עבור „{q}”", "none": "אין מאמר מתאים. נסו מילים אחרות.",
           "more": "מאמרים נוספים", "languages": "שפות אחרות", "updated": "עודכן",
           "home": "דף הבית של מרכז העזרה", "articles": "{n} מאמרים",
           "found": "מאמרים שנמצאו: {n}", "notFound": "הדף הזה אינו קיים (עוד)."},
}
RTL = {"ar", "he", "fa", "ur"}
LANGUAGE_NAMES = {"en": "English", "pt": "Português", "el": "Ελληνικά", "es": "Español",
                  "fr": "Français", "de": "Deutsch", "ar": "العربية", "he": "עברית"}


def words(lang: str) -> dict[str, str]:
    return WORDS.get(kb.primary(lang), WORDS["en"])


@dataclass(frozen=True, slots=True)
class Centre:
    """One site's help centre, as its pages need it."""

    origin: str
    slug: str
    name: str
    color: str
    languages: tuple[str, ...]

    def url(self, *parts: str) -> str:
        return "/".join([f"{self.origin}/help/{quote(self.slug)}", *(quote(p) for p in parts)])


def _luminance(color: str) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def theme_css(color: str) -> str:
    """The site's colours: the accent, text on it (white or near-black, whichever contrasts
    more), and links in the accent when it reads on white (else a dark blue)."""
    lum = _luminance(color)
    on_accent = "#ffffff" if 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0622 else "#111418"
    link = color if 1.05 / (lum + 0.05) >= 4.5 else "#174a96"
    return f":root {{ --accent: {color}; --on-accent: {on_accent}; --link: {link}; }}\n"


def _page(centre: Centre, lang: str, title: str, description: str, canonical: str, main: str,
          query: str = "", alternates: Sequence[tuple[str, str]] = ()) -> str:
    w = words(lang)
    links = "".join(f'<link rel="alternate" hreflang="{escape(code)}" href="{escape(url)}">\n'
                    for code, url in alternates)
    direction = "rtl" if kb.primary(lang) in RTL else "ltr"
    return f"""<!doctype html>
<html lang="{escape(lang)}" dir="{direction}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<meta name="description" content="{escape(description)}">
<link rel="canonical" href="{escape(canonical)}">
{links}<meta property="og:title" content="{escape(title)}">
<meta property="og:description" content="{escape(description)}">
<meta property="og:url" content="{escape(canonical)}">
<meta property="og:type" content="website">
<link rel="stylesheet" href="{escape(centre.origin)}/widget/static/help.css">
<link rel="stylesheet" href="{escape(centre.url('theme.css'))}">
</head>
<body>
<header class="top">
  <div class="bar"><a class="brand" href="{escape(centre.url(lang))}">{escape(centre.name)}
    <span>{escape(w["help"])}</span></a></div>
  <form class="search" role="search" action="{escape(centre.url(lang, 'search'))}" method="get">
    <label for="q" class="sr-only">{escape(w["searchLabel"])}</label>
    <input id="q" name="q" type="search" maxlength="{kb.MAX_QUERY}" value="{escape(query)}"
           placeholder="{escape(w["searchLabel"])}">
    <button type="submit">{escape(w["search"])}</button>
  </form>
</header>
<main id="main">
{main}
</main>
{_languages(centre, lang)}
</body>
</html>
"""


def _languages(centre: Centre, lang: str) -> str:
    others = [code for code in centre.languages if code != lang]
    if not others:
        return ""
    items = "".join(f'<li><a href="{escape(centre.url(code))}" hreflang="{escape(code)}" '
                    f'lang="{escape(code)}">{escape(LANGUAGE_NAMES.get(code, code))}</a></li>'
                    for code in others)
    return (f'<footer class="foot"><nav aria-label="{escape(words(lang)["languages"])}">'
            f"<ul>{items}</ul></nav></footer>")


def _list(centre: Centre, articles: Sequence[Article]) -> str:
    items = "".join(
        f'<li><a href="{escape(centre.url(a.lang, a.slug))}">{escape(a.title)}</a>'
        f"<p>{escape(kb.summary(a.text, 140))}</p></li>" for a in articles)
    return f'<ul class="articles">{items}</ul>'


def categories(articles: Sequence[Article]) -> list[tuple[str, list[Article]]]:
    """Articles by category (named ones first, alphabetically; then the rest)."""
    groups: dict[str, list[Article]] = {}
    for a in articles:
        groups.setdefault(a.category, []).append(a)
    return sorted(groups.items(), key=lambda g: (g[0] == "", g[0].lower()))


def index_page(centre: Centre, lang: str, articles: Sequence[Article]) -> str:
    w = words(lang)
    sections = []
    for category, group in categories(articles):
        name = category or w["more"]
        heading = (f'<a href="{escape(centre.url(lang, "category", kb.slugify(category)))}">'
                   f"{escape(name)}</a>" if category else escape(name))
        count = w["one"] if len(group) == 1 else w["articles"].format(n=len(group))
        sections.append(f'<section class="category"><h2>{heading}</h2>'
                        f'<p class="count">{escape(count)}</p>'
                        f"{_list(centre, group)}</section>")
    title = f"{centre.name} · {w['help']}"
    description = "; ".join(c or w["more"] for c, _ in categories(articles))[:160]
    alternates = [(code, centre.url(code)) for code in centre.languages]
    return _page(centre, lang, title, description or title, centre.url(lang),
                 f'<h1>{escape(w["help"])}</h1>\n<div class="grid">{"".join(sections)}</div>',
                 alternates=alternates)


def category_page(centre: Centre, lang: str, category: str, articles: Sequence[Article]) -> str:
    w = words(lang)
    crumbs = f'<p class="crumbs"><a href="{escape(centre.url(lang))}">{escape(w["home"])}</a></p>'
    return _page(centre, lang, f"{category} · {centre.name} · {w['help']}",
                 f"{category}: " + ", ".join(a.title for a in articles)[:150],
                 centre.url(lang, "category", kb.slugify(category)),
                 f"{crumbs}<h1>{escape(category)}</h1>{_list(centre, articles)}")


def article_page(centre: Centre, article: Article, translations: Sequence[Article],
                 voted: bool = False) -> str:
    """One article; ``voted``: the reader has just answered "Did this answer your question?"."""
    w = words(article.lang)
    day = time.strftime("%Y-%m-%d", time.gmtime(article.updated_at / 1000))
    crumbs = [f'<a href="{escape(centre.url(article.lang))}">{escape(w["home"])}</a>']
    if article.category:
        where = centre.url(article.lang, "category", kb.slugify(article.category))
        crumbs.append(f'<a href="{escape(where)}">{escape(article.category)}</a>')
    others = [t for t in translations if t.id != article.id]
    also = ""
    if others:
        items = "".join(f'<li><a href="{escape(centre.url(t.lang, t.slug))}" '
                        f'hreflang="{escape(t.lang)}" lang="{escape(t.lang)}">{escape(t.title)}'
                        "</a></li>" for t in others)
        also = f'<aside class="also"><h2>{escape(w["languages"])}</h2><ul>{items}</ul></aside>'
    main = (f'<p class="crumbs">{" › ".join(crumbs)}</p>'
            f'<article><h1>{escape(article.title)}</h1>'
            f'<p class="meta">{escape(w["updated"])} <time datetime="{day}">{day}</time>'
            f'{" · " + escape(article.author_name) if article.author_name else ""}</p>'
            f'<div class="body">{article.html}</div></article>{_vote(centre, article, voted)}'
            f"{also}")
    alternates = [(t.lang, centre.url(t.lang, t.slug)) for t in translations]
    return _page(centre, article.lang, f"{article.title} · {centre.name}",
                 kb.summary(article.text), centre.url(article.lang, article.slug), main,
                 alternates=alternates)


def _vote(centre: Centre, article: Article, voted: bool) -> str:
    w = words(article.lang)
    if voted:
        return f'<p class="vote thanks" role="status">{escape(w["thanks"])}</p>'
    action = centre.url(article.lang, article.slug, "vote")
    return (f'<form class="vote" method="post" action="{escape(action)}"><fieldset>'
            f'<legend>{escape(w["helped"])}</legend>'
            f'<button name="helpful" value="yes">{escape(w["yes"])}</button> '
            f'<button name="helpful" value="no">{escape(w["no"])}</button></fieldset></form>')


def search_page(centre: Centre, lang: str, query: str, articles: Sequence[Article]) -> str:
    w = words(lang)
    found = (f'<p class="count" role="status">{escape(w["found"].format(n=len(articles)))}</p>'
             + _list(centre, articles)) if articles else f'<p class="count">{escape(w["none"])}</p>'
    return _page(centre, lang, f"{w['results'].format(q=query)} · {centre.name}",
                 w["searchLabel"], centre.url(lang, "search"),
                 f"<h1>{escape(w['results'].format(q=query))}</h1>{found}", query=query)


def not_found_page(centre: Centre, lang: str) -> str:
    w = words(lang)
    return _page(centre, lang, f"{w['help']} · {centre.name}", w["notFound"], centre.url(lang),
                 f'<h1>{escape(w["notFound"])}</h1><p><a href="{escape(centre.url(lang))}">'
                 f'{escape(w["home"])}</a></p>')


def sitemap(centre: Centre, articles: Sequence[Article]) -> str:
    """Every published article and every language's home, for search engines."""
    rows = [f"<url><loc>{escape(centre.url(code))}</loc></url>" for code in centre.languages]
    for a in articles:
        day = time.strftime("%Y-%m-%d", time.gmtime(a.updated_at / 1000))
        rows.append(f"<url><loc>{escape(centre.url(a.lang, a.slug))}</loc>"
                    f"<lastmod>{day}</lastmod></url>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(rows) + "\n</urlset>\n")

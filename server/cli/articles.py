"""``livechat article …`` and ``livechat site help-centre``: the knowledge base from the command
line (README.md, docs/knowledge-base.md)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from server.cli.base import Command, Store, with_store
from server.errors import ChatError
from server.store.article_models import Article


def _body(path: str | None) -> str | None:
    """The Markdown body from a file, or from stdin for ``-``."""
    if path is None:
        return None
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def _show(article: Article, as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(article.full()).decode())
    else:
        print(f"{article.id}  {article.status}  {article.lang}  /{article.slug}  {article.title}")


def cmd_create(args: argparse.Namespace) -> int:
    body = _body(args.body_file) or ""

    async def work(store: Store) -> Article:
        saved: Article = await store.articles.save(
            args.site, translation_of=args.translation_of, lang=args.lang, title=args.title,
            body=body, category=args.category or "", keywords=args.keywords or "",
            status="published" if args.publish else "draft", slug=args.slug)
        return saved

    try:
        _show(with_store(args.db, work), args.json)
    except ChatError as exc:
        print(f"livechat: {exc.message}", file=sys.stderr)
        return 1
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    body = _body(args.body_file)

    async def work(store: Store) -> Article | None:
        before: Article | None = await store.articles.get(args.article)
        if before is None:
            return None
        status = "published" if args.publish else "draft" if args.draft else before.status
        saved: Article = await store.articles.save(
            before.site_id, article_id=before.id, lang=args.lang or before.lang,
            title=args.title if args.title is not None else before.title,
            body=body if body is not None else before.body,
            category=args.category if args.category is not None else before.category,
            keywords=args.keywords if args.keywords is not None else before.keywords,
            status=status, slug=args.slug)
        return saved

    article = with_store(args.db, work)
    if article is None:
        print(f"livechat: no article {args.article}", file=sys.stderr)
        return 1
    _show(article, args.json)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    async def work(store: Store) -> list[Article]:
        sites = [args.site] if args.site else [s.id for s in await store.sites()]
        found: list[Article] = await store.articles.listed(sites, lang=args.lang)
        return found

    articles = with_store(args.db, work)
    if args.json:
        print(orjson.dumps([a.summary() for a in articles]).decode())
    else:
        for article in articles:
            _show(article, False)
    return 0


def cmd_help_centre(args: argparse.Namespace) -> int:
    async def work(store: Store) -> str:
        slug: str = await store.articles.set_help_slug(args.site, args.slug)
        return slug

    try:
        slug = with_store(args.db, work)
    except ChatError as exc:
        print(f"livechat: {exc.message}", file=sys.stderr)
        return 1
    print(f"help centre: /help/{slug}")
    return 0


def add_commands(sub: Any, site: Any, command: Command) -> None:
    """The subcommands, in ``livechat``'s parser (``sub``: its commands; ``site``: ``site``'s)."""
    helpc = command(site, "help-centre", cmd_help_centre,
                    "set where the site's public help centre lives: /help/SLUG")
    helpc.add_argument("site", help="the site key")
    helpc.add_argument("slug", help="lowercase letters, digits and dashes, e.g. acme")

    article = command(sub, "article", None, "manage knowledge-base articles").add_subparsers(
        dest="action", required=True)

    def fields(p: argparse.ArgumentParser, creating: bool) -> None:
        p.add_argument("--title", required=creating)
        p.add_argument("--lang", required=creating, help="a language tag: en, pt, pt-br…")
        p.add_argument("--body-file", metavar="PATH",
                       help="the Markdown body, from a file ('-': standard input)")
        p.add_argument("--category", help="the category, shown in the help centre")
        p.add_argument("--keywords", help="other words readers search this article with, "
                       "searched like its title (e.g. 'UK, Britain'); never shown")
        p.add_argument("--slug", help="the article's address in the help centre "
                       "(default: from the title, when it is created)")
        p.add_argument("--json", action="store_true", help="print the article as JSON")

    create = command(article, "create", cmd_create, "write an article (a draft unless --publish)")
    create.add_argument("--site", required=True, help="the site key")
    fields(create, True)
    create.add_argument("--translation-of", metavar="ARTICLE",
                        help="the article this one translates (another language)")
    create.add_argument("--publish", action="store_true", help="publish it now")
    update = command(article, "update", cmd_update,
                     "change an article (only the options given)")
    update.add_argument("article", help="the article's id")
    fields(update, False)
    state = update.add_mutually_exclusive_group()
    state.add_argument("--publish", action="store_true", help="publish it")
    state.add_argument("--draft", action="store_true", help="take it back to draft")
    listing = command(article, "list", cmd_list, "list the articles (drafts too)")
    listing.add_argument("--site", help="only this site's")
    listing.add_argument("--lang", help="only in this language")
    listing.add_argument("--json", action="store_true", help="as a JSON array")


#: The demo site's help articles (``livechat demo``), in English and Portuguese.
DEMO_ARTICLES = (
    ("Returns and refunds", "Orders",
     "Send any item back within **30 days** of delivery for a full refund:\n\n"
     "1. Open *My orders* and choose **Return**.\n2. Print the prepaid label.\n"
     "3. Drop the parcel at a post office.\n\nThe money is back within 5 working days.",
     "Devoluções e reembolsos", "Encomendas",
     "Devolva qualquer artigo até **30 dias** após a entrega e receba o reembolso total:\n\n"
     "1. Abra *As minhas encomendas* e escolha **Devolver**.\n2. Imprima a etiqueta pré-paga.\n"
     "3. Entregue a encomenda nos correios.\n\nO dinheiro volta em 5 dias úteis."),
    ("Delivery times and costs", "Delivery",
     "Orders placed before 2 pm leave the same day. Standard delivery takes 2 to 4 working days "
     "and is free over 60 €; express arrives the next working day for 9.95 €.",
     "Prazos e custos de entrega", "Entregas",
     "As encomendas feitas antes das 14h saem no mesmo dia. A entrega normal demora 2 a 4 dias "
     "úteis e é grátis acima de 60 €; a expresso chega no dia útil seguinte por 9,95 €."),
    ("Choosing a tent", "Gear",
     "Count one person more than will sleep in it, for the bags. For wind and rain, choose a "
     "tent with a **full-length flysheet** and a hydrostatic head of 3000 mm or more.",
     "Escolher uma tenda", "Equipamento",
     "Conte com uma pessoa a mais do que as que vão dormir, por causa das mochilas. Para vento e "
     "chuva, escolha uma tenda com **duplo teto até ao chão** e coluna de água de 3000 mm ou "
     "mais."),
)


async def ensure_demo_articles(store: Any, site_id: str) -> None:
    """The demo site's help centre (``/help/demo``), made once."""
    if await store.articles.listed([site_id]):
        return
    for en_title, en_cat, en_body, pt_title, pt_cat, pt_body in DEMO_ARTICLES:
        en = await store.articles.save(site_id, lang="en", title=en_title, body=en_body,
                                       category=en_cat, status="published")
        await store.articles.save(site_id, lang="pt", title=pt_title, body=pt_body,
                                  category=pt_cat, status="published", translation_of=en.id)
    if await store.articles.help_slug(site_id) is None:
        await store.articles.set_help_slug(site_id, "demo")

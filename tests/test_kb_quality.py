"""The knowledge base's search quality on a fixed corpus (tests/kb_corpus.py): 52 articles in
English and Portuguese, one customer's question for each in each language; the expected article
must come first. The hit rate and any misses go to test-artifacts/kb-search-quality.txt and
docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

from server.store import SQLiteStore
from tests.kb_corpus import ARTICLES, QUESTIONS


async def test_the_expected_article_comes_first(store: SQLiteStore, artifacts: Path) -> None:
    site = (await store.create_site("Acme Outdoor", [])).id
    ids: dict[tuple[str, str], str] = {}
    for key, (en_title, en_body, pt_title, pt_body) in ARTICLES.items():
        en = await store.articles.save(site, lang="en", title=en_title, body=en_body,
                                       status="published")
        pt = await store.articles.save(site, lang="pt", title=pt_title, body=pt_body,
                                       status="published", translation_of=en.id)
        ids[("en", key)], ids[("pt", key)] = en.id, pt.id
    assert len(ids) >= 50 and len(QUESTIONS) >= 50
    lines, hits = [], 0
    for lang, question, key in QUESTIONS:
        found = await store.articles.search(site, question, lang, limit=3)
        first = found[0].article if found else None
        hit = first is not None and first.id == ids[(lang, key)]
        hits += hit
        lines.append(f"{'ok  ' if hit else 'MISS'} {lang} {question!r} -> "
                     f"{first.title if first else '(nothing)'!r}")
    rate = hits / len(QUESTIONS)
    engine = "postgresql" if type(store).__name__.startswith("Postgres") else "sqlite"
    (artifacts / f"kb-search-quality-{engine}.txt").write_text(
        f"{hits}/{len(QUESTIONS)} first ({rate:.0%})\n" + "\n".join(lines) + "\n")
    # When this was written (docs/benchmarks.md): 48 of 52 on SQLite (FTS5, Porter stemming);
    # 46 of 52 on PostgreSQL, whose article search has no stemmer yet (prefixes only:
    # docs/knowledge-base.md). Either may only get better.
    floor = 46 if engine == "postgresql" else 48
    assert hits >= floor, "\n".join(line for line in lines if line.startswith("MISS"))

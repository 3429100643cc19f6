"""The knowledge base's search quality on a fixed corpus (tests/kb_corpus.py): 52 articles in
English and Portuguese, and two lists of customers' questions, each naming the article that
answers it: one per article and language by the articles' author (``QUESTIONS``, 52), three per
article and language by someone who never saw the search code (tests/kb_questions.py, 156).
The expected article must come first, on both stores. The hit rate and every miss go to
test-artifacts/kb-search-quality-<engine>.txt; docs/benchmarks.md records them."""

from __future__ import annotations

from pathlib import Path

from server.store import SQLiteStore
from tests.kb_corpus import ARTICLES, QUESTIONS
from tests.kb_questions import INDEPENDENT_QUESTIONS

#: How many of each list's questions must find their article first, on either store
#: (docs/benchmarks.md: what each change of the search moved).
FLOOR = {"author": 47, "independent": 120}


async def test_the_expected_article_comes_first(store: SQLiteStore, artifacts: Path) -> None:
    site = (await store.create_site("Acme Outdoor", [])).id
    ids: dict[tuple[str, str], str] = {}
    for key, (en_title, en_body, pt_title, pt_body) in ARTICLES.items():
        en = await store.articles.save(site, lang="en", title=en_title, body=en_body,
                                       status="published")
        pt = await store.articles.save(site, lang="pt", title=pt_title, body=pt_body,
                                       status="published", translation_of=en.id)
        ids[("en", key)], ids[("pt", key)] = en.id, pt.id
    assert len(ids) >= 50 and len(QUESTIONS) >= 50 and len(INDEPENDENT_QUESTIONS) == 156
    report, misses, hits = [], [], {}
    for name, questions in (("author", QUESTIONS), ("independent", INDEPENDENT_QUESTIONS)):
        lines = []
        hits[name] = 0
        for lang, question, key in questions:
            found = await store.articles.search(site, question, lang, limit=3)
            first = found[0].article if found else None
            hit = first is not None and first.id == ids[(lang, key)]
            hits[name] += hit
            lines.append(f"{'ok  ' if hit else 'MISS'} {lang} {question!r} -> "
                         f"{first.title if first else '(nothing)'!r} (expected: {key})")
        report += [f"{name}: {hits[name]}/{len(questions)} first "
                   f"({hits[name] / len(questions):.0%})", *lines]
        misses += [line for line in lines if line.startswith("MISS")]
    engine = "postgresql" if type(store).__name__.startswith("Postgres") else "sqlite"
    (artifacts / f"kb-search-quality-{engine}.txt").write_text("\n".join(report) + "\n")
    assert all(hits[name] >= FLOOR[name] for name in FLOOR), f"{hits}\n" + "\n".join(misses)

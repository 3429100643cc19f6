"""The knowledge base's search quality on a fixed corpus (tests/kb_corpus.py): 52 articles in
English and Portuguese, and two lists of customers' questions, each naming the article that
answers it: one per article and language by the articles' author (``QUESTIONS``, 52), three per
article and language by someone who never saw the search code (tests/kb_questions.py, 156).
The expected article must come first, on both stores. The corpus is searched twice: as written,
and with the search keywords its author gave the articles (``KEYWORDS``). The hit rates and
every miss go to test-artifacts/kb-search-quality-<engine>.txt; docs/benchmarks.md records
them."""

from __future__ import annotations

from pathlib import Path

from server.store import SQLiteStore
from tests.kb_corpus import ARTICLES, KEYWORDS, QUESTIONS
from tests.kb_questions import INDEPENDENT_QUESTIONS

LISTS = (("author", QUESTIONS), ("independent", INDEPENDENT_QUESTIONS))
#: How many of each list's questions must find their article first, on either store, without
#: and with the articles' keywords (docs/benchmarks.md: what each change of the search moved).
FLOOR = {(False, "author"): 47, (False, "independent"): 120,
         (True, "author"): 51, (True, "independent"): 147}


async def _ask(store: SQLiteStore, keywords: bool) -> tuple[dict[str, int], list[str]]:
    """Load the corpus into a site of its own and ask both lists: hits per list, and a line
    per question."""
    site = (await store.create_site(f"Acme Outdoor {keywords}", [])).id
    ids: dict[tuple[str, str], str] = {}
    for key, (en_title, en_body, pt_title, pt_body) in ARTICLES.items():
        en_words, pt_words = KEYWORDS[key] if keywords else ("", "")
        en = await store.articles.save(site, lang="en", title=en_title, body=en_body,
                                       keywords=en_words, status="published")
        pt = await store.articles.save(site, lang="pt", title=pt_title, body=pt_body,
                                       keywords=pt_words, status="published",
                                       translation_of=en.id)
        ids[("en", key)], ids[("pt", key)] = en.id, pt.id
    hits, report = {}, []
    for name, questions in LISTS:
        lines = []
        hits[name] = 0
        for lang, question, key in questions:
            found = await store.articles.search(site, question, lang, limit=3)
            first = found[0].article if found else None
            hit = first is not None and first.id == ids[(lang, key)]
            hits[name] += hit
            lines.append(f"{'ok  ' if hit else 'MISS'} {lang} {question!r} -> "
                         f"{first.title if first else '(nothing)'!r} (expected: {key})")
        report += [f"{name} questions, {'with' if keywords else 'without'} keywords: "
                   f"{hits[name]}/{len(questions)} first ({hits[name] / len(questions):.0%})",
                   *lines]
    return hits, report


async def test_the_expected_article_comes_first(store: SQLiteStore, artifacts: Path) -> None:
    assert len(ARTICLES) * 2 >= 50 and len(QUESTIONS) >= 50
    assert len(INDEPENDENT_QUESTIONS) == 156 and set(KEYWORDS) == set(ARTICLES)
    report, misses, short = [], [], []
    for keywords in (False, True):
        hits, lines = await _ask(store, keywords)
        report += lines
        misses += [line for line in lines if line.startswith("MISS")] if keywords else []
        short += [f"{name}, keywords {keywords}: {hits[name]} < {FLOOR[(keywords, name)]}"
                  for name, _ in LISTS if hits[name] < FLOOR[(keywords, name)]]
    engine = "postgresql" if type(store).__name__.startswith("Postgres") else "sqlite"
    (artifacts / f"kb-search-quality-{engine}.txt").write_text("\n".join(report) + "\n")
    assert not short, "\n".join(short + misses)

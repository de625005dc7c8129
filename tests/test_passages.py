"""Which passage of an item a result shows (`search/passages.py`): specificity inside the document
fused with the model's similarity, covers and contents pages last."""

from __future__ import annotations

import random

import pytest

from policykb.models import Passage
from policykb.search.parts import rrf
from policykb.language.terms import term_set
from policykb.search.passages import also_pages, answering, answering_order, is_contents, is_cover, weighed

TITLE = "Cluster vouchers 2024"


def deck(*texts: str, sections: list[str | None] | None = None) -> list[tuple[int, Passage]]:
    sections = sections or [None] * len(texts)
    return [(10 + i, Passage(text=t, page=i + 1, seq=i, section=s)) for i, (t, s) in enumerate(zip(texts, sections))]


def test_the_words_few_pages_hold_decide_over_the_model():
    passages = deck("Cluster vouchers 2024: a regional programme for firms and clusters alike, with advice, "
                    "training and funding, in every county",  # (more than a cover's twelve words)
                    "The vouchers programme supports cluster firms with advice and training every year",
                    "In 2024, 312 vouchers were awarded to cluster firms in the region")
    similarity = {10: 0.6, 11: 0.9, 12: 0.8}
    assert answering(passages, similarity, {"voucher", "award"}, TITLE) == 12  # only it holds "awarded"
    assert answering(passages, similarity, set(), TITLE) == 11  # no words: the model alone


def test_a_cover_and_a_contents_page_come_last():
    passages = deck("Cluster vouchers 2024", "Agenda: Governance, Funding, Results",
                    "Funding came from the region", "Results: 40 firms",
                    sections=["Cluster vouchers 2024", "Agenda", "Funding", "Results"])
    passages.append((20, Passage(text="Governance: a steering group", page=5, seq=4, section="Governance")))
    similarity = {10: 0.95, 11: 0.9, 12: 0.3, 13: 0.2, 20: 0.1}
    assert is_cover(TITLE, "Cluster vouchers 2024") and not is_cover(TITLE, "Funding came from the region")
    assert is_contents("Agenda: Governance, Funding, Results", {"Governance", "Funding", "Results"})
    assert answering(passages, similarity, set(), TITLE) == 12


def test_when_every_passage_is_a_cover_or_contents_the_best_is_shown():
    passages = deck("Cluster vouchers 2024", "Agenda: Governance, Funding, Results", "Governance, Funding, Results",
                    sections=[None, "Agenda", "Overview"])
    headings = [(20 + i, Passage(text="Agenda: Governance, Funding, Results", seq=3 + i, section=h))
                for i, h in enumerate(["Governance", "Funding", "Results"])]
    assert answering(passages + headings, {10: 0.2, 11: 0.1, 12: 0.3, 20: 0.0, 21: 0.0, 22: 0.0}, set(), TITLE) == 12
    assert answering(passages[:1], {}, {"voucher"}, TITLE) == 10  # one passage: nothing to choose


def _reference(passages, similarity, terms, title, k=60):
    """The definition, every page checked: the best by (not a cover unless all are, fused rank,
    specificity, similarity, id)."""
    ids = [pid for pid, _ in passages]
    texts = [f"{p.section or ''}\n{p.text}" for _, p in passages]  # (every word of each page, its heading's too)
    spec = weighed(terms, [term_set(text) & terms for text in texts]) if terms else [0.0] * len(ids)
    by_spec = dict(zip(ids, spec))
    orders = [sorted(ids, key=lambda pid: -similarity.get(pid, -1.0))]
    if any(spec):
        orders.append(sorted(ids, key=lambda pid: (-by_spec[pid], -similarity.get(pid, -1.0))))
    fused = rrf(orders, k)
    headings = {p.section for _, p in passages if p.section and p.section != title}
    first = min(passages, key=lambda row: row[1].seq)[0]
    covers = {pid for pid, p in passages
              if (pid == first and is_cover(title, p.text, p.section)) or is_contents(p.text, headings - {p.section})}
    return min(ids, key=lambda pid: (pid in covers and len(covers) < len(ids), -fused[pid], -by_spec[pid],
                                     -similarity.get(pid, -1.0), pid))


@pytest.mark.parametrize("seed", range(40))
def test_pages_are_read_only_as_far_as_needed_with_the_same_choice(seed):
    rng = random.Random(seed)
    words = "cluster vouchers funding results governance firms region awarded 2024 agenda".split()
    sections = ["Funding", "Results", "Governance", "Agenda", None]
    passages = []
    for i in range(rng.randint(2, 7)):
        if rng.random() < 0.3:
            text = ", ".join(rng.sample(sections[:3], 3))  # a contents page
        elif i == 0 and rng.random() < 0.5:
            text = TITLE  # a cover
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 20)))
        passages.append((100 + i, Passage(text=text, seq=i, section=rng.choice(sections))))
    similarity = {pid: round(rng.random(), 2) for pid, _ in passages}
    terms = set(rng.sample(["voucher", "fund", "award", "region", "nowher"], 2))
    assert answering(passages, similarity, terms, TITLE) == _reference(passages, similarity, terms, TITLE)


SPECIFICITY = """
import random
from policykb.language.terms import term_set
from policykb.search.passages import weighed
rng = random.Random(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron sigma omega".split()
texts = [" ".join(rng.sample(words, rng.randint(3, 12))) for _ in range(40)]
print(repr(weighed(set(words), [term_set(text) & set(words) for text in texts])))
"""


def test_specificity_does_not_depend_on_the_order_of_a_set():
    """Summed in a set's order, the same weights gave sums a last bit apart under another hash seed,
    and another passage was shown (a fact question answered or not depending on the process)."""
    import os
    import subprocess
    import sys

    outputs = {subprocess.run([sys.executable, "-c", SPECIFICITY], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert len(outputs) == 1


GUIDE = """---
id: voucher-review
title: Lakeside voucher review
kind: guide
---
# Lakeside voucher review

## Awards

In 2024 the county awarded 412 vouchers to small firms; most went to manufacturing firms.

## Budget lines

EUR 3.9 million was committed. Firms paid a quarter of each service themselves.

## Applications

Firms applied online; the county answered within three weeks. Awards were published monthly.

## Lessons

Small firms asked for more service providers in the north.
"""


@pytest.mark.parametrize("query", ["how many vouchers were awarded to firms",
                                   "what was the budget of the Lakeside voucher review",
                                   "applications answered within weeks", "service providers review"])
def test_the_terms_each_passage_holds_are_read_from_the_postings(kb, tmp_path, monkeypatch, query):
    """The shown passage weighs the question's terms each passage holds in its heading or text.
    They are read from the postings the keyword side has read (their text counts: a word of the
    item's title alone, "review", "lakeside", is not held), not from each passage's words: the same
    sets, and so the same passages shown."""
    from policykb.search import keyword
    from policykb.search.passages import held_terms
    from policykb.search.searcher import Searcher

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "review.md").write_text(GUIDE, encoding="utf-8")
    assert kb.ingest([tmp_path / "docs"]).added == ["voucher-review"]
    searcher = Searcher(kb.backend)
    shown = searcher.search(query, mode="hybrid")
    match = searcher._match(query)
    passages = kb.store.passages_of(["voucher-review"])["voucher-review"]
    assert len(passages) >= 4
    held = searcher._held_terms(match, passages)
    assert held == {pid: held_terms(set(match), p) for pid, p in passages}
    assert not any({"review", "lakesid"} & terms for terms in held.values())
    assert any(held.values())
    assert Searcher(kb.backend)._held_terms(match, passages) is None  # (no postings read: the words are)
    monkeypatch.setattr(keyword.KeywordMixin, "_held_terms", lambda self, match, passages: None)
    again = Searcher(kb.backend).search(query, mode="hybrid")
    assert [(h.id, h.passage) for h in again.hits] == [(h.id, h.passage) for h in shown.hits]


def _cover_by_definition(title: str, text: str) -> bool:
    """Every word read: the title's words all held, and fewer than COVER_EXTRA_WORDS others."""
    from policykb.language.terms import tokens
    from policykb.search.passages import COVER_EXTRA_WORDS

    title_words, held = set(tokens(title)), tokens(text)
    return bool(title_words) and title_words <= set(held) and sum(w not in title_words for w in held) < COVER_EXTRA_WORDS


@pytest.mark.parametrize("seed", range(30))
def test_a_cover_is_told_reading_only_as_far_as_needed(seed):
    rng = random.Random(seed)
    title = rng.choice([TITLE, "Nordvale cluster excellence programme", "Łódź vouchers", "", "2024"])
    others = "funding results awarded firms region Øresund Straße ™ — 12".split()
    extra = [rng.choice(others) for _ in range(rng.choice([0, 2, 5, 10, 11, 12, 13, 30]))]
    words = (title.split() if rng.random() < 0.7 else title.split()[1:]) + extra  # (a word of the title left out)
    text = " ".join(rng.sample(words, len(words)))
    assert is_cover(title, text) == _cover_by_definition(title, text), (title, text)


@pytest.mark.parametrize("extra", [0, 11, 12, 13])
def test_a_cover_holds_fewer_than_twelve_other_words(extra):
    text = f"{TITLE} " + " ".join(["funding"] * extra)
    assert is_cover(TITLE, text) == (extra < 12) == _cover_by_definition(TITLE, text)
    assert not is_cover(TITLE, "Cluster vouchers " + " ".join(["funding"] * extra))  # (the year left out)


def test_a_cover_whose_heading_is_the_title():
    """A cover slide's largest line is read as the passage's heading: the title's words are then in
    the heading and the rest of the title in the text (the Lakeshire deck's cover was named as
    another page that might answer, and could be shown)."""
    title = "Lakeshire Innovation Voucher Scheme - mid-term review"
    text = "Mid-term review, June 2025 Prepared for the Lakeshire Economic Board"
    assert is_cover(title, text, "Lakeshire Innovation Voucher Scheme")
    assert not is_cover(title, text)  # (the text alone lacks half the title)
    assert not is_cover(title, "412 vouchers awarded between 2022 and 2024", "Uptake so far")
    passages = deck(text, "412 vouchers awarded", "EUR 3.9 million committed",
                    sections=["Lakeshire Innovation Voucher Scheme", "Uptake so far", "Money spent"])
    assert [pid for pid, _ in answering_order(passages, {10: 0.9, 11: 0.5, 12: 0.4}, set(), title)] == [11, 12, 10]


def test_passages_holding_the_question_as_a_phrase_come_first():
    """"trade union" showed a deck's conclusion (the European Union, trade) over the page naming it."""
    passages = deck("Cover page", "Governance: the trade union sat on the board", "Conclusion: trade across the Union",
                    sections=["Cover", "Governance", "Conclusion"])
    similarity = {10: 0.2, 11: 0.4, 12: 0.6}
    assert next(answering_order(passages, similarity, set(), TITLE))[0] == 12
    assert next(answering_order(passages, similarity, set(), TITLE, leading={11}))[0] == 11


def test_a_result_names_the_next_pages_that_may_answer():
    passages = deck("Cluster vouchers 2024", "Agenda: Governance, Funding, Results", "Funding came from the region",
                    "Results: 40 firms", "Governance: a steering group", "More results: 12 clusters",
                    sections=["Cluster vouchers 2024", "Agenda", "Funding", "Results", "Governance", "Results"])
    similarity = {10: 0.95, 11: 0.9, 12: 0.3, 13: 0.5, 14: 0.1, 15: 0.4}
    order = answering_order(passages, similarity, set(), TITLE)
    shown = next(order)[0]
    assert shown == 13
    by_id = dict(passages)
    assert also_pages(order, by_id, shown) == [{"page": 6, "section": "Results"}, {"page": 3, "section": "Funding"}]
    # never the cover nor the agenda, however similar; at most `count`; each page once
    order = answering_order(passages, similarity, set(), TITLE)
    next(order)
    assert also_pages(order, by_id, 13, count=9) == [{"page": 6, "section": "Results"}, {"page": 3, "section": "Funding"},
                                                     {"page": 5, "section": "Governance"}]
    order = answering_order(passages, similarity, set(), TITLE)
    next(order)
    assert also_pages(order, by_id, 13, scored={13, 12, 14}) == [{"page": 3, "section": "Funding"},
                                                                  {"page": 5, "section": "Governance"}]  # (keyword mode)
    same_page = [(pid, Passage(text=p.text, page=1 + i // 2, seq=i, section=p.section))
                 for i, (pid, p) in enumerate(passages[2:])]  # two passages a page
    order = answering_order(same_page, similarity, set(), TITLE)
    shown = next(order)[0]
    assert (shown, also_pages(order, dict(same_page), shown)) == (13, [{"page": 2, "section": "Results"}])
    pageless = [(pid, Passage(text=p.text, seq=p.seq, section=p.section)) for pid, p in passages]
    order = answering_order(pageless, similarity, set(), TITLE)
    assert also_pages(order, dict(pageless), next(order)[0]) == []

"""Keyword scoring in numpy: BM25 by hand, and equality with SQLite FTS5's own
`bm25()` over the shipped sample corpus (real SQLite, real FTS5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from policykb.backends.embedded import bm25
from policykb.config import Settings
from policykb.kb import KnowledgeBase
from policykb.search.parts import fts_query, keyword_terms, terms

from .conftest import ROOT


def _postings(rows: list[tuple[int, int, int]]) -> np.ndarray:
    return np.array(rows, dtype=bm25.POSTING)


def test_scores_by_hand():
    # Three passages (ids 10, 11, 12) of 4, 8 and 12 tokens: avgdl = 8.
    corpus = bm25.Corpus.build(np.array([10, 11, 12]), np.array([4, 8, 12]))
    term = _postings([(10, 1, 0), (12, 0, 2)])  # in the title of 10, twice in the text of 12
    positions, scores = corpus.scores([term], title_weight=2.0)
    idf = math.log((3 - 2 + 0.5) / (2 + 0.5))  # negative: clamped to 1e-6, as FTS5 does
    assert idf < 0
    expected_10 = 1e-6 * 2.0 * 2.2 / (2.0 + 1.2 * (0.25 + 0.75 * 4 / 8))
    expected_12 = 1e-6 * 2.0 * 2.2 / (2.0 + 1.2 * (0.25 + 0.75 * 12 / 8))
    assert positions.tolist() == [0, 2]
    assert scores == pytest.approx([expected_10, expected_12], rel=1e-12)

    rare = _postings([(11, 0, 1)])
    positions, scores = corpus.scores([rare])
    assert positions.tolist() == [1]
    assert scores[0] == pytest.approx(math.log(2.5 / 1.5) * 2.2 / (1 + 1.2), rel=1e-12)


def test_dead_and_unknown_passages_are_ignored():
    corpus = bm25.Corpus.build(np.array([3, 5]), np.array([10, 10]))
    term = _postings([(3, 0, 1), (4, 0, 1), (99, 0, 1)])  # 4 was deleted, 99 is beyond every known id
    positions, _ = corpus.scores([term])
    assert positions.tolist() == [0]
    assert corpus.positions(np.array([5, 4, 99, 3])).tolist() == [1, -1, -1, 0]


def test_merge_sorts_and_drops_dead_passages():
    alive = np.zeros(6, dtype=bool)
    alive[[2, 5]] = True  # 7 is beyond the array: a passage id that no longer exists either
    merged = bm25.merge([_postings([(7, 0, 1), (2, 1, 0)]), _postings([(5, 0, 3), (3, 0, 1)])], alive)
    assert merged.tolist() == [(2, 1, 0), (5, 0, 3)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    home = tmp_path_factory.mktemp("bm25") / "kb"
    with KnowledgeBase(Settings(home=home, model="hashing")) as kb:
        assert kb.ingest([ROOT / "ingest"]).skipped == []
        yield kb


@pytest.mark.parametrize("query", [
    "cluster internationalisation vouchers for clusters",  # "cluster" twice: counted twice, as by FTS5
    "green transition textile circular economy",
    "how did regions fund staff exchanges between clusters",
    "digital innovation hubs artificial intelligence",
    "smart specialisation monitoring indicators",
])
def test_scores_equal_sqlite_fts5_bm25(sample, query):
    """The numpy scores are FTS5's own `bm25(passages_fts, 2.0, 1.0)`, passage for passage."""
    reference = sample.store.keyword_top(fts_query(query), 10_000, 2.0)
    assert len(reference) > 20
    facets = sample.facet_index
    terms = keyword_terms(query)
    found = sample.store.postings(terms)
    positions, scores = facets.corpus.scores([found[t] for t in terms if t in found], 2.0)
    ours = dict(zip(facets.passage_ids[positions].tolist(), scores.tolist()))
    assert set(ours) == {pid for pid, _ in reference}
    for pid, score in reference:
        assert ours[pid] == pytest.approx(score, rel=1e-9)


def fts5_keyword_set(kb: KnowledgeBase, query: str, share: float) -> set[int]:
    """Passages holding `share` of the query's IDF weight and two of its terms, computed from FTS5
    alone (an oracle)."""
    n = kb.stats()["passages"]
    holders = {w: {pid for pid, _ in kb.store.keyword_top(fts_query(w), 10_000, 2.0)} for w in terms(query)}
    weight = {w: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for w, p in holders.items()}
    every = set().union(*holders.values())
    return {pid for pid in every if sum(weight[w] for w, p in holders.items() if pid in p) >= share * sum(weight.values())
            and sum(pid in p for p in holders.values()) >= 2}


def test_keyword_search_ranks_items_as_fts5_does_under_a_filter(sample):
    query, filters = "cluster programmes for firms in regions", {"territory": ["EU", "FR", "ES"]}
    keep = set(sample.store.passage_ids_of([h.id for h in sample.search(filters=filters, size=1000).hits]))
    owners = sample.facet_index.owners(list(keep))
    matching = {owners[pid] for pid in fts5_keyword_set(sample, query, 0.4) & keep}
    assert len(matching) == 13  # of the 33 items in the filter: most hold "cluster", which weighs little
    expected: list[str] = []
    for pid, _ in sample.store.keyword_top(fts_query(query), 10_000, 2.0):
        if pid in keep and owners[pid] in matching and owners[pid] not in expected:
            expected.append(owners[pid])
    got = sample.search(query, mode="keyword", filters=filters, size=20)
    assert [h.id for h in got.hits] == expected
    assert got.total == len(expected)

"""FlatScores: rough scores with bounds give the answers exact scores give, reading few exactly."""

from __future__ import annotations

import numpy as np
import pytest

from policykb.search.flat_scores import FlatScores
from policykb.search.parts import best_rows


def scored(n: int, seed: int, width: float = 0.02, ties: bool = False, fine: bool = False
           ) -> tuple[FlatScores, np.ndarray]:
    """Entries with exact scores (some equal when `ties`), shown rough within `width` (and, `fine`,
    refined within a 30th of it); entry i is passage id 1000 + i, at place i of the index, of item
    row i % (n // 3)."""
    rng = np.random.default_rng(seed)
    exact = rng.uniform(-0.2, 0.8, n).astype(np.float32)
    if ties:
        exact = np.round(exact, 2).astype(np.float32)
    bound = rng.uniform(0.1, 1.0, n) * width
    rough = (exact + rng.uniform(-1, 1, n) * bound).astype(np.float32)
    ids = np.arange(1000, 1000 + n)
    place = np.full(1000 + n, -1)
    place[ids] = np.arange(n)
    sims = FlatScores(ids, ids % max(1, n // 3), rough, place, bound.astype(np.float32) + 1e-6, np.arange(n),
                      lambda entries: exact[entries])
    if fine:
        closer = (bound / 30).astype(np.float32) + 1e-6
        refined = (exact + rng.uniform(-1, 1, n) * bound / 30).astype(np.float32)
        sims.refine = lambda entries: (refined[entries], closer[entries])
    return sims, exact


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("fine", [False, True])
def test_the_best_score_is_the_exact_best(seed, fine):
    sims, exact = scored(3000, seed, fine=fine)
    assert sims.best() == float(exact.max())
    assert 0 < sims.settled < (10 if fine else 100)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("fine", [False, True])
def test_comparisons_with_a_level_are_exact(seed, fine):
    sims, exact = scored(3000, seed, fine=fine)
    levels = [0.35, 0.6]
    sims.settle_near(levels)
    for level in levels:
        assert ((sims.scores >= level) == (exact >= level)).all()
    assert sims.settled < (20 if fine else 300)  # only those within their bound of a level
    assert (sims.refined > 0) == fine


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("items", [1, 10, 40, 2000])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("fine", [False, True])
def test_the_top_is_the_exact_top(seed, items, ties, fine):
    sims, exact = scored(3000, seed, ties=ties, fine=fine)
    among = np.flatnonzero(np.arange(3000) % 3 != 1)  # a filter keeping two entries in three
    expected = among[best_rows(exact[among], sims.ids[among], sims.rows[among], items)]
    top = sims.top(among, items)
    assert top.tolist() == expected.tolist()
    assert sims.scores[top].tolist() == exact[top].tolist()
    if items <= 40:
        assert sims.settled < len(among) // 2


@pytest.mark.parametrize("items", [1, 10, 40, 900])
@pytest.mark.parametrize("kept", ["every", "half", "ties"])
@pytest.mark.parametrize("unlucky", [False, True])  # (a sample that gave too high a level: found the slow way)
def test_the_top_among_very_many_is_the_exact_top(items, kept, unlucky, monkeypatch):
    """Among 60,000 or more entries, the top is ranked among those that can reach it: the same
    entries and order as ranking every one (narrowed to a few thousand, or all when it needs more)."""
    from policykb.search import flat_scores

    if unlucky:
        monkeypatch.setattr(flat_scores, "sampled_level", lambda values, count: float(values.max()))
    sims, exact = scored(120_000, items, ties=kept == "ties")
    among = np.arange(120_000) if kept != "half" else np.flatnonzero(np.arange(120_000) % 2 == 0)
    ranked = []
    rank = FlatScores._top
    monkeypatch.setattr(FlatScores, "_top", lambda self, among, *a: ranked.append(len(among)) or rank(self, among, *a))
    expected = among[best_rows(exact[among], sims.ids[among], sims.rows[among], items)]
    top = sims.top(among, items)
    assert top.tolist() == expected.tolist()
    assert sims.scores[top].tolist() == exact[top].tolist()
    if max(flat_scores.NARROW_TO, 64 * items) * 4 < len(among):
        assert len(ranked) == 1 and ranked[0] < 30_000 and sims.settled < 30_000  # narrowed
    if items == 900:
        assert ranked == [len(among)]  # (too many wanted: every entry ranked)


@pytest.mark.parametrize("every", [50, 300])  # (50: the top reaches the narrowed entries' edge; 300: past it)
def test_a_top_at_the_edge_of_the_narrowed_entries_is_still_exact(every, monkeypatch):
    """The level is set so that exactly 640 entries surely reach it, and the top needs the best 640
    (one item in 50) or more (one in 300: then every entry is ranked): the same top either way."""
    from policykb.search import flat_scores

    monkeypatch.setattr(flat_scores, "NARROW_TO", 640)
    monkeypatch.setattr(flat_scores, "sampled_level", lambda values, count: float(np.sort(values)[-(count // 2)]))
    sims, exact = scored(120_000, every)
    sims.rows = np.where(np.arange(120_000) % every == 0, np.arange(120_000), 0)  # item 0, or one of its own
    among = np.arange(120_000)
    expected = among[best_rows(exact, sims.ids, sims.rows, 10)]
    assert sims.top(among, 10).tolist() == expected.tolist()
    assert (len(expected) == 640) == (every == 50)


def test_exact_scores_need_no_settling():
    ids = np.array([5, 6, 7])
    sims = FlatScores(ids, np.array([0, 1, 1]), np.array([0.1, 0.5, 0.3], dtype=np.float32), np.arange(8))
    assert sims.best() == pytest.approx(0.5)
    assert sims.top(np.arange(3), 1).tolist() == [1, 2, 0]
    sims.settle_near([0.3])
    assert sims.settled == 0


ASKED = [
    dict(query="how did regions fund cluster internationalisation"),
    dict(query="digital innovation vouchers for small firms", mode="semantic"),
    dict(query="green transition of industrial clusters", filters={"level": ["regional"]}),
    dict(query="hydrogen", mode="hybrid", size=3),
    dict(query="Förderung der Internationalisierung von Clustern"),  # the multilingual model's index
    dict(query="wie finanzieren Regionen Cluster", mode="semantic", size=50),
    dict(query="zzzz qqqq"),  # nothing close
    dict(query="qwertyuiop"),  # one word of no language: the main model's second opinion (its best score)
] + [dict(query=q, mode="semantic", size=100, facets=False) for q in (
    "skills and training for cluster staff", "monitoring and evaluation of cluster programmes", "export missions",
    "smart specialisation strategy", "funding for cluster managers", "circular economy", "tourism", "health",
    "artificial intelligence in manufacturing", "cross-border cooperation of clusters")]


@pytest.mark.parametrize("rough", ["8-bit codes", "noise", "codes refined, vectors read by id", "noise, refined"])
def test_a_rough_scan_answers_exactly_as_the_full_product(real_sample, monkeypatch, rough):
    # the real models, FAISS and SQLite: every search gives the same hits, scores, passages, totals and
    # facet counts when each flat index is scanned roughly first: by its 8-bit codes, or (to put many
    # passages on the wrong side of each cut-off) as the exact scores plus noise of up to 0.04, bound 0.05,
    # or as a `CodedIndex` (PostgreSQL's): 8-bit codes, refined by 4-bit ones, float vectors read by id
    from policykb.backends.embedded import index as index_module
    from policykb.backends.embedded.coded import CodedIndex

    def answers():
        out = []
        for asked in ASKED:
            result = real_sample.search(**asked)
            out.append((result.total, result.facets, [(h.id, h.passage, h.page) for h in result.hits],
                        [h.score for h in result.hits], [h.id for h in result.nearest]))
        similar = real_sample.similar(real_sample.search("cluster", size=1).hits[0].id, k=5)
        out.append(([h.id for h in similar], [], [], [h.score for h in similar], []))
        return out

    exact = answers()
    scanned = []
    codes = index_module.VectorIndex.rough_similarities
    noise = np.random.default_rng(7)

    def noisy(self, q):
        ids, scores = self.similarities(q)
        return ids, scores + noise.uniform(-0.04, 0.04, len(scores)).astype(np.float32), np.full(len(ids), 0.05)

    coded: dict[int, CodedIndex] = {}
    read: list[int] = []

    def as_coded(self) -> CodedIndex:  # (the index's own vectors, read by passage id as from a store)
        if id(self) not in coded:
            ids, vectors = index_module.faiss.vector_to_array(self.index.id_map), self._vectors().copy()
            by_id = dict(zip(ids.tolist(), vectors))

            def reader(wanted: list[int]) -> tuple[np.ndarray, np.ndarray]:
                read.extend(wanted)
                found = sorted(set(wanted))
                return np.array(found, dtype=np.int64), np.array([by_id[i] for i in found], dtype=np.float32)

            coded[id(self)] = CodedIndex.build(self.dim, [(ids, vectors)], reader)
        return coded[id(self)]

    monkeypatch.setattr(index_module, "ROUGH_FROM", 0)
    monkeypatch.setattr(index_module, "scan_pays", lambda rough, vectors, product: True)  # (whatever this machine's speeds)
    scan = codes if rough == "8-bit codes" else noisy
    read_by_id = rough.startswith("codes refined")
    if rough == "noise, refined":  # (then refined within 0.005, as exact scores plus noise of up to 0.004)
        monkeypatch.setattr(index_module.VectorIndex, "refinable", True, raising=False)
        monkeypatch.setattr(index_module.VectorIndex, "refined_at", lambda self, q, e: (
            self.exact_at(q, e) + noise.uniform(-0.004, 0.004, len(e)).astype(np.float32), np.full(len(e), 0.005)),
            raising=False)
    if read_by_id:
        scan = lambda self, q: as_coded(self).rough_similarities(q)  # noqa: E731
        monkeypatch.setattr(index_module.VectorIndex, "refinable", True, raising=False)
        monkeypatch.setattr(index_module.VectorIndex, "refined_at", lambda self, q, e: as_coded(self).refined_at(q, e),
                            raising=False)
        monkeypatch.setattr(index_module.VectorIndex, "exact_at", lambda self, q, e: as_coded(self).exact_at(q, e))
    monkeypatch.setattr(index_module.VectorIndex, "rough_similarities",
                        lambda self, q: scanned.append(len(self)) or scan(self, q))
    rough = answers()
    assert len(scanned) >= len(ASKED) and min(scanned) > 0
    for (total, facets, hits, scores, nearest), (total2, facets2, hits2, scores2, nearest2) in zip(exact, rough):
        assert (total2, facets2, hits2, nearest2) == (total, facets, hits, nearest)
        assert scores2 == pytest.approx(scores, abs=2e-6)  # (float32 sums in another order; shown to 6 places)
    assert any(total for total, *_ in exact) and any(nearest for *_, nearest in exact)
    if read_by_id:
        assert 0 < len(read) < sum(scanned)  # (some vectors read, far from all)

"""backends/embedded/coded.py: an index of 8-bit codes that reads float vectors only where it must;
searched as `search/flat_scores.py` searches it, it answers as an exact scan does."""

from __future__ import annotations

import numpy as np
import pytest

from policykb.backends.embedded.coded import CodedIndex
from policykb.backends.embedded.rough import RoughScan
from policykb.search.flat_scores import FlatScores


class Vectors:
    """Float vectors by passage id, as a store gives them; counts what was read."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.by_id = {int(i): v for i, v in zip(ids, vectors)}
        self.read: list[int] = []

    def __call__(self, wanted: list[int]) -> tuple[np.ndarray, np.ndarray]:
        self.read += wanted
        found = sorted(i for i in set(wanted) if i in self.by_id)
        return np.array(found, dtype=np.int64), np.array([self.by_id[i] for i in found], dtype=np.float32)


def corpus(n: int, dim: int = 64, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors[n // 2:] = vectors[: n - n // 2] + rng.normal(scale=0.02, size=(n - n // 2, dim))  # near-copies
    vectors[7] = vectors[3]  # an exact tie
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = rng.permutation(np.arange(10, 10 + 3 * n, 3))[:n].astype(np.int64)  # not in order, with gaps
    return ids, vectors


def exact_top(ids: np.ndarray, vectors: np.ndarray, q: np.ndarray, k: int, allowed=None) -> list[tuple[int, float]]:
    scores = (vectors.astype(np.float64) @ q.astype(np.float64)).astype(np.float32)
    keep = np.ones(len(ids), dtype=bool) if allowed is None else np.isin(ids, allowed)
    order = np.lexsort((ids, -scores))
    return [(int(ids[i]), float(scores[i])) for i in order if keep[i]][:k]


def top(index: CodedIndex, q: np.ndarray, k: int, allowed=None, everything: bool = False) -> list[tuple[int, float]]:
    """The `k` best (id, score) as a search finds them: `flat_scores` over the index (every entry
    searchable, each its own item), then its ranking (`everything`: all it ranked, not `k`)."""
    ids, scores, bound = index.rough_similarities(q)
    place = np.full(int(ids.max(initial=-1)) + 1, -1)
    place[ids] = np.arange(len(ids))
    entries = np.arange(len(ids))
    sims = FlatScores(ids, entries, scores, place, bound, entries, lambda e: index.exact_at(q, e),
                      lambda e: index.refined_at(q, e))
    among = entries if allowed is None else np.flatnonzero(np.isin(ids, allowed))
    found = sims.top(among, k)
    found = found if everything else found[:k]
    return [(int(ids[i]), float(sims.scores[i])) for i in found]


def build(ids: np.ndarray, vectors: np.ndarray, batch: int = 700) -> tuple[CodedIndex, Vectors]:
    store = Vectors(ids, vectors)
    batches = ((ids[s:s + batch], vectors[s:s + batch]) for s in range(0, len(ids), batch))
    return CodedIndex.build(vectors.shape[1], batches, store), store


@pytest.mark.parametrize("k,share", [(1, None), (10, None), (25, 0.5), (10, 0.01), (3000, None)])
def test_the_top_is_the_exact_scans_and_few_vectors_are_read(k, share):
    ids, vectors = corpus(3000)
    index, store = build(ids, vectors)
    rng = np.random.default_rng(k)
    allowed = None if share is None else rng.choice(ids, int(share * len(ids)), replace=False)
    for q in (vectors[3] * 0.9 + vectors[100] * 0.1, rng.normal(size=64).astype(np.float32)):
        store.read = []
        ranked = top(index, q, k, allowed, everything=True)  # (4 k: what the ranking makes exact)
        assert len(ranked) >= k and ranked == exact_top(ids, vectors, q, len(ranked), allowed)
        if k < 100:  # (an exact scan would read all 3,000)
            assert len(store.read) < 300


def test_codes_made_in_batches_or_followed_equal_codes_made_at_once():
    ids, vectors = corpus(2000)
    index, _ = build(ids, vectors, batch=300)
    whole = RoughScan(vectors, residual=True)
    same_codes(index.codes, whole)
    removed = ids[[5, 6, 900]].tolist()
    changed = ids[[10, 11]]  # (a changed passage: removed, then added again with its new vector)
    fresh = np.random.default_rng(1).normal(size=(3, 64)).astype(np.float32)
    new_ids = np.array([int(changed[0]), int(changed[1]), 99_999], dtype=np.int64)
    after = index.followed(removed + changed.tolist(), new_ids, fresh)
    keep = ~np.isin(ids, removed + changed.tolist())
    expected_ids = np.concatenate([ids[keep], new_ids])
    expected = RoughScan(np.vstack([vectors[keep], fresh]), residual=True)
    assert np.array_equal(after.ids, expected_ids) and len(after) == 1998
    same_codes(after.codes, expected)
    assert len(index) == 2000 and np.array_equal(index.ids, ids)  # the one searches hold is unchanged
    assert index.nbytes == 2000 * (8 + 64 + 16 + 32 + 8)  # ids, 8-bit codes, 4 floats, 4-bit codes, 2 floats


def same_codes(mine: RoughScan, theirs: RoughScan, order: np.ndarray | None = None) -> None:
    """The same codes (of entries `order` of mine, in that order), 8-bit and 4-bit."""
    order = np.arange(len(mine)) if order is None else order
    for name in ("codes", "scale", "error", "norm", "shift"):
        assert np.array_equal(getattr(mine, name)[..., order], getattr(theirs, name))
    for name in ("codes", "scale", "error"):
        assert np.array_equal(getattr(mine.residual, name)[order], getattr(theirs.residual, name))


def test_a_passage_the_store_no_longer_holds_scores_minus_one():
    ids, vectors = corpus(200)
    index, store = build(ids, vectors)
    del store.by_id[int(ids[4])]
    assert index.exact_at(vectors[4], np.array([4, 5]))[0] == -1.0
    assert index.exact_at(vectors[4], np.array([4, 5]))[1] == pytest.approx(float(vectors[5] @ vectors[4]), abs=1e-6)
    empty, _ = build(ids[:0], vectors[:0])
    assert len(empty) == 0 and top(empty, vectors[0], 5) == []


def test_a_crowd_of_near_copies_is_ranked_exactly_and_mostly_decided_without_reading():
    """3,000 copies of one vector, slightly moved: their scores lie closer together than the 8-bit
    bound, so the ranking rests on the refined scores (a refinement outside its bound fails this)."""
    rng = np.random.default_rng(11)
    base = rng.normal(size=64)
    vectors = (base + rng.normal(scale=0.03, size=(3000, 64))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(3000, dtype=np.int64) * 2 + 1
    index, store = build(ids, vectors)
    q = (base + rng.normal(scale=0.3, size=64)).astype(np.float32)
    q /= np.linalg.norm(q)
    rough, bound = index.rough_similarities(q)[1:]
    assert np.ptp(rough) < 2 * float(bound.min())  # (the rough scores alone decide nothing)
    ranked = top(index, q, 10, everything=True)  # (the ranking's whole top: 40 for 10 items, each exact)
    assert len(ranked) == 40 and ranked == exact_top(ids, vectors, q, 40)
    assert len(store.read) < 300

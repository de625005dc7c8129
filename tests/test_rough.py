"""RoughScan: 8-bit codes of a flat index's vectors, each rough score within its stated bound."""

from __future__ import annotations

import numpy as np
import pytest

from policykb.backends.embedded import rough
from policykb.backends.embedded.rough import RoughScan


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def vectors(kind: str, n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "gaussian":
        return unit(rng.normal(size=(n, dim)))
    if kind == "outlier dimension":  # one component much larger than the rest (as transformers give)
        raw = rng.normal(size=(n, dim))
        raw[:, 3] *= 30
        return unit(raw)
    if kind == "sparse":  # a few non-zero components (the hashing embedder's)
        raw = np.zeros((n, dim))
        for row in raw:
            row[rng.choice(dim, 3, replace=False)] = rng.normal(size=3)
        return unit(raw)
    if kind == "signs":  # every code at +-127: the integer product's largest sums
        return unit(rng.choice([-1.0, 1.0], size=(n, dim)))
    if kind == "not normalised":
        return (rng.normal(size=(n, dim)) * rng.uniform(0.01, 5, size=(n, 1))).astype(np.float32)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["gaussian", "outlier dimension", "sparse", "signs", "not normalised"])
@pytest.mark.parametrize("rounds", [1, 2])
def test_every_exact_score_lies_within_the_bound(kind, rounds, monkeypatch):
    monkeypatch.setattr(rough, "ROUNDS", rounds)
    rng = np.random.default_rng(len(kind) + rounds)
    stored = vectors(kind, 3000, 96, rng)
    stored[17] = 0.0  # a zero vector
    scan = RoughScan(stored)
    questions = list(vectors(kind, 20, 96, rng)) + [stored[5], -stored[6], np.full(96, 0.1, dtype=np.float32),
                                                    np.sign(stored[7]) + 0.01]
    for question in questions:
        scores, bound = scan.scores(question)
        exact = stored.astype(np.float64) @ np.asarray(question, dtype=np.float64)
        assert np.all(np.abs(exact - scores) <= bound)


@pytest.mark.parametrize("kind", ["gaussian", "outlier dimension", "sparse", "signs", "not normalised"])
@pytest.mark.parametrize("dim", [96, 97])  # (an odd size: the last 4-bit code has no partner in its byte)
def test_every_exact_score_lies_within_the_refined_bound(kind, dim):
    rng = np.random.default_rng(len(kind) + dim)
    stored = vectors(kind, 2000, dim, rng)
    stored[17] = 0.0
    parts = [RoughScan(stored[:700], residual=True), RoughScan(stored[700:], residual=True)]
    scan = RoughScan.joined(parts, dim).kept(np.arange(2000) != 3).appended(stored[3:4])  # (3 moved last)
    stored = np.vstack([np.delete(stored, 3, axis=0), stored[3:4]])
    questions = list(vectors(kind, 10, dim, rng)) + [stored[5], np.full(dim, 0.1, dtype=np.float32)]
    entries = np.arange(2000)
    for question in questions:
        exact = stored.astype(np.float64) @ np.asarray(question, dtype=np.float64)
        rough_scores, rough_bound = scan.scores(question)
        scores, bound = scan.refined(question, entries)
        assert np.all(np.abs(exact - scores) <= bound)
        if kind in ("gaussian", "outlier dimension"):
            assert float(np.median(bound)) < float(np.median(rough_bound)) / 8  # (finer by ~30)


def test_the_bound_is_narrow_enough_to_be_useful():
    # unit vectors of 384 dimensions (MiniLM's size): the bound stays near 0.02, so few passages
    # fall close enough to a cut-off to need their exact score
    rng = np.random.default_rng(0)
    stored = unit(rng.normal(size=(2000, 384)))
    question = unit(rng.normal(size=(1, 384)))[0]
    scores, bound = RoughScan(stored).scores(question)
    assert 0 < float(np.max(bound)) < 0.04
    assert float(np.max(np.abs(stored.astype(np.float64) @ question - scores))) < 0.01


def test_the_integer_product_never_saturates():
    # the largest codes on both sides, all of one sign or alternating: int16 pair sums would overflow
    # with 8-bit question codes; the product must equal numpy's in int64
    scan = RoughScan(np.zeros((4, 64), dtype=np.float32))
    scan.codes[:] = np.array([[127, -127, 127, -127]] * 64, dtype=np.int8)
    scan.codes[::2, 2] = -127
    for question in (np.full(64, 127, dtype=np.uint8), np.full(64, 1, dtype=np.uint8),
                     np.tile(np.array([127, 1], dtype=np.uint8), 32)):
        expected = question.astype(np.int64) @ scan.codes.astype(np.int64)
        assert scan._product(question).tolist() == expected.tolist()


def test_question_codes_stay_below_128():
    codes, scale = rough._round(np.array([1.0, -1.0, 0.5, 0.0]))
    assert codes.tolist() == [127, 1, 96, 64]
    assert scale == pytest.approx(1 / 63)


def test_an_empty_index_scans_to_nothing():
    scores, bound = RoughScan(np.zeros((0, 8), dtype=np.float32)).scores(np.ones(8, dtype=np.float32))
    assert scores.shape == bound.shape == (0,)

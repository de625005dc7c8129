"""Facet suggestions: similarity-weighted votes of the nearest items (literal figures)."""

from __future__ import annotations

import pytest

from policykb.search.suggest import vote

NEIGHBOURS = [("a", 0.9), ("b", 0.6), ("c", 0.3)]
VALUES = {"a": ["green", "digital"], "b": ["green"], "c": ["skills"]}


def test_votes_are_weighted_by_similarity_to_the_power():
    assert vote(NEIGHBOURS, VALUES, power=1.0) == [("green", pytest.approx(1.5 / 1.8)), ("digital", 0.5)]
    sharp = vote(NEIGHBOURS, VALUES, power=4.0)  # the closest item counts most
    total = 0.9 ** 4 + 0.6 ** 4 + 0.3 ** 4
    assert sharp == [("green", pytest.approx((0.9 ** 4 + 0.6 ** 4) / total)), ("digital", pytest.approx(0.9 ** 4 / total))]


def test_given_values_weak_values_and_negative_similarities_are_left_out():
    assert vote(NEIGHBOURS, VALUES, power=1.0, given=["green"]) == [("digital", 0.5)]
    assert vote(NEIGHBOURS, VALUES, power=1.0, min_confidence=0.9) == []
    assert vote([("a", -0.2), ("c", 0.5)], VALUES, power=1.0) == [("skills", 1.0)]
    assert vote([], VALUES) == []

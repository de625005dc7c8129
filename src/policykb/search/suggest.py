"""Facet suggestions for a draft from its nearest published items: each neighbour votes for its
facet values with a weight that grows with its similarity; a value's confidence is its share of
the votes. Measured against OECD's own labels by `bench/suggestions.py` (BENCHMARKS.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Chosen from bench/suggestions.py (STIP Compass hold-out): the weight is similarity ** POWER, so
# the closest neighbours count most; values under MIN_CONFIDENCE are not offered; values from
# HIGH_CONFIDENCE on are pre-selected in the contribution form (the others are offered only).
POWER = 4.0
MIN_CONFIDENCE = 0.25
HIGH_CONFIDENCE = 0.75


def vote(neighbours: Iterable[tuple[str, float]], values_of: Mapping[str, list[str]], power: float = POWER,
         min_confidence: float = MIN_CONFIDENCE, top: int = 3, given: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The `top` values of one facet, best first, with their confidence (share of the weighted
    votes of the neighbours), leaving out the values already `given` and those under `min_confidence`."""
    weights = {item: max(similarity, 0.0) ** power for item, similarity in neighbours}
    total = sum(weights.values()) or 1.0
    scores: dict[str, float] = {}
    for item, weight in weights.items():
        for value in values_of.get(item, []):
            scores[value] = scores.get(value, 0.0) + weight / total
    skip = set(given)
    ranked = sorted(((v, s) for v, s in scores.items() if s >= min_confidence and v not in skip),
                    key=lambda vs: (-vs[1], vs[0]))
    return ranked[:top]

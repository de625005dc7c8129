"""One query's keyword scoring that skips the postings of frequent terms where that provably changes
nothing (the MaxScore idea of Turtle and Flood, with this project's two uses of the postings).

A keyword search needs two things from the postings of its terms: the result set (passages holding
the required share of the query's informative weight, `Corpus.coverage`) and the best BM25 scores
(`Corpus.scores`). Scoring every posting costs time in proportion to the postings of the most
frequent terms ("cell" or "region" sit in a third of a million passages at 1M). But a frequent term
weighs little: if the frequent terms of a query together hold less than the share a passage needs,
no passage holding only those terms is in the result set, and none of them can score more than
the sum of their BM25 upper bounds. So the candidates are the passages holding one of the other,
*essential* terms (a few thousand), each scored exactly by looking its id up in every term's
postings (sorted by passage id), and:

- the result set is exact whenever the skipped terms' weights sum below the required share;
- the top of the ranking is exact whenever its lowest score is above the skipped terms' bound,
  which the caller checks (`Ranking.exact_above`); if it is not, the candidates are widened by
  the passages in which a skipped term alone weighs more than its part of that lowest score, and
  only if those are many is every posting scored.

The arithmetic is the same expressions in the same order as `Corpus`'s, so the scores are equal
to the last bit, not merely close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from policykb.backends.embedded.bm25 import K1, POSITION, POSTING, Corpus, bm25_idf

EMPTY = np.zeros(0, dtype=POSTING)
FREQUENT = 0.01  # a term in more than this share of the passages may be skipped
MARK_COST = 4.0  # marking a posting's position costs about this many steps of a binary search


@dataclass(frozen=True)
class Ranking:
    """BM25 of the candidate passages: their positions (ascending) and exact scores; any passage
    not among them scores at most `bound` (0.0 when every posting was scored)."""

    positions: np.ndarray
    scores: np.ndarray
    bound: float

    def exact_above(self, lowest: float) -> bool:
        """Whether a ranking down to a score of `lowest` is the same as over every posting."""
        return self.bound == 0.0 or lowest > self.bound * (1 + 1e-9)


class QueryScorer:
    """The keyword side of one query over one corpus (a generation's searchable passages). It works
    from each term's impacts (`Corpus.impacts`, remembered per corpus), so a frequent term's
    postings are read from the store once per generation, not once per question."""

    def __init__(self, corpus: Corpus, match: tuple[str, ...], read: Callable[[tuple[str, ...]], dict[str, np.ndarray]],
                 required: float, title_weight: float = 1.0) -> None:
        """`read`: the store's postings of some terms; `required`: the share of the query's weight a
        passage needs to be in the result set."""
        self.corpus, self.match, self.title_weight = corpus, match, title_weight
        self.distinct = list(dict.fromkeys(match))
        self._read = read
        self._postings: dict[str, np.ndarray] | None = None
        self.terms = {t: known for t in self.distinct if (known := corpus.known_impacts(t, title_weight)) is not None}
        if unknown := tuple(t for t in self.distinct if t not in self.terms):
            found = read(unknown)
            for t in unknown:
                self.terms[t] = corpus.impacts(t, _by_passage(found.get(t, EMPTY)), title_weight)
        n = len(corpus)
        self.hits = {t: len(self.terms[t][1]) for t in self.distinct}
        self.weight = {t: corpus.weight(self.hits[t]) for t in self.distinct}
        self.whole = sum(self.weight.values())
        self.idf = {t: bm25_idf(n, h) for t, h in self.hits.items() if h}
        # the highest BM25 a term adds to any passage
        self.bound = {t: self.idf[t] * (K1 + 1) * float(self.terms[t][0].max()) for t in self.idf}
        self.skipped = self._skippable(n, required)
        self.required = required
        self._candidates: np.ndarray | None = None
        self._marks: np.ndarray | None = None  # one value per position, 0.0 between uses

    @property
    def postings(self) -> dict[str, np.ndarray]:
        """Every posting of the query's terms found (read when first asked: scoring every posting,
        literal terms)."""
        if self._postings is None:
            found = self._read(tuple(self.distinct))
            self._postings = {t: _by_passage(p) for t, p in found.items() if len(p)}
        return self._postings

    def holders(self, term: str) -> np.ndarray:
        """Positions of the searchable passages holding a term (of the query or not), ascending."""
        if term not in self.terms:
            found = self._read((term,))
            self.terms[term] = self.corpus.impacts(term, _by_passage(found.get(term, EMPTY)), self.title_weight)
        return self.terms[term][1]

    def _skippable(self, n: int, required: float) -> set[str]:
        """The frequent terms whose weights together stay under the share a passage needs, lightest
        first; at least one term found somewhere stays essential."""
        found = [t for t in self.distinct if self.hits[t]]
        skipped: set[str] = set()
        if not self.whole:
            return skipped
        held = 0.0
        for t in sorted(found, key=lambda t: (self.weight[t], t)):
            if self.hits[t] <= FREQUENT * n or len(skipped) + 1 >= len(found):
                break
            if (held + self.weight[t]) / self.whole >= required - 1e-6:
                break
            held += self.weight[t]
            skipped.add(t)
        return skipped

    def _candidate_positions(self) -> np.ndarray:
        """Positions (`POSITION`s, ascending) of the searchable passages holding an essential term."""
        if self._candidates is None:
            n = len(self.corpus)
            held = np.zeros(n + 1, dtype=bool)  # (a mark per position: quicker than sorting the postings)
            for term in self.distinct:
                if term not in self.skipped:
                    held[self.terms[term][1]] = True
            self._candidates = np.flatnonzero(held[:n]).astype(POSITION)
        return self._candidates

    def _per_candidate(self, term: str, positions: np.ndarray, values: np.ndarray | float) -> np.ndarray:
        """For each candidate (`POSITION`s, ascending), the value of the term's posting for it
        (`values`: one per posting, in the order of its positions, or one for all), 0.0 where it
        has none. Found the cheaper way: by looking each candidate up in the term's positions
        (binary searches), or, for a term with few postings next to many candidates, by marking
        its postings' positions."""
        column = self.terms[term][1]
        if not len(column) or not len(positions):
            return np.zeros(len(positions), dtype=np.float64)
        if len(column) * MARK_COST < len(positions) * np.log2(len(column) + 1):
            if self._marks is None:
                self._marks = np.zeros(len(self.corpus) + 1, dtype=np.float64)
            self._marks[column] = values
            out = self._marks[positions]
            self._marks[column] = 0.0
            return out
        at = np.searchsorted(column, positions)
        inside = at < len(column)
        inside[inside] = column[at[inside]] == positions[inside]
        out = np.zeros(len(positions), dtype=np.float64)
        out[inside] = values[at[inside]] if isinstance(values, np.ndarray) else values
        return out

    def coverage(self, at_least: int) -> np.ndarray | None:
        """Positions (ascending) of the passages holding the required share of the query's weight
        and at least `at_least` of its terms; None when no term can be skipped (then reading every
        posting, `Corpus.coverage`, is quicker)."""
        if not self.skipped:
            return None
        positions = self._candidate_positions()
        held = np.zeros(len(positions), dtype=np.float64)
        count = np.zeros(len(positions), dtype=np.int32)
        for term in self.distinct:
            values = self._per_candidate(term, positions, self.weight[term])
            held += values  # (+ 0.0 where a passage lacks the term: the same sums as adding only where it has it)
            count += values > 0
        share = held / self.whole if self.whole else held
        return positions[(share >= self.required - 1e-9) & (count >= at_least)]

    def ranking(self, within: np.ndarray | None = None) -> Ranking | None:
        """BM25 of the candidates and the bound for every other passage; None when no term can be
        skipped. `within` (passage ids, a filter's few): every one of those passages is a
        candidate and no other is (the bound is 0)."""
        if within is not None:
            positions = self.corpus.positions(np.asarray(within, dtype=np.int64))
            return self._scored(np.unique(positions[positions >= 0]).astype(POSITION), 0.0)
        if not self.skipped:
            return None
        return self._scored(self._candidate_positions(), sum(self._most(t) for t in self.skipped))

    def widened(self, floor: float) -> Ranking | None:
        """When the first ranking's top ends at `floor`, too close to the bound to be sure: the
        candidates plus, for each skipped term, the passages it gives more than its part of
        `floor` (its share of the bound), found by their impacts (`Corpus.impacts`). Every other
        passage then scores less than `floor`, so a top ending at `floor` or above is exact. None
        when that would read much of the skipped postings (scoring every posting is then quicker)."""
        if floor <= 0:
            return None
        most = {t: self._most(t) for t in self.skipped}
        whole = sum(most.values())
        if whole <= 0:
            return None
        slices, budget = [], WIDEN * sum(self.hits[t] for t in self.skipped)
        parts = {t: floor * (1 - 1e-6) * most[t] / whole for t in self.skipped}
        for term, part in parts.items():
            impacts, positions, _ = self.terms[term]
            above = impacts > part / (self.match.count(term) * self.idf[term] * (K1 + 1))
            budget -= int(np.count_nonzero(above))
            if budget < 0:
                return None
            slices.append(positions[above])
        return self._scored(np.unique(np.concatenate([self._candidate_positions(), *slices])), sum(parts.values()))

    def _most(self, term: str) -> float:
        """The most BM25 a term of the query (as often as the query repeats it) adds to a passage."""
        return self.match.count(term) * self.bound.get(term, 0.0)

    def _scored(self, positions: np.ndarray, bound: float) -> Ranking:
        """BM25 of the passages at these positions (ascending): every term of the query, a repeated
        one counting again, added in the query's order as `Corpus.scores` adds them."""
        total = np.zeros(len(positions), dtype=np.float64)
        for term in self.match:
            if term not in self.idf:
                continue
            total += self._per_candidate(term, positions, self.idf[term] * (K1 + 1) * self.terms[term][0])
        scored = total > 0  # (a filter's passages holding no term of the query)
        return Ranking(positions[scored], total[scored], bound)


WIDEN = 0.25  # widening may read up to this share of the skipped terms' postings


def _by_passage(postings: np.ndarray) -> np.ndarray:
    """Postings sorted by passage id (segments are written in id order, so this is a check)."""
    column = postings["passage"]
    if len(column) > 1 and not bool(np.all(column[1:] > column[:-1])):
        postings = postings[np.argsort(column, kind="stable")]
    return postings


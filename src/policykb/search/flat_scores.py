"""`FlatScores`: one question's similarity with every searchable passage of a flat index.

A large flat index is first scanned by its 8-bit codes (`backends/embedded/rough.py`): each score
is then rough, within a known bound of the exact one. Every answer these methods give is the
exact one all the same: a comparison reads the exact score (from the float vectors) of each
passage whose bound straddles the level it is compared with, and a ranking reads the exact score
of each passage that can still reach its top; these are a few in 100,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from policykb.search.parts import best_rows

if TYPE_CHECKING:
    from policykb.backends.embedded.index import VectorIndex


@dataclass
class FlatScores:
    """Searchable passages' ids, item rows and scores (`bound`: how far each score may be from the
    exact one, 0 once read exactly; None: all exact), and `place`: passage id -> entry (-1: none)."""

    ids: np.ndarray
    rows: np.ndarray
    scores: np.ndarray
    place: np.ndarray
    bound: np.ndarray | None = None
    entries: np.ndarray | None = None  # each entry's place in the index (what `exact` reads)
    exact: Callable[[np.ndarray], np.ndarray] | None = None  # places in the index -> exact scores
    settled: int = field(default=0)  # how many scores were read exactly (for tests and benchmarks)

    def __len__(self) -> int:
        return len(self.scores)

    def settle(self, which: np.ndarray) -> None:
        """Make these entries' scores exact (a mask or indices over the entries)."""
        if self.bound is None or self.exact is None or self.entries is None:
            return
        which = np.flatnonzero(which) if which.dtype == bool else np.asarray(which, dtype=np.int64)
        which = which[self.bound[which] > 0]
        if len(which):
            self.scores[which] = self.exact(self.entries[which])
            self.bound[which] = 0.0
            self.settled += len(which)

    def unsure(self, levels: list[float], among: np.ndarray | None = None) -> np.ndarray:
        """Indices of the entries (of `among`, or all) whose score may lie on either side of a level."""
        if self.bound is None:
            return np.zeros(0, dtype=np.int64)
        scores, bound = (self.scores, self.bound) if among is None else (self.scores[among], self.bound[among])
        near = np.zeros(len(scores), dtype=bool)
        for level in levels:
            if math.isfinite(level):
                near |= np.abs(scores - level) <= bound
        return np.flatnonzero(near) if among is None else among[near]

    def settle_near(self, levels: list[float], among: np.ndarray | None = None) -> None:
        """Make exact every score (of `among`, or all) that a comparison with these levels needs."""
        self.settle(self.unsure(levels, among))

    def best(self) -> float:
        """The highest exact score (of no entry: -inf)."""
        if not len(self.scores):
            return -math.inf
        if self.bound is not None:
            self.settle(self.scores + self.bound >= float((self.scores - self.bound).max()))
        return float(self.scores.max())

    def top(self, among: np.ndarray, items: int) -> np.ndarray:
        """The entries `among` (indices) with the highest exact scores, best first (equal scores by
        passage id), as many as it takes to cover `items` different items, or all: the entries and
        the order of `parts.best_rows` over exact scores."""
        scores = self.scores[among]

        def exact_top(limit: int) -> None:  # every entry that can be among the `limit` best, exactly
            if self.bound is None:
                return
            bound = self.bound[among]
            if limit >= len(among):
                which = np.flatnonzero(bound > 0)
            else:  # (an entry left rough scores below `kth`, and `limit` entries at least `kth` exactly)
                kth = np.partition(scores - bound, len(among) - limit)[len(among) - limit]
                which = np.flatnonzero((scores + bound >= kth) & (bound > 0))
            self.settle(among[which])
            scores[which] = self.scores[among[which]]

        return among[best_rows(scores, self.ids[among], self.rows[among], items, exact_top)]


def flat_scores(index: VectorIndex, space: Any, facets: Any, vector: np.ndarray) -> FlatScores:
    """A flat index's similarities with `vector` for every searchable passage (`space.flat_layout`
    over `facets`): by 8-bit codes for a large index (rough until needed exact), else exact."""
    rough = index.rough_similarities(vector)
    ids, scores, bound = index.similarities(vector) + (None,) if rough is None else rough
    searchable, rows, place = space.flat_layout(ids, facets)
    everything = bool(searchable.all())  # (usually: no copies then)
    if not everything:
        ids, rows, scores = ids[searchable], rows[searchable], scores[searchable]
    sims = FlatScores(ids, rows, scores, place)
    if bound is not None:
        sims.bound = bound if everything else bound[searchable]
        sims.entries = np.arange(len(ids)) if everything else np.flatnonzero(searchable)
        sims.exact = lambda entries: index.exact_at(vector, entries)
    return sims

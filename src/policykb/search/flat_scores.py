"""`FlatScores`: one question's similarity with every searchable passage of a flat index.

A large flat index is first scanned by its 8-bit codes (`backends/embedded/rough.py`): each score
is then rough, within a known bound of the exact one. Every answer these methods give is the
exact one all the same: a comparison reads the exact score (from the float vectors) of each
passage whose bound straddles the level it is compared with, and a ranking reads the exact score
of each passage that can still reach its top; these are a few in 100,000. An index whose exact
scores are dear (`CodedIndex`: read from PostgreSQL) first refines those passages' scores from
finer codes held in memory (`refine`), and reads the exact score only where the finer bound
still straddles the level, or the passage is in the top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from policykb.search.parts import best_rows

if TYPE_CHECKING:
    from policykb.backends.embedded.index import VectorIndex


NARROW_FROM = 50_000  # `top` among this many entries or more first narrows them (`_narrowed`)
NARROW_TO = 4_096  # ... to those that can reach the best this many (or 64 per item wanted)
SAMPLE = 16_384  # scores sampled to find the level that many reach


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
    refine: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None  # places -> closer scores, bounds
    settled: int = field(default=0)  # how many scores were read exactly (for tests and benchmarks)
    refined: int = field(default=0)  # how many were refined
    _fine: np.ndarray | None = field(default=None, repr=False)  # which entries were refined

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

    def narrow(self, which: np.ndarray) -> None:
        """Refine these entries' scores (indices over the entries), where `refine` can: each score
        then lies within a bound some 30 times closer (kept only where it is closer)."""
        if self.refine is None or self.bound is None or self.entries is None or not len(which):
            return
        if self._fine is None:
            self._fine = np.zeros(len(self.scores), dtype=bool)
        which = np.asarray(which, dtype=np.int64)
        which = which[(self.bound[which] > 0) & ~self._fine[which]]
        if not len(which):
            return
        scores, bound = self.refine(self.entries[which])
        closer = bound < self.bound[which]
        self.scores[which[closer]] = scores[closer]
        self.bound[which[closer]] = bound[closer]
        self._fine[which] = True
        self.refined += len(which)

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
        """Make every score (of `among`, or all) that a comparison with these levels needs either
        exact or, refined, surely on one side of each level."""
        near = self.unsure(levels, among)
        if self.refine is not None:
            self.narrow(near)
            near = self.unsure(levels, near)
        self.settle(near)

    def best(self) -> float:
        """The highest exact score (of no entry: -inf)."""
        if not len(self.scores):
            return -math.inf
        if self.bound is not None:
            lowest = float((self.scores - self.bound).max())  # (the best is at least this)
            may = np.flatnonzero(self.scores + self.bound >= lowest)
            if self.refine is not None:
                self.narrow(may)
                lowest = max(lowest, float((self.scores[may] - self.bound[may]).max()))
                may = may[self.scores[may] + self.bound[may] >= lowest]
            self.settle(may)
        return float(self.scores.max())

    def top(self, among: np.ndarray, items: int) -> np.ndarray:
        """The entries `among` (indices) with the highest exact scores, best first (equal scores by
        passage id), as many as it takes to cover `items` different items, or all: the entries and
        the order of `parts.best_rows` over exact scores. Among very many, first among those whose
        score can reach the best few thousand (`_narrowed`)."""
        if len(among) >= NARROW_FROM:
            found = self._narrowed(among, items)
            if found is not None:
                return found
        return self._top(among, items)

    def _narrowed(self, among: np.ndarray, items: int) -> np.ndarray | None:
        """`top` over the entries of `among` that can be among its `guaranteed` best: a level that
        at least `guaranteed` scores surely reach is found from a sample of them, and no entry of
        those best can score below it. None when the top needs more entries than that (then every
        entry is ranked)."""
        whole = len(among) == len(self.scores)  # (then `among` is every entry, in order)
        scores = self.scores if whole else self.scores[among]
        lower = scores if self.bound is None else scores - (self.bound if whole else self.bound[among])
        wanted = max(NARROW_TO, 64 * items)
        if wanted * 4 >= len(among):
            return None
        level = sampled_level(lower, 2 * wanted)
        guaranteed = int(np.count_nonzero(lower >= level))
        if guaranteed < wanted:  # (an unlucky sample: the level itself)
            level = float(np.partition(lower, len(lower) - wanted)[len(lower) - wanted])
            guaranteed = int(np.count_nonzero(lower >= level))
        upper = scores if self.bound is None else scores + (self.bound if whole else self.bound[among])
        candidates = np.flatnonzero(upper >= level)
        candidates = candidates if whole else among[candidates]
        asked: list[int] = []
        found = self._top(candidates, items, asked)
        return found if max(asked) <= min(guaranteed, len(candidates) - 1) else None

    def _top(self, among: np.ndarray, items: int, asked: list[int] | None = None) -> np.ndarray:
        scores = self.scores[among]
        if asked is not None:
            asked.append(0)

        def exact_top(limit: int) -> None:  # every entry that can be among the `limit` best, exactly
            if asked is not None:
                asked.append(limit)
            if self.bound is None:
                return
            if self.refine is not None:  # (refined first: fewer can then reach the top)
                which = may_reach(limit)
                self.narrow(among[which])
                scores[which] = self.scores[among[which]]
            which = may_reach(limit)
            self.settle(among[which])
            scores[which] = self.scores[among[which]]

        def may_reach(limit: int) -> np.ndarray:  # the entries not exact that can be among the `limit` best
            assert self.bound is not None
            bound = self.bound[among]
            if limit >= len(among):
                return np.flatnonzero(bound > 0)
            # (an entry left out scores below `kth`, and `limit` entries score at least `kth`)
            kth = np.partition(scores - bound, len(among) - limit)[len(among) - limit]
            return np.flatnonzero((scores + bound >= kth) & (bound > 0))

        return among[best_rows(scores, self.ids[among], self.rows[among], items, exact_top)]


def sampled_level(values: np.ndarray, count: int) -> float:
    """A level about `count` of `values` reach, from a sample of them."""
    sample = values[:: max(1, len(values) // SAMPLE)]
    return float(np.quantile(sample, max(0.0, 1.0 - count / len(values))))


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
        if getattr(index, "refinable", False):
            sims.refine = lambda entries: index.refined_at(vector, entries)
    return sims

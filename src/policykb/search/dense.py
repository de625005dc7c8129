"""The semantic side of a search: the semantic result set (every item whose best passage clears
the similarity cut-off, decided exactly also over an approximate index), the dense ranking inside
a mask, and the nearest items to a text."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from policykb.backends.embedded.product import matvec
from policykb.search.flat_scores import FlatScores, flat_scores

if TYPE_CHECKING:
    from policykb.config import Settings
    from policykb.backends.embedded.facet_index import FacetIndex
    from policykb.backends.embedded.index import VectorIndex
    from policykb.backends.backend import Backend
    from policykb.search.relevance import Cutoff
    from policykb.backends.embedded.spaces import VectorSpace
    from policykb.backends.embedded.store import Store
    from policykb.topics import Topic

RERANK = 400  # approximate (IVF) candidates re-scored exactly per search
SQ8_SLACK = 0.02  # how far an 8-bit IVF score may fall below the exact one


class DenseMixin:
    """Semantic search for `Searcher` (which holds the state these methods use)."""

    backend: Backend
    store: Store
    settings: Settings
    space: VectorSpace
    index: VectorIndex
    facets: FacetIndex
    cutoff: Cutoff
    doubtful: bool
    not_english: bool
    across_languages: bool
    language: str | None
    topic: Topic | None | bool
    _qvec: np.ndarray | None
    _sims: FlatScores | None
    _exact: dict[int, float]

    if TYPE_CHECKING:
        def _main_model_agrees(self, query: str) -> bool: ...

    def _semantic_set(self, query: str) -> np.ndarray:
        """Items whose best passage clears the similarity cut-off (over the whole knowledge base),
        and, when the question is about a value of a thematic facet (`topics.py`), the items
        labelled with it whose best passage clears the cut-off for them."""
        relevant = np.zeros(len(self.facets), dtype=bool)
        if self.cutoff.floor <= -1:  # no cut-off: every item is relevant
            relevant[:] = True
            return relevant
        # a question in another language than the items it is compared with (or English items
        # compared with items in other languages): similarities run lower across languages
        foreign = self.across_languages or self.language not in (None, "en") or self.not_english
        if self.doubtful and not self._main_model_agrees(query):
            return relevant
        everyday = self.space.everyday(self._query_vector(query)) if self.cutoff.everyday else None
        if not self.index.approximate:
            sims = self._similarities(query)
            if not len(sims):
                return relevant
            best = sims.best()
            cut = self.cutoff.similarity_cut(best, foreign, everyday)
            labelled, topic_cut = self._labelled(query, best, foreign, everyday)
            sims.settle_near([cut] if labelled is None else [cut, topic_cut])
            relevant[sims.rows[sims.scores >= cut]] = True
            if labelled is not None:
                near = np.zeros(len(self.facets), dtype=bool)
                near[sims.rows[sims.scores >= topic_cut]] = True
                relevant |= near & labelled
            return relevant
        bound = self.index.error_bound
        slack = SQ8_SLACK if bound is None else bound
        k = 256
        while True:  # read deeper until the approximate scores fall below the cut
            found = self.index.search(self._query_vector(query), k)
            ids = np.array([pid for pid, _ in found], dtype=np.int64)
            rows = self.facets.rows_of_passages(ids)
            ids, scores = ids[rows >= 0], np.array([s for _, s in found], dtype=np.float64)[rows >= 0]
            rows = rows[rows >= 0]
            if not len(ids):
                return relevant
            # the best passage's exact score, then the exact score of every passage close to a cut
            scores = self._exactly_near(query, ids, scores, [float(scores.max())], 2 * slack, bound is None)
            best = float(scores.max())
            cut = self.cutoff.similarity_cut(best, foreign, everyday)
            labelled, topic_cut = self._labelled(query, best, foreign, everyday)
            lowest = min(cut, topic_cut) if labelled is not None else cut
            if len(found) < k or found[-1][1] < lowest - slack or k >= len(self.index):
                break
            k *= 4
        scores = self._exactly_near(query, ids, scores, [cut, topic_cut], slack, bound is None)
        relevant[rows[scores >= cut]] = True
        if labelled is not None:
            near = np.zeros(len(self.facets), dtype=bool)
            near[rows[scores >= topic_cut]] = True
            relevant |= near & labelled
        return relevant

    def _exactly_near(self, query: str, ids: np.ndarray, scores: np.ndarray, levels: list[float], width: float,
                      everywhere: bool = False) -> np.ndarray:
        """`scores` (an approximate index's) with the exact similarity, from the stored float
        vectors, of every passage scoring within `width` of one of the `levels` (or of every one),
        so that comparing them with those levels gives the exact answer."""
        need = np.full(len(ids), everywhere)
        for level in levels:
            if math.isfinite(level):
                need |= np.abs(scores - level) <= width
        wanted = ids[need].tolist()
        missing = [i for i in wanted if i not in self._exact]
        if missing:
            found, vectors = self.store.passage_vectors(self.space.key, missing)
            self._exact.update(zip(found.tolist(), matvec(vectors, self._query_vector(query)).tolist()))
        scores = scores.copy()
        scores[need] = [self._exact.get(i, s) for i, s in zip(wanted, scores[need].tolist())]
        return scores

    def _labelled(self, query: str, best: float, foreign: bool, everyday: float | None
                  ) -> tuple[np.ndarray | None, float]:
        """The items labelled with the question's topic (a mask) and the similarity they need,
        or (None, inf) when the question has no topic."""
        if self.cutoff.topic is None:
            return None, math.inf
        if self.topic is False:
            self.topic = self.space.topics(self.backend.taxonomy).closest(self._query_vector(query), self.space.embedder,
                                                                      self.cutoff.topic)
        if not self.topic:
            return None, math.inf
        cut = self.cutoff.topic_cut(best, self.topic.similarity, foreign, everyday)
        if cut == math.inf:
            return None, cut
        return self.facets.mask({self.topic.facet: [self.topic.value]}), cut

    # -- retrievers (inside a mask of items) -------------------------------------------------------

    def _query_vector(self, query: str) -> np.ndarray:
        if self._qvec is None:
            self._qvec = self.space.embed_query(query)
        return self._qvec

    def _similarities(self, query: str) -> FlatScores:
        """Flat index: every searchable passage's (id, item row, similarity), computed once (by
        8-bit codes for a large index: rough until a comparison or a ranking needs them exact)."""
        if self._sims is None:
            self._sims = flat_scores(self.index, self.space, self.facets, self._query_vector(query))
        return self._sims

    def _passage_similarities(self, query: str, passage_ids: np.ndarray, near: float | None = None) -> np.ndarray:
        """The query's exact similarity with each of these searchable passages (from the flat
        index's own storage, or from the stored vectors behind an approximate one); with `near`,
        similarities that are exact only where they are close to it (the approximate index's own
        elsewhere), which is all a comparison with `near` needs."""
        bound = self.index.error_bound
        if near is not None and bound:
            # (scores at or below near - 2 x bound may come back as -inf: surely below `near`)
            scores = self.index.scores_of(self._query_vector(query), passage_ids, near - 2 * bound)
            if scores is not None:
                return self._exactly_near(query, passage_ids, scores.astype(np.float64), [near], bound)
        if not self.index.approximate:
            sims = self._similarities(query)
            where = np.full(len(passage_ids), -1, dtype=np.int64)
            known = passage_ids < len(sims.place)  # (not: newer than this index)
            where[known] = sims.place[passage_ids[known]]
            asked = where[where >= 0]
            if near is None:
                sims.settle(asked)
            else:
                sims.settle_near([near], asked)
            return np.where(where >= 0, sims.scores[where], -1.0)
        return self._exactly_near(query, passage_ids, np.full(len(passage_ids), -1.0), [], 0.0, everywhere=True)

    def _dense(self, query: str, keep: np.ndarray | None, items: int) -> list[tuple[int, str, float]]:
        """(passage id, item id, similarity), best first, covering at least the `items` nearest items
        among `keep` (all if None); `query` is embedded once per Searcher, `similar` sets the vector."""
        index = self.index
        if not index.approximate:
            sims = self._similarities(query)
            among = np.arange(len(sims)) if keep is None else np.flatnonzero(keep[sims.rows])
            top = sims.top(among, items)
            return [(pid, self.facets.ids[row], score) for pid, row, score in
                    zip(sims.ids[top].tolist(), sims.rows[top].tolist(), sims.scores[top].tolist())]
        allowed = None if keep is None else self.facets.passages(keep)
        if allowed is not None and len(allowed) == len(index):
            allowed = None
        available = len(index) if allowed is None else len(allowed)
        # A selective filter scans every list (its few passages may sit anywhere); the approximate
        # scores of the candidates are then replaced by exact ones from the stored vectors.
        every_list = allowed is not None and available <= self.settings.exact_filter_limit
        k = min(available, max(items * 4, RERANK))
        while True:
            found = index.search(self._query_vector(query), k, allowed, every_list=every_list)
            out = self._rescored(query, [pid for pid, _ in found])
            if len({item for _, item, _ in out}) >= items or k >= available:
                return out
            k = min(available, k * 4)

    def _rescored(self, query: str, passage_ids: list[int]) -> list[tuple[int, str, float]]:
        """Exact similarities of approximate candidates, from their stored float vectors, best first."""
        ids, vectors = self.store.passage_vectors(self.space.key, passage_ids)
        if not len(ids):
            return []
        scores = matvec(vectors, self._query_vector(query))
        owners = self.facets.owners(ids.tolist())
        order = np.lexsort((ids, -scores))
        return [(int(ids[i]), owners[int(ids[i])], float(scores[i])) for i in order if int(ids[i]) in owners]

    def neighbours(self, text: str, items: int) -> list[tuple[str, float]]:
        """The published items nearest to a text (id, similarity of its best passage), best first,
        whatever the cut-off (contributions use it to suggest facets and spot duplicates)."""
        return [(i, s) for i, s, _ in self.nearest_passages(text, items)]

    def nearest_passages(self, text: str, items: int) -> list[tuple[str, float, int]]:
        """As `neighbours`, with the id of each item's passage nearest to the text."""
        best: dict[str, tuple[float, int]] = {}
        for pid, item, score in self._dense(text, None, items):
            best.setdefault(item, (score, pid))
        return [(i, s, p) for i, (s, p) in best.items()][:items]

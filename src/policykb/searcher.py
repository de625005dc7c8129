"""Search over a knowledge base: keyword (BM25 over the postings), semantic (exact over a flat
index, or FAISS IVF), hybrid (RRF), browse; disjunctive facet counts over the result set; similar
items. Per query, the BM25 scores of every matching passage and (flat index) the similarity of
every passage are computed once; each scope asked about (the result's, each facet's) is a mask.

The result set of a query is what the counts and the total describe: every item matching a
query term (keyword), the `candidates` items nearest in meaning (semantic), or both (hybrid),
always inside the filters.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidQuery
from .index import matvec
from .models import Hit, Passage, SearchResult
from .search import MODES, convex, keyword_terms, rrf, snippet, term_hits
from .store import Scope

if TYPE_CHECKING:
    from .kb import KnowledgeBase

MAX_PAGE_SIZE = 1000
RERANK = 400  # approximate (IVF) candidates re-scored exactly per search


class Searcher:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.store = kb.store
        self.settings = kb.settings
        self._qvec: np.ndarray | None = None
        self._sims: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # flat index: ids, rows, scores
        self.facets = kb.facet_index
        self._scored: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}  # terms -> BM25 of matches
        self._bases: dict[tuple[Any, ...], np.ndarray] = {}  # (terms, ids) -> items, before filters
        self._kept: dict[tuple[Any, ...], np.ndarray] = {}  # see _keep

    def _bm25(self, match: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(positions in the facet index's passages, BM25 scores) of the passages matching any term."""
        if match not in self._scored:
            found = self.store.postings(match)
            self._scored[match] = self.facets.corpus.scores([found[t] for t in match if t in found],
                                                            self.settings.title_weight)
        return self._scored[match]

    def _keep(self, scope: Scope) -> np.ndarray:
        """The items in a scope, as a mask over the facet index (asked again, the same mask: the
        total and the facet counts often ask about one scope; callers only read it)."""
        key = (scope.match, None if scope.ids is None else tuple(scope.ids), scope.year_from, scope.year_to,
               tuple(sorted((name, tuple(values)) for name, values in scope.filters.items())))
        if key not in self._kept:
            self._kept[key] = self._mask(scope)
            self._kept[key].setflags(write=False)
        return self._kept[key]

    def _mask(self, scope: Scope) -> np.ndarray:
        base = None
        if scope.match is not None or scope.ids is not None:
            key = (scope.match, tuple(scope.ids or ()))
            if key not in self._bases:
                base = self.facets.base(scope.ids or ())
                if scope.match is not None:
                    base[self.facets.passage_rows[self._bm25(scope.match)[0]]] = True
                self._bases[key] = base
            base = self._bases[key]
        return self.facets.mask(scope.filters, scope.year_from, scope.year_to, base=base)

    def _count(self, scope: Scope) -> int:
        return int(self._keep(scope).sum())

    # -- retrievers ---------------------------------------------------------------------------

    def _query_vector(self, query: str) -> np.ndarray:
        if self._qvec is None:
            self._qvec = self.kb.embed_query(query)
        return self._qvec

    def _dense(self, query: str, scope: Scope, items: int) -> list[tuple[int, str, float]]:
        """(passage id, item id, similarity), best first, covering at least the `items` nearest items in
        scope (`query` is embedded once per Searcher; `similar` sets the vector directly)."""
        index = self.kb.index
        filtered = bool(scope.filters) or scope.year_from is not None or scope.year_to is not None
        if not index.approximate:
            return self._flat(query, self._keep(scope) if filtered else None, items)
        allowed = None
        if filtered:
            allowed = self.facets.passages(self._keep(scope))
            if len(allowed) == len(index):
                allowed = None
        available = len(index) if allowed is None else len(allowed)
        # A selective filter scans every list (its few passages may sit anywhere); the 8-bit
        # scores of the candidates are then replaced by exact ones from the stored vectors.
        every_list = allowed is not None and available <= self.settings.exact_filter_limit
        k = min(available, max(items * 4, RERANK))
        while True:
            found = index.search(self._query_vector(query), k, allowed, every_list=every_list)
            out = self._rescored(query, [pid for pid, _ in found])
            if len({item for _, item, _ in out}) >= items or k >= available:
                return out
            k = min(available, k * 4)

    def _flat(self, query: str, keep: np.ndarray | None, items: int) -> list[tuple[int, str, float]]:
        """Exact dense search: every passage's similarity is computed once per query, and each scope
        (the result's, and each facet's for disjunctive counts) is a mask over them."""
        if self._sims is None:
            ids, scores = self.kb.index.similarities(self._query_vector(query))
            searchable, rows = self.kb.flat_layout(ids)
            self._sims = (ids[searchable], rows[searchable], scores[searchable])
        ids, rows, scores = self._sims
        if keep is not None:
            inside = keep[rows]
            ids, rows, scores = ids[inside], rows[inside], scores[inside]
        top = _best(scores, ids, rows, items)
        return [(pid, self.facets.ids[row], score) for pid, row, score in
                zip(ids[top].tolist(), rows[top].tolist(), scores[top].tolist())]

    def _rescored(self, query: str, passage_ids: list[int]) -> list[tuple[int, str, float]]:
        """Exact similarities of approximate candidates, from their stored float vectors, best first."""
        ids, vectors = self.store.passage_vectors(self.kb.model, passage_ids)
        if not len(ids):
            return []
        scores = matvec(vectors, self._query_vector(query))
        owners = self.facets.owners(ids.tolist())
        order = np.lexsort((ids, -scores))
        return [(int(ids[i]), owners[int(ids[i])], float(scores[i])) for i in order if int(ids[i]) in owners]

    def _keyword(self, scope: Scope, items: int) -> list[tuple[int, str, float]]:
        """(passage id, item id, BM25 score), best first, covering the `items` best items inside the
        scope's filters (ties by passage id)."""
        keep = self.facets.mask(scope.filters, scope.year_from, scope.year_to)
        positions, scores = self._bm25(scope.match)
        rows = self.facets.passage_rows[positions]
        inside = keep[rows]
        positions, scores, rows = positions[inside], scores[inside], rows[inside]
        top = _best(scores, positions, rows, items)
        pids = self.facets.passage_ids[positions[top]].tolist()
        return [(pid, self.facets.ids[row], score) for pid, row, score in
                zip(pids, rows[top].tolist(), scores[top].tolist())]

    # -- search -------------------------------------------------------------------------------

    def search(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None, page: int = 1, size: int = 10,
               with_facets: bool = True, facet_size: int = 50) -> SearchResult:
        if mode not in MODES:
            raise InvalidQuery(f"unknown mode {mode!r}; use one of {', '.join(MODES)}", {"mode": mode})
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidQuery(f"page must be >= 1 and size between 1 and {MAX_PAGE_SIZE}")
        if year_from is not None and year_to is not None and year_from > year_to:
            raise InvalidQuery(f"year_from {year_from} is after year_to {year_to}")
        scope = Scope(self.kb.taxonomy.normalise_filters(filters), year_from, year_to)
        query = query.strip()
        match = keyword_terms(query) if mode != "semantic" else None
        offset = (page - 1) * size

        if not query or (mode == "keyword" and match is None):
            result_scope = scope if not query else Scope(scope.filters, year_from, year_to, ids=[])
            keep = self._keep(result_scope)
            total = int(keep.sum())
            ids = self.facets.browse(keep, size, offset)
            hits = self._hits(ids, self.store.first_passages(ids), {}, query)
        else:
            depth = max(self.settings.candidates, page * size)
            kw = self._keyword(Scope(scope.filters, year_from, year_to, match=match), depth) if match else []
            dense = self._dense(query, scope, self.settings.candidates) if mode != "keyword" else []
            pool = _items(dense)[: self.settings.candidates]
            in_pool = set(pool)
            dense = [row for row in dense if row[1] in in_pool]  # the result set is exactly the pool
            ranked, scores = self._rank(mode, kw, dense)
            result_scope = Scope(scope.filters, year_from, year_to, match=match if mode != "semantic" else None,
                                 ids=pool if mode != "keyword" else None)
            total = self._count(result_scope) if mode != "semantic" else len(pool)
            page_ids = ranked[offset: offset + size]
            best_passage = self._best_passages(page_ids, kw, dense, query)
            passages = self.store.passages_by_id(list(best_passage.values()))
            shown = {i: passages[p][1] for i, p in best_passage.items() if p in passages}  # (a write may race)
            hits = self._hits(page_ids, shown, scores, query)
        pooled = bool(query) and mode != "keyword" and result_scope.ids is not None
        facets = self._facets(query, result_scope, facet_size, pooled) if with_facets else {}
        return SearchResult(query, mode, total, page, size, hits, facets)

    def _rank(self, mode: str, kw: list[tuple[int, str, float]], dense: list[tuple[int, str, float]]
              ) -> tuple[list[str], dict[str, float]]:
        """Item ranking and item scores (an item scores by its best passage in each retriever)."""
        if mode == "semantic" or (dense and not kw):
            scores = _first_scores(dense)
            return _items(dense), {i: round(v, 6) for i, v in scores.items()}
        if mode == "keyword" or not dense:
            scores = _first_scores(kw)
            return _items(kw), {i: round(v, 6) for i, v in scores.items()}
        if self.settings.fusion == "convex":
            item_scores = convex(_first_scores(kw), _first_scores(dense), self.settings.hybrid_alpha)
        else:
            item_scores = rrf([_items(kw), _items(dense)], self.settings.rrf_k)
        dense_rank = {item: rank for rank, item in enumerate(_items(dense))}
        ranked = sorted(item_scores, key=lambda i: (-item_scores[i], dense_rank.get(i, len(dense_rank)), i))
        return ranked, {i: round(s, 6) for i, s in item_scores.items()}

    def _best_passages(self, page_ids: list[str], kw: list[tuple[int, str, float]],
                       dense: list[tuple[int, str, float]], query: str) -> dict[str, int]:
        """Each shown item's best passage: by rank fusion of its keyword and dense passages.

        Among an item's keyword passages, the ones whose text holds more query terms come first (the
        title, repeated in every passage, would otherwise favour short passages such as a cover page).
        """
        shown = set(page_ids)
        kw_rows = [row for row in kw if row[1] in shown]
        per_item = Counter(item for _, item, _ in kw_rows)
        several = [pid for pid, item, _ in kw_rows if per_item[item] > 1]  # only there is there a choice
        texts = self.store.passages_by_id(several)
        hits = {pid: term_hits(texts[pid][1].text, query) for pid in several if pid in texts}
        kw_order = [pid for pid, _, _ in sorted(kw_rows, key=lambda r: -hits.get(r[0], 0))]  # stable
        dense_order = [pid for pid, item, _ in dense if item in shown]
        fused = rrf([kw_order, dense_order], self.settings.rrf_k)
        owner = {pid: item for pid, item, _ in kw_rows} | {pid: item for pid, item, _ in dense if item in shown}
        best: dict[str, int] = {}
        for pid in sorted(fused, key=lambda p: -fused[p]):
            best.setdefault(owner[pid], pid)
        return {item: best[item] for item in page_ids if item in best}

    def _hits(self, ids: list[str], passages: dict[str, Passage], scores: dict[str, float], query: str) -> list[Hit]:
        items = self.store.get_items(ids)
        hits = []
        for item_id in ids:
            if item_id not in items:  # deleted by a write since this search began
                continue
            item, passage = items[item_id], passages.get(item_id)
            text = passage.text if passage else item.summary
            hits.append(Hit(
                id=item.id, kind=item.kind, title=item.title, score=scores.get(item_id, 0.0), passage=text,
                page=passage.page if passage else None, snippet=snippet(text, query), source=item.source,
                url=item.url, facets=item.facets, summary=item.summary, region=item.region,
                start_year=item.start_year, end_year=item.end_year, section=passage.section if passage else None,
            ))
        return hits

    # -- facets -------------------------------------------------------------------------------

    def _facets(self, query: str, scope: Scope, facet_size: int, pooled: bool) -> dict[str, dict[str, Any]]:
        """Disjunctive counts: each facet counted with every filter applied except its own.

        When the result set includes a semantic pool (`pooled`), the pool itself depends on the
        filters, so it is searched again without the facet's own filter.
        """
        taxonomy = self.kb.taxonomy
        out: dict[str, dict[str, Any]] = {}
        keep = self._keep(scope)
        kept = np.flatnonzero(keep)  # shared by every facet that has no filter of its own
        for name in taxonomy.names:
            facet_scope = scope.without(name)
            if name in scope.filters and pooled:
                facet_scope.ids = _items(self._dense(query, facet_scope, self.settings.candidates))[
                    : self.settings.candidates]
            if name in scope.filters:
                facet_keep = self._keep(facet_scope)
                counts, truncated = self.facets.counts(name, facet_keep, facet_size, np.flatnonzero(facet_keep))
            else:
                counts, truncated = self.facets.counts(name, keep, facet_size, kept)
            selected = scope.filters.get(name, [])
            values = [
                {"value": v, "label": taxonomy.label(name, v), "count": n, "selected": v in selected}
                for v, n in counts
            ]
            listed = {v for v, _ in counts}
            for v in selected:
                if v not in listed:
                    n = self._count(Scope({**facet_scope.filters, name: [v]}, scope.year_from, scope.year_to,
                                          facet_scope.match, facet_scope.ids))
                    values.append({"value": v, "label": taxonomy.label(name, v), "count": n, "selected": True})
            out[name] = {"label": taxonomy.facet(name).label, "values": values, "truncated": truncated}
        return out

    # -- similar items ------------------------------------------------------------------------

    def similar(self, item_id: str, k: int = 10, filters: dict[str, Any] | None = None,
                year_from: int | None = None, year_to: int | None = None) -> list[Hit]:
        record = self.kb.get(item_id)  # raises NotFound
        ids, vectors = self.store.passage_vectors(self.kb.model, [p["id"] for p in record["passages"]])
        if not len(ids):
            return []
        centroid = vectors.mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        self._qvec, self._sims = centroid.astype(np.float32), None
        scope = Scope(self.kb.taxonomy.normalise_filters(filters), year_from, year_to)
        found = [r for r in self._dense("", scope, k + 1) if r[1] != item_id]
        ranked, scores = self._rank("semantic", [], found)
        top = ranked[:k]
        best = self._best_passages(top, [], found, "")
        passages = self.store.passages_by_id(list(best.values()))
        return self._hits(top, {i: passages[p][1] for i, p in best.items() if p in passages}, scores, "")


def _best(scores: np.ndarray, ties: np.ndarray, rows: np.ndarray, items: int) -> np.ndarray:
    """Indices of the highest scores, best first (equal scores by `ties`), as many as it takes to
    cover `items` different `rows` (items), or all."""
    limit = items * 4
    while True:
        if limit >= len(scores):
            return np.lexsort((ties, -scores))
        top = np.argpartition(-scores, limit)[:limit]
        top = top[np.lexsort((ties[top], -scores[top]))]
        if len(np.unique(rows[top])) >= items:
            return top
        limit *= 4


def _first_scores(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """Each item's score from its best (first) row."""
    scores: dict[str, float] = {}
    for row in rows:
        scores.setdefault(row[1], row[2])
    return scores


def _items(rows: list[tuple[Any, ...]]) -> list[str]:
    """Item ids in order of their first row (rows are (passage id, item id, ...))."""
    return list(dict.fromkeys(row[1] for row in rows))

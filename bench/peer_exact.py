"""The exactness check of bench/peer_txtai.py: each system's filtered top-10 (1 % and 50 % of the
passages allowed) against a reference made from its own scores of every allowed passage:

- semantic: brute-force cosine of the system's query vector with the indexed vectors;
- keyword: the system's unfiltered BM25 ranking restricted to the allowed ids;
- hybrid (txtai only): its own fusion (`Hybrid`) of its two retrievers' best allowed candidates,
  as deep as it fuses under a `where` (10 x its 10 x limit candidates), both lists exact. policykb's
  hybrid fuses (min-max, convex) the best candidates among the allowed items of its dense side and
  of its keyword side, each a mask over exactly computed scores; its keyword side there also holds
  passages with a single query term, which keyword mode leaves out of its result set, so the public
  API gives no independent reference for its fusion's normalisation: the check is not made.

policykb's relevance cut-off is off here (every item counts), so that the check is about ranking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

FILTERS = {"1 %": "MT", "50 %": "DE"}  # territories as bench/query_latency.py assigns them
TXTAI_DEPTH = 1000  # per retriever: 10 x (10 x limit) candidates when a query has a where clause
REFERENCE_DEPTH = 30  # reference items kept per filter (beyond 10: items tied at the 10th score)


def top(scores: dict[str, float], k: int) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def same_top(got: list[str], reference: dict[str, float], k: int = 10, tol: float = 1e-4) -> bool:
    """Whether `got` is the reference's top k; items tied (within `tol`) at the k-th score are interchangeable."""
    want = top(reference, k)
    if len(got) != len(want):
        return False
    if set(got) == {i for i, _ in want}:
        return True
    return bool(want) and all(reference.get(i, -np.inf) >= want[-1][1] - tol for i in got)


def exact_policykb(home: Path, claims: list[str]) -> dict[str, dict[str, float]]:
    """Share of exact filtered top-10s per filter, semantic and keyword, the relevance cut-off off."""
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    settings = Settings(home=home, query_cache=0, min_similarity=-1, similarity_margin=2, keyword_share=1e-9,
                        keyword_support=-1)
    with KnowledgeBase(settings) as kb:
        item_of = {pid: item for pid, item, _ in kb.store.published_passages()}
        territory = dict(kb.store.facet_pairs("territory"))
        batches = list(kb.store.iter_passage_vectors(kb.model))
        items = [item_of[int(p)] for b in batches for p in b[0]]
        matrix = np.vstack([b[1] for b in batches])
        counts: dict[str, dict[str, int]] = {label: {"semantic": 0, "keyword": 0} for label in FILTERS}
        allowed = {label: {i for i in items if territory.get(i) == value} for label, value in FILTERS.items()}
        for claim in claims:
            dense = dict(zip(items, (matrix @ kb.embed_query(claim)).tolist()))
            keyword: dict[str, dict[str, float]] = {label: {} for label in FILTERS}
            page = 1
            while any(len(k) < REFERENCE_DEPTH for k in keyword.values()):  # its unfiltered BM25 ranking
                hits = kb.search(claim, mode="keyword", size=1000, page=page, facets=False).hits
                for label, kept in keyword.items():
                    for hit in hits:
                        if hit.id in allowed[label] and len(kept) < REFERENCE_DEPTH:
                            kept[hit.id] = hit.score
                if len(hits) < 1000:
                    break
                page += 1
            for label, value in FILTERS.items():
                filters = {"territory": [value]}
                nearest = top({i: s for i, s in dense.items() if i in allowed[label]}, REFERENCE_DEPTH)
                reference = {"semantic": dict(nearest), "keyword": keyword[label]}
                for mode, ref in reference.items():
                    got = kb.search(claim, mode=mode, filters=filters, size=10, facets=False).hits
                    counts[label][mode] += same_top([h.id for h in got], ref)
    return {label: {mode: n / len(claims) for mode, n in modes.items()} for label, modes in counts.items()}


def exact_txtai(embeddings: Any, home: Path, claims: list[str], sql: str) -> dict[str, dict[str, float]]:
    """As exact_policykb, with txtai's own scores: its query vector, its BM25 (normalised as it
    normalises it) and its fusion (`Hybrid`: dense score + normalised BM25, weights 0.5 / 0.5)."""
    from txtai.embeddings.search.hybrid import Hybrid

    side = json.loads((home / "bench-items.json").read_text())
    items, territory = side["ids"], side["territory"]
    matrix = np.load(home / "bench-vectors.npy")
    fuse = Hybrid(embeddings.scoring)
    counts = {label: {"semantic": 0, "keyword": 0, "hybrid": 0} for label in FILTERS}
    for claim in claims:
        dense = dict(zip(items, (matrix @ embeddings.transform(claim)).tolist()))
        sparse = [(items[i], s) for i, s in embeddings.scoring.search(claim, len(items))]  # indexid = insertion order
        for label, value in FILTERS.items():
            allowed = {i for i, t in zip(items, territory) if t == value}
            dense_allowed = top({i: s for i, s in dense.items() if i in allowed and s > 0}, TXTAI_DEPTH)
            sparse_allowed = [(i, s) for i, s in sparse if i in allowed and s > 0][:TXTAI_DEPTH]
            reference = {"semantic": dict(dense_allowed), "keyword": dict(sparse_allowed),
                         "hybrid": dict(fuse((dense_allowed, sparse_allowed), [0.5, 0.5], TXTAI_DEPTH))}
            for mode, weights in (("semantic", 1.0), ("keyword", 0.0), ("hybrid", 0.5)):
                got = embeddings.search(sql, 10, weights=weights, parameters={"q": claim, "t": value})
                counts[label][mode] += same_top([r["id"] for r in got], reference[mode])
    return {label: {mode: n / len(claims) for mode, n in modes.items()} for label, modes in counts.items()}

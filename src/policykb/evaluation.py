"""Measured search quality on a BEIR data set: nDCG@10, recall@100 and MRR@10 per search mode,
and the result sets' size and recall (share of the judged-relevant documents inside the set) per
mode and over a curve of cut-offs (how a model's similarity floor is calibrated)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policykb.errors import PolicyKBError
from policykb.ingest.importers import beir_item_id
from policykb.search.relevance import Cutoff

if TYPE_CHECKING:
    from policykb.kb import KnowledgeBase


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain with graded relevance (gain = grade, as in BEIR)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sum(g / math.log2(rank + 2) for rank, g in enumerate(sorted(relevant.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    for rank, doc in enumerate(ranked[:k], 1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def load_beir(directory: Path, split: str = "test") -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Queries (that have judgements) and qrels of a BEIR data set."""
    directory = Path(directory)
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not (directory / "queries.jsonl").is_file() or not qrels_path.is_file():
        raise PolicyKBError(f"{directory} is not a BEIR data set with split {split!r} "
                            f"(needs queries.jsonl and qrels/{split}.tsv)")
    qrels: dict[str, dict[str, int]] = {}
    for line in qrels_path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip().lstrip("-").isdigit():
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {}
    for line in (directory / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            query = json.loads(line)
            if str(query["_id"]) in qrels:
                queries[str(query["_id"])] = str(query["text"])
    return queries, qrels


def _judged(directory: Path, split: str, limit: int | None
            ) -> tuple[dict[str, str], dict[str, dict[str, int]], dict[str, str]]:
    """Judged queries, qrels, and item id -> corpus id (the importer makes corpus ids safe as ids)."""
    queries, qrels = load_beir(directory, split)
    if limit:
        queries = dict(list(queries.items())[:limit])
    corpus = (Path(directory) / "corpus.jsonl").read_text(encoding="utf-8")
    original = {beir_item_id(str(json.loads(line)["_id"])): str(json.loads(line)["_id"])
                for line in corpus.splitlines() if line.strip()}
    return queries, qrels, original


def evaluate(kb: KnowledgeBase, directory: Path, modes: list[str], split: str = "test",
             limit: int | None = None) -> dict[str, dict[str, Any]]:
    """Run every judged query in every mode; the knowledge base must hold the data set's corpus.
    Also reports each mode's result sets: median and 90th-percentile size, and set recall."""
    queries, qrels, original = _judged(directory, split, limit)
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        started = time.perf_counter()
        totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
        sizes: list[int] = []
        for qid, text in queries.items():
            result = kb.search(text, mode=mode, size=100, facets=False)
            ranked = [original.get(h.id, h.id) for h in result.hits]
            totals["ndcg@10"] += ndcg_at_k(ranked, qrels[qid])
            totals["recall@100"] += recall_at_k(ranked, qrels[qid])
            totals["mrr@10"] += mrr_at_k(ranked, qrels[qid])
            sizes.append(result.total)
        n = max(1, len(queries))
        results[mode] = {**{k: round(v / n, 4) for k, v in totals.items()}, "queries": len(queries),
                         "seconds": round(time.perf_counter() - started, 1)}
        results[mode].update(set_figures(kb, queries, qrels, mode, None))
    return results


def set_figures(kb: KnowledgeBase, queries: dict[str, str], qrels: dict[str, dict[str, int]], mode: str,
                cut: Cutoff | None) -> dict[str, float]:
    """Result-set size (median, 90th percentile, and the median as a share of the corpus) and set
    recall (judged-relevant documents inside the set, over all of them) under a cut-off (None: the
    knowledge base's own)."""
    from policykb.search.searcher import Searcher

    searcher = Searcher(kb.backend, cut)
    rows = searcher.facets.row
    sizes, inside, judged = [], 0, 0
    for qid, text in queries.items():
        relevant = Searcher(kb.backend, searcher.cutoff).relevant(text, mode)
        sizes.append(int(relevant.sum()))
        wanted = [rows[i] for doc, grade in qrels[qid].items() if grade > 0 for i in [beir_item_id(doc)] if i in rows]
        inside += int(relevant[wanted].sum())
        judged += len(wanted)
    sizes.sort()
    median = sizes[len(sizes) // 2] if sizes else 0
    return {"set_median": median, "set_p90": sizes[int(0.9 * (len(sizes) - 1))] if sizes else 0,
            "set_median_share": round(median / max(1, len(rows)), 4),
            "set_recall": round(inside / judged, 4) if judged else 0.0}


def cutoff_curve(kb: KnowledgeBase, directory: Path, modes: list[str], floors: list[float],
                 shares: list[float], margin: float | None, split: str = "test",
                 limit: int | None = None) -> list[dict[str, Any]]:
    """Set size and set recall per mode over a grid of similarity floors and keyword shares (with
    the model's calibrated hybrid support): the data a model's default floor is chosen from."""
    from policykb.search.searcher import Searcher

    queries, qrels, _ = _judged(directory, split, limit)
    support = Searcher(kb.backend).cutoff.support  # the model's hybrid support stays as calibrated
    out = []
    for mode in modes:
        for floor in floors if mode != "keyword" else [floors[0]]:
            for share in shares if mode != "semantic" else [shares[0]]:
                figures = set_figures(kb, queries, qrels, mode, Cutoff(floor, margin, share, support))
                out.append({"mode": mode, "floor": floor if mode != "keyword" else None, "margin": margin,
                            "keyword_share": share if mode != "semantic" else None, **figures})
    return out

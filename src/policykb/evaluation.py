"""Measured search quality on a BEIR data set: nDCG@10, recall@100 and MRR@10 per search mode."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PolicyKBError
from .ingest.importers import beir_item_id

if TYPE_CHECKING:
    from .kb import KnowledgeBase


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


def evaluate(kb: KnowledgeBase, directory: Path, modes: list[str], split: str = "test",
             limit: int | None = None) -> dict[str, dict[str, Any]]:
    """Run every judged query in every mode; the knowledge base must hold the data set's corpus."""
    queries, qrels = load_beir(directory, split)
    if limit:
        queries = dict(list(queries.items())[:limit])
    # Item ids are the corpus ids, made safe for ids by the importer: map them back.
    corpus = (Path(directory) / "corpus.jsonl").read_text(encoding="utf-8")
    original = {beir_item_id(str(json.loads(line)["_id"])): str(json.loads(line)["_id"])
                for line in corpus.splitlines() if line.strip()}
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        started = time.perf_counter()
        totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
        for qid, text in queries.items():
            hits = kb.search(text, mode=mode, size=100, facets=False).hits
            ranked = [original.get(h.id, h.id) for h in hits]
            totals["ndcg@10"] += ndcg_at_k(ranked, qrels[qid])
            totals["recall@100"] += recall_at_k(ranked, qrels[qid])
            totals["mrr@10"] += mrr_at_k(ranked, qrels[qid])
        n = max(1, len(queries))
        results[mode] = {**{k: round(v / n, 4) for k, v in totals.items()}, "queries": len(queries),
                         "seconds": round(time.perf_counter() - started, 1)}
    return results

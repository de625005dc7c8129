"""Query latency (p50/p95/p99) per mode and filter selectivity, with exactness under filters.

Builds one knowledge base per size by cycling real passages (text and vectors) taken from an
existing knowledge base (e.g. SciFact and STIP ingested with the real model); copies beyond the
source size get their vector slightly perturbed, which is stated in the output ("synthetic").
Items get a `territory` so that one filter keeps ~50% of them and another ~1%. Queries are real
SciFact claims, embedded at query time (the figures include query embedding).

    .venv/bin/python bench/query_latency.py --source /tmp/kb-scifact --sizes 10000,100000 [--queries 100]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FILTERS = {"none": {}, "broad (~50%)": {"territory": ["DE"]}, "selective (~1%)": {"territory": ["MT"]}}


def build(source: Path, home: Path, size: int, seed: int = 7) -> int:
    """A knowledge base of `size` passages (one item each) cycled from `source`; returns real passages."""
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase
    from policykb.models import Item, Passage, sha256

    rng = np.random.default_rng(seed)
    with KnowledgeBase(Settings(home=source)) as src:
        rows = src.store.conn.execute(
            "SELECT p.title, p.text, v.vector FROM passages p JOIN vectors v ON v.hash = p.hash").fetchall()
        model = src.model
    real = len(rows)
    items, vectors_by_hash = [], {}
    for i in range(size):
        title, text, blob = rows[i % real]
        vector = np.frombuffer(blob, dtype=np.float32)
        if i >= real:  # synthetic copy: perturb so it is not an exact duplicate
            vector = vector + rng.normal(0, 0.02, vector.shape).astype(np.float32)
            vector /= np.linalg.norm(vector)
        territory = "MT" if i % 100 == 0 else ("DE" if i % 2 else "FR")
        item = Item(id=f"i{i}", kind="document", title=title, source="bench", passages=[Passage(text)],
                    facets={"territory": [territory], "kind": ["document"], "language": ["en"]})
        digest = sha256(f"{i}:{title}:{text}")
        items.append((item, digest))
        vectors_by_hash[digest] = vector.astype(np.float32)
    with KnowledgeBase(Settings(home=home)) as kb:
        kb.store.cache_vectors(model, vectors_by_hash)
        with kb.writing() as change:  # the same write path as ingest: store, generation and index together
            for item, digest in items:
                change.added += kb.store.write_item(item, [digest])[1]
            change.changed = True
    return real


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a knowledge base built with the real model")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="POLICYKB_THREADS (1 is best on this 2-core box)")
    args = parser.parse_args()

    from policykb.config import Settings
    from policykb.kb import KnowledgeBase
    from policykb.store import Scope

    claims = [json.loads(line)["text"] for line in
              (ROOT.parent / "shared/data/beir-scifact/queries.jsonl").read_text().splitlines()[: args.queries]]
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            real = build(args.source, Path(tmp) / "kb", size)
            build_s = time.perf_counter() - started
            with KnowledgeBase(Settings(home=Path(tmp) / "kb", threads=args.threads)) as kb:
                kb.search("warm up", mode="semantic")
                for label, filters in FILTERS.items():
                    for mode in ("keyword", "semantic", "hybrid"):
                        times = []
                        for claim in claims:
                            t0 = time.perf_counter()
                            kb.search(claim, mode=mode, filters=filters, size=10)
                            times.append((time.perf_counter() - t0) * 1000)
                        results.append({"passages": size, "synthetic": max(0, size - real), "filter": label,
                                        "mode": mode, "p50": statistics.median(times), "p95": percentile(times, 95),
                                        "p99": percentile(times, 99)})
                        r = results[-1]
                        print(f"{size:>8} {label:<16} {mode:<9} p50 {r['p50']:7.1f}  p95 {r['p95']:7.1f}  "
                              f"p99 {r['p99']:7.1f} ms", flush=True)
                    # exactness: dense top-10 under the filter equals brute force over the allowed vectors
                    scope = Scope(kb.taxonomy.normalise_filters(filters))
                    allowed = kb.store.allowed_passage_ids(scope)
                    ids, vectors = kb.store.passage_vectors(kb.model, allowed.tolist() if filters else None)
                    hits = 0
                    for claim in claims[:20]:
                        q = kb.embed_query(claim)
                        truth = set(ids[np.argsort(-(vectors @ q))[:10]].tolist())
                        got = {pid for pid, _ in kb.index.search(q, 10, allowed if filters else None)}
                        hits += len(truth & got)
                    print(f"{size:>8} {label:<16} dense recall@10 vs brute force: {hits / (10 * 20):.3f}", flush=True)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{size:>8} built in {build_s:.1f} s ({max(0, size - real)} synthetic passages); "
                  f"peak RSS so far {rss:.0f} MB", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

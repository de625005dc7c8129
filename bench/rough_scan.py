"""The 8-bit scan of a flat index (`backends/embedded/rough.py`) against the float product, on the
vectors of a knowledge base: how long the codes take to make, the scan and the product per
question, how wide the bound is, and how many exact scores a semantic question then reads (its
best, its cut-off, its top 40 items: `search/flat_scores.py`).

The vectors come from the knowledge base's saved index: a flat one's float vectors, or an IVF
one's 16-bit vectors (then the figures say what the scan would cost at that size; exact scores are
read from an in-memory float copy, where a search would read them from the store).

    POLICYKB_MULTILINGUAL_MODEL=none .venv/bin/python bench/rough_scan.py --home /tmp/benchkb/kb-100000
    POLICYKB_MULTILINGUAL_MODEL=none .venv/bin/python bench/rough_scan.py --home /tmp/benchkb/kb-1000000 --queries 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from query_latency import percentile  # noqa: E402


def stored_vectors(home: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of the index the knowledge base's manifest names."""
    import faiss

    manifest = json.loads((home / "manifest.json").read_text())
    index = faiss.read_index(str(home / manifest["file"]))
    if manifest["kind"] == "flat":
        flat = faiss.downcast_index(index.index)
        n, d = index.ntotal, index.d
        return faiss.vector_to_array(index.id_map), faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d).copy()
    ivf = faiss.extract_index_ivf(index)
    lists, ids, parts = ivf.invlists, [], []
    for n in range(ivf.nlist):
        size = lists.list_size(n)
        if size:
            codes = faiss.rev_swig_ptr(lists.get_codes(n), size * lists.code_size)
            parts.append(codes.view(np.float16).reshape(size, ivf.d).astype(np.float32))
            ids.append(faiss.rev_swig_ptr(lists.get_ids(n), size).copy())
    return np.concatenate(ids), np.vstack(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a knowledge base with a saved index")
    parser.add_argument("--queries", type=int, default=300, help="SciFact claims asked (of 1,109)")
    parser.add_argument("--margin", type=float, default=0.15, help="the cut-off below the best score")
    parser.add_argument("--floor", type=float, default=0.20, help="the lowest cut-off")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from policykb.backends.embedded.rough import RoughScan
    from policykb.encoders.embed import load_embedder
    from policykb.search.flat_scores import FlatScores

    ids, vectors = stored_vectors(args.home)
    start = time.perf_counter()
    scan = RoughScan(vectors)
    made = time.perf_counter() - start
    model = load_embedder(json.loads((args.home / "manifest.json").read_text())["model"])
    claims = [json.loads(line)["text"] for line in
              (ROOT.parent / "shared/data/beir-scifact/queries.jsonl").read_text().splitlines()[: args.queries]]
    rough_ms, float_ms, whole_ms, bounds, reads, errors = [], [], [], [], [], []
    for claim in claims:
        q = model.encode_query(claim)
        with threadpool_limits(1):  # (numpy's BLAS on one thread, as in a search)
            start = time.perf_counter()
            exact = vectors @ q
            float_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        scores, bound = scan.scores(q)
        rough_ms.append(1000 * (time.perf_counter() - start))
        errors.append(float(np.max(np.abs(scores - exact) / bound)))  # (before FlatScores makes some exact)
        bounds.append(float(np.median(bound)))
        q64 = q.astype(np.float64)
        sims = FlatScores(ids, ids, scores, np.zeros(0, dtype=np.int64), bound, np.arange(len(ids)),
                          lambda entries: (vectors[entries].astype(np.float64) @ q64).astype(np.float32))
        best = sims.best()
        sims.settle_near([max(args.floor, best - args.margin)])
        sims.top(np.arange(len(ids)), 40)
        whole_ms.append(1000 * (time.perf_counter() - start))
        reads.append(sims.settled)
    print(f"{args.home}: {len(ids):,} vectors of {vectors.shape[1]} dimensions; codes made in {made:.2f} s "
          f"({scan.codes.nbytes / 2**20:.0f} MB)")
    for label, values in (("float product (numpy, one thread)", float_ms), ("8-bit scan", rough_ms),
                          ("scan + best + cut-off + top 40", whole_ms)):
        print(f"{label:34s} p50 / p95 {percentile(values, 50):.2f} / {percentile(values, 95):.2f} ms")
    print(f"bound: median {statistics.median(bounds):.4f}; largest error / bound {max(errors):.3f} (must be <= 1)")
    print(f"exact scores read a question: median {statistics.median(reads):.0f}, p95 {percentile(reads, 95):.0f}, "
          f"max {max(reads)}")


if __name__ == "__main__":
    main()

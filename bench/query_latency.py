"""Query latency (p50/p95/p99) per mode and filter selectivity, with exactness under filters.

Builds one knowledge base per size by cycling real passages (text and vectors) taken from an
existing knowledge base (e.g. SciFact and STIP ingested with the real model); copies beyond the
source size get their vector slightly perturbed, which is stated in the output ("synthetic").
Items get a `territory` so that one filter keeps ~50% of them and another ~1%. Queries are real
SciFact claims, embedded at query time (the figures include query embedding).

    .venv/bin/python bench/query_latency.py --source /tmp/kb-scifact --sizes 10000,100000 [--queries 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
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
    with KnowledgeBase(Settings(home=source)) as src:  # every model of the default settings (main, multilingual)
        models = [space.key for space in src.spaces]
        rows = src.store.conn.execute(
            "SELECT p.title, p.text, " + ", ".join(f"(SELECT vector FROM vectors WHERE hash = p.hash AND model = ?)"
                                                    for _ in models) + " FROM passages p", models).fetchall()
    if any(blob is None for row in rows for blob in row[2:]):
        raise SystemExit(f"{source} lacks vectors for one of {models}: run `policykb --home {source} reindex`")
    real = len(rows)
    items, vectors_by_hash = [], {model: {} for model in models}
    for i in range(size):
        title, text, *blobs = rows[i % real]
        territory = "MT" if i % 100 == 0 else ("DE" if i % 2 else "FR")
        item = Item(id=f"i{i}", kind="document", title=title, source="bench", passages=[Passage(text)],
                    facets={"territory": [territory], "kind": ["document"], "language": ["en"]})
        digest = sha256(f"{i}:{title}:{text}")
        items.append((item, digest))
        for model, blob in zip(models, blobs):
            vector = np.frombuffer(blob, dtype=np.float32)
            if i >= real:  # synthetic copy: perturb so it is not an exact duplicate
                vector = vector + rng.normal(0, 0.02, vector.shape).astype(np.float32)
                vector /= np.linalg.norm(vector)
            vectors_by_hash[model][digest] = vector.astype(np.float32)
    with KnowledgeBase(Settings(home=home)) as kb:
        for model in models:
            kb.store.cache_vectors(model, vectors_by_hash[model])
        with kb.writing() as change:  # the same write path as ingest: store, generation and index together
            for item, digest in items:
                change.added += kb.store.write_item(item, [digest])[1]
            change.changed = True
    return real


def source_passages(source: Path) -> int:
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    with KnowledgeBase(Settings(home=source)) as src:
        return src.store.stats()["passages"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def brute_force_top10(kb, queries: np.ndarray, allowed: dict[str, np.ndarray | None]) -> dict[str, list[set[int]]]:
    """Exact top-10 passage ids of every query under every filter, in one pass over the stored
    float vectors (read in batches, so a million never sit in memory at once)."""
    best = {label: [np.zeros(0)] * len(queries) for label in allowed}
    best_ids = {label: [np.zeros(0, dtype=np.int64)] * len(queries) for label in allowed}
    for ids, vectors in kb.store.iter_passage_vectors(kb.model):
        scores = vectors @ queries.T  # (batch, queries)
        for label, keep in allowed.items():
            inside = np.ones(len(ids), dtype=bool) if keep is None else np.isin(ids, keep)
            for q in range(len(queries)):
                s = np.concatenate([best[label][q], scores[inside, q]])
                i = np.concatenate([best_ids[label][q], ids[inside]])
                top = np.argsort(-s, kind="stable")[:10]
                best[label][q], best_ids[label][q] = s[top], i[top]
    return {label: [set(i.tolist()) for i in best_ids[label]] for label in allowed}


def measure(home: Path, size: int, synthetic: int, claims: list[str], threads: int, recall: bool,
            lang: str | None = None) -> list[dict]:
    """Latency per filter and mode, RSS of a process that only serves queries, recall vs exact.
    Query embeddings are not cached (POLICYKB_QUERY_CACHE=0): every search embeds its query.
    `lang` forces the questions' language (e.g. de: they go to the multilingual model)."""
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    results = []
    started = time.perf_counter()
    with KnowledgeBase(Settings(home=home, threads=threads, query_cache=0)) as kb:
        space = kb.space_for(lang)
        kb.search("warm up", mode="hybrid", language=lang)
        cold = time.perf_counter() - started
        print(f"{size:>8} model {space.key}, index {kb.snapshot(space)[0].kind}, {len(kb.snapshot(space)[0])} vectors; "
              f"load + first answer {cold:.1f} s", flush=True)
        for label, filters in FILTERS.items():
            for mode in ("keyword", "semantic", "hybrid"):
                times = []
                for claim in claims:
                    t0 = time.perf_counter()
                    kb.search(claim, mode=mode, filters=filters, size=10, language=lang)
                    times.append((time.perf_counter() - t0) * 1000)
                row = {"passages": size, "synthetic": synthetic, "index": kb.index.kind, "filter": label,
                       "mode": mode, "p50": round(statistics.median(times), 1),
                       "p95": round(percentile(times, 95), 1), "p99": round(percentile(times, 99), 1)}
                results.append(row)
                print(f"{size:>8} {label:<16} {mode:<9} p50 {row['p50']:7.1f}  p95 {row['p95']:7.1f}  "
                      f"p99 {row['p99']:7.1f} ms", flush=True)
        rss = rss_mb()
        print(f"{size:>8} resident memory after the queries: {rss:.0f} MB", flush=True)
        results.append({"passages": size, "rss_mb": round(rss)})
        if not recall or space is not kb.main:
            return results
        facets = kb.facet_index
        allowed = {label: facets.passages(facets.mask(kb.taxonomy.normalise_filters(filters))) if filters else None
                   for label, filters in FILTERS.items()}
        checked = claims[:20]
        truth = brute_force_top10(kb, np.vstack([kb.embed_query(c) for c in checked]), allowed)
    # Ranking exactness, apart from the relevance cut-off: with no floor every item is in the set.
    with KnowledgeBase(Settings(home=home, threads=threads, query_cache=0, min_similarity=-1)) as kb:
        for label, filters in FILTERS.items():
            hits = 0
            for claim, exact in zip(checked, truth[label]):
                got = kb.search(claim, mode="semantic", filters=filters, size=10, facets=False).hits
                hits += len(exact & set(kb.store.passage_ids_of([h.id for h in got])))
            recall = hits / (10 * len(checked))
            results.append({"passages": size, "filter": label, "recall@10_vs_exact": recall})
            print(f"{size:>8} {label:<16} semantic recall@10 against exact search: {recall:.3f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a knowledge base built with the real model")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="POLICYKB_THREADS (0: the libraries' default)")
    parser.add_argument("--repeat", type=int, default=3, help="measuring runs per size (medians are reported)")
    parser.add_argument("--workdir", type=Path, help="build the knowledge bases here (default: the system's temp)")
    parser.add_argument("--keep", type=Path, help="build each size once into KEEP/kb-<size> and reuse it later")
    parser.add_argument("--lang", help="force the questions' language (e.g. de: the multilingual model answers)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: query phase in its own process
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--recall", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    claims = [json.loads(line)["text"] for line in
              (ROOT.parent / "shared/data/beir-scifact/queries.jsonl").read_text().splitlines()[: args.queries]]
    if args.measure:
        print("RESULTS " + json.dumps(measure(args.measure, args.size, args.synthetic, claims, args.threads,
                                              recall=args.recall, lang=args.lang)))
        return
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            home = (args.keep / f"kb-{size}") if args.keep else Path(tmp) / "kb"
            started = time.perf_counter()
            if (home / "manifest.json").exists():  # built by an earlier run with --keep
                real = source_passages(args.source)
                print(f"{size:>8} reusing {home}", flush=True)
            else:
                real = build(args.source, home, size)
                print(f"{size:>8} built in {time.perf_counter() - started:.0f} s", flush=True)
            synthetic = max(0, size - real)
            print(f"{size:>8} {synthetic} synthetic passages", flush=True)
            for run in range(args.repeat):  # each run in a fresh process; recall is checked in the first
                out = subprocess.run([sys.executable, __file__, "--source", str(args.source), "--measure",
                                      str(home), "--size", str(size), "--synthetic", str(synthetic),
                                      "--queries", str(args.queries), "--threads", str(args.threads)]
                                     + (["--lang", args.lang] if args.lang else [])
                                     + (["--recall"] if run == 0 else []), capture_output=True, text=True, check=True)
                for line in out.stdout.splitlines():
                    if line.startswith("RESULTS "):
                        results += [dict(r, run=run) for r in json.loads(line[8:])]
                    else:
                        print(line, flush=True)
    print(f"\nmedians over {args.repeat} run(s), ms:")
    for size in sorted({r["passages"] for r in results}):
        for label in FILTERS:
            cells = []
            for mode in ("keyword", "semantic", "hybrid"):
                runs = [r for r in results if r["passages"] == size and r.get("filter") == label and r.get("mode") == mode]
                cells.append(" / ".join(f"{statistics.median(r[p] for r in runs):.1f}" for p in ("p50", "p95", "p99")))
            print(f"{size:>8} {label:<16} keyword {cells[0]:<20} semantic {cells[1]:<20} hybrid {cells[2]}")
        rss = [r["rss_mb"] for r in results if r["passages"] == size and "rss_mb" in r]
        print(f"{size:>8} resident memory (median): {statistics.median(rss):.0f} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

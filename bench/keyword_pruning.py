"""Keyword search with the postings of frequent terms skipped (`maxscore.py`) against scoring every
posting: the same result sets and top items? how much quicker?

For each question and filter, in one process over one knowledge base (e.g. one built by
bench/query_latency.py --keep), the keyword side is run both ways (POLICYKB_KEYWORD_PRUNING on and
off, alternating question by question): the result set (`relevant`, keyword mode), the items of the
top 10 and of the `candidates` list hybrid fuses, and the time of keyword-mode and hybrid-mode
searches. Prints how many questions agree, which path answered (skipped terms, a filter's passages
only, or every posting after a failed check), and p50/p95 of both.

    .venv/bin/python bench/keyword_pruning.py --home /tmp/benchkb/kb-1000000 [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from query_latency import FILTERS, percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a knowledge base (with territory facets: "
                        "bench/query_latency.py --keep builds them)")
    parser.add_argument("--queries", type=int, default=300, help="SciFact claims asked (of 1,109)")
    args = parser.parse_args()

    from policykb.config import Settings
    from policykb.kb import KnowledgeBase
    from policykb.search.searcher import Searcher

    claims = [json.loads(line)["text"] for line in
              (ROOT.parent / "shared/data/beir-scifact/queries.jsonl").read_text().splitlines()[: args.queries]]
    kbs = {flag: KnowledgeBase(Settings(home=args.home, keyword_pruning=flag)) for flag in (True, False)}
    for kb in kbs.values():
        kb.search("warm up", mode="hybrid")
    agree = {"set": 0, "top 10": 0, "candidates": 0}
    asked = 0
    paths: dict[str, int] = {}
    times: dict[tuple[str, bool, str], list[float]] = {}
    for label, filters in FILTERS.items():
        for claim in claims:
            seen = {}
            for flag, kb in kbs.items():
                searcher = Searcher(kb.backend)
                searcher._use_language(claim, "en")
                match = searcher._match(claim)
                if not match:
                    break
                keep = searcher._mask(kb.taxonomy.normalise_filters(filters), None, None, None)
                relevant = searcher.relevant(claim, "keyword")
                ranked = searcher._keyword(match, keep, kb.settings.candidates)
                if flag:
                    path = f"{label}: {searcher.keyword_path}"
                    paths[path] = paths.get(path, 0) + 1
                seen[flag] = (relevant.tobytes(), [item for _, item, _ in ranked])
                for mode in ("keyword", "hybrid"):
                    t0 = time.perf_counter()
                    kb.search(claim, mode=mode, filters=filters, size=10)
                    times.setdefault((label, flag, mode), []).append((time.perf_counter() - t0) * 1000)
            if len(seen) < 2:
                continue
            asked += 1
            (set_on, items_on), (set_off, items_off) = seen[True], seen[False]
            agree["set"] += set_on == set_off
            agree["top 10"] += list(dict.fromkeys(items_on))[:10] == list(dict.fromkeys(items_off))[:10]
            agree["candidates"] += items_on == items_off
    n = len(next(iter(kbs.values())).facet_index.corpus)
    print(f"{args.home}: {n} searchable passages, {asked} question x filter pairs")
    for what, count in agree.items():
        print(f"  same {what:<11} {count}/{asked} ({count / max(asked, 1):.3f})")
    print("  path taken with pruning on:")
    for path, count in sorted(paths.items()):
        print(f"    {path:<45} {count}")
    print(f"  {'filter':<16} {'mode':<8} {'pruned p50 / p95':>20} {'every posting p50 / p95':>26}")
    for label in FILTERS:
        for mode in ("keyword", "hybrid"):
            on, off = times[(label, True, mode)], times[(label, False, mode)]
            print(f"  {label:<16} {mode:<8} {statistics.median(on):9.1f} / {percentile(on, 95):6.1f} ms"
                  f" {statistics.median(off):14.1f} / {percentile(off, 95):6.1f} ms")
    for kb in kbs.values():
        kb.close()


if __name__ == "__main__":
    main()

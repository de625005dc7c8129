import math

import pytest

from policykb.evaluation import evaluate, load_beir, mrr_at_k, ndcg_at_k, recall_at_k

RANKED = ["a", "b", "c", "d"]
RELEVANT = {"b": 1, "d": 2}


def test_ndcg_by_hand():
    dcg = 1 / math.log2(3) + 2 / math.log2(5)  # b at rank 2, d at rank 4
    ideal = 2 / math.log2(2) + 1 / math.log2(3)  # d first, then b
    assert ndcg_at_k(RANKED, RELEVANT) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, RELEVANT) == pytest.approx(0.567207, abs=1e-6)
    assert ndcg_at_k(["d", "b"], RELEVANT) == 1.0
    assert ndcg_at_k(RANKED, {}) == 0.0


@pytest.mark.parametrize("k, expected", [(1, 0.0), (2, 0.5), (4, 1.0), (100, 1.0)])
def test_recall_by_hand(k, expected):
    assert recall_at_k(RANKED, RELEVANT, k) == expected


@pytest.mark.parametrize("ranked, expected", [(RANKED, 0.5), (["d"], 1.0), (["x"] * 10 + ["b"], 0.0)])
def test_mrr_by_hand(ranked, expected):
    assert mrr_at_k(ranked, RELEVANT) == expected


def write_beir(root, docs, queries, qrels):
    import json

    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels))
    return root


def test_evaluate_on_a_tiny_beir_set(kb, tmp_path):
    root = write_beir(
        tmp_path / "tiny",
        [{"_id": "d1", "title": "Cluster vouchers", "text": "Vouchers help cluster firms export."},
         {"_id": "d2", "title": "Green steel", "text": "Hydrogen replaces coal in steel making."},
         {"_id": "d/3", "title": "Odd id", "text": "An id with a slash in it about hydrogen valleys."}],
        [{"_id": "q1", "text": "export vouchers"}, {"_id": "q2", "text": "hydrogen valleys"},
         {"_id": "q3", "text": "no judgements"}],
        [("q1", "d1", 1), ("q2", "d/3", 1)],
    )
    assert load_beir(root)[0] == {"q1": "export vouchers", "q2": "hydrogen valleys"}
    assert kb.ingest([root], fmt="beir").skipped == []
    results = evaluate(kb, root, ["keyword"])
    assert results["keyword"]["ndcg@10"] == 1.0 and results["keyword"]["queries"] == 2

"""VectorIndex: flat and IVF kinds, automatic choice by size, exact answers under selective filters."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from policykb.config import Settings
from policykb.errors import IndexMismatch
from policykb.backends.embedded.index import VectorIndex, load_index, read_manifest
from policykb.backends.embedded.rough import RoughScan, scan_pays
from policykb.kb import KnowledgeBase

WORDS = ("cluster vouchers export green digital hydrogen textile tourism skills health steel robots farm food "
         "ports space chips wind solar water housing design music games mobility batteries").split()


def random_records(path, n: int, seed: int = 3):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        lines.append(json.dumps({"id": f"r{i}", "title": f"Record {i}", "summary": words,
                                 "country": "MT" if i % 100 == 0 else ("DE" if i % 2 else "FR")}))
    path.write_text("\n".join(lines))
    return path


def brute_force(kb: KnowledgeBase, query: np.ndarray, allowed: set[str] | None, k: int = 10,
                precise: bool = False) -> list[str]:
    """The top `k` items by the float32 product (`precise`: float64 rounded to float32, as exact
    scores read one by one are; equal scores by passage id either way)."""
    ids, vectors = kb.store.passage_vectors(kb.model)
    owners = kb.store.passages_by_id(ids.tolist())
    scores = (vectors.astype(np.float64) @ query.astype(np.float64)).astype(np.float32) if precise else vectors @ query
    ranked = [owners[int(ids[i])][0] for i in np.argsort(-scores, kind="stable")]
    return [i for i in ranked if allowed is None or i in allowed][:k]


def test_flat_index_round_trip(tmp_path):
    index = VectorIndex(4)
    index.add([7, 9], np.eye(4, dtype=np.float32)[:2])
    assert index.search(np.array([0, 1, 0, 0], dtype=np.float32), 1) == [(9, 1.0)]
    assert index.search(np.array([0, 1, 0, 0], dtype=np.float32), 2, allowed=np.array([7])) == [(7, 0.0)]
    index.save(tmp_path, "m", 3)
    manifest = read_manifest(tmp_path)
    assert {k: manifest[k] for k in ("model", "dimension", "count", "generation", "kind")} == \
        {"model": "m", "dimension": 4, "count": 2, "generation": 3, "kind": "flat"}
    with pytest.raises(IndexMismatch, match="built with model 'm'"):
        load_index(tmp_path, manifest, "other", 4)


def test_large_knowledge_base_switches_to_ivf_and_stays_exact_under_selective_filters(tmp_path):
    settings = Settings(home=tmp_path / "kb", model="hashing", ivf_threshold=1000, ivf_nprobe=64,
                        exact_filter_limit=800, min_similarity=-1)  # every item relevant: ranking alone is tested
    with KnowledgeBase(settings) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1500)])
        assert kb.index.kind == "ivf" and len(kb.index) == 1500
        assert read_manifest(kb.home)["kind"] == "ivf"
        malta = {f"r{i}" for i in range(0, 1500, 100)}
        germany = {f"r{i}" for i in range(1, 1500, 2)}  # 750 passages: more than the 400 re-scored
        overlap = 0
        for words in ("cluster vouchers export", "green hydrogen wind solar", "music games design"):
            q = kb.embed_query(words)
            selective = [h.id for h in kb.search(words, mode="semantic", filters={"territory": ["MT"]}).hits]
            assert selective == brute_force(kb, q, malta)  # every list scanned, scores from the float vectors
            wider = [h.id for h in kb.search(words, mode="semantic", filters={"territory": ["DE"]}).hits]
            assert wider == brute_force(kb, q, germany)
            approx = [h.id for h in kb.search(words, mode="semantic", size=10).hits]
            overlap += len(set(approx) & set(brute_force(kb, q, None)))
        assert overlap / 30 >= 0.8  # approximate, but close
    with KnowledgeBase(settings) as again:  # loads the IVF index from disk
        assert again.index.kind == "ivf" and again.check()["status"] == "ok"


def test_ivf_index_follows_updates_and_shrinks_back_to_flat(tmp_path):
    settings = Settings(home=tmp_path / "kb", model="hashing", ivf_threshold=1000)
    with KnowledgeBase(settings) as kb:
        path = random_records(tmp_path / "r.jsonl", 1100)
        kb.ingest([path])
        assert kb.index.kind == "ivf"
        random_records(path, 1100, seed=4)  # every record changes
        assert len(kb.ingest([path]).updated) == 1100 and kb.check()["status"] == "ok"
        random_records(path, 300)
        assert len(kb.ingest([path]).removed) == 800
        assert kb.index.kind == "flat" and kb.check()["status"] == "ok"


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ivf_scores_are_within_the_error_bound(tmp_path):
    vectors = unit_vectors(3000, 64, 1)
    ids = np.arange(10, 3010)
    index = VectorIndex.build(64, [(ids, vectors)], 3000, ivf_threshold=1000)
    assert index.kind == "ivf" and index.error_bound == 2.0 ** -11 + 64 * 2.0 ** -25
    index.save(tmp_path, "m", 1)
    index = load_index(tmp_path, read_manifest(tmp_path), "m", 64)  # what the file holds is what is bounded
    worst = 0.0
    for q in unit_vectors(20, 64, 2):
        exact = vectors @ q
        got = index.scores_of(q, ids)
        worst = max(worst, float(np.abs(got - exact).max()))
        for pid, score in index.search(q, 50):
            worst = max(worst, abs(score - float(exact[pid - 10])))
    assert 0 < worst <= index.error_bound
    assert index.scores_of(q, np.array([5])) is None  # an id it does not hold
    assert VectorIndex(64).error_bound == 0.0


@pytest.mark.parametrize("count", [3, 2000])  # a few ids: read one by one; many: one filtered scan
def test_ivf_scores_above_a_floor(count):
    vectors = unit_vectors(3000, 64, 1)
    index = VectorIndex.build(64, [(np.arange(10, 3010), vectors)], 3000, ivf_threshold=1000)
    ids = np.random.default_rng(3).choice(np.arange(10, 3010), count, replace=False)
    q = unit_vectors(1, 64, 5)[0]
    exact = vectors[ids - 10] @ q
    floor = float(np.quantile(exact, 0.5))
    got = index.scores_of(q, ids, floor)
    above = exact > floor + index.error_bound
    assert np.all(np.abs(got[above] - exact[above]) <= index.error_bound)
    below = exact < floor - index.error_bound
    assert np.all(got[below] <= floor)
    assert np.isneginf(got).any() == (count == 2000)  # the scan gives no score below the floor
    index.remove(ids[:1])
    assert index.scores_of(q, ids, floor) is None  # an id it no longer holds
    index.add(ids[:1], vectors[ids[:1] - 10])
    assert index.scores_of(q, ids, floor) is not None
    assert index.scores_of(q, np.append(ids, 4000), floor) is None


def test_an_eight_bit_index_claims_no_bound():
    import faiss

    ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(8), 8, 4, faiss.ScalarQuantizer.QT_8bit,
                                        faiss.METRIC_INNER_PRODUCT)
    assert VectorIndex(8, ivf).error_bound is None  # (indexes built before 16-bit floats: scores read exactly)


def test_a_large_flat_index_is_scanned_rough_within_its_bound_and_read_exactly(monkeypatch):
    from policykb.backends.embedded import index as index_module

    monkeypatch.setattr(index_module, "ROUGH_FROM", 1000)
    monkeypatch.setattr(index_module, "scan_pays", lambda rough, vectors, product: True)  # (whatever this machine's speeds)
    vectors = unit_vectors(1500, 64, 4)
    index = VectorIndex(64)
    index.add(np.arange(10, 1010), vectors[:1000])
    q = unit_vectors(1, 64, 6)[0]
    assert VectorIndex(64).rough_similarities(q) is None  # too small: one exact product
    assert index.rough_similarities(q) is None  # the first question: no codes made for one question
    ids, rough, bound = index.rough_similarities(q)
    exact_ids, exact = index.similarities(q)
    assert ids.tolist() == exact_ids.tolist() == list(range(10, 1010))
    assert np.all(np.abs(rough - exact) <= bound) and 0 < float(bound.max()) < 0.1
    assert index.exact_at(q, np.array([999, 0, 7])) == pytest.approx(exact[[999, 0, 7]], abs=1e-6)
    before, coded = index._rough, []
    real_init = RoughScan.__init__
    monkeypatch.setattr(RoughScan, "__init__", lambda self, v, residual=False: coded.append(len(v)) or
                        real_init(self, v, residual))
    index.remove(np.arange(10, 110))  # a change: the codes follow it (not made again)
    index.add(np.arange(1010, 1510), vectors[1000:])
    assert coded == [500]  # only the added vectors were coded
    ids, rough, bound = index.rough_similarities(q)
    assert ids.tolist() == list(range(110, 1510))
    assert np.all(np.abs(rough - vectors[100:] @ q) <= bound)
    fresh = RoughScan(vectors[100:])
    assert all(np.array_equal(getattr(index._rough, part), getattr(fresh, part))
               for part in ("codes", "scale", "error", "norm", "shift"))
    assert len(before) == 1000  # (what searches holding the index before the change still scan)
    copy = index.copy()
    assert copy._rough is index._rough  # shared: neither changes it in place
    copy.remove(np.arange(110, 120))
    assert len(copy._rough) == 1390 and len(index._rough) == 1400
    assert copy.rough_similarities(q)[0].tolist() == ids.tolist()[10:]


def test_the_codes_are_scanned_only_where_that_is_quicker(monkeypatch):
    """Which of the scan of 8-bit codes and the float product is quicker depends on the processor:
    the codes are kept only where their scan was measured quicker, else every question takes the
    product (and no codes are kept) until the index has doubled in size."""
    import time

    from policykb.backends.embedded import index as index_module

    monkeypatch.setattr(index_module, "ROUGH_FROM", 1000)
    vectors = unit_vectors(2600, 32, 3)
    rough, real_scores = RoughScan(vectors[:1000]), RoughScan.scores
    slow = lambda run: lambda *a: time.sleep(0.004) or run(*a)  # noqa: E731
    product = lambda q: vectors[:1000] @ q  # noqa: E731
    monkeypatch.setattr(RoughScan, "scores", slow(real_scores))
    assert not scan_pays(rough, vectors[:1000], product)
    monkeypatch.setattr(RoughScan, "scores", real_scores)
    assert scan_pays(rough, vectors[:1000], slow(product))

    measured = []
    monkeypatch.setattr(index_module, "scan_pays", lambda rough, vectors, product: measured.append(len(vectors)) or False)
    index = VectorIndex(32)
    index.add(np.arange(1000), vectors[:1000])
    q = vectors[5]
    index.prepare()
    assert measured == [1000] and index._rough is None
    assert index.rough_similarities(q) is None and index.rough_similarities(q) is None  # the float product
    index.add(np.arange(1000, 1999), vectors[1000:1999])
    index.prepare()
    index.copy().prepare()  # (a copy knows it too)
    assert measured == [1000]  # (not measured again below twice the size)
    index.add(np.arange(1999, 2600), vectors[1999:])
    monkeypatch.setattr(index_module, "scan_pays", lambda rough, vectors, product: measured.append(len(vectors)) or True)
    index.prepare()
    ids, scores, bound = index.rough_similarities(q)
    assert measured == [1000, 2600] and index._rough is not None
    assert np.all(np.abs(scores - vectors @ q) <= bound)


def test_the_product_reads_read_only_vectors_quietly(recwarn):
    import torch  # noqa: F401  (loaded: the product goes through torch's threads)

    from policykb.backends.embedded.product import matvec

    stored = np.frombuffer(np.arange(6, dtype=np.float32).tobytes(), dtype=np.float32).reshape(3, 2)  # as SQLite gives
    assert not stored.flags.writeable
    assert matvec(stored, np.array([1.0, 1.0], dtype=np.float32)).tolist() == [1.0, 5.0, 9.0]
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def test_rough_scans_from_many_threads_agree(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from policykb.backends.embedded import index as index_module

    monkeypatch.setattr(index_module, "ROUGH_FROM", 100)
    monkeypatch.setattr(index_module, "scan_pays", lambda rough, vectors, product: True)
    vectors = unit_vectors(3000, 64, 8)
    index = VectorIndex(64)
    index.add(np.arange(3000), vectors)
    questions = unit_vectors(40, 64, 9)
    index.prepare()  # (else the first question is answered by the float product)
    alone = [index.rough_similarities(q)[1] for q in questions]
    with ThreadPoolExecutor(4) as pool:  # one session and one set of codes shared by every thread
        together = list(pool.map(lambda q: index.rough_similarities(q)[1], questions))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))


def test_the_ids_an_ivf_index_holds_follow_its_changes():
    vectors = unit_vectors(3000, 64, 1)
    index = VectorIndex.build(64, [(np.arange(10, 3010), vectors)], 3000, ivf_threshold=1000)
    held = index._held_ids()
    assert np.flatnonzero(held).tolist() == list(range(10, 3010))
    copy = index.copy()
    copy.remove(np.arange(10, 20))
    copy.add(np.arange(5000, 5003), vectors[:3])
    assert copy._held is not None  # followed, not made again
    followed, copy._held = copy._held, None
    fresh = copy._held_ids()  # read from the lists again
    assert np.array_equal(followed[: len(fresh)], fresh) and not followed[len(fresh):].any()
    assert np.flatnonzero(index._held_ids()).tolist() == list(range(10, 3010))  # the original's: unchanged

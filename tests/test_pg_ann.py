"""backends/postgres/ann.py: past the IVF threshold, a PostgreSQL knowledge base searches its vectors in
the database (pgvector HNSW over 16-bit floats), exactly under selective filters and at the cut-off, and
every server sees every write at once."""

from __future__ import annotations

import numpy as np
import pytest

from policykb.backends.embedded.rough import RoughScan
from policykb.backends.postgres.ann import COPY_HEADER, COPY_TRAILER, copy_tuples, half_error_bound, table_name, text_vector
from policykb.config import Settings
from policykb.kb import KnowledgeBase

from .conftest import run_sql
from .test_coded import same_codes, top
from .test_index import brute_force, random_records
from .test_relevance import brute_force_set


KIND = {"table": "pgvector", "codes": "coded"}  # POLICYKB_VECTOR_SEARCH -> the kind of index a search holds


def pg_settings(tmp_path, url: str, home: str = "kb", **more) -> Settings:
    return Settings(home=tmp_path / home, model="hashing", database_url=url, warm_up=False, ivf_threshold=1000,
                    **more)


def test_halfvec_scores_stay_within_their_bound(postgres_url):
    """Vectors sent by binary COPY in halfvec's form come back as the 16-bit floats numpy rounds them to, and
    the database's inner products of those stay within `half_error_bound` of the exact float32 ones."""
    import psycopg

    rng = np.random.default_rng(5)
    dim = 384
    vectors = rng.normal(size=(200, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[0] * 0.6 + vectors[1] * 0.8
    query /= np.linalg.norm(query)
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"CREATE TABLE t (id bigint PRIMARY KEY, v halfvec({dim}))")
        with db.cursor() as cur, cur.copy("COPY t (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(COPY_HEADER + copy_tuples(np.arange(200), vectors) + COPY_TRAILER)
        stored = db.execute("SELECT v::text FROM t WHERE id = 7").fetchone()[0]
        scores = dict(db.execute("SELECT id, -(v <#> %s::halfvec) FROM t", [text_vector(query)]).fetchall())
    assert np.array_equal(np.array(stored.strip("[]").split(","), dtype=np.float32),
                          vectors[7].astype(np.float16).astype(np.float32))
    exact = vectors @ query
    worst = max(abs(scores[i] - float(exact[i])) for i in range(200))
    assert 0 < worst <= half_error_bound(dim) and half_error_bound(dim) < 0.0011


@pytest.mark.parametrize("method,search", [("ivfflat", "table"), ("hnsw", "table"), ("ivfflat", "codes")])
def test_past_the_threshold_vectors_are_searched_in_postgresql_exactly_under_filters(tmp_path, postgres_url, method,
                                                                                     search):
    settings = pg_settings(tmp_path, postgres_url, exact_filter_limit=800, min_similarity=-1, vector_table_index=method,
                           ivf_nprobe=4, vector_search=search)  # (ivfflat: 4 of its 10 lists)
    with KnowledgeBase(settings) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1500)])
        table = kb.index.table if search == "codes" else kb.index
        assert kb.index.kind == KIND[search] and table.method == method and len(kb.index) == len(table) == 1500
        assert not list(kb.home.glob("vectors-*.faiss"))  # nothing in memory or on this machine's disk
        assert run_sql(kb.store, f"SELECT count(*) FROM {table.table}") == [(1500,)]
        malta = {f"r{i}" for i in range(0, 1500, 100)}  # 15 passages: scored exactly
        germany = {f"r{i}" for i in range(1, 1500, 2)}  # 750: exactly (below exact_filter_limit)
        france = {f"r{i}" for i in range(2, 1500, 2) if i % 100}  # 735 ...
        overlap = 0
        precise = search == "codes"  # (exact scores read one by one: equal ones ranked by passage id)
        for words in ("cluster vouchers export", "green hydrogen wind solar", "music games design"):
            q = kb.embed_query(words)
            selective = [h.id for h in kb.search(words, mode="semantic", filters={"territory": ["MT"]}).hits]
            assert selective == brute_force(kb, q, malta, precise=precise)
            wider = [h.id for h in kb.search(words, mode="semantic", filters={"territory": ["DE"]}).hits]
            assert wider == brute_force(kb, q, germany, precise=precise)
            both = [h.id for h in kb.search(words, mode="semantic", filters={"territory": ["DE", "FR"]}).hits]
            assert both == brute_force(kb, q, germany | france, precise=precise)  # 1485: through the index or codes
            approx = [h.id for h in kb.search(words, mode="semantic", size=10).hits]
            overlap += len(set(approx) & set(brute_force(kb, q, None, precise=precise)))
            if precise:  # (codes: exact)
                assert approx == brute_force(kb, q, None, precise=True)
        assert overlap / 30 >= 0.9
        ids, vectors = kb.store.passage_vectors(kb.model)
        q = kb.embed_query("green hydrogen wind solar")
        exact = ids[np.argsort(-((vectors.astype(np.float64) @ q).astype(np.float32) if precise else vectors @ q),
                               kind="stable")]
        for share in (0.02, 0.5, 0.9):  # exact (30 passages), through the index (750, 1350: past exact_filter_limit)
            allowed = np.sort(np.random.default_rng(1).choice(ids, int(share * len(ids)), replace=False))
            truth = [pid for pid in exact.tolist() if pid in set(allowed.tolist())][:20]
            if search == "codes":  # (searched as search/flat_scores.py searches it: exact)
                assert [pid for pid, _ in top(kb.index, q, 20, allowed)] == truth
                continue
            found = [pid for pid, _ in kb.index.search(q, 20, allowed)]
            assert len(found) == 20 and set(found) <= set(allowed.tolist())
            assert len(set(found) & set(truth)) >= 19
        assert kb.check()["status"] == "ok"
        assert kb.stats()["index"] == {"dimension": kb.embedder.dim, "count": 1500,
                                       "generation": kb.store.generation, "kind": "pgvector", "search": search}


@pytest.mark.parametrize("search", ["table", "codes"])
def test_an_index_in_postgresql_decides_the_cut_exactly(tmp_path, postgres_url, search):
    """The floor set at a passage's exact similarity: it is in, whatever its 16-bit (or 8-bit) score says."""
    query = "cluster vouchers export"
    with KnowledgeBase(pg_settings(tmp_path, postgres_url, vector_search=search)) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1200)])
        ids, vectors = kb.store.passage_vectors(kb.model)
        floors = np.sort(vectors @ kb.embedder.encode_query(query))[::-1]
    for place in (5, 40, 300):
        floor = float(floors[place])
        with KnowledgeBase(pg_settings(tmp_path, postgres_url, min_similarity=floor, similarity_margin=2,
                                       vector_search=search)) as kb:
            assert kb.index.kind == KIND[search]
            expected = brute_force_set(kb, query, floor)
            result = kb.search(query, mode="semantic", size=1000, facets=False)
            assert {h.id for h in result.hits} == expected and result.total == len(expected) >= place


@pytest.mark.parametrize("search", ["table", "codes"])
def test_every_server_searches_a_write_at_once_and_the_index_shrinks_back(tmp_path, postgres_url, search):
    path = random_records(tmp_path / "r.jsonl", 1100)
    with KnowledgeBase(pg_settings(tmp_path, postgres_url, home="one", min_similarity=-1, vector_search=search)) as one, \
            KnowledgeBase(pg_settings(tmp_path, postgres_url, home="two", min_similarity=-1,
                                      vector_search=search)) as two:
        one.ingest([path])
        assert two.index.kind == KIND[search] and len(two.index) == 1100
        top = two.search("green hydrogen wind solar", mode="semantic").hits[0].id
        one.set_published(top, False)
        assert top not in {h.id for h in two.search("green hydrogen wind solar", mode="semantic", size=50).hits}
        assert len(two.index) == 1099 and two.check()["status"] == "ok"
        random_records(path, 1100, seed=4)  # every record changes
        assert len(one.ingest([path]).updated) == 1100
        q = two.embed_query("music games design")
        assert [h.id for h in two.search("music games design", mode="semantic").hits][:3] == \
            brute_force(two, q, None, 3)
        assert not list(two.home.glob("vectors-*.faiss")) and two.check()["status"] == "ok"
        random_records(path, 300)
        assert len(one.ingest([path]).removed) == 800
        assert one.index.kind == "flat" and two.index.kind == "flat"  # below half the threshold: in memory again
        assert run_sql(one.store, "SELECT count(*) FROM ann_spaces") == [(0,)] and _tables(one) == []
        assert one.check()["status"] == "ok" and two.check()["status"] == "ok"


@pytest.mark.parametrize("search", ["table", "codes"])
def test_a_copied_knowledge_base_is_searched_in_memory_until_reindex_builds_its_table(tmp_path, postgres_url, caplog,
                                                                                       search):
    """A knowledge base past the threshold that arrived without its table (a copy, an older policykb)
    answers from an index in memory, says how to build the table, and `reindex` builds it."""
    with KnowledgeBase(pg_settings(tmp_path, postgres_url, home="one")) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1200)])
        run_sql(kb.store, "DELETE FROM ann_spaces")
    with KnowledgeBase(pg_settings(tmp_path, postgres_url, home="two", vector_search=search)) as kb:
        with caplog.at_level("WARNING", logger="policykb"):
            assert kb.index.kind == "ivf"
        assert "policykb reindex" in caplog.text
        expected = [h.id for h in kb.search("cluster vouchers export", mode="semantic").hits]
        assert kb.reindex()["passages"] == 1200
        assert kb.index.kind == KIND[search] and kb.check()["status"] == "ok"
        assert [h.id for h in kb.search("cluster vouchers export", mode="semantic").hits] == expected


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2", "x'; DROP TABLE items; --"])
def test_table_names_are_ours_whatever_the_model_key(model):
    name = table_name(model)
    assert name.startswith("ann_") and len(name) == 27 and name[4:20].isalnum() and name[21:].isalnum()
    assert table_name(model)[:20] == name[:20] and table_name(model) != name


def test_migrate_to_postgresql_builds_the_vector_table_past_the_threshold(tmp_path, postgres_url):
    settings = Settings(home=tmp_path / "folder", model="hashing", warm_up=False, ivf_threshold=1000)
    with KnowledgeBase(settings) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1200)])
        report = kb.migrate(postgres_url)
        assert report["vector_tables"] == 1 and report["check"] == {"source": "ok", "target": "ok"}
        expected = [h.id for h in kb.search("green hydrogen wind solar", mode="semantic").hits]
    with KnowledgeBase(pg_settings(tmp_path, postgres_url, home="server")) as pg:
        assert pg.index.kind == "coded" and len(pg.index) == len(pg.index.table) == 1200
        assert [h.id for h in pg.search("green hydrogen wind solar", mode="semantic").hits] == expected
        first = _tables(pg)
        pg.reindex()  # a new table filled beside the old one, then swapped in: one left
        assert len(first) == 1 and len(_tables(pg)) == 1 and _tables(pg) != first
        assert [h.id for h in pg.search("green hydrogen wind solar", mode="semantic").hits] == expected


def _tables(kb: KnowledgeBase) -> list[str]:
    return [r[0] for r in run_sql(kb.store, "SELECT tablename FROM pg_tables WHERE left(tablename, 4) = 'ann_' "
                                            "AND tablename <> 'ann_spaces' ORDER BY tablename")]


def test_without_pgvector_vectors_are_searched_in_memory_and_writes_go_on(tmp_path, postgres_url, monkeypatch, caplog):
    """A database whose role may not create pgvector (managed PostgreSQL without it): the write that
    crosses the threshold, reindex and migrate keep an index in memory and say why; nothing fails."""
    from policykb.backends.postgres.store import PgStore
    from policykb.errors import VectorTablesUnavailable

    def refused(self):
        raise VectorTablesUnavailable("the database has no pgvector extension (test)")

    monkeypatch.setattr(PgStore, "_need_vector_extension", refused)
    with KnowledgeBase(pg_settings(tmp_path, postgres_url)) as kb, caplog.at_level("WARNING", logger="policykb"):
        kb.ingest([random_records(tmp_path / "r.jsonl", 1200)])
        assert kb.index.kind == "ivf" and len(kb.index) == 1200 and kb.check()["status"] == "ok"
        assert kb.reindex()["passages"] == 1200 and kb.index.kind == "ivf"
        assert kb.backend.build_database_indexes() == 0
        assert run_sql(kb.store, "SELECT count(*) FROM ann_spaces") == [(0,)]
    assert "no pgvector extension" in caplog.text


def test_each_servers_codes_follow_the_writes_of_another(tmp_path, postgres_url, monkeypatch):
    """With codes (the default), a server that searched once brings its codes up to another server's
    writes by the changes they recorded: no codes made anew, the same codes as made anew."""
    from policykb.backends.embedded.coded import CodedIndex

    path = random_records(tmp_path / "r.jsonl", 1100)
    with KnowledgeBase(pg_settings(tmp_path, postgres_url, home="one", min_similarity=-1)) as one, \
            KnowledgeBase(pg_settings(tmp_path, postgres_url, home="two", min_similarity=-1)) as two:
        one.ingest([path])
        assert two.index.kind == one.index.kind == "coded" and len(two.index) == 1100
        made = []
        build = CodedIndex.build
        monkeypatch.setattr(CodedIndex, "build", classmethod(lambda cls, *a, **k: made.append(1) or build(*a, **k)))
        query = "green hydrogen wind solar"
        top = two.search(query, mode="semantic").hits[0].id
        one.set_published(top, False)
        random_records(path, 1100, seed=4)
        assert len(one.ingest([path]).updated) == 1100  # (the hidden one too: it stays hidden)
        q = two.embed_query(query)
        assert [h.id for h in two.search(query, mode="semantic").hits] == brute_force(two, q, None, precise=True)
        assert top not in {h.id for h in two.search(query, mode="semantic", size=50).hits}
        assert made == [] and len(two.index) == 1099 and two.check()["status"] == "ok"
        ids, vectors = two.store.passage_vectors(two.model, searchable_only=True)
        order = np.argsort(two.index.ids)
        assert np.array_equal(two.index.ids[order], ids)
        same_codes(two.index.codes, RoughScan(vectors, residual=True), order)

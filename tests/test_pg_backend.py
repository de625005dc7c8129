"""The knowledge base in PostgreSQL (POLICYKB_DATABASE_URL) behind the same facade: the sample corpus
ingested there with the real models answers every question as the embedded store does; a copy goes
both ways and nothing is lost; the SQLite file's own commands refuse it with a way out (real
PostgreSQL server, real FAISS, real models where said)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from policykb.cli.main import cli
from policykb.config import Settings
from policykb.errors import PolicyKBError
from policykb.kb import KnowledgeBase

from .conftest import ROOT

QUESTIONS = [
    ("how do regions help cluster SMEs go international?", {}),
    ("innovation vouchers", {"territory": ["DE", "AT"]}),
    ("green transition of industry", {}),
    ("Combien d'argent reçoit le programme Euroclusters ?", {}),
    ("Wie fördern Regionen die Internationalisierung von Clustern?", {}),
    ("digital skills for cluster managers", {"level": ["regional"]}),
    ("Euroclusters", {}),
    ("", {"challenge": ["green"]}),
]


def _answers(kb: KnowledgeBase) -> list:
    return [(q, mode, result.total, [h.id for h in result.hits], result.facets)
            for q, filters in QUESTIONS for mode in ("hybrid", "keyword", "semantic")
            for result in [kb.search(q, mode=mode, filters=filters, size=10)]]


def test_the_database_url_setting_chooses_the_postgresql_store(tmp_path, postgres_url, monkeypatch):
    monkeypatch.setenv("POLICYKB_DATABASE_URL", postgres_url)
    with KnowledgeBase(Settings(home=tmp_path / "idx", model="hashing", multilingual_model="none")) as kb:
        assert type(kb.store).__name__ == "PgStore"
        assert not (tmp_path / "idx" / "kb.sqlite").exists()


@pytest.mark.integration
def test_the_sample_corpus_in_postgresql_answers_as_the_embedded_store(real_sample, minilm, tmp_path, postgres_url):
    """What `POLICYKB_DATABASE_URL=... make run` serves: the shipped corpus ingested into PostgreSQL with
    the default models (MiniLM and multilingual-e5-small) gives the same top 10, totals and facet
    counts as the embedded knowledge base, in every mode, for English, French and German questions,
    with and without filters."""
    with KnowledgeBase(Settings(home=tmp_path / "idx", database_url=postgres_url), embedder=minilm) as kb:
        assert kb.ingest([ROOT / "ingest"]).skipped == []
        assert kb.stats()["items"] == real_sample.stats()["items"] == 78
        assert _answers(kb) == _answers(real_sample)
        first = kb.search(QUESTIONS[0][0]).hits[0]
        assert [h.id for h in kb.similar(first.id, k=5)] == [h.id for h in real_sample.similar(first.id, k=5)]
        assert kb.check()["status"] == "ok"


@pytest.mark.embedded_only  # a folder to PostgreSQL and back
def test_a_copy_goes_to_postgresql_and_back_losing_nothing(settings, corpus, tmp_path, postgres_url):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        desk = kb.contributions
        receipt = desk.submit({"title": "Uploaded roadmap", "country": "LT"},
                              ("roadmap.txt", b"A roadmap for cluster exports to Asia."), client="a")
        desk.approve(receipt["id"], "moderator")
        desk.unpublish("fr-es-green", "outdated", "moderator")
        there = kb.migrate(postgres_url)
        answers = [(q, m, r.total, [h.id for h in r.hits]) for q in ("vouchers", "roadmap", "") for m in ("keyword", "hybrid")
                   for r in [kb.search(q, mode=m)]]
        audit = kb.contributions.audit_log()
    assert there["check"] == {"source": "ok", "target": "ok"}
    pg_settings = settings.model_copy(update={"database_url": postgres_url, "home": tmp_path / "pg-idx"})
    with KnowledgeBase(pg_settings) as pg:
        assert [(q, m, r.total, [h.id for h in r.hits]) for q in ("vouchers", "roadmap", "") for m in ("keyword", "hybrid")
                for r in [pg.search(q, mode=m)]] == answers
        assert pg.contributions.audit_log() == audit
        path, name = pg.contributions.document_path(receipt["id"])  # still where it was uploaded
        assert (name, path.read_bytes()) == ("roadmap.txt", b"A roadmap for cluster exports to Asia.")
        back = pg.migrate(tmp_path / "back")
        assert back["check"] == {"source": "ok", "target": "ok"}
        assert back["tables"] == there["tables"]
    with KnowledgeBase(settings.model_copy(update={"home": tmp_path / "back"})) as copy:
        assert [(q, m, r.total, [h.id for h in r.hits]) for q in ("vouchers", "roadmap", "") for m in ("keyword", "hybrid")
                for r in [copy.search(q, mode=m)]] == answers
        path, name = copy.contributions.document_path(receipt["id"])
        assert (name, path.read_bytes()) == ("roadmap.txt", b"A roadmap for cluster exports to Asia.")


def test_backup_and_restore_refuse_a_postgresql_knowledge_base_saying_what_to_use(tmp_path, postgres_url,
                                                                                 monkeypatch):
    monkeypatch.setenv("POLICYKB_MODEL", "hashing")
    monkeypatch.setenv("POLICYKB_DATABASE_URL", postgres_url)
    runner = CliRunner()
    for args in (["backup", str(tmp_path / "b")], ["restore", str(tmp_path)]):
        done = runner.invoke(cli, ["--home", str(tmp_path / "idx"), *args])
        assert done.exit_code == 1 and "PostgreSQL" in done.output and "migrate --to" in done.output, done.output
        assert "Traceback" not in done.output
    with KnowledgeBase(Settings(home=tmp_path / "idx", model="hashing", database_url=postgres_url)) as kb:
        with pytest.raises(PolicyKBError, match="pg_dump"):
            kb.restore(tmp_path)


@pytest.mark.embedded_only  # chooses its store itself: one PostgreSQL database for both servers
def test_a_server_catches_up_with_another_ones_writes_without_rebuilding(settings, corpus, tmp_path, postgres_url,
                                                                       monkeypatch):
    """Two servers on one database, each with its own index folder: what one publishes, hides or
    ingests reaches the other's index through the changes the store recorded, not a rebuild from
    every stored vector; a gap in the record (a reindex) still rebuilds; both answer alike."""
    from policykb.backends.embedded.spaces import VectorSpace

    first = settings.model_copy(update={"database_url": postgres_url, "home": tmp_path / "server-1"})
    second = first.model_copy(update={"home": tmp_path / "server-2"})
    builds: list[str] = []
    real_build = VectorSpace.build_index
    monkeypatch.setattr(VectorSpace, "build_index", lambda self, *a, **k: builds.append(self.folder.name) or
                        real_build(self, *a, **k))
    with KnowledgeBase(first) as one, KnowledgeBase(second) as two:
        one.ingest([corpus])
        assert two.search("vouchers", mode="semantic").total >= 1  # server 2 builds its index once
        assert builds.count("server-2") == 1
        one.set_published("de-vouchers", False)
        desk = one.contributions
        desk.approve(desk.submit({"title": "Baltic export vouchers", "country": "LT",
                                  "summary": "Vouchers for cluster firms exporting."}, None, client="c")["id"], "m")
        for question in ("vouchers", "export vouchers", "green"):
            assert ([h.id for h in two.search(question, mode="semantic").hits]
                    == [h.id for h in one.search(question, mode="semantic").hits])
        assert builds.count("server-2") == 1  # caught up: no second build
        assert two.check()["status"] == "ok"
        one.reindex()  # records no change: the other server rebuilds
        two.search("vouchers", mode="semantic")
        assert builds.count("server-2") == 2


@pytest.mark.embedded_only  # chooses its stores itself
def test_index_files_saved_for_another_store_are_never_taken_for_this_ones(settings, corpus, tmp_path, postgres_url,
                                                                          caplog):
    """One folder used by an SQLite knowledge base, then as the index folder of a PostgreSQL one at
    the same generation, then by the SQLite one again: each rebuilds rather than searching the
    other's vectors."""
    with KnowledgeBase(settings) as embedded:
        embedded.ingest([corpus])
        alone = embedded.search("vouchers", mode="semantic").total
        generation = embedded.store.generation
    with KnowledgeBase(settings.model_copy(update={"database_url": postgres_url})) as pg:
        assert pg.store.is_empty() and pg.search("vouchers", mode="semantic").total == 0
        with pg.store.transaction():
            pg.store.set_generation(generation)  # the same generation as the SQLite store's
        assert pg.search("vouchers", mode="semantic").total == 0 and len(pg.index) == 0
    with KnowledgeBase(settings) as embedded:
        assert embedded.search("vouchers", mode="semantic").total == alone
        assert embedded.check()["status"] == "ok"
    assert "were saved for another store" in caplog.text

"""A knowledge base copied into another (`policykb migrate --to`): every table, ids kept, the same
answers, both checks ok; never into a non-empty target, and all or nothing (hashing embedder, real
SQLite or PostgreSQL, and FAISS). Each test runs with either store on both sides (`settings` asks for `on_store`),
and a copy goes from one kind of store to the other."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from policykb.backends.copy import copy_knowledge_base
from policykb.backends.tables import TABLES
from policykb.cli.main import cli
from policykb.errors import PolicyKBError
from policykb.kb import KnowledgeBase

QUESTIONS = ["cluster internationalisation vouchers", "trade missions abroad", "green transition", ""]


def _lived_in(kb: KnowledgeBase, corpus) -> dict[str, str]:
    """A knowledge base with a history: ingested files, an approved upload, a pending contribution,
    a hidden item, a purged one and an item replaced by a new version."""
    kb.ingest([corpus])
    desk = kb.contributions
    approved = desk.submit({"title": "Uploaded roadmap", "country": "LT"},
                           ("roadmap.txt", b"A roadmap for cluster exports to Asia."), client="a")
    desk.approve(approved["id"], "moderator")
    pending = desk.submit({"title": "Pending idea", "country": "PL", "summary": "Cluster voucher pilots."},
                          None, client="b")
    desk.unpublish("fr-es-green", "outdated", "moderator")
    desk.purge("at-upper-austria", "moderator", "asked to")
    records = corpus / "examples" / "records.yaml"
    records.write_text(records.read_text(encoding="utf-8").replace(
        "Cluster internationalisation vouchers", "Cluster internationalisation vouchers, second call"), encoding="utf-8")
    kb.ingest([corpus])
    return {"approved": approved["id"], "pending": pending["id"]}


def _answers(kb: KnowledgeBase) -> list:
    return [(mode, q, result.total, [(h.id, round(h.score, 6)) for h in result.hits])
            for q in QUESTIONS for mode in ("keyword", "semantic", "hybrid")
            for result in [kb.search(q, mode=mode, size=10)]]


def _without_generations(stats: dict) -> dict:
    return {k: {i: n for i, n in v.items() if i != "generation"} if isinstance(v, dict) and "generation" in v else v
            for k, v in stats.items() if k != "generation"}


def test_a_copy_answers_alike_and_keeps_every_row(settings, corpus, tmp_path):
    target = tmp_path / "copy"
    with KnowledgeBase(settings) as kb:
        ids = _lived_in(kb, corpus)
        before = {table: [r for rows in kb.store.table_rows(table) for r in rows] for table in TABLES}
        report = kb.migrate(target)
        answers, stats = _answers(kb), kb.stats()
        history = kb.contributions.history("de-vouchers")
    assert report["check"] == {"source": "ok", "target": "ok"}
    assert report["tables"] == {table: len(rows) for table, rows in before.items()}
    assert report["tables"]["item_versions"] >= 1 and report["tables"]["purged"] == 1
    with KnowledgeBase(settings.model_copy(update={"home": target})) as copy:
        assert _answers(copy) == answers
        assert _without_generations(copy.stats()) == _without_generations(stats)
        assert copy.contributions.history("de-vouchers") == history
        after = {table: [r for rows in copy.store.table_rows(table) for r in rows] for table in TABLES}
        unchanged = [t for t in TABLES if t not in ("contributions", "items", "passages")]
        assert {t: after[t] for t in unchanged} == {t: before[t] for t in unchanged}
        assert [r[0] for r in after["passages"]] == [r[0] for r in before["passages"]]  # ids kept
        # The upload moved with the copy, and what points at it points at the copy's file.
        path, name = copy.contributions.document_path(ids["approved"])
        assert (name, path.read_bytes()) == ("roadmap.txt", b"A roadmap for cluster exports to Asia.")
        assert path.is_relative_to(target.resolve())
        assert copy.contributions.view(ids["pending"])["status"] == "pending"
        assert copy.check()["status"] == "ok"


def test_a_copy_goes_only_into_an_empty_target(settings, corpus, tmp_path):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        kb.migrate(tmp_path / "copy")
        with pytest.raises(PolicyKBError, match="already holds a knowledge base"):
            kb.migrate(tmp_path / "copy")
        with pytest.raises(PolicyKBError, match="onto itself"):
            copy_knowledge_base(kb.backend, kb.backend)


def test_a_copy_that_fails_half_way_leaves_the_target_empty(settings, corpus, tmp_path, monkeypatch):
    with KnowledgeBase(settings) as kb, KnowledgeBase(settings.model_copy(update={"home": tmp_path / "t"})) as target:
        kb.ingest([corpus])
        real = target.store.insert_rows

        def insert(table, rows):
            if table == "audit":
                raise OSError("disk full")
            real(table, rows)

        kb.contributions.submit({"title": "Something", "country": "PL"}, None, client="c")  # an audit row
        monkeypatch.setattr(target.store, "insert_rows", insert)
        with pytest.raises(OSError, match="disk full"):
            copy_knowledge_base(kb.backend, target.backend)
        assert target.store.is_empty()
        assert target.store.postings_stats()["terms"] == 0
        monkeypatch.undo()
        copy_knowledge_base(kb.backend, target.backend)  # and a second attempt succeeds
        assert target.check()["status"] == "ok"
        assert target.stats()["items"] == kb.stats()["items"]


def test_migrate_from_the_cli(settings, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYKB_MODEL", "hashing")
    home, target = tmp_path / "kb", tmp_path / "copy"
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "ingest", str(corpus)]).exit_code == 0
    done = runner.invoke(cli, ["--home", str(home), "migrate", "--to", str(target), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["check"] == {"source": "ok", "target": "ok"}
    again = runner.invoke(cli, ["--home", str(home), "migrate", "--to", str(target)])
    assert again.exit_code == 1 and "already holds a knowledge base" in again.output
    assert "Traceback" not in again.output


@pytest.mark.embedded_only  # chooses both stores itself
@pytest.mark.parametrize("into", ["postgres", "sqlite"])
def test_a_copy_from_one_kind_of_store_to_the_other_answers_alike(settings, corpus, tmp_path, postgres_url, into):
    folder, database = settings.model_copy(update={"home": tmp_path / "folder"}), settings.model_copy(
        update={"home": tmp_path / "idx", "database_url": postgres_url})
    source, target = (folder, database) if into == "postgres" else (database, folder)
    with KnowledgeBase(source) as kb:
        _lived_in(kb, corpus)
        report = kb.migrate(postgres_url if into == "postgres" else folder.home)
        answers, stats = _answers(kb), kb.stats()
        rows = {t: sorted(r for batch in kb.store.table_rows(t) for r in batch) for t in ("audit", "vectors")}
    assert report["check"] == {"source": "ok", "target": "ok"}
    with KnowledgeBase(target) as copy:
        assert type(copy.store).__name__ == {"postgres": "PgStore", "sqlite": "Store"}[into]
        assert _answers(copy) == answers
        assert _without_generations(copy.stats()) == _without_generations(stats)
        # (vectors in write order in SQLite, by model and hash in PostgreSQL, which keeps no write order for them)
        assert {t: sorted(r for batch in copy.store.table_rows(t) for r in batch) for t in rows} == rows
        copy.contributions.submit({"title": "After the copy", "country": "PL"}, None, client="d")
        assert copy.contributions.audit_log()[0]["id"] == rows["audit"][-1][0] + 1  # the id counter followed
        assert copy.check()["status"] == "ok"

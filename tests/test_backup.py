"""Backup and restore: a copy made while others write holds every change committed before it, and a
restored knowledge base passes `check` (hashing embedder, real SQLite and FAISS)."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner

from policykb.cli.main import cli
from policykb.errors import PolicyKBError
from policykb.kb import KnowledgeBase

pytestmark = pytest.mark.embedded_only  # backup and restore copy the SQLite file

TOGGLED = ["de-vouchers", "fr-es-green", "at-upper-austria"]


def published(kb: KnowledgeBase) -> frozenset[str]:
    return frozenset(h.id for h in kb.search("", size=100, facets=False).hits)


def test_a_backup_during_a_stream_of_writes_restores_every_committed_change(settings, corpus, tmp_path):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        receipt = kb.contributions.submit({"title": "Uploaded roadmap", "country": "LT"},
                                          ("roadmap.txt", b"A roadmap for cluster exports."), client="c")
        states = {kb.store.generation: published(kb)}
    started = threading.Event()

    def writer() -> None:
        with KnowledgeBase(settings) as w:
            for n in range(36):
                w.set_published(TOGGLED[n % 3], n // 3 % 2 == 1)
                states[w.store.generation] = published(w)
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(30)
    with KnowledgeBase(settings) as kb:
        info = kb.backup(tmp_path / "backup")
    thread.join(60)
    assert info["generation"] in states and info["generation"] > min(states)  # taken mid-stream
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["backup.json", "kb.sqlite", "uploads"]

    elsewhere = settings.model_copy(update={"home": tmp_path / "moved" / "kb"})
    with KnowledgeBase(elsewhere) as restored:
        result = restored.restore(tmp_path / "backup")
        assert restored.check()["status"] == "ok" and result["generation"] == info["generation"] + 1
        assert published(restored) == states[info["generation"]]
        path, name = restored.contributions.document_path(receipt["id"])  # the upload moved with it
        assert path == (tmp_path / "moved" / "kb" / "uploads" / receipt["id"] / "roadmap.txt").resolve()
        assert path.read_bytes() == b"A roadmap for cluster exports."
        assert restored.contributions.view(receipt["id"])["status"] == "pending"


def test_restore_over_a_live_knowledge_base_is_seen_by_its_other_handles(settings, corpus, tmp_path):
    with KnowledgeBase(settings) as kb, KnowledgeBase(settings) as api:
        kb.ingest([corpus])
        kb.backup(tmp_path / "backup")
        assert api.search("vouchers", mode="keyword").total == 1
        kb.set_published("de-vouchers", False)
        assert api.search("vouchers", mode="keyword").total == 0
        kb.restore(tmp_path / "backup")
        assert api.search("vouchers", mode="keyword").total == 1 and api.check()["status"] == "ok"


def test_a_backup_restored_into_another_knowledge_base_is_taken_for_its_own(settings, corpus, tmp_path, caplog):
    """A review: restored into another folder's knowledge base, the next process to open it warned
    that the index files "were saved for another store" and built them all again."""
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        kb.backup(tmp_path / "backup")
    other = settings.model_copy(update={"home": tmp_path / "other"})
    with KnowledgeBase(other) as kb:
        kb.ingest([corpus])  # (a store of its own, with its own id)
        kb.restore(tmp_path / "backup")
    caplog.clear()
    with KnowledgeBase(other) as kb:
        assert kb.check()["status"] == "ok" and kb.search("vouchers", mode="keyword").total == 1
    assert "saved for another store" not in caplog.text


def test_backup_refuses_a_folder_in_use_and_restore_a_folder_that_is_no_backup(kb, corpus, tmp_path):
    kb.ingest([corpus])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(PolicyKBError, match="not an empty folder"):
        kb.backup(tmp_path / "full")
    with pytest.raises(PolicyKBError, match="is not a policykb backup"):
        kb.restore(tmp_path / "full")


def test_backup_and_restore_from_the_cli(settings, corpus, tmp_path):
    run = CliRunner()
    home = ["--home", str(settings.home), "--model", "hashing"]
    assert run.invoke(cli, [*home, "ingest", str(corpus)]).exit_code == 0
    made = run.invoke(cli, [*home, "backup", str(tmp_path / "b"), "--json"])
    assert made.exit_code == 0 and json.loads(made.output)["items"] == 5
    other = ["--home", str(tmp_path / "other"), "--model", "hashing"]
    done = run.invoke(cli, [*other, "restore", str(tmp_path / "b")])
    assert done.exit_code == 0 and "5 item(s)" in done.output
    assert run.invoke(cli, [*other, "check"]).exit_code == 0

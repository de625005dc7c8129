"""Item history: edits, removals, unpublishing and publishing keep the version they replace; a
moderator restores one (audited); only purge deletes for real (audited). On both stores."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from policykb.service.api import create_app
from policykb.cli.main import cli
from policykb.errors import NotFound

RECORDS = "examples/records.yaml"



def edit(corpus, old: str, new: str) -> None:
    path = corpus / RECORDS
    path.write_text(path.read_text().replace(old, new))


def test_every_change_keeps_the_version_it_replaced_and_a_restore_brings_it_back(kb, corpus):
    kb.ingest([corpus])
    desk = kb.contributions
    assert desk.history("de-vouchers") == {"id": "de-vouchers", "status": "published", "versions": []}
    edit(corpus, "enter foreign markets", "reach customers overseas")
    kb.ingest([corpus])
    kb.set_published("de-vouchers", False)
    kb.set_published("de-vouchers", True)
    versions = desk.history("de-vouchers")["versions"]
    assert [(v["version"], v["replaced_by"], v["status"]) for v in versions] == [
        (3, "publish", "unpublished"), (2, "unpublish", "published"), (1, "update", "published")]
    assert kb.search("foreign", mode="keyword").total == 0
    desk.restore("de-vouchers", 1, actor="alice", reason="the edit was wrong")
    assert [h.id for h in kb.search("foreign", mode="keyword").hits] == ["de-vouchers"]
    assert kb.search("overseas", mode="keyword").total == 0
    assert desk.history("de-vouchers")["versions"][0]["replaced_by"] == "update"  # the restore kept one too
    # each audit entry names one version: the ingest's update a second before the restore was "alice"'s too
    assert [(v["version"], v["by"]) for v in desk.history("de-vouchers")["versions"]] == [
        (4, "alice"), (3, ""), (2, ""), (1, "ingest")]
    assert [(a["actor"], a["action"], a["after"]) for a in desk.audit_log("de-vouchers")][0] == (
        "alice", "restore", {"version": 1})
    assert kb.check()["status"] == "ok"


def test_a_removed_item_can_be_restored_and_only_purge_deletes_for_real(kb, corpus):
    kb.ingest([corpus])
    (corpus / "guide.md").unlink()
    kb.ingest([corpus], prune=True)
    desk = kb.contributions
    assert desk.history("guide-abroad")["status"] == "removed"
    desk.restore("guide-abroad", 1, actor="alice")
    assert kb.get("guide-abroad")["title"] == "Going abroad guide" and kb.check()["status"] == "ok"
    assert desk.purge("guide-abroad", actor="bob", reason="asked by the author") == {
        "id": "guide-abroad", "purged_versions": 1, "purged_contributions": 0}
    with pytest.raises(NotFound):
        desk.history("guide-abroad")
    assert kb.search("matchmaking", mode="keyword").total == 0 and kb.check()["status"] == "ok"
    assert desk.audit_log("guide-abroad")[0]["action"] == "purge"


def test_history_restore_and_purge_from_the_api_and_the_cli(settings, corpus, tmp_path):
    run = CliRunner()
    home = ["--home", str(settings.home), "--model", "hashing"]
    assert run.invoke(cli, [*home, "ingest", str(corpus)]).exit_code == 0
    assert run.invoke(cli, [*home, "moderate", "unpublish", "eu-exchange", "--as", "alice"]).exit_code == 0
    shown = run.invoke(cli, [*home, "history", "eu-exchange"])
    assert shown.exit_code == 0 and "unpublished now, 1 earlier version(s)" in shown.output
    auth = {"Authorization": "Bearer a-long-moderator-token"}
    with TestClient(create_app(settings.model_copy(update={"moderator_tokens": ["alice:a-long-moderator-token"]}))) \
            as client:
        assert client.get("/items/eu-exchange/history").status_code == 401  # moderators only
        history = client.get("/items/eu-exchange/history", headers=auth).json()
        assert history["versions"][0]["replaced_by"] == "unpublish"
        # version 1 is the content already (only the status changed): nothing to restore, and no identical
        # version kept (a review: each such restore added one more, and answered "restored")
        same = client.post("/moderation/items/eu-exchange/restore", json={"version": 1}, headers=auth)
        assert same.status_code == 409 and same.json()["error"]["message"] == (
            "version 1 of 'eu-exchange' is its content already: nothing to restore")
        assert len(client.get("/items/eu-exchange/history", headers=auth).json()["versions"]) == 1
        for loose in (True, "1", 1.0):  # (read as version 1)
            assert client.post("/moderation/items/eu-exchange/restore", json={"version": loose},
                               headers=auth).status_code == 422
        assert client.post("/moderation/items/eu-exchange/restore", json={"version": 9}, headers=auth
                           ).status_code == 404
    purged = run.invoke(cli, [*home, "purge", "eu-exchange", "--yes", "--as", "bob"])
    assert purged.exit_code == 0 and "purged (1 earlier version(s))" in purged.output
    audit = json.loads(run.invoke(cli, [*home, "moderate", "audit", "--json"]).output)
    assert [a["action"] for a in audit][:2] == ["purge", "unpublish"]


def test_purge_through_the_api_needs_the_id_repeated(settings, corpus):
    from policykb.kb import KnowledgeBase

    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
    auth = {"Authorization": "Bearer a-long-moderator-token"}
    with TestClient(create_app(settings.model_copy(update={"moderator_tokens": ["alice:a-long-moderator-token"]}))) \
            as client:
        wrong = client.post("/moderation/items/eu-exchange/purge", json={"confirm": "eu"}, headers=auth)
        assert wrong.status_code == 422 and client.get("/items/eu-exchange").status_code == 200
        done = client.post("/moderation/items/eu-exchange/purge", json={"confirm": "eu-exchange"}, headers=auth)
        assert done.json() == {"id": "eu-exchange", "purged_versions": 0, "purged_contributions": 0}
        assert client.get("/items/eu-exchange/history", headers=auth).status_code == 404
        assert client.get("/moderation/audit", params={"target": "eu-exchange"}, headers=auth).json()[0]["action"] == "purge"


def test_purging_a_contributed_item_deletes_its_document_and_the_contribution_s_content(kb):
    """A review: after a purge the uploaded file stayed in uploads/ (and was served to moderators),
    and the contribution and its audit entries kept every field."""
    desk = kb.contributions
    receipt = desk.submit({"title": "Private voucher scheme of Jane Doe", "summary": "Contact jane@example.org."},
                          ("offer.md", b"# Offer\n\nJane Doe, +370 600 00000, runs the voucher scheme."), client="c")
    cid = receipt["id"]
    item_id = desk.approve(cid, actor="alice")["item_id"]
    folder = kb.backend.home / "uploads" / cid
    assert folder.is_dir() and desk.document_path(cid)
    assert desk.purge(item_id, actor="bob", reason="personal data") == {
        "id": item_id, "purged_versions": 0, "purged_contributions": 1}
    assert not folder.exists()
    with pytest.raises(NotFound):
        desk.document_path(cid)
    kept = desk.view(cid)
    assert kept["record"] == {"title": "(purged)"} and kept["file_name"] is None
    assert all(a["before"] is None and a["after"] is None and a["note"] is None for a in desk.audit_log(cid))
    assert "Jane" not in json.dumps(desk.audit_log(), default=str) + json.dumps(kept, default=str)
    assert kb.search("voucher scheme Jane", mode="keyword").total == 0 and kb.check()["status"] == "ok"

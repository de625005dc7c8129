"""Contributions and moderation through the facade (hashing embedder)."""

from __future__ import annotations

import re
import threading

import pytest

from policykb.errors import Conflict, InvalidRecord, NotFound, RateLimited, UnknownFacetValue
from policykb.moderation.files import safe_name

NEW = {"title": "Cluster export vouchers for Baltic SMEs", "summary": "Vouchers pay for trade fair visits.",
       "country": "LT", "level": "national", "challenges": ["internationalisation"], "support": ["vouchers"]}


@pytest.fixture
def desk(kb, corpus):
    kb.ingest([corpus])
    return kb.contributions


def test_submit_status_approve_makes_it_searchable(desk, kb):
    receipt = desk.submit(dict(NEW), None, client="1.2.3.4")
    assert receipt["status"] == "pending" and receipt["id"].startswith("c-") and len(receipt["token"]) > 20
    assert kb.search("Baltic", mode="keyword").total == 0  # not before approval
    assert desk.status(receipt["id"], receipt["token"])["status"] == "pending"
    with pytest.raises(NotFound, match="with this token"):  # (as an unknown id: a wrong token tells nothing)
        desk.status(receipt["id"], "wrong")
    view = desk.approve(receipt["id"], actor="alice")
    item_id = view["item_id"]
    assert re.fullmatch(r"cluster-export-vouchers-for-baltic-smes-[0-9a-f]{6}", item_id) and view["status"] == "approved"
    assert kb.search("Baltic", mode="keyword").hits[0].id == item_id
    assert kb.search("Baltic trade fairs", mode="semantic").hits[0].id == item_id
    assert [(a["actor"], a["action"]) for a in desk.audit_log(receipt["id"])] == [("alice", "approve"),
                                                                                  ("contributor", "submit")]


def test_contribution_with_a_pdf(desk, kb, make_pdf, tmp_path):
    pdf = make_pdf(tmp_path / "up.pdf", ["Cover page.", "Smart specialisation roadmap for hydrogen valleys."])
    receipt = desk.submit({"title": "Hydrogen valley roadmap", "kind": "guide", "challenges": ["green"]},
                          ("up load.pdf", pdf.read_bytes()), client="c")
    item_id = desk.approve(receipt["id"], actor="bob")["item_id"]
    hit = kb.search("hydrogen valleys roadmap", mode="keyword").hits[0]
    assert (hit.id, hit.page, hit.kind) == (item_id, 2, "guide")
    assert hit.source.endswith("up_load.pdf")


def test_invalid_contributions_are_refused_with_reasons(desk, make_pdf, tmp_path):
    with pytest.raises(UnknownFacetValue, match="'greem' for challenge; did you mean 'green'"):
        desk.submit({**NEW, "challenges": ["greem"]}, None, client="c")
    with pytest.raises(InvalidRecord, match="corrupt or unreadable PDF"):
        desk.submit({"title": "Broken"}, ("x.pdf", b"%PDF-1.4 junk"), client="c")
    with pytest.raises(InvalidRecord, match="unsupported file type .exe"):
        desk.submit({"title": "Bad"}, ("x.exe", b"MZ"), client="c")
    receipt = desk.submit({**NEW, "id": "de-vouchers"}, None, client="c")  # a chosen id is not used
    assert re.fullmatch(r"cluster-export-vouchers-for-baltic-smes-[0-9a-f]{6}", desk.view(receipt["id"])["record"]["id"])
    with pytest.raises(Conflict, match="id 'de-vouchers' is already used"):  # a moderator may choose one
        desk.edit(receipt["id"], {"id": "de-vouchers"}, actor="alice")


def test_suggestions_and_duplicates(desk):
    checks = desk.check({"title": "Cluster internationalisation vouchers",
                         "summary": "Vouchers that help cluster SMEs enter foreign markets through trade missions."})
    assert checks["duplicates"][0]["id"] == "de-vouchers" and checks["duplicates"][0]["similarity"] >= 0.9
    assert (checks["duplicates"][0]["why"], checks["duplicates"][0]["passage"][:20]) == ("same title", "Vouchers that help c")
    reworded = desk.check({"title": "Cluster internationalisation vouchers scheme",
                           "summary": "Vouchers that help cluster SMEs enter foreign markets through trade missions."})
    assert [(d["id"], d["why"].startswith("a passage ")) for d in reworded["duplicates"]] == [("de-vouchers", True)]
    assert "vouchers" in {s["value"] for s in checks["suggestions"]["support"]}
    assert {s["confidence"] for f in checks["suggestions"].values() for s in f} <= {"high", "low"}
    assert desk.check({"title": ""}) == {"suggestions": {}, "duplicates": []}


@pytest.mark.parametrize("draft", [{"title": "Valid title here"}, {"title": "Zebra quagga", "summary": "Okapi giraffe."}])
def test_a_draft_close_to_nothing_published_gets_no_suggestions(desk, draft):
    """The votes of its nearest items, however far, were shared out as confidences: a draft
    titled "Valid title here" got two values "high" (pre-selected in the form) from items 0.14 away."""
    assert desk.check(draft) == {"suggestions": {}, "duplicates": []}



def test_a_published_document_uploaded_again_is_named_the_same_document(desk, corpus):
    guide = (corpus / "guide.md").read_bytes()
    record = {"title": "Missions abroad for cluster firms", "summary": "How regions fund trade fair missions."}
    checks = desk.check(record, ("my-copy.md", guide))
    assert [(d["id"], d["why"], d["similarity"]) for d in checks["duplicates"]][:1] == [
        ("guide-abroad", "the same document", 1.0)]
    changed = desk.check(record, ("my-copy.md", guide.replace(b"Regions co-fund", b"Regions pay")))
    assert "the same document" not in {d["why"] for d in changed["duplicates"]}  # (close in meaning at most)

def test_a_draft_is_normalised_before_it_is_compared(desk):
    checks = desk.check({"title": "Cluster inter\u00adnationalisation vouchers", "summary": "Vouchers (\ufb01rst round)."})
    assert [(d["id"], d["why"]) for d in checks["duplicates"]][:1] == [("de-vouchers", "same title")]


@pytest.mark.parametrize("title", ["Cluster  internationalisation vouchers", "CLUSTER internationalisation\tvouchers ",
                                   "Ｃｌｕｓｔｅｒ INTERNATIONALISATION vouchers"])
def test_a_title_in_another_case_spacing_or_width_is_the_same_title(desk, title):
    """Published items and pending contributions alike (SQL's lower() and trim() missed what casefold did)."""
    assert [(d["id"], d["why"]) for d in desk.check({"title": title})["duplicates"]][:1] == [("de-vouchers", "same title")]
    mine = desk.submit({"title": title}, None, client="c")["id"]
    other = desk.submit({"title": "Cluster internationalisation vouchers"}, None, client="c")["id"]
    assert {(d["id"], d["why"]) for d in desk.view(mine)["checks"]["duplicates"]} == {
        ("de-vouchers", "same title"), (other, "same title")}


@pytest.mark.parametrize(("second", "document", "why"), [
    ({"title": "BALTIC export  vouchers", "summary": "Grants for visits to trade fairs."}, False, "same title"),
    ({"title": "Roadmap of a valley", "summary": "Pipelines and electrolysers."}, True, "the same document"),
])
def test_the_queue_names_pending_duplicates_as_the_view_does(desk, make_pdf, tmp_path, second, document, why):
    """The queue named only the duplicates of published items saved at submission; the view named
    the other pending contributions too."""
    pdf = ("r.pdf", make_pdf(tmp_path / "r.pdf", ["Hydrogen valleys for cluster firms."]).read_bytes()) if document else None
    first = desk.submit({"title": "Baltic export vouchers"}, pdf, client="c")["id"]
    copy = desk.submit(second, pdf, client="c")["id"]
    other = desk.submit({"title": "Seaweed farming pilot", "summary": "Kelp lines off the coast."}, None, client="c")["id"]
    queued = {c["id"]: [(d["id"], d["why"]) for d in c["checks"]["duplicates"]] for c in desk.queue()["items"]}
    assert queued == {first: [(copy, why)], copy: [(first, why)], other: []}
    assert {i: [(d["id"], d["why"]) for d in desk.view(i)["checks"]["duplicates"]] for i in queued} == queued
    pages = [desk.queue(limit=1, offset=n)["items"][0] for n in range(3)]  # (each with every pending one)
    assert {c["id"]: [(d["id"], d["why"]) for d in c["checks"]["duplicates"]] for c in pages} == queued


def test_the_queue_reads_no_model(desk, kb, monkeypatch):
    """The queue embedded every pending record (up to 500) at each call, ~2.5 s for 200 with MiniLM,
    and `policykb moderate queue` loaded the model to list rows: it names pending contributions
    with the same title or document only; their view names those close in meaning as well."""
    summary = "Vouchers pay for trade fair stands, market studies and partner searches of Baltic cluster firms abroad."
    first = desk.submit({"title": "Baltic export vouchers", "summary": summary}, None, client="c")["id"]
    near = desk.submit({"title": "The Baltic export vouchers", "summary": summary}, None, client="c")["id"]
    same = desk.submit({"title": "BALTIC  export vouchers"}, None, client="c")["id"]
    assert [(d["id"], d["why"].endswith("% similar in meaning")) for d in desk.view(near)["checks"]["duplicates"]
            if d.get("kind") == "contribution"] == [(first, True)]

    def no_model(text: str) -> None:
        raise AssertionError("the queue asked the model")

    monkeypatch.setattr(kb.backend, "embed_query", no_model)
    queued = {c["id"]: [d["id"] for d in c["checks"]["duplicates"]] for c in desk.queue()["items"]}
    assert queued == {first: [same], near: [], same: [first]}  # (near: by meaning, in its view only)


def test_edit_reject_and_lifecycle_rules(desk):
    receipt = desk.submit(dict(NEW), None, client="c")
    edited = desk.edit(receipt["id"], {"themes": ["agri-food"], "title": "Baltic export vouchers"}, actor="alice")
    assert edited["record"]["themes"] == ["agri-food"] and edited["record"]["title"] == "Baltic export vouchers"
    with pytest.raises(UnknownFacetValue):
        desk.edit(receipt["id"], {"themes": ["space opera"]}, actor="alice")
    with pytest.raises(InvalidRecord, match="needs a reason"):
        desk.reject(receipt["id"], " ", actor="alice")
    rejected = desk.reject(receipt["id"], "Please add a source link.", actor="alice")
    assert rejected["status"] == "rejected" and rejected["reason"] == "Please add a source link."
    with pytest.raises(Conflict, match="is rejected, not pending"):
        desk.approve(receipt["id"], actor="alice")
    assert desk.status(receipt["id"], receipt["token"])["reason"] == "Please add a source link."
    assert desk.queue("rejected")["total"] == 1 and desk.queue()["total"] == 0
    with pytest.raises(NotFound):
        desk.view("c-missing")


def test_unpublish_and_publish_again_are_audited(desk, kb):
    assert desk.unpublish("de-vouchers", "outdated", actor="alice") == {"id": "de-vouchers", "status": "unpublished"}
    assert "de-vouchers" not in {h.id for h in kb.search("vouchers", size=50).hits}
    desk.unpublish("de-vouchers", "", actor="bob", publish_again=True)
    assert kb.search("vouchers", mode="keyword").hits[0].id == "de-vouchers"
    log = desk.audit_log("de-vouchers")
    assert [(a["actor"], a["action"], a["after"]) for a in log] == [
        ("bob", "publish", {"status": "published"}), ("alice", "unpublish", {"status": "unpublished"})]


def test_the_same_title_check_follows_every_write(desk, kb, corpus):
    """Published titles are kept per generation of the knowledge base (SQL cannot fold titles as the
    check does): each write that publishes, hides, adds or removes an item must be seen at once."""
    def same(title: str) -> list[str]:
        return [i for i, _ in kb.backend.store.items_with_title(title)]

    assert same("CLUSTER internationalisation  vouchers") == ["de-vouchers"]
    desk.unpublish("de-vouchers", "outdated", actor="alice")
    assert same("Cluster internationalisation vouchers") == []
    desk.unpublish("de-vouchers", "", actor="alice", publish_again=True)
    assert same("Cluster internationalisation vouchers") == ["de-vouchers"]
    receipt = desk.submit({"title": "Seaweed farming pilot", "country": "IE"}, None, client="c")
    assert same("seaweed farming pilot") == []  # (pending: not published)
    item = desk.approve(receipt["id"], actor="alice")["item_id"]
    assert same("seaweed farming pilot") == [item]
    desk.purge(item, actor="alice")
    assert same("seaweed farming pilot") == []
    (corpus / "guide.md").unlink()
    assert same("Going abroad guide") == ["guide-abroad"]
    kb.ingest([corpus], prune=True)
    assert same("Going abroad guide") == []


@pytest.mark.parametrize(("publish_again", "message", "actions"), [
    (False, "item 'de-vouchers' is already unpublished: nothing to unpublish", ["unpublish"]),
    (True, "item 'de-vouchers' is already published: nothing to publish", ["publish", "unpublish"]),
])
def test_a_status_the_item_has_already_is_refused_and_not_audited(desk, kb, publish_again, message, actions):
    """Each repeat answered as done and wrote one more audit entry (restore refuses such a no-op)."""
    desk.unpublish("de-vouchers", "outdated", actor="alice")
    if publish_again:
        desk.unpublish("de-vouchers", "", actor="alice", publish_again=True)
    generation = kb.backend.store.generation
    with pytest.raises(Conflict, match=f"^{re.escape(message)}$"):
        desk.unpublish("de-vouchers", "again", actor="bob", publish_again=publish_again)
    assert [a["action"] for a in desk.audit_log("de-vouchers")] == actions
    assert kb.backend.store.generation == generation and kb.check()["status"] == "ok"


def test_two_moderators_unpublishing_at_once_make_one_change(desk):
    """The status is read in the write that changes it: one wins, the other is refused."""
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def unpublish(actor: str) -> None:
        start.wait()
        try:
            outcomes.append(desk.unpublish("de-vouchers", "", actor=actor)["status"])
        except Conflict as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=unpublish, args=(actor,)) for actor in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["item 'de-vouchers' is already unpublished: nothing to unpublish", "unpublished"]
    assert [a["action"] for a in desk.audit_log("de-vouchers")] == ["unpublish"]


def test_rate_limit_per_client(kb, corpus, settings):
    kb.settings.contributions_per_hour = 2
    desk = kb.contributions
    desk.submit({"title": "One"}, None, client="same")
    desk.submit({"title": "Two"}, None, client="same")
    with pytest.raises(RateLimited):
        desk.submit({"title": "Three"}, None, client="same")
    desk.submit({"title": "Other client"}, None, client="other")


def test_free_ids_do_not_collide_with_pending(desk):
    first = desk.submit({"title": "Same title"}, None, client="c")
    second = desk.submit({"title": "Same title"}, None, client="c")
    ids = {desk.view(first["id"])["record"]["id"], desk.view(second["id"])["record"]["id"]}
    assert len(ids) == 2 and all(re.fullmatch(r"same-title-[0-9a-f]{6}", i) for i in ids)


# -- issue 18, item 4: the rate limit holds against parallel submissions ------------------------------


def test_parallel_submissions_never_pass_the_rate_limit(desk, kb):
    from concurrent.futures import ThreadPoolExecutor

    kb.settings.contributions_per_hour = 20

    def submit(n: int) -> str:
        try:
            desk.submit({"title": f"Parallel cluster programme {n}", "summary": "Vouchers for SMEs."}, None,
                        client="198.51.100.9")
            return "accepted"
        except RateLimited:
            return "limited"

    with ThreadPoolExecutor(30) as pool:
        outcomes = list(pool.map(submit, range(30)))
    assert (outcomes.count("accepted"), outcomes.count("limited")) == (20, 10)
    assert desk.queue("pending", 100)["total"] == 20


def test_failed_submissions_count_against_the_rate_limit(desk, kb):
    kb.settings.contributions_per_hour = 3
    for _ in range(3):
        with pytest.raises(InvalidRecord):
            desk.submit({"title": "Broken upload"}, ("broken.pdf", b"%PDF-1.4 not really a pdf"), client="10.0.0.9")
    with pytest.raises(RateLimited) as refused:
        desk.submit({"title": "A fine record"}, None, client="10.0.0.9")
    assert 3590 <= refused.value.details["retry_after"] <= 3600
    assert desk.submit({"title": "Another client's record"}, None, client="10.0.0.10")["status"] == "pending"


# -- one rule for moderators' names and reasons, whatever the interface --------------------------------


@pytest.mark.parametrize("actor, message", [
    ("", "the moderator's name (recorded in the audit log) is empty"),
    ("  ", "the moderator's name (recorded in the audit log) is empty"),
    ("a" * 101, "the moderator's name (recorded in the audit log) has 101 characters; at most 100"),
    ("ali\x07ce", "the moderator's name (recorded in the audit log) holds a control character"),
    ("ali\u202ece", "the moderator's name (recorded in the audit log) holds a control character"),
])
def test_every_moderator_action_refuses_a_bad_name(desk, actor, message):
    receipt = desk.submit(dict(NEW), None, client="c")
    actions = [lambda: desk.edit(receipt["id"], {"title": "Other title"}, actor),
               lambda: desk.approve(receipt["id"], actor), lambda: desk.reject(receipt["id"], "spam", actor),
               lambda: desk.unpublish("de-vouchers", "", actor), lambda: desk.restore("de-vouchers", 1, actor),
               lambda: desk.purge("de-vouchers", actor)]
    for action in actions:
        with pytest.raises(InvalidRecord) as refused:
            action()
        assert refused.value.message == message
    assert desk.view(receipt["id"])["status"] == "pending" and desk.history("de-vouchers")["status"] == "published"


def test_a_moderators_name_is_kept_without_surrounding_spaces(desk):
    desk.unpublish("de-vouchers", "", " Łucja Nowak ")
    assert desk.audit_log("de-vouchers")[0]["actor"] == "Łucja Nowak"


def test_every_reason_is_at_most_2000_characters(desk):
    receipt = desk.submit(dict(NEW), None, client="c")
    long = "x" * 2001
    message = "a reason has at most 2000 characters (this one has 2001)"
    for action in (lambda: desk.reject(receipt["id"], long, "alice"), lambda: desk.unpublish("de-vouchers", long, "alice"),
                   lambda: desk.restore("de-vouchers", 1, "alice", long), lambda: desk.purge("de-vouchers", "alice", long)):
        with pytest.raises(InvalidRecord) as refused:
            action()
        assert refused.value.message == message
    assert desk.reject(receipt["id"], "y" * 2000, "alice")["reason"] == "y" * 2000


def test_an_audit_target_unknown_everywhere_is_not_found(desk, kb):
    with pytest.raises(NotFound, match="no contribution, item or audit entry has the id 'nope'"):
        desk.audit_log("nope")
    assert desk.audit_log("eu-exchange") == []  # an item nobody moderated: known, with no entries
    desk.purge("de-vouchers", "alice", "spam")
    assert [e["action"] for e in desk.audit_log("de-vouchers")] == ["purge"]  # purged, not unknown


def test_checks_have_a_rate_limit_of_their_own(desk, kb):
    kb.settings.checks_per_minute, kb.settings.contributions_per_hour = 2, 1
    desk.reserve_check("10.0.0.7")
    desk.reserve_check("10.0.0.7")
    with pytest.raises(RateLimited, match="at most 2 checks per minute from one client") as refused:
        desk.reserve_check("10.0.0.7")
    assert 59 <= refused.value.details["retry_after"] <= 60
    desk.reserve_check("10.0.0.8")  # another client
    assert desk.submit({"title": "A fine record"}, None, client="10.0.0.7")["status"] == "pending"  # not a check
    with pytest.raises(RateLimited, match="contributions per hour"):
        desk.submit({"title": "Another record"}, None, client="10.0.0.7")
    desk.reserve_check("10.0.0.8")  # (a submission forgot no check, a check no submission)
    with pytest.raises(RateLimited):
        desk.reserve_check("10.0.0.8")


@pytest.mark.parametrize("given, stored", [
    ("Strate\u0301gie re\u0301gionale \u2014 clusters.md", "Stratégie_régionale_clusters.md"),  # NFD in, NFC kept
    ("Στρατηγική συστάδων.PDF", "Στρατηγική_συστάδων.pdf"),
    ("Klastrų politika 2025.txt", "Klastrų_politika_2025.txt"),
    ("C:\\Users\\ana\\Documents\\plan.pdf", "plan.pdf"),
    ("../../etc/passwd.md", "passwd.md"),
    ("invoice\u202efdp.md", "invoice_fdp.md"),  # a right-to-left override is not kept
    ("tab\there\x00.md", "tab_here.md"),
    ("...", "document"),
    ("report.p d f", "report"),  # a suffix that is not one (refused later as an unsupported type)
    ("ž" * 150 + ".pdf", "ž" * 100 + ".pdf"),
    ("中" * 90 + ".pdf", "中" * 66 + ".pdf"),  # 200 bytes at most: 66 characters of 3 bytes
])
def test_uploaded_file_names_keep_their_letters_and_nothing_unsafe(given, stored):
    assert safe_name(given) == stored


def test_a_non_ascii_upload_name_is_stored_and_offered_back(desk, tmp_path):
    receipt = desk.submit({"title": "Regional strategy"}, ("Stratégie régionale.md", b"Cluster strategy."), client="c")
    path, name = desk.document_path(receipt["id"])
    assert (name, path.name, path.read_bytes()) == ("Stratégie_régionale.md", "Stratégie_régionale.md",
                                                    b"Cluster strategy.")

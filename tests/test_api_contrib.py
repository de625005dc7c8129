"""Contributions and moderation over HTTP (hashing embedder, tmp_path knowledge base)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from policykb.service.api import create_app
from policykb.config import Settings
from policykb.kb import KnowledgeBase

TOKEN = {"Authorization": "Bearer s3cret-moderator-token"}
RECORD = {"title": "Baltic cluster export vouchers", "summary": "Vouchers pay SMEs for trade fair visits.",
          "country": "LT", "level": "national", "challenges": ["internationalisation"], "support": ["vouchers"]}


def make_client(settings: Settings, **overrides) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides)))


@pytest.fixture
def built(settings, corpus):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
    return settings


@pytest.fixture
def client(built):
    with make_client(built, moderator_tokens=["alice:s3cret-moderator-token"]) as test_client:
        yield test_client


def test_end_to_end_pdf_contribution_approved_and_found(client, make_pdf, tmp_path):
    pdf = make_pdf(tmp_path / "roadmap.pdf", ["Cover.", "Hydrogen valley roadmap for cluster firms."])
    meta = {"title": "Hydrogen valley roadmap", "kind": "guide", "challenges": ["green"], "country": "NL"}
    response = client.post("/contributions", data={"metadata": json.dumps(meta)},
                           files={"file": ("roadmap.pdf", pdf.read_bytes(), "application/pdf")})
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert client.get(f"/contributions/{receipt['id']}", headers={"X-Contribution-Token": receipt["token"]}
                      ).json()["status"] == "pending"
    assert client.get("/search", params={"q": "hydrogen valley", "mode": "keyword"}).json()["total"] == 0
    preview = client.get(f"/moderation/contributions/{receipt['id']}/file", headers=TOKEN)
    assert preview.status_code == 200 and preview.content == pdf.read_bytes()
    assert client.get(f"/moderation/contributions/{receipt['id']}/file").status_code == 401
    denied = client.post(f"/moderation/contributions/{receipt['id']}/approve")
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    approved = client.post(f"/moderation/contributions/{receipt['id']}/approve", headers=TOKEN).json()
    hit = client.get("/search", params={"q": "hydrogen valley", "mode": "keyword"}).json()["hits"][0]
    assert (hit["id"], hit["page"], hit["kind"]) == (approved["item_id"], 2, "guide")
    assert client.get(f"/items/{hit['id']}/file").content[:5] == b"%PDF-"
    status = client.get(f"/contributions/{receipt['id']}", params={"token": receipt["token"]}).json()
    assert (status["status"], status["item_id"]) == ("approved", hit["id"])
    audit = client.get("/moderation/audit", params={"target": receipt["id"]}, headers=TOKEN).json()
    assert [(a["actor"], a["action"]) for a in audit] == [("alice", "approve"), ("contributor", "submit")]


def test_upload_answer_names_front_matter_keys_that_were_not_read(client):
    text = "---\nTitle: Cluster exchange notes\nCountry: EE\nauthor: Mari\n---\nNotes on cluster staff exchanges.\n"
    response = client.post("/contributions", data={"metadata": json.dumps({"title": "Exchange notes"})},
                           files={"file": ("notes.md", text.encode(), "text/markdown")})
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == [
        "front matter: ignored 1 key that is not a field of the record format: 'author'",
        "front matter: title 'Cluster exchange notes' not used; the record's title 'Exchange notes' is"]
    item = client.get(f"/moderation/contributions/{response.json()['id']}", headers=TOKEN).json()
    assert item["status"] == "pending"
    assert client.post("/contributions", json=RECORD).json()["warnings"] == []


def test_json_contribution_with_suggestions_edit_reject(client):
    receipt = client.post("/contributions", json=RECORD).json()
    assert "duplicates" in receipt and "suggestions" in receipt
    no_file = client.get(f"/moderation/contributions/{receipt['id']}/file", headers=TOKEN)
    assert no_file.status_code == 404 and "has no document" in no_file.json()["error"]["message"]
    queue = client.get("/moderation/contributions", headers=TOKEN).json()
    assert queue["total"] == 1 and queue["items"][0]["record"]["title"] == RECORD["title"]
    edited = client.patch(f"/moderation/contributions/{receipt['id']}", json={"themes": ["tourism"]}, headers=TOKEN)
    assert edited.json()["record"]["themes"] == ["tourism"]
    rejected = client.post(f"/moderation/contributions/{receipt['id']}/reject", json={"reason": "No source link."},
                           headers=TOKEN).json()
    assert rejected["status"] == "rejected"
    status = client.get(f"/contributions/{receipt['id']}", headers={"X-Contribution-Token": receipt["token"]}).json()
    assert status["reason"] == "No source link."
    wrong = client.get(f"/contributions/{receipt['id']}", params={"token": "nope"})
    unknown = client.get("/contributions/c-000000000000", params={"token": "nope"})
    assert wrong.status_code == unknown.status_code == 404  # (a 403 told that the id exists)
    assert wrong.json()["error"]["message"] == f"no contribution {receipt['id']!r} with this token"
    assert unknown.json()["error"]["message"] == "no contribution 'c-000000000000' with this token"


def test_check_gives_live_suggestions_and_duplicates(client):
    checks = client.post("/contributions/check", json={
        "title": "Cluster internationalisation vouchers",
        "summary": "Vouchers that help cluster SMEs enter foreign markets through trade missions."}).json()
    assert checks["duplicates"][0]["id"] == "de-vouchers"
    assert any(s["value"] == "vouchers" for s in checks["suggestions"]["support"])


@pytest.mark.parametrize(
    "body, status, code, fragment",
    [
        ({**RECORD, "challenges": ["greem"]}, 422, "unknown_facet_value", "did you mean 'green'"),
        ({**RECORD, "colour": "red"}, 422, "invalid_record", "colour: Extra inputs are not permitted"),
        ({"summary": "no title"}, 422, "invalid_record", "title: Field required"),
        ({**RECORD, "title": "x" * 501}, 422, "invalid_record", "title: String should have at most 500"),
        ({**RECORD, "id": "de-vouchers"}, 422, "invalid_record", "id: Extra inputs are not permitted"),  # ids are the server's
    ],
)
def test_invalid_contributions(client, body, status, code, fragment):
    response = client.post("/contributions", json=body)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert fragment in response.json()["error"]["message"]


def test_the_queue_names_pending_duplicates_as_the_view_does(client):
    first = client.post("/contributions", json=RECORD).json()["id"]
    second = client.post("/contributions", json={**RECORD, "title": RECORD["title"].upper()}).json()["id"]
    queue = client.get("/moderation/contributions", headers=TOKEN).json()["items"]
    pending = {c["id"]: [(d["id"], d["why"]) for d in c["checks"]["duplicates"] if d.get("kind") == "contribution"]
               for c in queue}
    assert pending == {first: [(second, "same title")], second: [(first, "same title")]}
    view = client.get(f"/moderation/contributions/{second}", headers=TOKEN).json()
    assert [d["id"] for d in view["checks"]["duplicates"]] == [d["id"] for c in queue if c["id"] == second
                                                              for d in c["checks"]["duplicates"]]


def test_unpublish_and_publish(client):
    assert client.post("/moderation/items/de-vouchers/unpublish", json={"reason": "outdated"}, headers=TOKEN
                       ).json()["status"] == "unpublished"
    assert client.get("/items/de-vouchers").status_code == 404
    assert client.get("/search", params={"q": "vouchers", "mode": "keyword"}).json()["total"] == 0
    client.post("/moderation/items/de-vouchers/publish", json={}, headers=TOKEN)
    assert client.get("/search", params={"q": "vouchers", "mode": "keyword"}).json()["total"] == 1


@pytest.mark.parametrize(("route", "status"), [("unpublish", "unpublished"), ("publish", "published")])
def test_a_status_the_item_has_already_is_a_409_and_not_audited(client, route, status):
    if route == "unpublish":
        client.post("/moderation/items/de-vouchers/unpublish", json={"reason": "outdated"}, headers=TOKEN)
    before = client.get("/moderation/audit", params={"target": "de-vouchers"}, headers=TOKEN).json()
    again = client.post(f"/moderation/items/de-vouchers/{route}", json={"reason": "again"}, headers=TOKEN)
    assert (again.status_code, again.json()["error"]["code"], again.json()["error"]["message"]) == (
        409, "conflict", f"item 'de-vouchers' is already {status}: nothing to {route}")
    assert client.get("/moderation/audit", params={"target": "de-vouchers"}, headers=TOKEN).json() == before


@pytest.mark.parametrize("request_body", [{}, {"content": b""}, {"content": b"", "headers": {"Content-Type": "application/json"}},
                                          {"json": {}}])
def test_unpublish_and_publish_need_no_body(client, request_body):
    """Their one field (the reason) is optional: a POST without a body was refused, "body: Field required"."""
    sent = {k: v for k, v in request_body.items() if k != "headers"}  # (the parameter is shared by both stores)
    headers = {**TOKEN, **request_body.get("headers", {})}
    for route, status in (("unpublish", "unpublished"), ("publish", "published")):
        done = client.post(f"/moderation/items/de-vouchers/{route}", headers=headers, **sent)
        assert (done.status_code, done.json()) == (200, {"id": "de-vouchers", "status": status})
    audit = client.get("/moderation/audit", params={"target": "de-vouchers"}, headers=TOKEN).json()
    assert [(a["action"], a["note"]) for a in audit] == [("publish", None), ("unpublish", None)]


def test_a_route_with_a_required_field_still_needs_its_body(client):
    pending = client.post("/contributions", json=RECORD).json()["id"]
    refused = client.post(f"/moderation/contributions/{pending}/reject", headers=TOKEN)
    assert refused.status_code == 422 and "Field required" in refused.json()["error"]["message"]
    bodies = {path: client.get("/openapi.json").json()["paths"][path]["post"]["requestBody"].get("required", False)
              for path in ("/moderation/items/{item_id}/unpublish", "/moderation/items/{item_id}/publish",
                           "/moderation/contributions/{contribution_id}/reject", "/moderation/items/{item_id}/restore")}
    assert list(bodies.values()) == [False, False, True, True]


def test_moderation_without_configured_tokens_is_closed(built):
    with make_client(built) as client:
        response = client.get("/moderation/contributions", headers=TOKEN)
        assert response.status_code == 503
        assert "set POLICYKB_MODERATOR_TOKENS" in response.json()["error"]["message"]


def test_upload_size_limit(built, make_pdf, tmp_path):
    big = " ".join(f"word{i}" for i in range(3000)).encode()  # ~26 KB of text
    with make_client(built, max_upload_mb=0.01) as client:
        response = client.post("/contributions", data={"metadata": json.dumps(RECORD)},
                               files={"file": ("big.txt", big, "text/plain")})
        assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_rate_limit(built):
    with make_client(built, contributions_per_hour=2) as client:
        codes = [client.post("/contributions", json={**RECORD, "title": f"T{i}"}).status_code for i in range(3)]
        assert codes == [201, 201, 429]


def test_cors_closed_by_default_and_configurable(built):
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"}
    with make_client(built) as client:
        assert "access-control-allow-origin" not in client.options("/search", headers=preflight).headers
    with make_client(built, cors_origins=["https://ui.example"]) as client:
        assert client.options("/search", headers=preflight).headers["access-control-allow-origin"] == "https://ui.example"


def test_a_second_worker_sees_an_approval_at_once(built):
    with make_client(built, moderator_tokens=["s3cret-moderator-token"]) as worker_a, make_client(built) as worker_b:
        assert worker_b.get("/search", params={"q": "Baltic", "mode": "semantic"}).status_code == 200
        receipt = worker_a.post("/contributions", json=RECORD).json()
        worker_a.post(f"/moderation/contributions/{receipt['id']}/approve", headers=TOKEN)
        hits = worker_b.get("/search", params={"q": "Baltic cluster export vouchers", "mode": "semantic"}).json()
        assert hits["hits"][0]["title"] == RECORD["title"]
        assert worker_b.get("/health").json()["status"] == "ok"


def test_body_limit_also_stops_streamed_bodies_without_length():
    import asyncio

    from policykb.service.api import BodyLimit
    from policykb.errors import PayloadTooLarge

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass

    chunks = [{"type": "http.request", "body": b"x" * 600, "more_body": True} for _ in range(3)]

    async def receive():
        return chunks.pop(0)

    with pytest.raises(PayloadTooLarge, match="request body over"):
        asyncio.run(BodyLimit(app, max_bytes=1000)({"type": "http", "headers": []}, receive, None))


def test_searches_are_served_while_an_approval_is_embedding(settings, corpus):
    import threading

    from policykb.encoders.embed import HashingEmbedder

    armed, started, searched = threading.Event(), threading.Event(), threading.Event()

    class SlowEmbedder(HashingEmbedder):
        """Holds the approval's embedding until a search has been answered."""

        def encode(self, texts):
            if armed.is_set() and any("Baltic" in t for t in texts):
                armed.clear()
                started.set()
                assert searched.wait(10), "the search never ran while the approval was embedding"
            return super().encode(texts)

    with KnowledgeBase(settings, embedder=SlowEmbedder()) as kb:
        kb.ingest([corpus])
        app = create_app(settings.model_copy(update={"moderator_tokens": ["s3cret-moderator-token"]}), kb=kb)
        with TestClient(app) as client:
            receipt = client.post("/contributions", json=RECORD).json()
            armed.set()
            result: dict = {}
            approving = threading.Thread(target=lambda: result.update(
                r=client.post(f"/moderation/contributions/{receipt['id']}/approve", headers=TOKEN)))
            approving.start()
            assert started.wait(10)
            assert client.get("/search", params={"q": "vouchers"}).status_code == 200
            searched.set()
            approving.join(10)
            assert result["r"].status_code == 200


# -- issue 18, item 10: one rule for undecodable bodies on every route ---------------------------------

NOT_UTF8 = b'{"title": "Caf\xe9 \xff cluster", "country": "LT"}'


def test_multipart_metadata_that_is_not_utf8_is_refused(client):
    boundary = "policykb-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n").encode() + NOT_UTF8 + (
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\nCluster export vouchers for SMEs.\r\n--{boundary}--\r\n").encode()
    response = client.post("/contributions", content=body,
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"code": "invalid_record", "message": "the multipart field 'metadata' is not "
                                        "UTF-8 text", "details": {}}
    assert client.get("/moderation/contributions", headers=TOKEN).json()["total"] == 0


@pytest.mark.parametrize("body, message", [
    (NOT_UTF8, "the body is not UTF-8 text"),
    ('{"title": "Cluster vouchers", "country": "LT"}'.encode("utf-16"), "the body is not UTF-8 text"),  # (accepted)
    (b"[" * 100_000, "the body is nested too deeply"),
    (b'{"title": ', "the body is not JSON"),
])
def test_every_route_answers_an_unreadable_json_body_alike(client, body, message):
    pending = client.post("/contributions", json=RECORD).json()["id"]
    routes = [("post", "/contributions"), ("post", "/contributions/check"),
              ("patch", f"/moderation/contributions/{pending}"), ("post", f"/moderation/contributions/{pending}/reject")]
    answers = []
    for method, path in routes:
        response = client.request(method.upper(), path, content=body,
                                  headers={"Content-Type": "application/json", **TOKEN})
        answers.append((response.status_code, response.json()["error"]["code"],
                        response.json()["error"]["message"].startswith(message)))
    assert answers == [(422, "invalid_record", True)] * len(routes)


# -- issue 18, item 2: a reject or an edit racing an approval loses with 409 -----------------------------


@pytest.mark.parametrize("loser", ["reject", "edit"])
def test_a_change_racing_an_approval_gets_409_and_nothing_disagrees(settings, corpus, monkeypatch, loser):
    import threading

    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        app = create_app(settings.model_copy(update={"moderator_tokens": ["s3cret-moderator-token"]}), kb=kb)
        with TestClient(app) as client:
            receipt = client.post("/contributions", json=RECORD).json()
            inside, results = threading.Event(), {}
            real_audit = kb.store.audit

            def slow_audit(actor, action, *args, **kwargs):  # the approval's last write, then a pause
                real_audit(actor, action, *args, **kwargs)
                if action == "approve":
                    inside.set()
                    threading.Event().wait(0.5)  # the other moderator's request arrives meanwhile

            monkeypatch.setattr(kb.store, "audit", slow_audit)
            path = f"/moderation/contributions/{receipt['id']}"
            approving = threading.Thread(target=lambda: results.update(approve=client.post(f"{path}/approve",
                                                                                           headers=TOKEN)))
            approving.start()
            assert inside.wait(10)
            other = client.post(f"{path}/reject", json={"reason": "spam"}, headers=TOKEN) if loser == "reject" \
                else client.patch(path, json={"title": "Edited title"}, headers=TOKEN)
            approving.join(10)
            monkeypatch.undo()
            assert results["approve"].status_code == 200
            assert other.status_code == 409 and other.json()["error"]["code"] == "conflict", other.text
            view = client.get(path, headers=TOKEN).json()
            assert (view["status"], view["record"]["title"]) == ("approved", RECORD["title"])
            assert [a["action"] for a in view["audit"]] == ["approve", "submit"]
        assert kb.check()["status"] == "ok"


def test_check_notices_a_published_item_whose_contribution_is_not_approved(kb, corpus):
    kb.ingest([corpus])
    desk = kb.contributions
    receipt = desk.submit(dict(RECORD), None, client="c")
    item_id = desk.approve(receipt["id"], actor="alice")["item_id"]
    with kb.store.transaction():  # what a reject racing the approval used to leave behind
        kb.store.update_contribution(receipt["id"], status="rejected", reason="spam")
    result = kb.check()
    assert result["status"] == "inconsistent"
    assert result["contributions_disagreeing"] == [f"{receipt['id']} is rejected but its item {item_id} exists"]


# -- issue 18, item 11: no control or bidirectional characters through the API -------------------------


def test_contributions_and_moderator_texts_are_stored_without_unsafe_characters(client):
    hostile = "Baltic\u0000 export\u0007 \u202evouchers\u200b"
    receipt = client.post("/contributions", json={**RECORD, "title": hostile, "summary": "Pays\u202e\n for\u2066 fairs.",
                                                  "organisation": "Agency\u200b\u0000"}).json()
    view = client.get(f"/moderation/contributions/{receipt['id']}", headers=TOKEN).json()
    assert (view["record"]["title"], view["record"]["summary"], view["record"]["organisation"]) == (
        "Baltic export vouchers", "Pays\n for fairs.", "Agency")
    client.patch(f"/moderation/contributions/{receipt['id']}", headers=TOKEN, json={"region": "Kaunas\u202e\u0007"})
    assert client.get(f"/moderation/contributions/{receipt['id']}", headers=TOKEN).json()["record"]["region"] == "Kaunas"
    client.post(f"/moderation/contributions/{receipt['id']}/reject", headers=TOKEN, json={"reason": "Dupli\u202ecate\u0000"})
    status = client.get(f"/contributions/{receipt['id']}", headers={"X-Contribution-Token": receipt["token"]}).json()
    assert (status["title"], status["reason"]) == ("Baltic export vouchers", "Duplicate")


# -- the desk's rules for reasons and audit targets, as the CLI has them -------------------------------


def test_reasons_and_audit_targets_are_refused_as_the_cli_refuses_them(client):
    receipt = client.post("/contributions", json=RECORD).json()
    long = {"reason": "x" * 2001}
    answers = [client.post(f"/moderation/contributions/{receipt['id']}/reject", json=long, headers=TOKEN),
               client.post("/moderation/items/de-vouchers/unpublish", json=long, headers=TOKEN),
               client.post("/moderation/items/de-vouchers/restore", json={"version": 1, **long}, headers=TOKEN),
               client.post("/moderation/items/de-vouchers/purge", json={"confirm": "de-vouchers", **long}, headers=TOKEN)]
    assert [(a.status_code, a.json()["error"]["message"]) for a in answers] == [
        (422, "a reason has at most 2000 characters (this one has 2001)")] * 4
    unknown = client.get("/moderation/audit", params={"target": "nope"}, headers=TOKEN)
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        404, "no contribution, item or audit entry has the id 'nope'")
    assert client.get("/moderation/audit", params={"target": "x" * 201}, headers=TOKEN).status_code == 422
    assert client.get("/moderation/audit", params={"target": "de-vouchers"}, headers=TOKEN).json() == []


def test_a_moderator_name_the_desk_would_refuse_stops_the_api(built):
    from policykb.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        create_app(built.model_copy(update={"moderator_tokens": ["a" * 101 + ":s3cret-moderator-token"]}))
    assert refused.value.message == ("POLICYKB_MODERATOR_TOKENS: entry 1: the moderator's name (recorded in the "
                                     "audit log) has 101 characters; at most 100")


# -- multipart parts that were passed over in silence ---------------------------------------------------

META = json.dumps({"title": "Exchange notes"})


@pytest.mark.parametrize("data, files, message", [
    (None, [("metadata", (None, META)), ("file", (None, "Notes typed into a text field."))],
     "the multipart part 'file' is a text field; send the document as a file (with a file name)"),
    (None, [("metadata", (None, META)), ("metadata", (None, META)), ("file", ("n.txt", b"Notes.", "text/plain"))],
     "the multipart part 'metadata' is given 2 times; send it once"),
    ({"metadata": META, "comment": "hello"}, None,
     "unknown multipart part 'comment'; a contribution has only 'metadata' and 'file'"),
    ({"metadata": META}, {"attachment": ("a.txt", b"Cluster notes.", "text/plain")},
     "unknown multipart part 'attachment'; a contribution has only 'metadata' and 'file'"),
    (None, {"metadata": ("meta.json", META.encode(), "application/json")},
     "the multipart part 'metadata' is a file; send the record as a text field"),
    # A second file part is named too, not refused by the one-file limit as "Too many files".
    (None, [("metadata", ("meta.json", META.encode(), "application/json")), ("file", ("n.md", b"Notes.", "text/markdown"))],
     "the multipart part 'metadata' is a file; send the record as a text field"),
    (None, [("file", ("n.md", b"Notes.", "text/markdown")), ("metadata", ("meta.json", META.encode(), "application/json"))],
     "the multipart part 'metadata' is a file; send the record as a text field"),
    ({"metadata": META}, [("file", ("a.md", b"Notes.", "text/markdown")), ("file", ("b.md", b"More.", "text/markdown"))],
     "the multipart part 'file' is given more than once; send it once"),
    ({"metadata": META}, [("file", ("a.md", b"Notes.", "text/markdown")), ("attachment", ("b.md", b"More.", "text/markdown"))],
     "unknown multipart part 'attachment'; a contribution has only 'metadata' and 'file'"),
])
def test_multipart_oddities_are_refused_naming_the_part(client, data, files, message):
    response = client.post("/contributions", data=data, files=files or {"file": ("n.txt", b"Notes.", "text/plain")})
    assert (response.status_code, response.json()["error"]["code"], response.json()["error"]["message"]) == (
        422, "invalid_record", message)
    assert client.get("/moderation/contributions", headers=TOKEN).json()["total"] == 0


def test_upload_answer_says_which_title_and_id_were_used(client):
    text = "---\nid: my-notes\ntitle: Cluster exchange notes\n---\nNotes on cluster staff exchanges.\n"
    response = client.post("/contributions", data={"metadata": META},
                           files={"file": ("notes.md", text.encode(), "text/markdown")})
    assert response.status_code == 201, response.text
    item_id = client.get(f"/moderation/contributions/{response.json()['id']}", headers=TOKEN).json()["record"]["id"]
    assert response.json()["warnings"] == [
        "front matter: title 'Cluster exchange notes' not used; the record's title 'Exchange notes' is",
        f"front matter: id 'my-notes' not used; the record's id {item_id!r} is"]
    same = "---\ntitle: Exchange notes\n---\nNotes on cluster staff exchanges.\n"
    assert client.post("/contributions", data={"metadata": META},
                       files={"file": ("same.md", same.encode(), "text/markdown")}).json()["warnings"] == []


@pytest.mark.parametrize("headers, challenge, says", [
    ({}, 'Bearer realm="policykb moderation"', "a moderator bearer token is required"),
    ({"Authorization": "Bearer wrong-token-of-some-length"}, 'Bearer realm="policykb moderation", error="invalid_token"',
     "this moderator token is not accepted"),
    ({"Authorization": "Basic YWxpY2U6cHc="}, 'Bearer realm="policykb moderation"', "a moderator bearer token is required"),
])
def test_a_401_says_how_to_authenticate(client, headers, challenge, says):
    """RFC 6750, 3: a 401 carries the WWW-Authenticate challenge (invalid_token for a token that is not one),
    and its message says which of the two it is."""
    for response in (client.get("/moderation/contributions", headers=headers),
                     client.post("/moderation/items/de-vouchers/unpublish", json={}, headers=headers)):
        assert (response.status_code, response.headers.get("www-authenticate")) == (401, challenge)
        assert response.json()["error"]["message"].startswith(says)
    assert "www-authenticate" not in client.get("/moderation/contributions", headers=TOKEN).headers


def test_checks_are_rate_limited_per_client(built):
    with make_client(built, checks_per_minute=2) as client:
        draft = {"title": "Cluster internationalisation vouchers"}
        answers = [client.post("/contributions/check", json=draft) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["error"]["code"] == "rate_limited"
        assert 59 <= int(answers[2].headers["retry-after"]) <= 60
        assert client.post("/contributions", json=RECORD).status_code == 201  # submissions count apart


def test_a_non_ascii_upload_name_comes_back_in_an_rfc_5987_header(client):
    receipt = client.post("/contributions", data={"metadata": json.dumps({"title": "Klastrų politika"})},
                          files={"file": ("Klastrų politika.md", "Klasterių politika.".encode(), "text/markdown")}).json()
    answer = client.get(f"/moderation/contributions/{receipt['id']}/file", headers=TOKEN)
    assert answer.headers["content-disposition"] == "attachment; filename*=utf-8''Klastr%C5%B3_politika.md"
    assert client.get(f"/moderation/contributions/{receipt['id']}", headers=TOKEN).json()["file_name"] == \
        "Klastrų_politika.md"

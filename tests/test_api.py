"""The HTTP API over a tmp_path knowledge base (hashing embedder): every endpoint and its error paths."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from policykb.service.api import create_app
from policykb.kb import KnowledgeBase


@pytest.fixture
def client(settings, corpus, make_pdf):
    make_pdf(corpus / "handbook.pdf", ["Intro page.", "Vouchers for cluster firms on page two."], title="Handbook")
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([corpus]).skipped == []
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_search_with_repeatable_filters_and_facets(client):
    response = client.get("/search", params=[("q", "cluster"), ("territory", "FR"), ("territory", "Austria")])
    assert response.status_code == 200
    data = response.json()
    assert {h["id"] for h in data["hits"]} == {"fr-es-green", "at-upper-austria"} and data["total"] == 2
    territory = {v["value"]: (v["count"], v["selected"]) for v in data["facets"]["territory"]["values"]}
    assert territory["FR"] == (1, True) and territory["DE"] == (1, False)


@pytest.mark.parametrize("raw, expected", [("EL", "GR"), ("UK", "GB"), ("Holland", "NL")])
def test_search_takes_the_eus_country_codes_and_alternative_names(client, raw, expected):
    response = client.get("/search", params={"q": "", "territory": raw})
    assert response.status_code == 200
    selected = [v["value"] for v in response.json()["facets"]["territory"]["values"] if v["selected"]]
    assert selected == [expected]


@pytest.mark.parametrize("path", ["/search", "/counts", "/export"])
@pytest.mark.parametrize("params, message", [
    ({"year_from": 99999}, "year_from 99999 is not a year between 1800 and 2100"),
    ({"year_to": 1799}, "year_to 1799 is not a year between 1800 and 2100"),
])
def test_years_outside_the_range_are_refused_as_the_cli_refuses_them(client, path, params, message):
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_query", "message": message, "details": params}


def test_a_query_of_ligatures_under_the_limit_as_sent_is_searched(client):
    """600 "ﬁ" (U+FB01) passed the route's check, then were refused as "1,200 characters long"."""
    response = client.get("/search", params={"q": "\ufb01" * 600, "mode": "keyword"})
    assert response.status_code == 200 and response.json()["query"] == "fi" * 600


ROADMAP = ["The regional hydrogen roadmap sets out how cluster firms build electrolysers and refuelling stations.",
           "Vouchers for cluster firms pay for hydrogen feasibility studies with universities and institutes.",
           "Training for cluster staff covers hydrogen safety, maintenance and permits for refuelling stations.",
           "Monitoring counts new hydrogen projects, jobs and patents of cluster firms every year."]


def client_hits(settings, q: str, mode: str) -> list[dict]:
    with TestClient(create_app(settings)) as client:
        return client.get("/search", params={"q": q, "mode": mode}).json()["hits"]


def test_a_document_result_names_its_other_pages(settings, corpus, make_pdf):
    make_pdf(corpus / "roadmap.pdf", ROADMAP, title="Hydrogen roadmap")
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([corpus]).skipped == []
        assert [p["page"] for p in kb.get("roadmap")["passages"]] == [1, 2, 3, 4]
    with TestClient(create_app(settings)) as client:
        data = client.get("/search", params={"q": "hydrogen vouchers for feasibility studies"}).json()
        keyword = client.get("/search", params={"q": "feasibility studies", "mode": "keyword"}).json()
    # by keyword, only pages that hold the words are named: here none besides the one shown
    assert [(h["id"], h["page"], h["also"]) for h in keyword["hits"]] == [("roadmap", 2, [])]
    roadmap = next(h for h in data["hits"] if h["id"] == "roadmap")
    assert roadmap["page"] == 2 and len(roadmap["also"]) == 2 and {a["page"] for a in roadmap["also"]} < {1, 3, 4}
    assert all(a["section"] is None for a in roadmap["also"])
    assert all(h["also"] == [] for h in data["hits"] if h["id"] != "roadmap")  # (records and a guide of one page)
    # a document hit links to its file, a PDF's at the page shown; a record's hit has no file
    assert roadmap["file"] == "/items/roadmap/file#page=2"
    files = {h["id"]: h["file"] for h in client_hits(settings, "cluster", "keyword")}
    assert files["guide-abroad"] == "/items/guide-abroad/file" and files["de-vouchers"] is None


def test_search_page_and_browse(client):
    data = client.get("/search", params={"size": 2, "page": 2}).json()
    assert data["total"] == 6 and len(data["hits"]) == 2


@pytest.mark.parametrize(
    "params, status, code",
    [
        ({"challenge": "greem"}, 422, "unknown_facet_value"),
        ({"mode": "magic"}, 422, "invalid_request"),
        ({"size": 0}, 422, "invalid_request"),
        ({"year_from": 2020, "year_to": 2000}, 422, "invalid_query"),
        ({"year_from": 99999}, 422, "invalid_query"),
        ({"year_to": 1799}, 422, "invalid_query"),
        ({"q": "cluster", "lang": "xx"}, 422, "invalid_query"),  # (two letters, but no language served)
    ],
)
def test_search_errors_are_uniform(client, params, status, code):
    response = client.get("/search", params=params)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path, params, message",
    [
        ("/search", {"q": "cluster", "country": "AT"}, "unknown parameter 'country'; did you mean 'territory'?"),
        ("/search", {"q": "cluster", "challenges": "green"}, "unknown parameter 'challenges'; did you mean 'challenge'?"),
        ("/search", {"q": "cluster", "teritory": "AT"}, "unknown parameter 'teritory'; did you mean 'territory'?"),
        ("/search", {"q": "cluster", "Territory": "AT"}, "unknown parameter 'Territory'; did you mean 'territory'?"),
        ("/search", {"q": "cluster", "colour": "red"}, "unknown parameter 'colour' (this route takes q, mode, territory,"),
        ("/counts", {"q": "cluster", "size": "5"}, "unknown parameter 'size'"),  # (a /search parameter only)
        ("/export", {"q": "cluster", "country": "AT"}, "did you mean 'territory'?"),
    ],
)
def test_unknown_parameters_are_refused_not_ignored(client, path, params, message):
    """A misspelled filter was left out by FastAPI: the whole unfiltered set came back as if filtered."""
    response = client.get(path, params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_query"
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize("lang, used", [("DE", "de"), ("de", "de"), ("", None)])
def test_lang_is_read_as_the_cli_reads_it(client, lang, used):
    """Any case, as the CLI takes it; empty (a form's empty field) is no language: detected."""
    response = client.get("/search", params={"q": "innovation vouchers", "lang": lang})
    assert response.status_code == 200
    assert response.json()["language"]["used"] == (used or response.json()["language"]["detected"])


@pytest.mark.parametrize("lang", ["German", "xx", "d"])
def test_an_unknown_lang_is_refused_with_the_codes(client, lang):
    """It was refused by a pattern ("String should match pattern '^[a-z]{2}$'") without the codes."""
    error = client.get("/search", params={"q": "innovation vouchers", "lang": lang}).json()["error"]
    assert error["code"] == "invalid_query"
    assert f"unknown language {lang!r}: give one of ar, bg, " in error["message"]
    assert "or leave it out to have it detected" in error["message"]


@pytest.mark.integration
def test_a_forced_language_is_the_same_set_in_search_counts_and_export(settings, corpus):
    """`lang` was taken by /search only: /counts and /export refused it as an unknown parameter, so
    the UI's download and charts described the detected language's set (31 items) while the page
    showed the forced one's (8)."""
    settings = settings.model_copy(update={"multilingual_model": "use-multilingual"})
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([corpus]).skipped == []
    question = "Förderung für Cluster beim Export"
    with TestClient(create_app(settings)) as client:
        totals = {}
        for lang in ("en", ""):
            params = {"q": question, "lang": lang}
            search = client.get("/search", params={**params, "size": 100})
            counts = client.get("/counts", params=params)
            export = client.get("/export", params={**params, "format": "json"})
            assert (search.status_code, counts.status_code, export.status_code) == (200, 200, 200)
            ids = [h["id"] for h in search.json()["hits"]]
            assert counts.json()["total"] == search.json()["total"] == len(ids)
            assert [r["id"] for r in export.json()] == ids
            totals[lang] = ids
        assert totals["en"] != totals[""]  # (else the test shows nothing: the language must change the set)


def test_every_parameter_a_route_declares_is_taken(client):
    params = {"q": "cluster", "mode": "hybrid", "territory": "AT", "year_from": 2000, "year_to": 2030}
    assert client.get("/search", params={**params, "page": 1, "size": 5, "lang": "en"}).status_code == 200
    assert client.get("/counts", params={**params, "lang": "en"}).status_code == 200
    assert client.get("/export", params={**params, "format": "json", "lang": "en"}).status_code == 200


def test_item_similar_and_file(client):
    item = client.get("/items/handbook").json()
    assert item["pages"] == 2 and [p["page"] for p in item["passages"]] == [1, 2]
    assert item["file"] == "/items/handbook/file" and client.get("/items/de-vouchers").json()["file"] is None
    similar = client.get("/items/de-vouchers/similar", params={"k": 2}).json()
    assert len(similar) == 2 and "de-vouchers" not in {h["id"] for h in similar}
    pdf = client.get("/items/handbook/file")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    assert client.get(item["file"]).content == pdf.content
    missing = client.get("/items/de-vouchers/file")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/items/nope").json() == {
        "error": {"code": "not_found", "message": "no item with id 'nope'", "details": {"id": "nope"}}
    }


@pytest.mark.parametrize("path, status", [("/items/handbook/file", 200), ("/items/de-vouchers/file", 404),
                                          ("/items/nope/file", 404)])
def test_head_of_a_file_answers_as_get_without_the_body(client, path, status):
    """Link checkers ask with HEAD: the same status and headers as GET, no body."""
    got, head = client.get(path), client.head(path)
    assert (got.status_code, head.status_code) == (status, status) and head.content == b""
    for name in ("content-type", "content-length", "content-disposition"):
        assert head.headers.get(name) == got.headers.get(name)
    assert head.headers["content-length"] == str(len(got.content))


def test_a_text_document_is_served_and_linked(settings, corpus):
    (corpus / "notes.text").write_text("Cluster vouchers pay for feasibility studies.", encoding="utf-8")
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([corpus]).skipped == []
    with TestClient(create_app(settings)) as client:
        hit = next(h for h in client.get("/search", params={"q": "feasibility", "mode": "keyword"}).json()["hits"])
        assert (hit["id"], hit["file"]) == ("notes", "/items/notes/file")
        answer = client.get(hit["file"])
    assert answer.status_code == 200 and answer.text == "Cluster vouchers pay for feasibility studies."
    assert answer.headers["content-disposition"].startswith("attachment")  # (only PDFs are shown inline)


def test_facets_stats_health(client):
    facets = {f["name"]: f for f in client.get("/facets").json()}
    vouchers = next(v for v in facets["support"]["values"] if v["id"] == "vouchers")
    assert vouchers["count"] == 1 and "innovation vouchers" in vouchers["synonyms"]
    assert client.get("/stats").json()["items"] == 6
    assert client.get("/health").json() == {"status": "ok", "reason": None}


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_follows_filters(client, fmt):
    response = client.get("/export", params={"format": fmt, "challenge": "green"})
    assert response.status_code == 200
    text = response.text
    if fmt == "csv":
        assert [line.split(",")[:3] for line in text.splitlines()[1:]] == [
            ["1", "", "fr-es-green"], ["2", "", "at-upper-austria"]]  # rank, no score when browsing, id
    else:
        records = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
        assert sorted(r["id"] for r in records) == ["at-upper-austria", "fr-es-green"]


def test_csv_export_opens_in_excel_and_leaves_out_facets_no_item_uses(client):
    """Issue 19, 13: Excel read the CSV as another encoding; `stip_*` columns were empty everywhere."""
    content = client.get("/export", params={"format": "csv"}).content
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    header = content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:4] == ["rank", "score", "id", "kind"]
    assert not [h for h in header if h.startswith("stip_")]  # no STIP item in this knowledge base
    assert "country" in header and "country_label" in header


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_public_exports_hold_no_server_paths(client, fmt):
    """Issue 19, 10: exports carried the server's `source` paths."""
    text = client.get("/export", params={"format": fmt}).content.decode("utf-8-sig")
    assert "source" not in (text.splitlines()[0].split(",") if fmt == "csv" else json.loads(text)[0])
    assert "handbook.pdf" not in text and "records.yaml" not in text


def test_openapi_is_served(client):
    assert "/search" in client.get("/openapi.json").json()["paths"]


def test_counts_describe_the_result_set_for_filters_and_for_charts(client):
    counts = client.get("/counts", params={"q": "cluster", "mode": "keyword", "territory": "EU"}).json()
    search = client.get("/search", params={"q": "cluster", "mode": "keyword", "territory": "EU"}).json()
    assert counts["total"] == search["total"] == 2
    assert counts["facets"]["territory"] == search["facets"]["territory"]  # disjunctive, for the filters
    assert counts["values"]["territory"] == {"EU": 2}  # the set itself, for charts
    assert counts["values"]["kind"] == {"example": 1, "guide": 1}
    assert counts["start_years"] == {"2019": 1} and counts["undated"] == 1


# -- issue 18, item 8: an error never echoes an input at length ---------------------------------------

LONG = "x" * 60_000  # (httpx sends URLs of at most 64 KB)


@pytest.mark.parametrize("method, path, kwargs", [
    ("get", f"/items/{LONG}", {}),
    ("get", f"/items/{LONG}/similar", {}),
    ("get", "/search", {"params": {"territory": LONG}}),
    ("get", "/search", {"params": {"challenge": ["green", LONG]}}),
    ("get", "/export", {"params": {"theme": LONG}}),
    ("post", "/contributions", {"json": {"title": "A title", LONG: 1}}),
    ("post", "/contributions/check", {"json": {"title": "A title", LONG: 1}}),
])
def test_error_bodies_cut_every_echoed_value(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    assert 400 <= response.status_code < 500
    assert len(response.content) < 3000, response.content[:300]
    body = response.json()["error"]
    assert body["code"] and body["message"]


# -- issue 18, item 6: /health does not flap during writes and says little in public -------------------


def test_health_stays_ok_while_a_write_commits(settings, corpus, monkeypatch):
    import threading

    from policykb.backends.embedded.index import VectorIndex

    saved, probed = threading.Event(), threading.Event()
    real_save = VectorIndex.save

    def save_then_wait(self, home, model, generation, *runtime):  # the manifest of N+1 is out, not the commit
        real_save(self, home, model, generation, *runtime)
        if generation > 1:
            saved.set()
            probed.wait(10)

    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        with TestClient(create_app(settings, kb=kb)) as client:
            monkeypatch.setattr(VectorIndex, "save", save_then_wait)
            writer = threading.Thread(target=kb.set_published, args=("de-vouchers", False))
            writer.start()
            assert saved.wait(10)
            during = client.get("/health")
            probed.set()
            writer.join(10)
            after = client.get("/health")
    assert (during.status_code, during.json()) == (200, {"status": "ok", "reason": None})
    assert (after.status_code, after.json()) == (200, {"status": "ok", "reason": None})


def test_an_unhealthy_answer_is_short_in_public_and_detailed_for_moderators(settings, corpus, tmp_path, caplog):
    extra = tmp_path / "x" / "x.jsonl"
    extra.parent.mkdir()
    extra.write_text('{"id": "r0", "title": "Programme zero"}\n')
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus, extra])
        with kb.store.transaction():  # a file listing an item it does not own
            kb.store.upsert_file(str(extra), "stale", 1, ["r0", "de-vouchers"])
    token = "a-long-moderator-token"
    with TestClient(create_app(settings.model_copy(update={"moderator_tokens": [token]}))) as client:
        public = client.get("/health")
        assert (public.status_code, public.json()) == (503, {"status": "not ok", "reason": "files and items disagree"})
        assert client.get("/moderation/health").status_code == 401
        detailed = client.get("/moderation/health", headers={"Authorization": f"Bearer {token}"})
    assert detailed.status_code == 200 and detailed.json()["files_disagreeing"] == [f"{extra}: de-vouchers"]
    assert f"{extra}: de-vouchers" in caplog.text  # the operator finds the details in the log


@pytest.mark.embedded_only  # damages the SQLite file
def test_a_database_damaged_under_a_running_api_gets_503_without_paths(settings, corpus, caplog):
    from .test_store import damage

    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        damage(settings.home / "kb.sqlite", "pages")
        health, item = client.get("/health"), client.get("/items/de-vouchers")
    assert (health.status_code, health.json()) == (503, {"status": "not ok", "reason": "the database is damaged"})
    assert (item.status_code, item.json()["error"]["code"]) == (503, "store_damaged")
    assert str(settings.home) not in item.text
    assert f"{settings.home / 'kb.sqlite'} is damaged" in caplog.text

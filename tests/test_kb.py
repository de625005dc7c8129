"""KnowledgeBase behaviour with the deterministic hashing embedder (fast; the real model is in test_integration)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from policykb.config import Settings
from policykb.encoders.embed import HashingEmbedder
from policykb.errors import IndexMismatch, InvalidQuery, NotFound, UnknownFacetValue
from policykb.backends.embedded.index import VectorIndex
from policykb.kb import KnowledgeBase

from .conftest import RECORDS


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts = 0

    def encode(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return super().encode(texts)


def consistent(kb: KnowledgeBase) -> bool:
    """The index holds exactly the store's passages, at the store's generation."""
    manifest = json.loads((kb.home / "manifest.json").read_text())
    ids, _ = kb.store.passage_vectors(kb.model)
    return manifest["generation"] == kb.store.generation and len(kb.index) == len(ids) == kb.stats()["passages"]


def test_ingest_reports_and_is_idempotent(settings, corpus):
    embedder = CountingEmbedder()
    with KnowledgeBase(settings, embedder=embedder) as kb:
        first = kb.ingest([corpus])
        assert (len(first.added), len(first.updated), len(first.skipped)) == (5, 0, 0)
        assert first.embedded == embedder.texts > 0
        stats = kb.stats()
        calls = embedder.calls
        second = kb.ingest([corpus])
        assert (len(second.added), len(second.updated), len(second.unchanged)) == (0, 0, 5)
        assert second.embedded == 0 and embedder.calls == calls
        assert kb.stats() == stats and consistent(kb)


def test_changed_record_replaces_its_passages(kb, corpus):
    kb.ingest([corpus])
    old_ids = kb.store.passage_ids("de-vouchers")
    path = corpus / "examples" / "records.yaml"
    path.write_text(path.read_text().replace("through trade missions", "through export coaching"))
    report = kb.ingest([corpus])
    assert (report.updated, len(report.unchanged), report.embedded) == (["de-vouchers"], 4, 1)
    new_ids = kb.store.passage_ids("de-vouchers")
    assert set(new_ids).isdisjoint(old_ids) and consistent(kb)
    assert kb.search("coaching", mode="keyword").hits[0].id == "de-vouchers"
    assert kb.search("trade missions", mode="keyword").total == 1  # only the guide still says "missions"


def test_prune_removes_items_of_deleted_files(kb, corpus):
    kb.ingest([corpus])
    (corpus / "guide.md").unlink()
    assert kb.ingest([corpus]).removed == []  # without --prune nothing is removed
    report = kb.ingest([corpus], prune=True)
    assert report.removed == ["guide-abroad"]
    with pytest.raises(NotFound):
        kb.get("guide-abroad")
    assert consistent(kb)


def test_record_removed_from_file_is_removed(kb, corpus):
    kb.ingest([corpus])
    path = corpus / "examples" / "records.yaml"
    records = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump([r for r in records if r["id"] != "eu-exchange"]))
    assert kb.ingest([corpus]).removed == ["eu-exchange"]
    assert consistent(kb)


def test_duplicate_id_in_another_file_is_skipped(kb, corpus):
    (corpus / "zz-dup.json").write_text(json.dumps([{"id": "de-vouchers", "title": "Impostor"}]))
    report = kb.ingest([corpus])
    assert [p.reason for p in report.skipped] == [f"id 'de-vouchers' is already used by {corpus / 'examples' / 'records.yaml'}"]
    assert kb.get("de-vouchers")["title"] == "Cluster internationalisation vouchers"


def test_bad_inputs_are_skipped_and_the_rest_ingested(kb, corpus, make_pdf):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "empty.md").write_text("")
    make_pdf(corpus / "scan.pdf", [None], scanned=True)
    (corpus / "rows.csv").write_text("id,title,challenges\nok-row,Fine row,green\nbad-row,Bad row,greem\n")
    (corpus / "notes.docx").write_bytes(b"x")
    report = kb.ingest([corpus])
    reasons = {(Path(p.source).name, p.line): p.reason for p in report.skipped}
    assert set(reasons) == {("broken.pdf", None), ("empty.md", None), ("scan.pdf", None), ("rows.csv", 3)}
    assert reasons[("empty.md", None)] == "empty file"
    assert "image-only" in reasons[("scan.pdf", None)]
    assert len(report.added) == 6 and "ok-row" in report.added
    assert report.ignored == [str(corpus / "notes.docx")]
    assert consistent(kb)


def test_skipped_rows_are_reported_again_on_the_next_run(kb, corpus):
    (corpus / "rows.csv").write_text("id,title,level\nok-row,Fine,national\nbad-row,Bad,planetary\n")
    first = kb.ingest([corpus])
    again = kb.ingest([corpus])
    assert [(p.line, p.reason[:30]) for p in again.skipped] == [(3, "unknown value 'planetary' for ")]
    assert [p.reason for p in again.skipped] == [p.reason for p in first.skipped]
    assert (again.added, again.updated, again.embedded) == ([], [], 0)


def test_corrupted_update_keeps_previous_version(kb, tmp_path, make_pdf):
    pdf = make_pdf(tmp_path / "docs" / "case.pdf", ["Cluster vouchers case study text."])
    kb.ingest([tmp_path / "docs"])
    pdf.write_bytes(b"%PDF-1.4 broken now")
    report = kb.ingest([tmp_path / "docs"])
    assert len(report.skipped) == 1 and report.removed == []
    assert kb.get("case")["passages"][0]["text"] == "Cluster vouchers case study text."


def test_crash_while_saving_index_leaves_previous_state(kb, corpus, monkeypatch):
    kb.ingest([corpus])
    before = (kb.stats(), kb.store.generation)
    path = corpus / "examples" / "records.yaml"
    path.write_text(path.read_text().replace("Upper Austria cluster programme", "Renamed programme"))

    def boom(self, home, model, generation, *runtime):
        raise OSError("disk full")

    monkeypatch.setattr(VectorIndex, "save", boom)
    with pytest.raises(OSError):
        kb.ingest([corpus])
    monkeypatch.undo()
    assert (kb.stats(), kb.store.generation) == before
    assert kb.get("at-upper-austria")["title"] == "Upper Austria cluster programme"
    assert consistent(kb)
    assert kb.ingest([corpus]).updated == ["at-upper-austria"] and consistent(kb)


def test_stale_manifest_is_rebuilt_from_store(kb, corpus, settings):
    kb.ingest([corpus])
    manifest = kb.home / "manifest.json"
    data = json.loads(manifest.read_text())
    data["generation"] = 99
    manifest.write_text(json.dumps(data))
    with KnowledgeBase(settings) as fresh:
        assert fresh.search("vouchers", mode="semantic").hits[0].id == "de-vouchers"
        assert consistent(fresh)


def test_index_of_another_model_fails_loudly(kb, corpus, tmp_path):
    kb.ingest([corpus])
    other = Settings(home=kb.home, model=str(tmp_path))  # a directory: a different model
    with KnowledgeBase(other) as mismatched:
        with pytest.raises(IndexMismatch, match="built with model 'hashing'"):
            mismatched.index


ITEMS = {r["id"]: r for r in yaml.safe_load(RECORDS)}
FIELDS = {"territory": "country", "level": "level", "challenge": "challenges", "theme": "themes",
          "support": "support", "typology": "typology"}


def expected_ids(filters: dict[str, list[str]]) -> set[str]:
    """Which fixture records pass the filters, computed without policykb."""
    def values(record, facet):
        v = record.get(FIELDS[facet])
        return set(v if isinstance(v, list) else [v])
    return {i for i, r in ITEMS.items() if all(values(r, f) & set(vs) for f, vs in filters.items())}


FILTER_CASES = [
    {"territory": ["DE"]},
    {"territory": ["FR", "AT"]},
    {"challenge": ["green"], "support": ["networking"]},
    {"challenge": ["internationalisation"], "level": ["european", "national"]},
    {"theme": ["textile", "health"], "challenge": ["digital"]},
    {"support": ["networking"], "typology": ["eu-partnership"], "territory": ["EU"]},
    {"territory": ["JP"]},
]


@pytest.mark.parametrize("filters", FILTER_CASES)
@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_filters_never_leak(kb, corpus, filters, mode):
    (corpus / "guide.md").unlink()
    kb.ingest([corpus])
    allowed = expected_ids(filters)
    for query in ("", "cluster", "green digital partnership"):
        result = kb.search(query, mode=mode, filters=filters, size=50)
        got = {h.id for h in result.hits}
        assert got <= allowed
        if query == "":
            assert got == allowed and result.total == len(allowed)


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_disjunctive_facet_counts_match_independent_counts(kb, corpus, filters):
    (corpus / "guide.md").unlink()
    kb.ingest([corpus])
    facets = kb.search("", filters=filters).facets
    for facet in FIELDS:
        others = {f: v for f, v in filters.items() if f != facet}
        counts: dict[str, int] = {}
        for item_id in expected_ids(others):
            v = ITEMS[item_id][FIELDS[facet]]
            for value in v if isinstance(v, list) else [v]:
                counts[value] = counts.get(value, 0) + 1
        got = {v["value"]: v["count"] for v in facets[facet]["values"] if v["count"]}
        assert got == counts, facet
        assert {v["value"] for v in facets[facet]["values"] if v["selected"]} == set(filters.get(facet, []))


def test_keyword_result_set_drives_counts_and_total(kb, corpus):
    kb.ingest([corpus])
    result = kb.search("textile", mode="keyword")
    assert result.total == 1 and [h.id for h in result.hits] == ["fr-es-green"]
    assert {v["value"]: v["count"] for v in result.facets["territory"]["values"]} == {"ES": 1, "FR": 1}


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_a_question_with_nothing_to_search_for_finds_nothing(kb, tmp_path, mode):
    """A lone digit or letter is in many passages: "' OR 1=1 --" found the items holding "1"."""
    (tmp_path / "steps.yaml").write_text("- {id: steps, title: Application steps, summary: 'Step 1: apply. Step 2: "
                                         "report the results in form x.'}\n", encoding="utf-8")
    kb.ingest([tmp_path / "steps.yaml"])
    for question in ("1", "' OR 1=1 --", "x", "what is it"):
        assert kb.search(question, mode=mode).total == 0, question
    assert [h.id for h in kb.search("step 1 report", mode=mode).hits] == ["steps"]


def test_year_range(kb, corpus):
    kb.ingest([corpus])
    ids = lambda **kw: sorted(h.id for h in kb.search("", size=50, **kw).hits)  # noqa: E731
    # (guide-abroad has no year: a year filter leaves it out; at-upper-austria has a start year and no end)
    assert ids(year_from=2023) == ["at-upper-austria", "de-vouchers", "eu-exchange"]
    assert ids(year_to=2000) == ["at-upper-austria"]
    with pytest.raises(InvalidQuery):
        kb.search("", year_from=2020, year_to=2010)


def test_hits_carry_best_passage_snippet_and_facets(kb, corpus):
    kb.ingest([corpus])
    hit = kb.search("export contracts monitoring", mode="keyword").hits[0]
    assert hit.id == "guide-abroad" and hit.kind == "guide"
    assert (hit.section, hit.passage) == ("Monitoring", "Count new export contracts and partnerships one year after each mission.")
    assert "<mark>export</mark> <mark>contracts</mark>" in hit.snippet
    assert hit.facets["challenge"] == ["internationalisation"] and hit.source.endswith("guide.md")


def test_pagination(kb, corpus):
    kb.ingest([corpus])
    pages = [kb.search("cluster", mode="hybrid", page=p, size=2) for p in (1, 2, 3)]
    ids = [h.id for r in pages for h in r.hits]
    assert len(ids) == len(set(ids)) == pages[0].total == 5


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("query", ["?!?.,;", " ... ", "«»", "-", "\u200b\u200b\u200d", " \u2060\ufeff "])
def test_a_query_of_punctuation_alone_finds_nothing(kb, corpus, query, mode):
    """A review found "?!?.,;" answered with three documents at 0.27: the model read the marks; and
    zero-width characters alone (removed by normalising) browsing every item, as an empty query."""
    kb.ingest([corpus])
    result = kb.search(query, mode=mode)
    assert (result.total, result.hits, result.nearest) == (0, [], [])
    assert sum(v["count"] for f in result.facets.values() for v in f["values"]) == 0


def test_a_query_longer_than_the_limit_is_refused_by_every_interface(kb, corpus):
    """The API refused a question over 1,000 characters and the CLI searched 10,000 of them."""
    kb.ingest([corpus])
    with pytest.raises(InvalidQuery, match="the query is 1,001 characters long; the limit is 1,000"):
        kb.search("v" * 1001)
    assert kb.search("vouchers " + "x" * 991).query.startswith("vouchers")  # (1,000: read)


@pytest.mark.parametrize("query, normalised_length", [("\ufb01" * 1000, 2000), ("\ufb03" * 1000, 3000),
                                                      ("vouchers \ufb01" + "\ufb01" * 990, 1991)])
def test_a_query_is_measured_as_sent_not_as_normalised(kb, corpus, query, normalised_length):
    """A review found 600 "ﬁ" (U+FB01) refused as "1,200 characters long": the length was counted after
    normalising (a ligature is two letters then); the user sent 600, under the limit."""
    kb.ingest([corpus])
    assert len(query) <= 1000 and len(kb.search(query, mode="keyword").query) == normalised_length
    with pytest.raises(InvalidQuery, match="the query is 1,001 characters long; the limit is 1,000"):
        kb.search("\ufb01" * 1001)


def test_a_query_far_longer_once_normalised_is_refused_saying_so(kb, corpus):
    kb.ingest([corpus])
    with pytest.raises(InvalidQuery) as refused:
        kb.search("\ufdfa" * 300)  # (one character, 18 letters once normalised)
    assert refused.value.message == ("the query is 5,400 characters long once normalised (ligatures and other "
                                     "compatibility characters written out); the limit is 4,000")


@pytest.mark.parametrize("language", ["xx", "EN ", "english", "la"])
def test_a_language_that_is_no_language_served_is_refused(kb, corpus, language):
    kb.ingest([corpus])
    with pytest.raises(InvalidQuery, match=f"unknown language {language!r}: give one of ar, bg, .*, zh"):
        kb.search("cluster vouchers", language=language)
    assert kb.search("cluster vouchers", language="DE").language["used"] == "de"  # (any case)


def test_similar_excludes_the_item_and_lists_only_items_over_the_floor(kb, corpus):
    kb.ingest([corpus])
    hits = kb.similar("de-vouchers", k=3)
    assert [h.id for h in hits] == ["eu-exchange", "guide-abroad"]  # the others score under the floor (0.25)
    assert all(h.score >= 0.25 for h in hits)
    assert [h.id for h in kb.similar("de-vouchers", k=3, filters={"territory": ["AT"]})] == []
    with pytest.raises(NotFound):
        kb.similar("nope")


def test_unknown_filter_value_is_a_clear_error(kb, corpus):
    kb.ingest([corpus])
    with pytest.raises(UnknownFacetValue, match="'Narnia' for territory"):
        kb.search("x", filters={"territory": ["Narnia"]})


def test_export_round_trips_through_ingest(kb, corpus, tmp_path):
    from policykb.ingest.export import write_records

    kb.ingest([corpus])
    for fmt in ("csv", "json", "jsonl"):
        out = tmp_path / f"export-{fmt}" / f"all.{fmt}"
        out.parent.mkdir()
        with out.open("w") as fh:
            write_records(kb.export(), fmt, fh)
        with KnowledgeBase(Settings(home=tmp_path / f"kb-{fmt}", model="hashing")) as copy:
            report = copy.ingest([out])
            assert (len(report.added), report.skipped) == (5, [])
            for item_id in ITEMS:
                original, again = kb.get(item_id), copy.get(item_id)
                assert {k: again[k] for k in ("title", "country", "challenges", "support", "start_year", "links")} == \
                       {k: original[k] for k in ("title", "country", "challenges", "support", "start_year", "links")}


def test_unchanged_stats_do_not_move(kb, corpus):
    kb.ingest([corpus])
    before = kb.stats()
    kb.ingest([corpus], prune=True)
    assert kb.stats() == before


def test_all_combinations_of_two_filters_stay_inside(kb, corpus):
    (corpus / "guide.md").unlink()
    kb.ingest([corpus])
    for a, b in itertools.combinations(["DE", "FR", "AT", "EU", "ES"], 2):
        got = {h.id for h in kb.search("cluster", filters={"territory": [a, b]}, size=50).hits}
        assert got <= expected_ids({"territory": [a, b]})


# -- regressions found in review ------------------------------------------------------------------


def test_duplicate_id_within_one_file_is_skipped(kb, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "dup.yaml").write_text(
        "- {id: same, title: First version, summary: Alpha beta.}\n"
        "- {id: same, title: Second version, summary: Gamma delta.}\n"
        "- {id: other, title: Other, summary: Epsilon.}\n"
    )
    report = kb.ingest([tmp_path / "in"])
    assert sorted(report.added) == ["other", "same"]
    assert [p.reason for p in report.skipped] == ["id 'same' appears twice in this file"]
    assert kb.get("same")["title"] == "First version" and consistent(kb)
    assert [p.reason for p in kb.ingest([tmp_path / "in"]).skipped] == ["id 'same' appears twice in this file"]


def test_renamed_file_keeps_its_items_with_prune(kb, corpus):
    kb.ingest([corpus])
    (corpus / "examples" / "records.yaml").rename(corpus / "examples" / "renamed.yaml")
    report = kb.ingest([corpus], prune=True)
    assert (report.skipped, report.removed, len(report.updated)) == ([], [], 4)
    assert kb.get("de-vouchers")["source"].endswith("renamed.yaml") and consistent(kb)


def test_id_conflicts_are_reported_on_every_run_until_fixed(kb, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.yaml").write_text("- {id: x, title: From A}\n")
    (tmp_path / "in" / "b.yaml").write_text("- {id: x, title: From B}\n- {id: y, title: Y}\n")
    assert len(kb.ingest([tmp_path / "in"]).skipped) == 1
    assert len(kb.ingest([tmp_path / "in"]).skipped) == 1
    (tmp_path / "in" / "a.yaml").unlink()
    report = kb.ingest([tmp_path / "in"], prune=True)
    assert report.skipped == [] and kb.get("x")["title"] == "From B" and consistent(kb)


def test_record_that_turns_invalid_keeps_its_previous_version(kb, corpus):
    kb.ingest([corpus])
    path = corpus / "examples" / "records.yaml"
    path.write_text(path.read_text().replace("country: DE", "country: Germanyy"))
    report = kb.ingest([corpus])
    assert report.removed == [] and len(report.skipped) == 1
    assert kb.get("de-vouchers")["country"] == ["DE"] and consistent(kb)
    path.write_text(path.read_text().replace("country: Germanyy", "country: AT"))
    assert kb.ingest([corpus]).updated == ["de-vouchers"]


@pytest.mark.parametrize("value", [".inf", "1e999", "2001.5"])
def test_impossible_years_are_skipped_cleanly(kb, tmp_path, value):
    (tmp_path / "y.yaml").write_text(f"- {{id: y, title: Y, start_year: {value}}}\n- {{id: z, title: Z}}\n")
    report = kb.ingest([tmp_path / "y.yaml"])
    assert report.added == ["z"] and "start_year must be a" in report.skipped[0].reason


def many_records(path: Path, n: int) -> Path:
    path.write_text("\n".join(json.dumps({"id": f"r{i}", "title": f"Record {i}", "summary": f"cluster topic {i % 7}",
                                          "country": ["DE", "FR", "AT"][i % 3]}) for i in range(n)))
    return path


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_hits_never_exceed_total(tmp_path, mode):
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing", candidates=10)) as kb:
        kb.ingest([many_records(tmp_path / "r.jsonl", 60)])
        result = kb.search("topic 3", mode=mode, size=100)
        assert len(result.hits) == result.total
        counted = sum(v["count"] for v in result.facets["territory"]["values"])
        assert counted == result.total
        if mode == "semantic":  # every item over the similarity floor, however few candidates are read
            assert result.total == 60 > kb.settings.candidates


def test_export_beyond_one_page_limit(tmp_path):
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        kb.ingest([many_records(tmp_path / "r.jsonl", 1003)])
        assert len(kb.export()) == 1003
        assert len(kb.export(filters={"territory": ["DE"]})) == 335


def test_keyword_query_without_terms_counts_nothing(kb, corpus):
    kb.ingest([corpus])
    result = kb.search("-", mode="keyword", filters={"territory": ["DE"]})
    assert result.total == 0 and all(v["count"] == 0 or v["selected"] for v in result.facets["territory"]["values"])
    assert sum(v["count"] for f in result.facets.values() for v in f["values"]) == 0


def test_similar_respects_year_range(kb, corpus):
    kb.ingest([corpus])
    assert {h.id for h in kb.similar("de-vouchers", k=5)} == {"guide-abroad", "eu-exchange"}
    # at-upper-austria (1998) is under the floor, and guide-abroad has no year
    assert kb.similar("de-vouchers", k=5, year_to=2000) == []
    assert {h.id for h in kb.similar("de-vouchers", k=5, year_from=2020)} == {"eu-exchange"}


def test_two_handles_on_one_home_stay_consistent(settings, corpus, tmp_path):
    with KnowledgeBase(settings) as first, KnowledgeBase(settings) as second:
        first.ingest([corpus / "examples"])
        assert len(second.index) == first.stats()["passages"]
        (tmp_path / "more.yaml").write_text("- {id: more, title: More cluster vouchers}\n")
        first.ingest([tmp_path / "more.yaml"])
        second.ingest([corpus / "guide.md"])
        assert consistent(second) and consistent(first)
        assert second.search("").total == 6
        assert "more" in {h.id for h in second.search("vouchers", mode="semantic", size=10).hits}


def test_unpublished_items_vanish_from_every_search_and_come_back(kb, corpus):
    kb.ingest([corpus])
    kb.set_published("de-vouchers", False)
    for mode in ("hybrid", "semantic", "keyword"):
        assert "de-vouchers" not in {h.id for h in kb.search("vouchers", mode=mode, size=50).hits}
    assert kb.search("").total == 4 and kb.stats()["unpublished"] == 1 and consistent(kb)
    with pytest.raises(NotFound):
        kb.get("de-vouchers")
    assert kb.get("de-vouchers", include_unpublished=True)["status"] == "unpublished"
    path = corpus / "examples" / "records.yaml"
    path.write_text(path.read_text().replace("through trade missions", "through fairs"))
    assert kb.ingest([corpus]).updated == ["de-vouchers"]
    assert kb.search("").total == 4 and consistent(kb)  # an update does not publish it again
    kb.set_published("de-vouchers", True)
    assert kb.search("fairs", mode="keyword").hits[0].id == "de-vouchers" and consistent(kb)


def test_convex_fusion_keeps_filters_and_pages(settings, corpus):
    with KnowledgeBase(settings.model_copy(update={"fusion": "convex"})) as kb:
        kb.ingest([corpus])
        pages = [kb.search("cluster vouchers", page=p, size=2) for p in (1, 2)]
        ids = [h.id for r in pages for h in r.hits]
        assert len(ids) == len(set(ids)) == pages[0].total == 3
        assert pages[0].hits[0].id == "de-vouchers" and pages[0].hits[0].score == 1.0
        filtered = kb.search("cluster vouchers", filters={"territory": ["AT"]})
        assert [h.id for h in filtered.hits] == ["at-upper-austria"]
    with KnowledgeBase(settings.model_copy(update={"fusion": "rrf"})) as rrf:
        assert {h.id for h in rrf.search("cluster vouchers", size=10).hits} == set(ids)  # fusion ranks, never selects


class QueryRecorder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def encode_query(self, text: str):
        self.queries.append(text)
        return super().encode_query(text)


@pytest.mark.parametrize("cache, expected", [(2, ["a", "b", "c", "b", "a"]), (0, ["a", "b", "a", "c", "b", "a"])])
def test_query_embeddings_are_remembered_least_recently_used_first(tmp_path, cache, expected):
    embedder = QueryRecorder()
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing", query_cache=cache), embedder=embedder) as kb:
        vectors = [kb.embed_query(q) for q in ("a", "b", "a", "c", "b", "a")]
    assert embedder.queries == expected  # with 2 remembered, "c" evicts "b" (used before "a"), then each other
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(vectors[0], vectors[5])


# -- issue 18, item 9: a damaged or missing index file is rebuilt, and the warning says which ----------


@pytest.mark.parametrize("harm, said", [
    (lambda path: path.write_bytes(b"not a faiss index" * 10), "is damaged"),
    (lambda path: path.unlink(), "is missing"),
])
def test_a_damaged_index_file_is_rebuilt_with_a_warning_that_says_what_happened(settings, corpus, caplog, harm, said):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
    index_file = settings.home / json.loads((settings.home / "manifest.json").read_text())["file"]
    harm(index_file)
    with KnowledgeBase(settings) as kb:
        assert kb.search("vouchers", mode="semantic").total >= 1 and kb.check()["status"] == "ok"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"index file {index_file} {said}: rebuilt from the vectors stored in the database"]

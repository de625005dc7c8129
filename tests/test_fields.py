"""Field names as people write them: matched to the record format, the rest named as ignored."""

from __future__ import annotations

import pytest

from policykb.errors import InvalidRecord
from policykb.ingest.fields import field_key, record_fields
from policykb.ingest.loader import load_file
from policykb.ingest.records import record_to_item
from policykb.taxonomy import Taxonomy

TAX = Taxonomy.default()


@pytest.mark.parametrize("name, key", [
    ("Title", "title"), ("Start year", "start_year"), ("start-year", "start_year"), ("startYear", "start_year"),
    ("START_YEAR", "start_year"), (" Organization ", "organisation"), ("\ufeffTitle", "title"),
    ("Type of support", "type_of_support"), ("Pays/Région", "pays_region"),
])
def test_field_key(name, key):
    assert field_key(name) == key


def test_fields_are_matched_ignoring_case_spaces_hyphens_plurals_and_spelling():
    record = {"Title": "Robotics testbed", "Country": "ES", "Start year": 2021, "end-year": "2024",
              "Challenge": "innovation", "Type of support": "funding", "Territorial level": "regional",
              "Organization": "Port authority", "Link": "https://example.org/a", "Budget (EUR)": 100,
              "notes": "x", "rank": 1, "country_label": "Spain"}
    fields, ignored = record_fields(record, TAX)
    assert fields == {"title": "Robotics testbed", "country": "ES", "start_year": 2021, "end_year": "2024",
                      "challenge": "innovation", "support": "funding", "territorial_level": "regional",
                      "organisation": "Port authority", "links": "https://example.org/a"}
    assert ignored == ["Budget (EUR)", "notes"]  # what an export adds (rank, *_label) is no news
    item = record_to_item(record, "f.yaml", TAX)
    assert (item.facets["territory"], item.facets["challenge"], item.facets["support"], item.facets["level"]) == (
        ["ES"], ["innovation"], ["funding"], ["regional"])
    assert (item.start_year, item.end_year, item.organisation, item.links) == (
        2021, 2024, "Port authority", ["https://example.org/a"])


def test_two_names_for_one_field():
    fields, _ = record_fields({"country": "DE", "Country": "AT; FR", "title": "A", "Title": "A"}, TAX)
    assert fields == {"country": ["DE", "AT", "FR"], "title": "A"}
    with pytest.raises(InvalidRecord, match="'title' and 'Title' both give the field title"):
        record_fields({"title": "A", "Title": "B"}, TAX)


@pytest.mark.parametrize("name, text, message", [
    ("records.csv", "Title,Country,Budget,Partner\nA,DE,10,X\nB,FR,20,Y\n",
     "ignored 2 columns that are not fields of the record format: 'Budget', 'Partner'"),
    ("records.yaml", "- title: A\n  Budget: 10\n- title: B\n  budget: 20\n  Notes: x\n",
     "ignored 3 keys that are not fields of the record format: 'Budget' (line 1), 'budget' (line 3), 'Notes' (line 3)"),
    ("records.jsonl", '{"title": "A", "partner": "X"}\n{"title": "B", "partner": "Y"}\n',
     "ignored 1 key that is not a field of the record format: 'partner' (lines 1, 2)"),
    ("records.json", '[{"title": "A", "partner": "X"}]',
     "ignored 1 key that is not a field of the record format: 'partner'"),
    ("guide.md", "---\ntitle: A guide\nauthor: Me\nlayout: post\n---\n# A guide\n\nSome text.\n",
     "front matter or sidecar: ignored 2 keys that are not fields of the record format: 'author', 'layout'"),
])
def test_every_ignored_column_or_key_is_reported_by_name(tmp_path, name, text, message):
    from policykb.ingest.loader import Chunker

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = load_file(path, path.read_bytes(), str(path), TAX, Chunker(lambda t: len(t.split())))
    assert result.failed is None and result.skipped == []
    assert [w.reason for w in result.warnings] == [message]


def test_a_sidecar_key_that_is_not_a_field_is_reported(tmp_path, make_pdf):
    from policykb.ingest.loader import Chunker

    pdf = make_pdf(tmp_path / "report.pdf", ["Cluster report text."])
    (tmp_path / "report.meta.yaml").write_text("title: Cluster report\nCountry: DE\nreviewer: Ann\n", encoding="utf-8")
    result = load_file(pdf, pdf.read_bytes(), str(pdf), TAX, Chunker(lambda t: len(t.split())))
    assert result.items[0].facets["territory"] == ["DE"]
    assert [w.reason for w in result.warnings] == [
        "sidecar: ignored 1 key that is not a field of the record format: 'reviewer'"]

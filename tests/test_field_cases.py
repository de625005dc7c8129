"""Field cases of issue 17: documents, spreadsheets and questions as people really make them. Each
case's input is in `tests/field/<case>/` (copied from the report); each test holds the value the
case expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policykb.cli.main import cli
from policykb.config import Settings
from policykb.kb import KnowledgeBase

from .conftest import ROOT

FIELD = Path(__file__).resolve().parent / "field"


def _queries(case: str) -> list[dict]:
    return [json.loads(line) for line in (FIELD / case / "queries.jsonl").read_text(encoding="utf-8").splitlines()]


def _ids(kb: KnowledgeBase, query: dict) -> list[str]:
    result = kb.search(query["query"], mode=query.get("mode", "hybrid"), size=query["k"], facets=False)
    return [h.id for h in result.hits]


@pytest.fixture
def real_kb(tmp_path, minilm):
    """An empty knowledge base with the real model (the hybrid queries of a case need it)."""
    with KnowledgeBase(Settings(home=tmp_path / "kb", multilingual_model="none"), embedder=minilm) as kb:
        yield kb


def test_pdf_ligature_glyphs(real_kb):
    """EXPECTED: found=True on every line; the stored text reads 'financial', 'floating'."""
    assert real_kb.ingest([FIELD / "pdf-ligature-glyphs" / "input"]).skipped == []
    text = real_kb.get("reservoir-solar-ligatures")["passages"][0]["text"]
    assert text.startswith("Reservoir solar pilot fund. The region offers financial support and first-loss guarantees "
                           "to small firms in the energy cluster that install floating solar platforms")
    assert "\ufb01" not in text and "\ufb02" not in text
    for query in _queries("pdf-ligature-glyphs"):
        assert "reservoir-solar-ligatures" in _ids(real_kb, query), query["id"]
    answer = real_kb.search("floating solar")
    assert answer.total >= 1 and answer.absent_terms == []


def test_soft_hyphen_split_words(real_kb):
    """EXPECTED: found=True on every line: 'inter\\xad nationalisation' -> 'internationalisation',
    'digitali\\u2010 sation' -> 'digitalisation', 'electro&shy;lyser' -> 'electrolyser'."""
    assert real_kb.ingest([FIELD / "soft-hyphen-split-words" / "input"]).skipped == []
    pdf = real_kb.get("export-coaching-hyphenation")["passages"][0]["text"]
    html = real_kb.get("hydrogen-network")["passages"][0]["text"]
    assert "small firms for internationalisation and accompanies" in pdf
    assert "supports digitalisation of sales channels" in pdf
    assert html == ("North Sea hydrogen supplier network The network links electrolyser makers, port operators and "
                    "steelworks so that small suppliers can join the hydrogen value chain.")
    for query in _queries("soft-hyphen-split-words"):
        target = "export-coaching-hyphenation" if query["id"].startswith("PDF") else "hydrogen-network"
        assert target in _ids(real_kb, query), query["id"]


@pytest.fixture(scope="module")
def sample_with_places(tmp_path_factory):
    """The sample corpus and the case's records (hashing embedder: these are keyword searches)."""
    with KnowledgeBase(Settings(home=tmp_path_factory.mktemp("places") / "kb", model="hashing")) as kb:
        assert kb.ingest([ROOT / "ingest", FIELD / "stroke-letters-not-folded" / "input"]).skipped == []
        yield kb


@pytest.mark.parametrize("query, expected", [
    ("Lodz", {"fx-lodz-textile"}),
    ("Łódź", {"fx-lodz-textile"}),
    ("Oresund", {"fx-oresund-food", "dk-se-medicon-valley-alliance"}),
    ("Øresund", {"fx-oresund-food", "dk-se-medicon-valley-alliance"}),
    ("Aero", {"fx-aero-skills"}),
    ("Ærø", {"fx-aero-skills"}),
])
def test_stroke_letters_not_folded(sample_with_places, query, expected):
    """EXPECTED: 'Lodz' finds fx-lodz-textile, 'Oresund' finds fx-oresund-food and
    dk-se-medicon-valley-alliance, 'Aero' finds fx-aero-skills, as the accented spellings do."""
    result = sample_with_places.search(query, mode="keyword", size=50, facets=False)
    assert {h.id for h in result.hits} == expected
    assert result.absent_terms == []


def test_non_latin_title_ids(tmp_path, settings):
    """EXPECTED: 4 items, each with its own readable id; none dropped as a duplicate."""
    with KnowledgeBase(settings) as kb:
        report = kb.ingest([FIELD / "non-latin-title-ids" / "input"])
        assert report.skipped == []
        assert sorted(report.added) == ["agrokharchoviy-klaster-poltavshchini", "klaster-it-kompaniy-lvova",
                                        "lodz-textile-cluster", "sympraxi-kainotomias-kritis"]
        assert kb.get("klaster-it-kompaniy-lvova")["title"] == "Кластер ІТ-компаній Львова"


@pytest.mark.parametrize("case, item_id, title", [
    ("pdf-heading-merged-into-title", "textile-recycling-hub", "Textile recycling hub"),
    ("pdf-junk-metadata-title", "mountain-tourism-lab", "Tourism innovation lab for mountain villages"),
])
def test_pdf_titles(settings, case, item_id, title):
    """EXPECTED: the document's first line as its title, not the heading glued to the body text and
    not a metadata title that is a file name."""
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([FIELD / case / "input"]).skipped == []
        assert kb.get(item_id)["title"] == title
        assert kb.search(title, size=1).hits[0].title == title


def test_record_field_names_case(settings):
    """EXPECTED: headers/keys matched without regard to case, spaces or hyphens (Title=title,
    Country=country, 'Start year'='start-year'=start_year)."""
    result = CliRunner().invoke(cli, ["--home", str(settings.home), "--model", "hashing", "ingest",
                                      str(FIELD / "record-field-names-case" / "input")])
    assert result.exit_code == 0, result.output
    assert "added 3, updated 0, unchanged 0, removed 0, skipped 0" in result.output
    assert "warning" not in result.output  # every column and key was read
    with KnowledgeBase(settings) as kb:
        stored = {i: kb.get(i) for i in ("regional-seed-fund-for-agritech", "coastal-robotics-testbed",
                                         "maritime-skills-academy")}
        assert {i: (r["country"], r["challenges"], r["start_year"]) for i, r in stored.items()} == {
            "regional-seed-fund-for-agritech": (["FR"], [], 2019),
            "coastal-robotics-testbed": (["ES"], ["innovation"], 2021),
            "maritime-skills-academy": (["PT"], ["skills"], 2018),
        }
        found = kb.search("", filters={"territory": ["ES", "PT", "FR"]}, facets=False)
        assert [h.id for h in found.hits] == ["coastal-robotics-testbed", "maritime-skills-academy",
                                              "regional-seed-fund-for-agritech"]


def test_csv_semicolon_delimiter(settings):
    """EXPECTED: the two rows ingested (the header splits cleanly on ';')."""
    with KnowledgeBase(settings) as kb:
        report = kb.ingest([FIELD / "csv-semicolon-delimiter" / "input"])
        assert (sorted(report.added), report.skipped, report.warnings) == (
            ["circular-plastics-hub", "heat-pump-installers-academy"], [], [])
        assert kb.get("heat-pump-installers-academy")["country"] == ["AT"]
        assert kb.get("circular-plastics-hub")["start_year"] == 2021


UK_US = [("programme", "program"), ("programmes", "programs"), ("organisation", "organization"),
         ("smart specialisation", "smart specialization"), ("cluster programme for SMEs", "cluster program for SMEs")]


@pytest.mark.integration
@pytest.mark.parametrize("uk, us", UK_US)
def test_uk_us_spelling_finds_the_same_items_by_keyword(real_sample, uk, us):
    """EXPECTED: each American spelling gives (about) the result set of its British twin; never 0 with
    'check the spelling'. By keyword the two spellings are one term, so the sets are equal."""
    british = [h.id for h in real_sample.search(uk, mode="keyword", size=100, facets=False).hits]
    american = [h.id for h in real_sample.search(us, mode="keyword", size=100, facets=False).hits]
    assert british and american == british


@pytest.mark.integration
@pytest.mark.parametrize("query", [q["query"] for q in _queries("uk-us-spelling")])
def test_uk_us_spelling_never_gives_nothing_with_check_the_spelling(real_sample, query):
    result = real_sample.search(query, size=100, facets=False)
    assert result.total > 0 and result.absent_terms == []

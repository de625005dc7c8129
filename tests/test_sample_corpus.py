"""The shipped sample corpus in ingest/ ingests cleanly, covers the taxonomy, and answers real questions."""

from __future__ import annotations

import pytest

from policykb.config import Settings
from policykb.kb import KnowledgeBase

from .conftest import ROOT

CORPUS = ROOT / "ingest"
FACETS = ("territory", "level", "challenge", "theme", "support", "typology", "kind", "language")


@pytest.fixture
def sample(tmp_path):
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        report = kb.ingest([CORPUS])
        assert report.skipped == [] and report.warnings == [] and report.ignored == []
        yield kb


def test_sample_corpus_size_and_coverage(sample):
    stats = sample.stats()
    assert stats["by_kind"]["example"] >= 40
    assert stats["by_kind"]["guide"] >= 1 and stats["by_kind"]["case_study"] >= 2
    facets = sample.facet_overview()
    countries = {v["value"] for v in facets["territory"]["values"]}
    assert "EU" in countries and len(countries - {"EU"}) >= 15
    for name in ("challenge", "support", "level"):
        used = {v["value"] for v in facets[name]["values"]}
        assert used == set(sample.taxonomy.facet(name).values), name


def test_every_example_fills_every_facet_and_has_a_link(sample):
    for hit in sample.search("", filters={"kind": ["example"]}, size=1000, facets=False).hits:
        assert set(hit.facets) == set(FACETS), hit.id
        assert hit.url and hit.url.startswith("http"), hit.id


def test_the_pdf_case_study_has_pages(sample):
    pdfs = [h for h in sample.search("", filters={"kind": ["case_study"]}, size=10).hits if h.source.endswith(".pdf")]
    assert len(pdfs) == 1
    record = sample.get(pdfs[0].id)
    assert record["pages"] >= 4 and {p["page"] for p in record["passages"]} >= {1, 2, 3, 4}


@pytest.mark.integration
@pytest.mark.parametrize(
    "query, filters, expected",
    [
        ("short exchanges so cluster staff can learn from peers abroad", {}, "eu-clusterxchange"),
        ("label for excellent cluster management", {}, "eu-cluster-management-excellence-labels"),
        ("industrial symbiosis where one firm's waste feeds another", {"territory": ["DK"]}, "dk-kalundborg-symbiosis"),
        ("regional cluster programme", {"territory": ["Norway"]}, "no-norwegian-innovation-clusters"),
    ],
)
def test_real_questions_over_the_sample_corpus(real_sample, query, filters, expected):
    top = [h.id for h in real_sample.search(query, filters=filters, size=3).hits]
    assert expected in top, top


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
@pytest.mark.parametrize("query, page", [("compressed air", 3), ("trade union", 4)])
def test_a_phrase_in_a_document_is_found_on_its_page(real_sample, query, page, mode):
    """A newcomer's review: "compressed air" (in the case study's text, p. 3) found nothing in hybrid
    mode, the model seeing no support for it; "trade union" showed the conclusion, not p. 4."""
    hits = [h for h in real_sample.search(query, mode=mode, size=50).hits if h.id == "case-green-transition-cluster"]
    assert hits and hits[0].page == page, [(h.id, h.page) for h in hits]

import pytest

from policykb.errors import UnknownFacet, UnknownFacetValue
from policykb.taxonomy import Taxonomy, fold


@pytest.fixture
def taxonomy() -> Taxonomy:
    return Taxonomy.default()


@pytest.mark.parametrize(
    "facet, raw, expected",
    [
        ("challenge", "digitalisation", "digital"),
        ("challenge", "Digital transition", "digital"),
        ("challenge", "SME growth and scale-up", "sme-growth"),
        ("theme", "Aerospace & Defence", "aerospace-defence"),
        ("theme", "agrifood", "agri-food"),
        ("support", "Smart specialisation", "strategy"),
        ("support", "innovation vouchers", "vouchers"),
        ("typology", "National program", "national-programme"),
        ("level", "cross-border", "interregional"),
        ("territory", "Germany", "DE"),
        ("territory", "de", "DE"),
        ("territory", "UK", "GB"),
        ("territory", "European Union", "EU"),
        ("territory", "Czechia", "CZ"),
        ("kind", "case study", "case_study"),
        ("language", "French", "fr"),
    ],
)
def test_normalise_through_ids_labels_and_synonyms(taxonomy, facet, raw, expected):
    assert taxonomy.normalise(facet, raw) == expected


def test_unknown_value_names_facet_value_and_closest(taxonomy):
    with pytest.raises(UnknownFacetValue) as err:
        taxonomy.normalise("support", "vouchrs")
    assert err.value.details == {"facet": "support", "value": "vouchrs", "suggestions": ["vouchers"],
                                 "suggestion_labels": ["Innovation vouchers"]}
    assert "support" in str(err.value) and "'vouchrs'" in str(err.value)


def test_unknown_facet(taxonomy):
    with pytest.raises(UnknownFacet):
        taxonomy.normalise("colour", "blue")


def test_required_vocabularies_are_complete(taxonomy):
    assert len(taxonomy.facet("challenge").values) == 10
    assert len(taxonomy.facet("theme").values) == 15  # 14 industrial ecosystems + cross-sectoral
    assert len(taxonomy.facet("support").values) == 16
    assert len(taxonomy.facet("typology").values) == 8
    assert list(taxonomy.facet("level").values) == [
        "local", "regional", "national", "interregional", "european", "international"
    ]


def test_normalise_filters_drops_empty_and_dedupes(taxonomy):
    filters = taxonomy.normalise_filters({"challenge": ["green", "Green transition"], "theme": [], "territory": "de"})
    assert filters == {"challenge": ["green"], "territory": ["DE"]}


def test_fold():
    assert fold("  Agri-Food & Drink ") == "agri food and drink"
    assert fold("Région Île-de-France") == "region ile de france"

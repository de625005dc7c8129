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
        # The EU's own codes (Interinstitutional Style Guide) and common alternative names.
        ("territory", "EL", "GR"),
        ("territory", "el", "GR"),
        ("territory", "Hellas", "GR"),
        ("territory", "Ελλάδα", "GR"),
        ("territory", "XK", "XK"),
        ("territory", "Kosovo", "XK"),
        ("territory", "Holland", "NL"),
        ("territory", "the Netherlands", "NL"),
        ("territory", "Deutschland", "DE"),
        ("territory", "Österreich", "AT"),
        ("territory", "España", "ES"),
        ("territory", "Suomi", "FI"),
        ("territory", "Norge", "NO"),
        ("territory", "FYROM", "MK"),  # (not "Macedonia": also three Greek regions)
        ("territory", "Ivory Coast", "CI"),
        ("territory", "EU-28", "EU"),
        ("kind", "case study", "case_study"),
        ("language", "French", "fr"),
    ],
)
def test_normalise_through_ids_labels_and_synonyms(taxonomy, facet, raw, expected):
    assert taxonomy.normalise(facet, raw) == expected


def test_every_declared_territory_synonym_reaches_its_own_id(taxonomy):
    """A synonym shadowed by another country's id, label or synonym would silently mean another country."""
    import yaml
    from importlib import resources

    spec = yaml.safe_load(resources.files("policykb").joinpath("taxonomy.yaml").read_text(encoding="utf-8"))
    extra = spec["facets"]["territory"]["extra"]
    wrong = {(synonym, entry["id"], taxonomy.normalise("territory", synonym))
             for entry in extra for synonym in entry.get("synonyms", [])
             if taxonomy.normalise("territory", synonym) != entry["id"]}
    assert wrong == set()
    assert all(isinstance(entry["id"], str) for entry in extra)  # (YAML reads a bare NO as false)


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

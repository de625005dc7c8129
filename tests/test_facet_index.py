"""FacetIndex: masks, counts and browsing over the published items, with literal expectations."""

import numpy as np

from policykb.facet_index import FacetIndex


def test_masks_counts_browse_and_passages(kb, corpus):
    kb.ingest([corpus])
    facets = FacetIndex(kb.store, kb.taxonomy.names)
    # in title order: "Cluster internationalisation ...", "Cluster staff ...", "Going ...", "Green ...", "Upper ..."
    assert facets.ids == ["de-vouchers", "eu-exchange", "guide-abroad", "fr-es-green", "at-upper-austria"]
    everything = facets.mask({})
    assert facets.counts("territory", everything, 10) == ([("EU", 2), ("AT", 1), ("DE", 1), ("ES", 1), ("FR", 1)], False)
    assert facets.counts("territory", everything, 2) == ([("EU", 2), ("AT", 1)], True)
    green_or_skills = facets.mask({"challenge": ["green", "skills"]})
    assert facets.browse(green_or_skills, 10) == ["eu-exchange", "fr-es-green", "at-upper-austria"]
    assert facets.browse(facets.mask({"challenge": ["green"], "territory": ["FR"]}), 10) == ["fr-es-green"]
    assert facets.browse(facets.mask({}, year_from=2023), 10) == ["de-vouchers", "eu-exchange", "guide-abroad",
                                                                   "at-upper-austria"]
    assert facets.browse(facets.mask({}, year_to=2000), 10) == ["guide-abroad", "at-upper-austria"]
    only = facets.mask({}, ids=["de-vouchers", "unknown"])
    assert int(only.sum()) == 1
    assert set(facets.passages(only).tolist()) == set(kb.store.passage_ids("de-vouchers"))
    assert facets.passages(np.zeros(len(facets), dtype=bool)).tolist() == []

"""FacetIndex: masks, counts and browsing over the published items, with literal expectations."""

import numpy as np

from policykb.backends.embedded.facet_index import FacetIndex


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


def test_passages_of_a_few_items_equal_those_of_a_pass_over_all(tmp_path):
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    import json

    from .test_index import WORDS

    rng = np.random.default_rng(3)
    records = [{"id": f"r{i}", "title": f"Record {i}", "summary": " ".join(rng.choice(WORDS, 60 * (i % 3 + 1)))}
               for i in range(300)]  # several passages of 32 tokens each
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing", chunk_tokens=32, chunk_overlap=0)) as kb:
        kb.ingest([tmp_path / "r.jsonl"])
        facets = FacetIndex(kb.store, kb.taxonomy.names)
        assert len(facets.passage_ids) > len(facets)  # some items have several passages
        rng = np.random.default_rng(4)
        for chosen in (1, 5, 18, 150):  # 18 of 300: the lists; 150: the pass
            keep = np.zeros(len(facets), dtype=bool)
            keep[rng.choice(len(facets), chosen, replace=False)] = True
            assert facets.passages(keep).tolist() == facets.passage_ids[keep[facets.passage_rows]].tolist()

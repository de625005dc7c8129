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
    assert facets.browse(facets.mask({}, year_from=2023), 10) == ["de-vouchers", "eu-exchange", "at-upper-austria"]
    assert facets.browse(facets.mask({}, year_to=2000), 10) == ["at-upper-austria"]  # (guide-abroad: no year)
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


def _same(followed: FacetIndex, built: FacetIndex) -> None:
    assert followed.ids == built.ids and followed.row == built.row
    assert np.array_equal(followed.start, built.start) and np.array_equal(followed.end, built.end)
    assert followed.facets.keys() == built.facets.keys() and followed.single.keys() == built.single.keys()
    for name, (values, rows, codes) in built.facets.items():
        mine, my_rows, my_codes = followed.facets[name]
        assert mine == values
        assert sorted(zip(my_rows.tolist(), my_codes.tolist())) == sorted(zip(rows.tolist(), codes.tolist()))
        if name in built.single:
            assert np.array_equal(followed.single[name], built.single[name])
    for attribute in ("passage_ids", "passage_rows", "lengths"):
        assert np.array_equal(getattr(followed, attribute), getattr(built, attribute)), attribute
    assert np.array_equal(followed.corpus.norm, built.corpus.norm)
    assert np.array_equal(followed.corpus.position, built.corpus.position)


def test_the_facet_index_follows_each_write_as_a_full_build_would(kb, tmp_path, monkeypatch):
    """Items added, retitled (browse order: ASCII case folded, other letters as bytes, ties by id),
    given other facet values and years, hidden, shown, removed and purged: after each write the
    index that followed the change equals one built from every item, and it did follow."""
    import json

    followed: list[int] = []
    original = FacetIndex.followed
    monkeypatch.setattr(FacetIndex, "followed",
                        lambda self, store, changed: (followed.append(len(changed)), original(self, store, changed))[1])
    titles = ["apple", "Apple", "Äpfel", "zebra", "Zebra", "ábc", "Record 10", "Record 9", "apple", "_x", "B"]

    def write(records: list[dict]) -> None:
        (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in records))
        kb.ingest([tmp_path / "r.jsonl"], prune=True)

    records = [{"id": f"r{i:02d}", "title": titles[i % len(titles)], "summary": f"cluster policy {i} vouchers export",
                "country": ["MT", "DE", "FR", "PL"][i % 4], "start_year": 2000 + i} for i in range(40)]
    write(records)
    _same(kb.facet_index, FacetIndex(kb.store, kb.taxonomy.names))
    steps = [
        lambda: write(records + [{"id": "new", "title": "apple", "summary": "a new one", "country": "LT"}]),
        lambda: write([dict(r, title="aardvark" if r["id"] == "r05" else r["title"]) for r in records]),
        lambda: write([dict(r, country="EE", end_year=2030) if r["id"] in ("r01", "r02") else r for r in records]),
        lambda: kb.set_published("r03", False),
        lambda: kb.set_published("r03", True),
        lambda: write(records[5:]),  # five removed (prune)
        lambda: kb.contributions.purge("r10", actor="moderator"),
        lambda: write([dict(r, summary=r["summary"] + " more words here") for r in records[5:30]]),
    ]
    for step in steps:
        step()
        _same(kb.facet_index, FacetIndex(kb.store, kb.taxonomy.names))
    assert followed == [1, 2, 3, 1, 1, 5, 1, 35]  # the items each write changed (35: 25 changed, 10 pruned)

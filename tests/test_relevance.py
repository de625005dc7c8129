"""Result sets: the items relevant to a query (similarity floor, keyword minimum-should-match, the
hybrid rule), and everything that counts them (total, facet counts, paging, exports)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from policykb.backends.embedded import bm25
from policykb.config import Settings
from policykb.errors import PolicyKBError
from policykb.ingest.export import write_records
from policykb.kb import KnowledgeBase
from policykb.models import document_link, public_source
from policykb.search.relevance import Cutoff, cutoff

# -- the cut-off itself ------------------------------------------------------------------------


def test_calibrated_cutoff_per_model_and_overrides():
    assert cutoff("all-MiniLM-L6-v2") == Cutoff(floor=0.30, margin=0.15, keyword_share=0.4, support=0.25,
                                                item_floor=0.20, topic=0.40, topic_margin=0.30, topical=0.20,
                                                similar=0.40)
    # a floor set by hand is every item's floor too, as it always was
    assert cutoff("all-MiniLM-L6-v2", min_similarity=0.3, margin=2, support=-1) == Cutoff(
        0.3, None, 0.4, -1, topic=0.40, topic_margin=0.30, topical=0.20, similar=0.40)
    assert cutoff("hashing", keyword_share=0.5) == Cutoff(0.25, None, 0.5, -1)
    assert cutoff("/models/mine", min_similarity=0.5) == Cutoff(0.5, None, 0.4, -1)
    with pytest.raises(PolicyKBError, match="POLICYKB_MIN_SIMILARITY"):
        cutoff("/models/mine")


@pytest.mark.parametrize("terms, share", [(1, 0.6), (2, 0.6), (3, 0.6), (4, 0.4), (9, 0.4 * 2 / 3), (16, 0.2), (40, 0.2)])
def test_short_queries_need_more_of_their_weight(terms, share):
    assert Cutoff(0.4).required_share(terms) == pytest.approx(share)


def test_nothing_is_relevant_when_the_best_passage_is_under_the_floor():
    cut = Cutoff(0.30, margin=0.15, item_floor=0.20, cross_floor=0.25)
    assert cut.similarity_cut(0.29) == math.inf
    assert cut.similarity_cut(0.29, foreign=True) == pytest.approx(0.20)  # the lower floor across languages
    assert cut.similarity_cut(0.32) == pytest.approx(0.20)  # the item floor, under best - margin
    assert cut.similarity_cut(0.80) == pytest.approx(0.65)


@pytest.mark.parametrize("best, topic, expected", [
    (0.80, 0.50, 0.50),  # about the topic, much closer to one item: the topic margin below the best
    (0.60, 0.45, 0.20),  # about the topic as much as about any item: every labelled item over the item floor
    (0.60, 0.35, math.inf),  # not close enough to the topic
    (0.25, 0.60, math.inf),  # nothing is close to the question at all
])
def test_items_labelled_with_the_question_topic_need_less(best, topic, expected):
    cut = Cutoff(0.30, margin=0.15, item_floor=0.20, topic=0.40, topic_margin=0.30, topical=0.20)
    assert cut.topic_cut(best, topic) == pytest.approx(expected)


@pytest.mark.parametrize("everyday, foreign, gate", [
    (None, True, 0.80),  # no everyday subject read: the floor as calibrated
    (0.81, True, 0.80),  # as near to everyday life as the calibration's middle
    (0.87, True, 0.83),  # a question about the weather, say: up by half the difference
    (0.79, True, 0.79),  # unlike any everyday subject: down...
    (0.60, True, 0.78),  # ...to the item floor at most
    (0.87, False, 0.85),  # the same-language floor moves alike
    (0.60, False, 0.78),
])
def test_the_floor_follows_how_near_the_question_is_to_everyday_life(everyday, foreign, gate):
    cut = Cutoff(0.82, cross_floor=0.80, margin=0.04, item_floor=0.78, everyday=(0.5, 0.81))
    assert cut.gate(foreign, everyday) == pytest.approx(gate)
    assert cut.similarity_cut(gate - 0.001, foreign, everyday) == math.inf
    assert cut.similarity_cut(gate + 0.001, foreign, everyday) == pytest.approx(max(0.78, gate + 0.001 - 0.04))
    not_calibrated = Cutoff(0.82, cross_floor=0.80)
    assert not_calibrated.gate(foreign, everyday) == (0.80 if foreign else 0.82)


def test_a_floor_set_by_hand_does_not_follow_everyday_subjects():
    assert cutoff("multilingual-e5-small").everyday == (0.5, 0.81)
    assert cutoff("multilingual-e5-small", min_similarity=0.8).gate(True, 0.9) == 0.8


def test_similarity_cut_takes_the_margin_below_the_best_hit():
    assert Cutoff(0.4, margin=0.25).similarity_cut(0.9) == pytest.approx(0.65)
    assert Cutoff(0.4, margin=0.25).similarity_cut(0.5) == 0.4
    assert Cutoff(0.4).similarity_cut(0.9) == 0.4


def test_coverage_weighs_terms_by_idf_and_counts_absent_ones():
    corpus = bm25.Corpus.build(np.array([0, 1, 2, 3]), np.array([5, 5, 5, 5]))
    common = np.array([(0, 0, 1), (1, 0, 1), (2, 0, 1)], dtype=bm25.POSTING)  # in 3 of 4 passages
    rare = np.array([(3, 0, 1)], dtype=bm25.POSTING)
    share, count = corpus.coverage([common, rare, None])
    w_common, w_rare, w_absent = math.log(1 + 1.5 / 3.5), math.log(1 + 3.5 / 1.5), math.log(1 + 4.5 / 0.5)
    whole = w_common + w_rare + w_absent
    assert share[:4] == pytest.approx([w_common / whole] * 3 + [w_rare / whole])
    assert count[:4].tolist() == [1, 1, 1, 1]
    assert corpus.weight(0) == pytest.approx(w_absent) and corpus.weight(3) == pytest.approx(w_common)


# -- keyword sets (hashing embedder: fast, deterministic) --------------------------------------


def test_a_word_in_most_items_does_not_make_every_item_a_match(kb, corpus):
    kb.ingest([corpus])
    assert kb.search("cluster", mode="keyword").total == 5  # every item holds it; asked alone, that is the answer
    result = kb.search("cluster vouchers", mode="keyword")
    assert [h.id for h in result.hits] == ["de-vouchers"] and result.total == 1
    assert [h.id for h in kb.search("which cluster vouchers help SMEs?", mode="keyword").hits] == ["de-vouchers"]


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_stop_words_and_question_words_never_match_on_their_own(kb, corpus, mode):
    kb.ingest([corpus])
    result = kb.search("What is it? How does it do that, and why?", mode=mode)
    assert (result.total, result.hits) == (0, [])


def test_nothing_relevant_is_an_answer_with_the_nearest_items_apart(kb, corpus):
    kb.ingest([corpus])
    for mode in ("hybrid", "semantic", "keyword"):
        result = kb.search("zebra quagga", mode=mode)
        assert (result.total, result.hits) == (0, [])
        assert all(v["count"] == 0 for f in result.facets.values() for v in f["values"])
        assert kb.export("zebra quagga", mode=mode) == []
    result = kb.search("zebra quagga", mode="semantic")
    assert len(result.nearest) == 3 and result.absent_terms == ["zebra", "quagga"]
    assert result.unknown_terms == []  # English words: no typing errors (the CLI said "check the spelling")
    assert kb.search("zebra quaga", mode="semantic").unknown_terms == ["quaga"]
    assert kb.search("zebra quagga", mode="keyword").nearest == []  # no word in common: no nearest either
    filtered = kb.search("green textile", filters={"territory": ["DE"]})
    assert (filtered.total, filtered.total_without_filters) == (0, 1)  # fr-es-green, outside the filter
    assert [h.id for h in filtered.nearest] == ["de-vouchers"]  # the nearest inside the filter


# -- semantic sets: every item over the floor, whatever the number of candidates -------------


def brute_force_set(kb: KnowledgeBase, query: str, floor: float) -> set[str]:
    ids, vectors = kb.store.passage_vectors(kb.model)
    owners = kb.store.passages_by_id(ids.tolist())
    scores = vectors @ kb.embedder.encode_query(query)
    return {owners[int(pid)][0] for pid, s in zip(ids, scores) if s >= floor}


@pytest.mark.parametrize("ivf", [False, True])
def test_semantic_set_is_every_item_over_the_floor(tmp_path, ivf):
    from .test_index import random_records

    settings = Settings(home=tmp_path / "kb", model="hashing", candidates=10,
                        ivf_threshold=1000 if ivf else 200_000, ivf_nprobe=256)
    with KnowledgeBase(settings) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1200)])
        assert kb.index.approximate == ivf
        for query in ("cluster vouchers export", "green hydrogen wind solar"):
            expected = brute_force_set(kb, query, 0.25)
            result = kb.search(query, mode="semantic", size=1000, facets=False)
            assert 10 < len(expected) < 1200 and {h.id for h in result.hits} == expected
            assert result.total == len(expected)


@pytest.mark.parametrize("place", [5, 40, 300])
def test_an_approximate_index_decides_the_cut_exactly(tmp_path, place):
    """The floor set at a passage's exact similarity: it is in, whatever its 16-bit score says
    (the passages that close to a cut are read from their stored float vectors)."""
    from .test_index import random_records

    query = "cluster vouchers export"
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing", ivf_threshold=1000, ivf_nprobe=256)) as kb:
        kb.ingest([random_records(tmp_path / "r.jsonl", 1200)])
        ids, vectors = kb.store.passage_vectors(kb.model)
        scores = np.sort(vectors @ kb.embedder.encode_query(query))[::-1]
        floor = float(scores[place])
    settings = Settings(home=tmp_path / "kb", model="hashing", ivf_threshold=1000, ivf_nprobe=256,
                        min_similarity=floor, similarity_margin=2)
    with KnowledgeBase(settings) as kb:
        assert kb.index.approximate
        expected = brute_force_set(kb, query, floor)
        result = kb.search(query, mode="semantic", size=1000, facets=False)
        assert {h.id for h in result.hits} == expected and result.total == len(expected) >= place


# -- everything that counts follows the set --------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_total_facets_pages_and_export_describe_the_same_set(kb, corpus, mode):
    kb.ingest([corpus])
    query = "cluster missions abroad"
    result = kb.search(query, mode=mode, size=2)
    every = [h.id for p in range(1, 4) for h in kb.search(query, mode=mode, page=p, size=2).hits]
    assert len(every) == len(set(every)) == result.total > 0
    assert sum(v["count"] for v in result.facets["level"]["values"]) == result.total  # one level per item
    records = kb.export(query, mode=mode)
    assert [r["id"] for r in records] == every and [r["rank"] for r in records] == list(range(1, len(every) + 1))
    assert all(isinstance(r["score"], float) for r in records)
    assert kb.search("", size=1).total == 5  # browsing still covers everything


def test_export_carries_rank_score_and_labels_in_every_format(kb, corpus):
    kb.ingest([corpus])
    records = kb.export("cluster vouchers")
    out = io.StringIO()
    write_records(records, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0])[:4] == ["rank", "score", "id", "kind"]
    assert {k: rows[0][k] for k in ("rank", "id", "country", "country_label", "challenges_label", "kind_label")} == {
        "rank": "1", "id": "de-vouchers", "country": "DE", "country_label": "Germany",
        "challenges_label": "Internationalisation; SME growth and scale-up", "kind_label": "Policy example"}
    assert not rows[0]["source"].startswith("/") and rows[0]["source"].endswith("examples/records.yaml")
    browse = kb.export(filters={"territory": ["AT"]})
    assert [(r["rank"], r["score"], r["id"]) for r in browse] == [(1, None, "at-upper-austria")]


@pytest.mark.parametrize("source, shown", [
    ("ingest/examples/eu.yaml", "ingest/examples/eu.yaml"),
    ("contribution", "contribution"),
    ("contribution:c-12ab", "contribution"),
    ("/srv/kb/uploads/c-12ab/report.pdf", "report.pdf"),
    ("/elsewhere/guides/guide.pdf", "guides/guide.pdf"),
    ("contributions/guide.pdf", "contributions/guide.pdf"),  # (a folder of that name holds files)
    ("", ""),
])
def test_public_source_never_shows_an_absolute_server_path(source, shown):
    from pathlib import Path

    assert public_source(source, Path("/srv/kb")) == shown


def test_public_source_is_relative_to_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert public_source(str(tmp_path / "ingest" / "a.pdf"), tmp_path / "kb") == "ingest/a.pdf"


@pytest.mark.parametrize("item_id, source, page, link", [
    ("roadmap", "/srv/kb/ingest/roadmap.pdf", 3, "/items/roadmap/file#page=3"),
    ("roadmap", "ingest/Roadmap.PDF", None, "/items/roadmap/file"),
    ("notes", "ingest/notes.md", 2, "/items/notes/file"),  # (only a PDF viewer opens at a page)
    ("a b/ć", "ingest/a.txt", None, "/items/a%20b%2F%C4%87/file"),
    ("de-vouchers", "ingest/examples/de.yaml", 1, None),
    ("contrib-1", "contribution", None, None),
    ("contrib-2", "contribution:c-12ab", None, None),
    ("guide", "/srv/contributions-2025/guide.pdf", 4, "/items/guide/file#page=4"),
    ("x", "", None, None),
])
def test_document_link_names_the_file_route_of_documents_only(item_id, source, page, link):
    assert document_link(item_id, source, page) == link


def test_similar_items_clear_the_floor_or_there_are_none(kb, corpus):
    kb.ingest([corpus])
    assert all(h.score >= 0.25 for h in kb.similar("fr-es-green", k=10))
    assert kb.similar("fr-es-green", k=10, filters={"territory": ["DE"]}) == []


# -- the real model over the shipped sample corpus ---------------------------------------------

ON_TOPIC = [  # (question, an item that must be in the hybrid and semantic result sets)
    ('innovation vouchers for small firms', 'ie-innovation-voucher'),
    ('how do other countries fund cluster internationalisation?', 'eu-escp-4i'),
    ('how do regions help cluster SMEs go international?', 'guide-cluster-internationalisation'),
    ('short exchanges for cluster staff in another country', 'eu-clusterxchange'),
    ('quality label for cluster management', 'eu-cluster-management-excellence-labels'),
    ('industrial symbiosis where waste from one firm feeds another', 'dk-kalundborg-symbiosis'),
    ('green transition of a manufacturing cluster', 'case-green-transition-cluster'),
    ('vouchers to help SMEs adopt digital technologies', 'case-digital-vouchers-cluster-smes'),
    ('digital innovation hubs for SMEs', 'eu-edih'),
    ('regulatory sandbox for fintech firms', 'gb-fca-regulatory-sandbox'),
    ('public procurement of innovation', 'fi-keino'),
    ('competition for leading-edge clusters in Germany', 'de-leading-edge-cluster-competition'),
    ('French competitiveness clusters', 'fr-poles-de-competitivite'),
    ('Norwegian cluster programme with arena and global centres of expertise', 'no-norwegian-innovation-clusters'),
    ('smart specialisation strategies support', 'eu-s3-platform'),
    ('interregional innovation investments', 'eu-i3-instrument'),
    ('programme for young entrepreneurs to learn abroad', 'eu-erasmus-young-entrepreneurs'),
    ('network that helps SMEs find business partners abroad', 'eu-enterprise-europe-network'),
    ('raw materials supply for European industry', 'eu-european-raw-materials-alliance'),
    ('social economy and cooperatives', 'eu-social-economy-action-plan'),
    ('research grants for small businesses in the United States', 'us-sbir'),
    ('innovation parks in Switzerland', 'ch-switzerland-innovation'),
    ('funding for regional technology hubs in the US', 'us-eda-tech-hubs'),
    ('life science cluster across Denmark and Sweden', 'dk-se-medicon-valley-alliance'),
    ('tourism ecosystem transition', 'eu-tourism-transition-pathway'),
    ('large cross-border industrial projects with state aid', 'eu-ipcei'),
    ('start-up ecosystem in France', 'fr-la-french-tech'),
    ('university city innovation ecosystem agreements', 'fi-innovation-ecosystem-agreements'),
    ('matchmaking platform for cluster organisations in Europe', 'eu-eccp'),
    ('accelerator funding for deep tech start-ups', 'eu-eic-accelerator'),
]
OFF_TOPIC = [  # random strings, everyday topics, other domains
    'xyzzy qwerty', 'asdkjh qwpoeiru zxmcnv', 'lorem ipsum dolor sit amet', 'zzzz', '1234 5678 9999',
    'qwertyuiop asdfghjkl', 'blorf snazzle wibble', 'chocolate cake recipe', 'how to bake sourdough bread',
    'best hiking trails in the alps', 'football world cup results', 'weather forecast tomorrow',
    'how to repair a bicycle puncture', 'cheap flights to Barcelona in August',
    'symptoms of the flu in children', 'how to train a puppy to sit', 'lyrics of a famous love song',
    'who won the Oscar for best actor', 'how to knit a scarf', 'tips for growing tomatoes on a balcony',
    'how do black holes form', "Shakespeare's sonnets about love", 'how to change a car tyre',
    'yoga poses for back pain', 'the rules of chess castling', 'how to make a cocktail with gin',
    'what is the capital of Australia', 'meditation for better sleep', 'how to remove a red wine stain',
    'the life cycle of a butterfly',
]


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_off_topic_questions_have_no_results_in_any_mode(real_sample, mode):
    found = {q: real_sample.search(q, mode=mode, facets=False).total for q in OFF_TOPIC}
    assert {q: n for q, n in found.items() if n} == {}


# Off-topic questions in other languages that multilingual-e5-small finds about as close to policy
# texts as questions about clusters (each cleared its floor before the floor followed everyday
# subjects), and on-topic ones that it found nothing for (the first one's Romanian was not sure
# enough to count as another language than the items').
OFF_TOPIC_ABROAD = ["suklaakakun resepti", "šokolaadikoogi retsept", "come insegnare a un cucciolo a sedersi",
                    "orų prognozė rytojui", "homne ilmateade"]
ON_TOPIC_ABROAD = [
    ("parcuri de inovare în Elveția", "ch-switzerland-innovation"),
    ("регулаторна пясъчна кутия за финтех компании", "gb-fca-regulatory-sandbox"),
    ("клъстерна политика на Страната на баските", "es-pv-basque-cluster-policy"),
    ("Baszkföld klaszterpolitikája", "es-pv-basque-cluster-policy"),
]


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_questions_in_other_languages_about_everyday_life_find_nothing_and_about_policy_find_it(real_sample, mode):
    assert {q: n for q in OFF_TOPIC_ABROAD if (n := real_sample.search(q, mode=mode, facets=False).total)} == {}
    for question, expected in ON_TOPIC_ABROAD:
        result = real_sample.search(question, mode=mode, size=5, facets=False)
        assert result.language["model"] == "multilingual-e5-small"
        assert expected in {h.id for h in result.hits}, (question, mode, result.total)


@pytest.mark.integration
@pytest.mark.parametrize("question, language", [("k", "de"), ("é", "de"), ("x", "fr"), ("ab", "de")])
def test_a_question_with_no_word_to_mean_finds_nothing_in_any_language(real_sample, question, language):
    """Asked in German or French (the multilingual model), "k" found 49 of 78 items, "x" 52."""
    for mode in ("hybrid", "semantic"):
        assert real_sample.search(question, mode=mode, language=language, facets=False).total == 0


@pytest.mark.integration
def test_on_topic_questions_find_their_item_in_every_mode(real_sample):
    for question, expected in ON_TOPIC:
        for mode in ("hybrid", "semantic", "keyword"):
            result = real_sample.search(question, mode=mode, size=100, facets=False)
            # of 78 items; a question about a topic of the taxonomy (networking) counts its labelled items
            assert 0 < result.total <= 45, (question, mode, result.total)
            if mode != "keyword":
                assert expected in {h.id for h in result.hits}, (question, mode)


@pytest.mark.integration
def test_a_plausible_count_for_the_readme_question(real_sample):
    result = real_sample.search("how do regions help cluster SMEs go international?")
    assert 5 <= result.total <= 30 and result.hits[0].id in {"guide-cluster-internationalisation", "eu-escp-4i"}
    similar = real_sample.similar("dk-kalundborg-symbiosis", k=10)
    assert similar[0].id == "case-green-transition-cluster" and all(h.score >= 0.40 for h in similar)


@pytest.mark.parametrize("ivf", [False, True])
def test_hybrid_keeps_keyword_matches_the_model_does_not_find_unrelated(tmp_path, ivf):
    from .test_index import random_records

    path = random_records(tmp_path / "r.jsonl", 1200)
    query = "cluster vouchers export"
    sets = {}
    for support in (-1.0, 0.1, 0.99):
        settings = Settings(home=tmp_path / "kb", model="hashing", keyword_support=support,
                            ivf_threshold=1000 if ivf else 200_000, ivf_nprobe=256)
        with KnowledgeBase(settings) as kb:
            kb.ingest([path])
            assert kb.index.approximate == ivf
            sets[support] = {h.id for h in kb.search(query, size=1000, facets=False).hits}
            semantic = {h.id for h in kb.search(query, mode="semantic", size=1000, facets=False).hits}
            keyword = {h.id for h in kb.search(query, mode="keyword", size=1000, facets=False).hits}
            supported = keyword & brute_force_set(kb, query, 0.1)  # (under the floor of 0.25: not semantic)
    assert sets[-1.0] == semantic | keyword and len(keyword - semantic) > 10
    assert sets[0.99] == semantic  # no keyword match is that close in meaning
    assert sets[0.1] == semantic | supported and semantic < sets[0.1] < sets[-1.0]


@pytest.mark.parametrize("question, found", [
    ("Skills and talent", ["eu-exchange"]),  # a challenge's label: no word of it in the item
    ("staff mobility & exchange", ["eu-exchange"]),  # a type of support's, written otherwise
    ("HEALTH", ["at-upper-austria"]),  # a theme's
])
def test_a_question_that_is_a_label_of_the_taxonomy_finds_the_items_labelled_with_it(kb, corpus, question, found):
    """'skills and talent', the label of a strategic challenge, found 0 of the 15 items labelled
    with it on the sample corpus (their wording is far from its three words); keyword mode stays
    literal."""
    assert kb.ingest([corpus]).skipped == []
    for mode in ("hybrid", "semantic"):
        result = kb.search(question, mode=mode, size=20)
        assert set(found) <= {h.id for h in result.hits} and result.total == len(result.hits)
    assert "eu-exchange" not in {h.id for h in kb.search("Skills and talent", mode="keyword").hits}

import numpy as np
import pytest

from policykb.backends.embedded.bm25 import POSTING, Corpus
from policykb.backends.embedded.maxscore import QueryScorer


def corpus_and_postings(seed: int, n: int = 2000) -> tuple[Corpus, dict[str, np.ndarray]]:
    """A corpus of n passages (ids 1, 3, 5, ...: gaps as after deletions; the last 10 ids not
    searchable) and postings of terms from very frequent to rare."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, 2 * n + 1, 2)
    corpus = Corpus.build(ids[:-10], rng.integers(5, 300, n - 10))
    postings = {}
    for term, share in {"common": 0.6, "usual": 0.3, "some": 0.05, "few": 0.008, "rare": 0.004, "rarest": 0.001}.items():
        held = np.sort(rng.choice(ids, max(1, int(share * n)), replace=False))
        p = np.zeros(len(held), dtype=POSTING)
        p["passage"], p["title"], p["text"] = held, rng.integers(0, 2, len(held)), rng.integers(1, 9, len(held))
        postings[term] = p
    return corpus, postings


def read(postings: dict[str, np.ndarray], asked: list[tuple[str, ...]] | None = None):
    """A store's `postings` over these, noting what it was asked for."""
    def postings_of(terms: tuple[str, ...]) -> dict[str, np.ndarray]:
        if asked is not None:
            asked.append(terms)
        return {t: postings[t] for t in terms if t in postings}
    return postings_of


def exhaustive_top(corpus: Corpus, postings: dict[str, np.ndarray], match: tuple[str, ...], k: int):
    positions, scores = corpus.scores([postings[t] for t in match if t in postings], 2.0)
    order = np.lexsort((positions, -scores))[:k]
    return positions[order], scores[order]


def test_a_frequent_term_too_light_to_reach_the_share_is_skipped():
    corpus, postings = corpus_and_postings(1)
    scorer = QueryScorer(corpus, ("common", "rare", "few"), read(postings), required=0.6, title_weight=2.0)
    assert scorer.skipped == {"common"}
    assert QueryScorer(corpus, ("common", "usual"), read(postings), required=0.6).skipped == {"common"}
    assert QueryScorer(corpus, ("common",), read(postings), required=0.6).skipped == set()  # one term stays essential
    assert QueryScorer(corpus, ("rare", "few"), read(postings), required=0.6).skipped == set()  # nothing frequent


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("match", [("common", "rare", "few"), ("common", "usual", "some", "rarest"),
                                   ("usual", "common", "usual", "rare"), ("common", "some", "absent", "few")])
@pytest.mark.parametrize("required", [0.2, 0.4, 0.6])
def test_result_set_and_top_equal_scoring_every_posting(seed, match, required):
    corpus, postings = corpus_and_postings(seed)
    n = len(corpus)
    scorer = QueryScorer(corpus, match, read(postings), required=required, title_weight=2.0)
    distinct = list(dict.fromkeys(match))
    share, count = corpus.coverage([postings.get(t) for t in distinct])
    expected = np.flatnonzero((share[:n] >= required - 1e-9) & (count[:n] >= 2))
    got = scorer.coverage(2)
    assert got is None or np.array_equal(got, expected)
    assert (got is None) == (not scorer.skipped)

    k = 25
    best_positions, best_scores = exhaustive_top(corpus, postings, match, k)
    ranking = scorer.ranking()
    if ranking is None:
        return
    for attempt in (ranking, scorer.widened(float(best_scores[-1]) * 0.999)):
        if attempt is None:
            continue
        order = np.lexsort((attempt.positions, -attempt.scores))[:k]
        if len(order) == k and attempt.exact_above(float(attempt.scores[order][-1])):  # (fewer: not sure)
            assert np.array_equal(attempt.positions[order], best_positions)
            assert attempt.scores[order].tolist() == best_scores.tolist()  # the same to the last bit
    widened = scorer.widened(float(best_scores[-1]))
    if widened is not None:  # widening to the true k-th score always gives an exact top
        order = np.lexsort((widened.positions, -widened.scores))[:k]
        assert len(order) == k and widened.exact_above(float(widened.scores[order][-1]))
        assert np.array_equal(widened.positions[order], best_positions)


def test_within_a_filter_every_allowed_passage_is_scored():
    corpus, postings = corpus_and_postings(5)
    match = ("common", "few")
    allowed = np.arange(1, 400, 2)
    ranking = QueryScorer(corpus, match, read(postings), required=0.4, title_weight=2.0).ranking(allowed)
    positions, scores = corpus.scores([postings[t] for t in match], 2.0)
    inside = np.isin(positions, corpus.positions(allowed))
    assert ranking.bound == 0.0
    assert np.array_equal(ranking.positions, positions[inside]) and ranking.scores.tolist() == scores[inside].tolist()


def test_impacts_are_remembered_per_corpus():
    corpus, postings = corpus_and_postings(6)
    postings["common"]["text"][::5], postings["common"]["title"][::5] = 0, 1  # (in the title only)
    impacts, positions, in_text = corpus.impacts("common", postings["common"], 2.0)
    at = corpus.positions(postings["common"]["passage"])  # (-1: the scratch slot's norm, then dropped)
    freq = postings["common"]["text"] + 2.0 * postings["common"]["title"]
    expected = (freq / (freq + corpus.norm[at]))[at >= 0]
    assert positions.tolist() == at[at >= 0].tolist() and len(positions) < len(at) and positions.dtype == np.int32
    assert impacts.tolist() == expected.tolist()
    assert in_text.tolist() == (postings["common"]["text"] > 0)[at >= 0].tolist()
    assert 0 < int(in_text.sum()) < len(in_text)  # (some hold the term in their title only)
    every = np.arange(len(corpus))  # whether each passage's text holds it, from the remembered postings
    text_at = {int(p): bool(t) for p, t in zip(at, postings["common"]["text"] > 0) if p >= 0}
    assert corpus.impacts("common", postings["common"], 2.0).text_holds(every).tolist() == [
        text_at.get(p, False) for p in range(len(corpus))]
    assert corpus.impacts("common", postings["common"], 2.0)[0] is impacts
    assert corpus.known_impacts("common", 2.0)[0] is impacts and corpus.known_impacts("rare", 2.0) is None


def test_a_frequent_terms_postings_are_read_once_per_corpus():
    corpus, postings = corpus_and_postings(7)
    asked: list[tuple[str, ...]] = []
    first = QueryScorer(corpus, ("common", "rare", "few"), read(postings, asked), required=0.4, title_weight=2.0)
    again = QueryScorer(corpus, ("common", "rarest", "nowhere"), read(postings, asked), required=0.4, title_weight=2.0)
    assert asked == [("common", "rare", "few"), ("rarest", "nowhere")]  # "common" remembered as its impacts
    assert first.coverage(2) is not None and again.hits["nowhere"] == 0
    assert again.postings.keys() == {"common", "rarest"} and asked[-1] == ("common", "rarest", "nowhere")


def test_holders_of_a_term_outside_the_query_are_read_alone():
    corpus, postings = corpus_and_postings(8)
    asked: list[tuple[str, ...]] = []
    scorer = QueryScorer(corpus, ("common", "few"), read(postings, asked), required=0.4, title_weight=2.0)
    at = corpus.positions(postings["rare"]["passage"])
    assert scorer.holders("rare").tolist() == at[at >= 0].tolist() and asked[-1] == ("rare",)
    assert scorer.holders("common") is scorer.terms["common"][1] and len(asked) == 2


def test_a_corpus_needs_ascending_passage_ids():
    with pytest.raises(ValueError, match="ascending"):
        Corpus.build(np.array([3, 1, 5]), np.array([10, 10, 10]))

import numpy as np
import pytest

from policykb.search.parts import best_rows, convex, fts_query, holds_phrase, phrase_of, rrf, snippet, terms


def test_terms_drop_stop_words_and_question_words():
    assert terms("How do regions fund the clusters?") == ["regions", "fund", "clusters"]
    assert terms("the and") == []
    assert terms("What is it? How does it work?") == ["work"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("green clusters", '"green" OR "clusters"'),
        ('quote" OR drop NEAR(', '"quote" OR "drop" OR "near"'),
        ("???", None),
    ],
)
def test_fts_query_quotes_every_term(query, expected):
    assert fts_query(query) == expected


@pytest.mark.parametrize("query, text, held", [
    ("compressed air", "improved compressed-air systems", True),
    ("Compressed Air", "COMPRESSED AIR savings", True),
    ("trade union", "a trade union took part", True),
    ("trade union", "trade with the European Union", False),  # both words, not one after the other
    ("union trade", "a trade union took part", False),  # in the question's order
    ("board of directors", "the board of the directors met", True),  # function words between skipped
    ("innovation vouchers", "innovation voucher scheme", True),  # stemmed
    ("Who sat on the programme board?", "A programme board met quarterly", False),
])
def test_a_short_query_is_held_as_a_phrase_word_after_word(query, text, held):
    assert holds_phrase(text, phrase_of(query), None) is held


@pytest.mark.parametrize("query, phrase", [
    ("compressed air", ("compress", "air")),
    ("vouchers", ()),  # one word is no phrase
    ("how do regions fund the internationalisation of clusters across borders in Europe", ()),  # a question
])
def test_the_phrase_of_a_query(query, phrase):
    assert phrase_of(query) == phrase


def test_rrf_literal_scores():
    scores = rrf([["a", "b"], ["b", "c"]], k=1)
    assert scores == {"a": 1 / 2, "b": 1 / 3 + 1 / 2, "c": 1 / 3}


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [4, 9, 0, 7, 2, 5, 8, 1, 6, 3]])
def test_best_rows_takes_equal_scores_by_their_ties(order):
    # ten passages of ten items, eight scoring the same: the first 4 (items x 4) are taken by id,
    # however the entries are laid out (a rough and an exact scan then agree on duplicates)
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1])[order]
    ids = np.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])[order]
    top = best_rows(scores, ids, ids, 1)
    assert ids[top].tolist() == [10, 11, 12, 13]


def test_snippet_marks_stemmed_terms_and_escapes_html():
    assert snippet("Regions fund <b>cluster</b> missions.", "regional clusters") == (
        "<mark>Regions</mark> fund &lt;b&gt;<mark>cluster</mark>&lt;/b&gt; missions."
    )


def test_snippet_marks_no_function_word_of_another_language():
    """A review found "de" of "Valle de Luna" marked throughout a Spanish slide."""
    text = "El 60 % procede de fondos regionales del Valle de Luna"
    assert snippet(text, "What share of the Valle de Luna budget comes from regional funds?") == (
        "El 60 % procede de fondos regionales del <mark>Valle</mark> de <mark>Luna</mark>")


def test_snippet_windows_long_text_around_terms():
    text = "filler " * 100 + "the vouchers scheme " + "filler " * 100
    out = snippet(text, "vouchers", width=60)
    assert out.startswith("…") and out.endswith("…") and "<mark>vouchers</mark>" in out


def test_snippet_shows_the_densest_window_of_terms():
    text = "vouchers " + "filler " * 60 + "cluster vouchers fund cluster vouchers " + "filler " * 60
    out = snippet(text, "cluster vouchers", width=60)
    assert out.count("<mark>") == 4 and out.startswith("…filler")


def test_snippet_of_a_passage_full_of_terms_stays_quick():
    import time

    text = "cluster " * 20_000  # every word a hit: counting each window's hits one by one took minutes
    started = time.perf_counter()
    out = snippet(text, "cluster", width=320)
    assert out.startswith("<mark>cluster</mark>") and time.perf_counter() - started < 5


def test_snippets_are_the_same_from_many_threads():
    import threading

    texts = [f"Regional clusters {i} internationalise; policies supporting innovation in regions number {i}."
             for i in range(50)]
    expected = [snippet(t, "regional policy innovation") for t in texts]
    results: list[list[str]] = []

    def work() -> None:
        results.append([snippet(t, "regional policy innovation") for t in texts])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == expected for r in results)


def test_convex_fusion_literal_scores():
    scores = convex({"a": 10.0, "b": 5.0, "c": 0.0}, {"b": 0.9, "d": 0.5}, alpha=0.25)
    assert scores == {"a": 0.75, "b": 0.25 * 1.0 + 0.75 * 0.5, "c": 0.0, "d": 0.0}
    assert convex({"a": 3.0}, {}, alpha=0.5) == {"a": 0.5}

"""The words of a question that keyword search uses, in any EU language."""

from __future__ import annotations

import pytest

from policykb.language.words import content_words, function_words, has_content, literal_words


@pytest.mark.parametrize("query, language, words", [
    ("how do regions help SMEs go international?", "en", ["regions", "help", "smes", "go", "international"]),
    ("Combien d'argent reçoit le programme Euroclusters ?", "fr", ["argent", "reçoit", "programme", "euroclusters"]),
    ("Jaké podpory nabízí program Euroclusters?", "cs", ["jaké", "podpory", "nabízí", "program", "euroclusters"]),
    ("Πώς στηρίζουν οι περιφέρειες τη διεθνοποίηση των συστάδων;", "el",
     ["στηρίζουν", "περιφέρειες", "διεθνοποίηση", "συστάδων"]),
    ("Kemm flus jirċievi l-programm Euroclusters?", "mt", ["flus", "jirċievi", "programm", "euroclusters"]),
    ("die Förderung der Cluster", None, ["die", "förderung", "der", "cluster"]),  # German words kept unless German
    # "how much" / "how many" ask for a quantity: "much" was a term no item holds, and a keyword search for
    # "How much money does the Euroclusters programme receive?" found nothing ("check the spelling: much")
    ("How much money does the Euroclusters programme receive?", "en", ["money", "euroclusters", "programme", "receive"]),
    ("how many clusters took part", "en", ["clusters", "took", "part"]),
])
def test_function_words_of_the_question_language_are_left_out(query, language, words):
    assert content_words(query, language) == words


@pytest.mark.parametrize("query, language, content", [
    ("k", "de", False), ("é", "de", False), ("ab", "de", False), ("x y z", None, False), ("what is it", "en", False),
    ("AI", "de", True), ("5G", None, True), ("ab", None, True), ("Gutscheine", "de", True), ("灯塔计划", "zh", True),
    ("R&D", "en", True), ("Industry 4.0", "en", True), ("1", "en", False), ("' OR 1=1 --", "en", False),
])
def test_a_question_of_single_characters_and_function_words_has_nothing_to_mean(query, language, content):
    assert has_content(query, language) is content


def test_every_eu_language_has_function_words():
    from policykb.language.detect import EU_LANGUAGES

    assert [code for code in EU_LANGUAGES if len(function_words(code)) < 30] == []


@pytest.mark.parametrize("query, literal", [
    ("SME", ["SME"]),
    ("support for SMEs and R&D in the ERDF", ["SMEs", "R&D", "ERDF"]),
    ("Horizon 2020 and H2020 calls for 2021-2027", ["2020", "H2020", "2021-2027"]),
    ('the "Strength in Places" fund', ["Strength in Places"]),
    ("what is the capital of Australia", []),  # a capitalised word is not a code
])
def test_literal_terms_are_acronyms_codes_numbers_and_quotes(query, literal):
    assert literal_words(query) == literal

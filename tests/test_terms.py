"""Index terms: FTS5's porter unicode61 tokens of words folded to ASCII and British spelling,
checked against SQLite FTS5's own tokenizer (real SQLite)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from policykb.search.parts import keyword_terms
from policykb.language.spelling import british
from policykb.language.terms import term_counts, term_set, tokens, words
from policykb.language.text import fold_word, normalise


@pytest.mark.parametrize("text, expected", [
    ("Clusters' innovation policies", ["cluster", "innov", "polici"]),
    ("Technology assembly possibly", ["technolog", "assembl", "possibl"]),  # FTS5's -logi / -bli rules
    ("Café Müller, Kraków", ["cafe", "muller", "krakow"]),
    ("COVID-19 R&D snake_case", ["covid", "19", "r", "d", "snake", "case"]),
    ("as is was", ["as", "is", "wa"]),  # fewer than three letters: not stemmed
    # Deliberately not FTS5's tokens: letters folded to ASCII, American spelling read as British.
    ("Łódź Øresund Ærø straße Đakovo", ["lodz", "oresund", "aero", "strass", "dakovo"]),
    ("Кластер Львова", ["klaster", "lvova"]),
    ("\ufb01nance inter\u00adnational", ["financ", "intern"]),  # ligature and soft hyphen (NFKC, Cf)
    ("5µm", ["5um"]),  # the micro sign in a unit is "u" (FTS5: "5μm")
    ("organization program labor centers", ["organis", "programm", "labour", "centr"]),
])
def test_tokens_follow_fts5_porter_unicode61(text, expected):
    assert tokens(text) == expected


def _fts5_tokens(given: list[str]) -> dict[int, list[str]]:
    """SQLite's own tokenizer (an in-memory FTS5 table, one word per row): the oracle."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(w, tokenize='porter unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.executemany("INSERT INTO t(rowid, w) VALUES (?, ?)", list(enumerate(given, 1)))
    out: dict[int, list[str]] = {}
    for term, doc in conn.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
        out.setdefault(doc, []).append(term)
    return out


# Words whose letters FTS5 folds itself (diacritics) or that need no folding: the tokens are FTS5's.
SAME_AS_FTS5 = ("São Kraków Île-de-France naïve coöperation Dvořák Ångström résumé Việt generalisations relational "
                "İstanbul organisation programme centre labour licence").split()
# Deliberate differences: letters FTS5 does not fold, other scripts, NFKC forms, American spellings.
FOLDED = ("Łódź Ærø Øresund straße Ελλάδα Россия ﬁnance ½ x² 東京 organization program center labor "
          "license analyze hemoglobin").split()


def test_tokens_equal_fts5_tokens_where_nothing_needs_folding():
    fts5 = _fts5_tokens(SAME_AS_FTS5)
    assert {w: tokens(w) for w in SAME_AS_FTS5} == {w: fts5[i] for i, w in enumerate(SAME_AS_FTS5, 1)}


def test_folded_tokens_are_fts5_tokens_of_the_folded_words():
    """Where tokens differ from FTS5's on purpose, they are still FTS5's tokens of the words as
    matching reads them (ASCII, British spelling): only the folding differs, never the stemming."""
    ready = [" ".join(british(fold_word(w)) for w in words(word)) for word in FOLDED]
    fts5 = _fts5_tokens(ready)
    assert {w: tokens(w) for w in FOLDED} == {w: fts5[i] for i, w in enumerate(FOLDED, 1)}
    raw = _fts5_tokens(FOLDED)
    assert [w for i, w in enumerate(FOLDED, 1) if tokens(w) == raw[i]] == []  # each one is a difference


def test_query_terms_are_the_stems_of_distinct_words():
    assert keyword_terms("Cluster clusters, the COVID-19 vouchers vouchers") == (
        "cluster", "cluster", "covid", "19", "voucher")
    assert keyword_terms("the of") is None  # only stop words: nothing to match by words
    assert keyword_terms("  ...  ") is None


def test_term_counts_per_column_and_length():
    counts, length = term_counts("Cluster vouchers", "Vouchers for cluster firms; vouchers again.")
    assert counts == {"cluster": (1, 1), "voucher": (1, 2), "for": (0, 1), "firm": (0, 1), "again": (0, 1)}
    assert length == 8


def test_the_stemmer_gives_the_stems_of_snowballs_pure_python_porter():
    """PyStemmer (C) stems as snowballstemmer's Python code does, word for word (it is what
    `snowballstemmer.stemmer` returns when it is installed: a dependency, for speed)."""
    import Stemmer
    from snowballstemmer.porter_stemmer import PorterStemmer

    from policykb.language.terms import _porter
    from policykb.language.text import _words

    assert isinstance(_porter(), Stemmer.Stemmer)
    sample = sorted(_words())[::40]  # 4,015 English words, a-z
    python = PorterStemmer()
    assert [_porter().stemWord(w) for w in sample] == [python.stemWord(w) for w in sample]


@pytest.mark.parametrize("text", [
    "snake_case __init__ a_1 COVID-19, R&D; x2y 2024-11-30",  # ASCII: letters and digits, "_" splits
    "Café\ue000\ue001Müller_\ue002x ﬁne 5µm Łódź_straße",  # private-use characters join a word
    "", "___", "\ue000", "ÄÖÜ äöü", "tab\tnew\nline",
])
def test_words_are_runs_of_letters_digits_and_private_use_characters(text):
    reference = re.compile(r"(?:[^\W_]|[\ue000-\uf8ff])+")  # the definition, one character at a time
    assert words(text) == reference.findall(text if text.isascii() else normalise(text))
    assert term_set(text) == set(tokens(text))

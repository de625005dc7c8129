"""The one text-normalisation step (stored, embedded and asked text) and the ASCII fold for matching."""

from __future__ import annotations

import pytest

from policykb.language.text import fold, fold_word, normalise, slug


@pytest.mark.parametrize("raw, expected", [
    ("The region offers \ufb01nancial support to \ufb02oating solar", "The region offers financial support to floating solar"),
    ("trains managers for inter\u00ad\nnationalisation", "trains managers for internationalisation"),
    ("inter\u00ad nationalisation", "internationalisation"),  # a line break already unwrapped by a tool
    ("electro\u00adlyser makers and steel\u00adworks", "electrolyser makers and steelworks"),
    ("supports digitali\u2010\nsation of sales", "supports digitalisation of sales"),
    ("supports digitali-\nsation of sales", "supports digitalisation of sales"),
    ("a cross-\nborder partnership", "a cross-border partnership"),  # two words: the hyphen belongs there
    ("long-\nterm support", "long-term support"),
    ("co-\noperation between firms", "cooperation between firms"),  # the joined form is a word
    ("the hydro-\ngen value chain", "the hydrogen value chain"),
    ("Baden-\nWürttemberg firms", "Baden-Württemberg firms"),  # a capital after the hyphen
    ("COVID-\n19 recovery", "COVID-19 recovery"),
    ("e-\ncommerce", "e-commerce"),
    ("zero\u200bwidth \u202eright\u202c-to-left\ufeff and\u2060joined", "zerowidth right-to-left andjoined"),
    ("2014\u20132020 \u2014 \u201cquoted\u201d and \u2018single\u2019 and a\u2011b", '2014-2020 - "quoted" and \'single\' and a-b'),
    ("a\u00a0no-break space, \uff26\uff55\uff4c\uff4c width, x\u00b2", "a no-break space, Full width, x2"),
    ("bell\x07 and nul\x00 dropped\tbut tab and\nline kept", "bell and nul dropped\tbut tab and\nline kept"),
    ("Łódź, Øresund and Ærø keep their letters", "Łódź, Øresund and Ærø keep their letters"),
    ("plain ASCII stays as it is - with a dash", "plain ASCII stays as it is - with a dash"),
])
def test_normalise(raw, expected):
    assert normalise(raw) == expected
    assert normalise(expected) == expected  # idempotent


@pytest.mark.parametrize("raw, expected", [
    ("Łódź", "lodz"), ("Øresund", "oresund"), ("Ærø", "aero"), ("straße", "strasse"), ("Đakovo", "dakovo"),
    ("Þórshöfn", "thorshofn"), ("İstanbul", "istanbul"), ("Львова", "lvova"), ("Κρήτης", "kritis"),
    ("\ufb01nance", "finance"), ("5\u00b5m", "5um"), ("x\u00b2", "x2"), ("plain", "plain"),
])
def test_fold_word_gives_lower_case_ascii_letters_and_digits(raw, expected):
    assert fold_word(raw) == expected


def test_fold_transliterates_whole_texts():
    assert fold("Łódź – Ørestad, Кластер") == "lodz - orestad, klaster"


@pytest.mark.parametrize("title, expected", [
    ("Кластер ІТ-компаній Львова", "klaster-it-kompaniy-lvova"),
    ("Агрохарчовий кластер Полтавщини", "agrokharchoviy-klaster-poltavshchini"),
    ("Σύμπραξη καινοτομίας Κρήτης", "sympraxi-kainotomias-kritis"),
    ("Łódź textile cluster", "lodz-textile-cluster"),
    ("Café des Ærø-Øresund", "cafe-des-aero-oresund"),
    ("  Cluster  (ES) – 2020!  ", "cluster-es-2020"),
    ("a" * 40 + " " + "b" * 50, "a" * 40),  # cut at a word boundary, at most 80 characters
    # markup is not words of a title (a contribution's id was "b-export-b-vouchers-...-script-alert-1-script-...")
    ("<b>Export</b> **vouchers** for <script>alert(1)</script> clusters", "export-vouchers-for-alert-1-clusters"),
    ('Open <img src="x" onerror="y"> data <br/>', "open-data"),
    ("Firms with <10 employees > 2020", "firms-with-10-employees-2020"),  # (not a tag)
])
def test_slug_transliterates(title, expected):
    assert slug(title) == expected


def test_slug_falls_back_to_a_hash_of_the_text_never_a_constant():
    first, second = slug("???"), slug("!!!")
    assert first.startswith("item-") and len(first) == 15
    assert first != second and slug("???") == first


def test_the_english_word_list_is_pyspellcheckers():
    """Read from the package's file directly (half the time): the same words with the same counts."""
    from spellchecker import SpellChecker

    from policykb.language.text import _words

    assert _words() == dict(SpellChecker(language="en", case_sensitive=False).word_frequency.dictionary)

"""Index terms: the words of a text made ready for matching, as the keyword index stores them.

Tokens are SQLite FTS5's `porter unicode61 remove_diacritics 2` tokens (runs of letters and digits,
case-folded, Porter-stemmed from three characters on) of words made ready for matching first:
folded to ASCII (`text.fold_word`: "Łódź" -> "lodz", "Øresund" -> "oresund", "straße" -> "strasse",
"Львів" -> "lviv", where FTS5 removes diacritics only) and spelled the British way
(`spelling.british`: "organization" -> "organisation", "program" -> "programme"). On text where
neither changes a word (English in British spelling, with no letters beyond diacritics), the tokens
are FTS5's, and so are the scores: for each query term,
`idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl))` where `f` is the weighted term frequency
over the title and text columns and `D` the passage's length in tokens. `TOKENIZER_VERSION` changes
whenever tokens do; a knowledge base whose postings were made by another version has them rebuilt
when it is opened (`store_postings.py`).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from functools import lru_cache
from typing import Iterable

import snowballstemmer

from policykb.language.spelling import british
from policykb.language.text import fold_word, normalise

MAX_TF = 65_535
TOKENIZER_VERSION = 2  # 1: FTS5's tokens; 2: words folded to ASCII and to British spelling first

# letters, digits, private-use characters (runs of either: 3x quicker than a run of one of both)
_TOKEN = re.compile(r"(?:[^\W_]+|[\ue000-\uf8ff]+)+")
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+")  # the same on ASCII text, 4x quicker still
_STEP2 = re.compile(r"(?:logi|bli)(?:s|es|ed)?$|(?:log|bl)ys?$")  # words that end in -logi/-bli after step 1
_local = threading.local()


def _porter() -> snowballstemmer.stemmer:
    stemmer = getattr(_local, "porter", None)  # snowball stemmers are not thread-safe
    if stemmer is None:
        stemmer = _local.porter = snowballstemmer.stemmer("porter")
    return stemmer


def _measure(stem: str) -> int:
    """Porter's m: how many vowel-consonant sequences a stem has."""
    kinds = []
    for i, c in enumerate(stem):
        vowel = c in "aeiou" or (c == "y" and i > 0 and kinds[-1] == "c")
        kinds.append("v" if vowel else "c")
    return "".join(kinds).count("vc")


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Porter stem of a lower-case token, as FTS5 computes it (its step 2 also maps -bli and -logi)."""
    if not 3 <= len(token) <= 64:
        return token
    if token == "ies":  # FTS5 maps -ies to -i only in longer words
        return "ie"
    out = _porter().stemWord(token)
    if _STEP2.search(token):
        for suffix, replacement in (("bli", "ble"), ("logi", "log")):
            if out.endswith(suffix) and _measure(out[: -len(suffix)]) > 0:
                out = _porter().stemWord(out[: -len(suffix)] + replacement)
    return out


@lru_cache(maxsize=200_000)
def term(word: str) -> str:
    """The index term of one word (a run of letters and digits): folded to lower-case ASCII,
    spelled the British way, Porter-stemmed; "" for a word with nothing to match by."""
    folded = fold_word(word)
    return stem(british(folded)) if folded.isascii() else stem(folded)


def words(text: str) -> list[str]:
    """The runs of letters and digits of a text (normalised first, as stored text is: an old
    knowledge base's passages, or any caller's text, give the terms of their normalised form)."""
    return _ASCII_TOKEN.findall(text) if text.isascii() else _TOKEN.findall(normalise(text))


def tokens(text: str) -> list[str]:
    """The index terms of a text, in order."""
    return [t for t in map(term, words(text)) if t]


def term_set(text: str) -> set[str]:
    """The distinct index terms of a text (each distinct word made a term once)."""
    found = set(map(term, set(words(text))))
    found.discard("")
    return found


def query_terms(words: Iterable[str]) -> tuple[str, ...]:
    """The stemmed tokens of distinct query words (`covid-19` gives two). Two words with one stem
    ("cell", "cells") give that term twice, and it counts twice, as in FTS5 (BM25's query term
    frequency)."""
    return tuple(t for w in dict.fromkeys(words) for t in tokens(w))


def term_counts(title: str, text: str) -> tuple[dict[str, tuple[int, int]], int]:
    """`{term: (count in title, count in text)}` and the passage's length in tokens."""
    in_title = Counter(words(title or ""))  # words first: each distinct one is made a term once
    in_text = Counter(words(text))
    counts: dict[str, tuple[int, int]] = {}
    length = 0
    for word, n in in_title.items():
        if key := term(word):
            t, x = counts.get(key, (0, 0))
            counts[key] = (min(t + n, MAX_TF), x)
            length += n
    for word, n in in_text.items():
        if key := term(word):
            t, x = counts.get(key, (0, 0))
            counts[key] = (t, min(x + n, MAX_TF))
            length += n
    return counts, length

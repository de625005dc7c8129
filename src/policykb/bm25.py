"""Keyword scoring in numpy: tokenisation, postings and BM25, with no SQL in sight.

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

Why not FTS5 itself: it scores every passage matching any query term through a callback, which
at 100k passages costs tens of milliseconds per query; the same arithmetic over the postings of
the query terms, as arrays, costs a few.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

import numpy as np
import snowballstemmer

from .spelling import british
from .text import fold_word, normalise

K1 = 1.2
B = 0.75
MAX_TF = 65_535
TOKENIZER_VERSION = 2  # 1: FTS5's tokens; 2: words folded to ASCII and to British spelling first
IMPACTS_BYTES = 128 * 2**20  # terms' impacts kept per corpus (`Corpus.impacts`)
# One posting: a passage id and how often the term occurs in its title and in its text.
POSTING = np.dtype([("passage", "<u4"), ("title", "<u2"), ("text", "<u2")])

_TOKEN = re.compile(r"(?:[^\W_]|[\ue000-\uf8ff])+")  # letters, digits, private-use characters
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
    return _TOKEN.findall(text if text.isascii() else normalise(text))


def tokens(text: str) -> list[str]:
    """The index terms of a text, in order."""
    return [t for t in map(term, words(text)) if t]


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


@dataclass
class Corpus:
    """What BM25 needs to know about the searchable passages, which sit at positions 0..n-1.

    `position` maps a passage id to its position; every other id (deleted, unpublished, or newer
    than this corpus) maps to n, a scratch slot, so that scoring needs no filtering pass. `norm`
    holds each position's length normalisation, `k1 * (1 - b + b * length / avgdl)`.
    """

    position: np.ndarray
    norm: np.ndarray
    ids: np.ndarray  # the passage id at each position
    _impacts: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _impact_bytes: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, passage_ids: np.ndarray, lengths: np.ndarray) -> Corpus:
        n = len(passage_ids)
        position = np.full(int(passage_ids.max(initial=-1)) + 2, n, dtype=np.int64)
        position[passage_ids] = np.arange(n)
        lengths = np.asarray(lengths, dtype=np.float64)
        avgdl = float(lengths.mean()) if n else 1.0
        norm = np.append(K1 * (1 - B + B * lengths / (avgdl or 1.0)), 1.0)
        return cls(position, norm, np.asarray(passage_ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.norm) - 1

    def _at(self, passage_ids: np.ndarray) -> np.ndarray:
        return np.take(self.position, passage_ids, mode="clip")  # ids beyond the table: the scratch slot

    def positions(self, passage_ids: np.ndarray) -> np.ndarray:
        """Position of each passage id; -1 where it is not searchable."""
        at = self._at(np.asarray(passage_ids, dtype=np.int64))
        at[at == len(self)] = -1
        return at

    def scores(self, postings: Iterable[np.ndarray], title_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """BM25 over the searchable passages: (positions of the passages matching any term, their
        scores), one `postings` array (dtype POSTING) per query term."""
        n = len(self)
        total = np.zeros(n + 1, dtype=np.float64)
        for term in postings:
            at = self._at(term["passage"])
            hits = len(at) - int(np.count_nonzero(at == n))
            if not hits:
                continue
            idf = bm25_idf(n, hits)
            freq = term["text"] + title_weight * term["title"]
            total[at] += idf * (K1 + 1) * (freq / (freq + self.norm[at]))  # (as maxscore.py adds impacts)
        found = np.flatnonzero(total[:n])  # every term adds more than 0
        return found, total[found]

    def known_impacts(self, term: str, title_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray] | None:
        """The term's impacts if remembered (see `impacts`)."""
        with self._lock:
            found = self._impacts.pop((term, title_weight), None)
            if found is not None:
                self._impacts[(term, title_weight)] = found  # (last: the most recently used)
            return found

    def impacts(self, term: str, postings: np.ndarray, title_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """The impact `f / (f + norm)` of the term in each searchable passage holding it, and those
        passages' ids. The most recently used terms' are remembered for this corpus, up to
        `IMPACTS_BYTES`."""
        found = self.known_impacts(term, title_weight)
        if found is not None:
            return found
        at = self._at(postings["passage"])
        searchable = at != len(self)
        freq = postings["text"][searchable] + title_weight * postings["title"][searchable]
        found = (freq / (freq + self.norm[at[searchable]]), postings["passage"][searchable].astype(np.int64))
        with self._lock:
            self._impacts[(term, title_weight)] = found
            self._impact_bytes += found[0].nbytes + found[1].nbytes
            while self._impact_bytes > IMPACTS_BYTES and len(self._impacts) > 1:
                dropped = self._impacts.pop(next(iter(self._impacts)))
                self._impact_bytes -= dropped[0].nbytes + dropped[1].nbytes
        return found

    def weight(self, hits: int) -> float:
        """How informative a term found in `hits` searchable passages is: Lucene's BM25 idf,
        `ln(1 + (n - hits + 0.5) / (hits + 0.5))`, always positive, small for a term in most
        passages and largest for a term found nowhere."""
        n = len(self)
        return math.log(1 + (n - hits + 0.5) / (hits + 0.5))

    def coverage(self, postings: Iterable[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        """Per position, the share of the query's informative weight its passage holds (the
        weights of the distinct query terms it contains over the weights of all of them; a term
        found nowhere, `None` or empty, still counts in the whole), and how many of the terms it
        holds. Index n is the scratch slot."""
        n = len(self)
        held = np.zeros(n + 1, dtype=np.float64)
        count = np.zeros(n + 1, dtype=np.int32)
        whole = 0.0
        for term in postings:
            at = self._at(term["passage"]) if term is not None and len(term) else np.zeros(0, dtype=np.int64)
            w = self.weight(len(at) - int(np.count_nonzero(at == n)))
            whole += w
            held[at] += w
            count[at] += 1
        return (held / whole if whole else held), count


def bm25_idf(n: int, hits: int) -> float:
    """BM25's idf of a term in `hits` of `n` passages, as FTS5's: a term in most passages still
    counts a little."""
    idf = math.log((n - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0 else 1e-6


def merge(parts: list[np.ndarray], alive: np.ndarray | None = None) -> np.ndarray:
    """One postings array from several, sorted by passage, keeping only the passages whose id is
    True in `alive` (a boolean array indexed by passage id) if given."""
    merged = np.concatenate(parts) if parts else np.zeros(0, dtype=POSTING)
    if alive is not None:
        ids = merged["passage"].astype(np.int64)
        keep = ids < len(alive)
        keep[keep] = alive[ids[keep]]
        merged = merged[keep]
    return merged[np.argsort(merged["passage"], kind="stable")]

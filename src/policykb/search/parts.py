"""Small pure pieces of search: query parsing, rank fusion, top rows per item, snippets with highlights."""

from __future__ import annotations

import html
import re
import threading
from bisect import bisect_left
from functools import lru_cache
from typing import Any, Callable, Iterable, TypeVar

import numpy as np
import snowballstemmer

from policykb.language.detect import NOT_ENGLISH
from policykb.language.terms import query_terms, term, tokens, words
from policykb.language.words import content_words, fold, skipped_words

K = TypeVar("K")
MODES = ("hybrid", "semantic", "keyword")


def terms(query: str, language: str | None = None) -> list[str]:
    """Lower-cased query words without function words (English ones, and those of the question's
    language) and question words (none if every one is one: "what is it" matches no passage by its
    words)."""
    return content_words(query, language)


def keyword_terms(query: str, language: str | None = None) -> tuple[str, ...] | None:
    """The index terms (stemmed, distinct) a keyword search for `query` looks up; None if none."""
    return query_terms(terms(query, language)) or None


MAX_PHRASE = 5  # content words a query may have and still be read as a phrase (`phrase_of`)


def phrase_of(query: str, language: str | None = None) -> tuple[str, ...]:
    """The index terms of a short query's content words in their order ("compressed air": compress,
    air), which a passage may hold one after the other (`holds_phrase`); () for one word or a
    question of more than MAX_PHRASE words."""
    seq = tuple(t for w in terms(query, language) for t in tokens(w))
    return seq if 2 <= len(seq) <= MAX_PHRASE else ()


def holds_phrase(text: str, phrase: tuple[str, ...], language: str | None = None) -> bool:
    """Whether a text holds the phrase's terms one after the other, function words between them
    skipped ("board of directors" holds "board directors"; "compressed-air systems" holds
    "compressed air")."""
    if not phrase:
        return False
    skip = skipped_words(language)
    found = [term(w) for w in words(text) if fold(w) not in skip]
    return f" {' '.join(phrase)} " in f" {' '.join(t for t in found if t)} "


def fts_query(query: str) -> str | None:
    """An FTS5 expression matching any of the query's terms, every term quoted (no syntax leaks)."""
    words = terms(query)
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)


def rrf(rankings: Iterable[list[K]], k: int = 60) -> dict[K, float]:
    """Reciprocal rank fusion: each list adds 1 / (k + rank) for the keys it holds."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return scores


def convex(kw: dict[K, float], dense: dict[K, float], alpha: float = 0.5) -> dict[K, float]:
    """alpha * dense + (1 - alpha) * keyword, each min-max normalised over its candidates (0 if absent)."""

    def scaled(scores: dict[K, float]) -> dict[K, float]:
        if not scores:
            return {}
        low, high = min(scores.values()), max(scores.values())
        return {key: (value - low) / (high - low) if high > low else 1.0 for key, value in scores.items()}

    kw_scaled, dense_scaled = scaled(kw), scaled(dense)
    return {key: alpha * dense_scaled.get(key, 0.0) + (1 - alpha) * kw_scaled.get(key, 0.0)
            for key in {**kw_scaled, **dense_scaled}}


_local = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    """One stemmer per thread: snowball stemmers keep state while they work."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


def _query_stems(query: str) -> set[str]:
    """The stems a snippet marks: the query's words, without the function words of other languages
    that English word lists hold ("de" of "Valle de Luna" marked every "de" of a Spanish slide)."""
    return {_stem(t) for t in terms(query) if t not in NOT_ENGLISH} if query.strip() else set()


@lru_cache(maxsize=1024)  # as the detected language: a filter click or the next page asks again
def _marking(query: str) -> tuple[set[str], set[str], re.Pattern[str]]:
    """The query's stems, their first three letters (a word stems to a query stem only if it starts
    alike), and a pattern finding the words that start so, whatever their case, so that the other
    words are skipped by the regex engine."""
    stems = _query_stems(query)
    heads = {stem[:3] for stem in stems}
    if not heads:
        return stems, heads, re.compile(r"(?!)")
    pattern = "|".join(sorted(map(re.escape, heads), key=lambda h: (-len(h), h)))
    return stems, heads, re.compile(r"(?<!\w)(?:" + pattern + r")\w*", re.IGNORECASE)


def snippet(text: str, query: str, width: int = 320) -> str:
    """HTML-escaped excerpt around the densest run of query terms, terms wrapped in <mark>."""
    stems, heads, candidates = _marking(query)
    hits = [m for m in candidates.finditer(text) if m.group()[:3].lower() in heads and _stem(m.group()) in stems]
    start = 0
    if hits and len(text) > width:
        starts = [h.start() for h in hits]  # in order: the hits in a window are a run of this list
        best, best_count = starts[0], 0
        for i, at in enumerate(starts):
            count = bisect_left(starts, at + width, i) - i
            if count > best_count:
                best, best_count = at, count
        start = max(0, best - width // 4)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
    end = min(len(text), start + width)
    while end < len(text) and not text[end - 1].isspace() and end - start < width + 30:
        end += 1
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for m in (h for h in hits if start <= h.start() and h.end() <= end):
        out.append(html.escape(text[pos:m.start()]))
        out.append(f"<mark>{html.escape(m.group())}</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:end].rstrip()))
    if end < len(text):
        out.append("…")
    return "".join(out).strip()


def best_rows(scores: np.ndarray, ties: np.ndarray, rows: np.ndarray, items: int,
              exact_top: Callable[[int], None] | None = None) -> np.ndarray:
    """Indices of the highest scores, best first (equal scores by `ties`, also in which are taken),
    as many as it takes to cover `items` different `rows` (items), or all. `exact_top(limit)`, when
    given, is called before the `limit` best are taken: it makes exact in `scores` every score that
    can be among them (`flat_scores.py`)."""
    limit = items * 4
    while True:
        if exact_top is not None:
            exact_top(limit)
        if limit >= len(scores):
            return np.lexsort((ties, -scores))
        top = _first(scores, ties, limit)
        if len(np.unique(rows[top])) >= items:
            return top
        limit *= 4


def _first(scores: np.ndarray, ties: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the `limit` first scores in the order (score descending, tie ascending), in that
    order: which of the scores equal to the last one taken are taken is decided by `ties` too."""
    if limit <= 0:
        return np.zeros(0, dtype=np.int64)
    last = -np.partition(-scores, limit - 1)[limit - 1]
    above = np.flatnonzero(scores > last)
    equal = np.flatnonzero(scores == last)
    equal = equal[np.argsort(ties[equal], kind="stable")][: limit - len(above)]
    top = np.concatenate([above, equal])
    return top[np.lexsort((ties[top], -scores[top]))]


def first_scores(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """Each item's score from its best (first) row."""
    scores: dict[str, float] = {}
    for row in rows:
        scores.setdefault(row[1], row[2])
    return scores


def items_of(rows: list[tuple[Any, ...]]) -> list[str]:
    """Item ids in order of their first row (rows are (passage id, item id, ...))."""
    return list(dict.fromkeys(row[1] for row in rows))

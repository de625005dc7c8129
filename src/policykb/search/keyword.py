"""The keyword side of a search: the terms a question looks up (foreign words left out, inflected
names read as their stem), BM25 over the postings, the keyword result set (share of the question's
weight, two terms, the model's support in hybrid mode, literal terms kept), words no item contains."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from policykb.backends.embedded.maxscore import QueryScorer
from policykb.search.parts import best_rows as _best, holds_phrase, keyword_terms, phrase_of, terms
from policykb.search.passages import heading_terms
from policykb.language.words import literal_words

if TYPE_CHECKING:
    from policykb.backends.embedded.facet_index import FacetIndex
    from policykb.search.relevance import Cutoff
    from policykb.config import Settings
    from policykb.backends.embedded.store import Store
    from policykb.models import Passage


class KeywordMixin:
    """Keyword search for `Searcher` (which holds the state these methods use)."""

    store: Store
    settings: Settings
    facets: FacetIndex
    cutoff: Cutoff
    language: str | None
    _scored: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]
    _scorers: dict[tuple[str, ...], QueryScorer]
    _terms: dict[str, tuple[str, ...] | None]
    keyword_path: str  # how the last keyword ranking was scored (bench/keyword_pruning.py counts them)

    if TYPE_CHECKING:
        def _passage_similarities(self, query: str, passage_ids: np.ndarray, near: float | None = None
                                  ) -> np.ndarray: ...

    def _bm25(self, match: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(positions in the facet index's passages, BM25 scores) of the passages matching any term."""
        if match not in self._scored:
            found = self._scorer(match).postings
            self._scored[match] = self.facets.corpus.scores([found[t] for t in match if t in found],
                                                            self.settings.title_weight)
        return self._scored[match]

    def _scorer(self, match: tuple[str, ...]) -> QueryScorer:
        """The query's keyword scoring that may skip its frequent terms (`maxscore.py`)."""
        if match not in self._scorers:
            distinct = tuple(dict.fromkeys(match))
            self._scorers[match] = QueryScorer(self.facets.corpus, match, self.store.postings,
                                               self.cutoff.required_share(len(distinct)), self.settings.title_weight)
        return self._scorers[match]

    def _held_terms(self, match: tuple[str, ...] | None, passages: list[tuple[int, Passage]]
                    ) -> dict[int, set[str]] | None:
        """Which of the query's terms each of these passages holds in its heading or its text
        (`passages.held_terms`), from the postings the keyword side has read for the query (their
        text counts) instead of each passage's words; None if it has not read them, or a passage is
        not in this generation's corpus."""
        scorer = self._scorers.get(match) if match else None
        if scorer is None or not passages:
            return None
        at = self.facets.corpus.positions(np.array([pid for pid, _ in passages], dtype=np.int64))
        if bool((at < 0).any()):
            return None
        distinct = set(scorer.distinct)
        held = {pid: set(heading_terms(p.section) & distinct) for pid, p in passages}
        for term in scorer.distinct:
            for i in np.flatnonzero(scorer.terms[term].text_holds(at)).tolist():
                held[passages[i][0]].add(term)
        return held

    def _match(self, query: str) -> tuple[str, ...] | None:
        """The index terms a keyword search for the query looks up. For a question in another
        language than English, its words that no passage contains are words of that language, not
        typing errors: they are left out (so a name or a code decides alone), except that a name
        (a word written with a capital inside the question) which starts with an indexed term of
        five letters or more, most of the word, is read as that term inflected ("Euroclustersi",
        Estonian for "of Euroclusters"; not "bringe" as "bring" or "economici" as "economi...")."""
        if query not in self._terms:
            match = keyword_terms(query, self.language)
            if match and self.language not in (None, "en"):
                match = self._known_terms(match, _names(query, self.language))
            self._terms[query] = match or None
        return self._terms[query]

    def _known_terms(self, match: tuple[str, ...], names: set[str]) -> tuple[str, ...]:
        present = self._present(set(match))
        absent = [t for t in dict.fromkeys(match) if t not in present and t in names]
        prefixes = {t: [t[:k] for k in range(len(t) - 1, max(5, math.ceil(0.6 * len(t))) - 1, -1)] for t in absent}
        found = self._present({p for options in prefixes.values() for p in options})
        stem_of = {t: next((p for p in prefixes[t] if p in found), None) for t in absent}
        return tuple(t if t in present else stem_of[t] for t in match if t in present or stem_of.get(t))

    def _present(self, candidates: set[str]) -> set[str]:
        """The terms among these that some searchable passage contains."""
        found = self.store.postings(tuple(sorted(candidates))) if candidates else {}
        corpus = self.facets.corpus
        return {t for t, p in found.items() if (corpus.positions(p["passage"]) >= 0).any()}

    def _keyword_set(self, match: tuple[str, ...], supported_by: str | None = None) -> np.ndarray:
        """Items with a passage holding the keyword share of the query's informative weight and at
        least two of its terms (if it has two).
        `supported_by` (hybrid: the query): only passages the model does not find unrelated to it,
        unless the query is one word, or the passage holds every literal term of the query (an
        acronym, a code, a quoted phrase), which the user means letter for letter whatever the
        model makes of it."""
        distinct = list(dict.fromkeys(match))
        scorer = self._scorer(match)
        matching = scorer.coverage(min(2, len(distinct))) if self.settings.keyword_pruning else None
        if matching is None:  # no frequent term to skip: every posting
            corpus = self.facets.corpus
            share, count = corpus.coverage([scorer.postings.get(t) for t in distinct])
            matching = np.flatnonzero((share[: len(corpus)] >= scorer.required - 1e-9) & (
                count[: len(corpus)] >= min(2, len(distinct))))
        # one word asked is not gated (the model reads a lone word poorly); a question of several
        # words reduced to one known term (the rest in another language) is
        if supported_by is not None and self.cutoff.support > -1 and len(matching) and (
                len(distinct) > 1 or len(terms(supported_by, self.language)) > 1):
            similarity = self._passage_similarities(supported_by, self.facets.passage_ids[matching], self.cutoff.support)
            supported = similarity >= self.cutoff.support
            literal = [t for w in literal_words(supported_by) for t in keyword_terms(w) or ()]
            if literal:
                supported |= self._holding_all(matching, [scorer.holders(t) for t in dict.fromkeys(literal)])
            if not supported.all():
                supported[~supported] = self._holding_phrase(supported_by, matching[~supported], scorer)
            matching = matching[supported]
        relevant = np.zeros(len(self.facets), dtype=bool)
        relevant[self.facets.passage_rows[matching]] = True
        return relevant

    def _holding_phrase(self, query: str, positions: np.ndarray, scorer: QueryScorer) -> np.ndarray:
        """Which of these passage positions hold a short query's words one after the other
        (`parts.holds_phrase`): as letter for letter as a quoted phrase, whatever the model makes of
        it ("compressed air" is in a case study's text, and hybrid search found nothing)."""
        phrase = phrase_of(query, self.language)
        holds = np.zeros(len(positions), dtype=bool)
        if not phrase or not len(positions) or not set(phrase) <= set(scorer.distinct):
            return holds
        candidates = np.flatnonzero(self._holding_all(positions, [scorer.holders(t) for t in dict.fromkeys(phrase)]))
        if len(candidates):
            ids = self.facets.passage_ids[positions[candidates]].tolist()
            texts = self.store.passages_by_id(ids)
            holds[candidates] = [pid in texts and holds_phrase(texts[pid][1].text, phrase, self.language) for pid in ids]
        return holds

    def _holding_all(self, positions: np.ndarray, holders: list[np.ndarray]) -> np.ndarray:
        """Which of these passage positions hold every one of the terms (the positions of their holders)."""
        holds = np.ones(len(positions), dtype=bool)
        for at in holders:
            have = np.zeros(len(self.facets.corpus), dtype=bool)
            have[at] = True
            holds &= have[positions]
        return holds

    def _absent_words(self, query: str) -> list[str]:
        """The query's words that no searchable passage contains (typing errors, or off-topic);
        none for a question in another language, whose words are not English ones misspelt."""
        if self.language not in (None, "en"):
            return []
        words = {w: set(keyword_terms(w) or ()) for w in terms(query)}
        present = self._present({t for stems in words.values() for t in stems})
        return [w for w, stems in words.items() if stems and not stems & present]

    def _keyword(self, match: tuple[str, ...], keep: np.ndarray, items: int) -> list[tuple[int, str, float]]:
        """(passage id, item id, BM25 score), best first, down to the `items`-th best item among
        `keep` (ties by passage id). Scored over the passages of a selective filter only, else over
        the passages holding the query's rarer terms when that provably gives the same top
        (`maxscore.py`), else over every posting."""
        scorer = self._scorer(match)
        within = None
        if int(keep.sum()) < len(keep):
            allowed = self.facets.passages(keep)
            within = allowed if len(allowed) <= self.settings.exact_filter_limit else None
        ranking = scorer.ranking(within) if self.settings.keyword_pruning else None
        self.keyword_path = "every posting" if ranking is None else "every posting (check failed)"
        if ranking is not None:
            top = self._top(ranking.positions, ranking.scores, keep, items)
            if ranking.bound == 0.0 or (top[3] and ranking.exact_above(top[2][-1])):
                self.keyword_path = "a filter's passages only" if within is not None else "frequent terms skipped"
                return top[0]
            if top[3] and (ranking := scorer.widened(top[2][-1])) is not None:
                top = self._top(ranking.positions, ranking.scores, keep, items)
                if top[3] and ranking.exact_above(top[2][-1]):  # (always: widening guarantees it)
                    self.keyword_path = "frequent terms skipped, widened"
                    return top[0]
        positions, scores = self._bm25(match)
        return self._top(positions, scores, keep, items)[0]

    def _top(self, positions: np.ndarray, scores: np.ndarray, keep: np.ndarray, items: int
             ) -> tuple[list[tuple[int, str, float]], np.ndarray, np.ndarray, bool]:
        """The best rows among `keep` down to the `items`-th item: (rows, their positions, their
        scores, whether they reach `items` items)."""
        rows = self.facets.passage_rows[positions]
        inside = keep[rows]
        positions, scores, rows = positions[inside], scores[inside], rows[inside]
        top = _best(scores, positions, rows, items)
        _, first = np.unique(rows[top], return_index=True)  # where each item first appears
        full = len(first) >= items
        if full:
            top = top[: int(np.sort(first)[items - 1]) + 1]
        pids = self.facets.passage_ids[positions[top]].tolist()
        return ([(pid, self.facets.ids[row], score) for pid, row, score in
                 zip(pids, rows[top].tolist(), scores[top].tolist())], positions[top], scores[top], full)


def _names(query: str, language: str | None) -> set[str]:
    """The index terms of the question's names: its words written with a capital letter, except
    the first word (a sentence's start)."""
    words = re.findall(r"[^\W_]+", query)
    return {t for w in words[1:] if w[:1].isupper() for t in keyword_terms(w, language) or ()}

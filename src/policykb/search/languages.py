"""The languages of a search: which model embeds the question, and how an English question
reaches items written in other languages through the multilingual model (a mixin of `Searcher`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

import numpy as np

from policykb.language import detect as lang
from policykb.search.flat_scores import flat_scores

if TYPE_CHECKING:
    from policykb.backends.embedded.facet_index import FacetIndex
    from policykb.backends.embedded.index import VectorIndex
    from policykb.backends.backend import Backend
    from policykb.search.relevance import Cutoff
    from policykb.backends.embedded.spaces import VectorSpace


class LanguageMixin:
    """Uses Searcher's `_semantic_set` and `_dense`."""

    backend: Backend
    space: VectorSpace
    index: VectorIndex
    facets: FacetIndex
    cutoff: Cutoff
    _cutoff: Cutoff | None
    _across: Any
    language: str | None
    doubtful: bool
    not_english: bool

    def _use_language(self, query: str, forced: str | None) -> dict[str, Any]:
        """The question's language (detected or forced); a question the main model does not cover
        goes to the multilingual model when the knowledge base has one (before anything is computed)."""
        detected = lang.detect(query)
        used = (forced or detected or "").lower() or None
        self.language = used if lang.written_in(query, used) else None
        if used is None and lang.plain_english_term(query):
            space = self.backend.main  # one English word or an acronym: the English model reads it best
        else:
            space = self.backend.space_for(used, any(c.isalpha() for c in query))
        self._use_space(space)
        self.doubtful = space is not self.backend.main and not forced and lang.doubtful(query)
        # sent to the multilingual model as a question in another language (not surely, maybe: a
        # short question), which it then compares with items mostly in English
        self.not_english = space is not self.backend.main and used not in (None, "en") and not self.doubtful
        return question_language(detected, used, space.key)

    def _main_model_agrees(self, query: str) -> bool:
        """For a question in no language surely (many typing errors, placeholder text) sent to the
        multilingual model: whether the main model also finds something close enough to it (a
        second opinion, since the multilingual model's similarities are close together)."""
        from policykb.search.relevance import cutoff

        main = self.backend.main
        index, facets = self.backend.snapshot(main)
        vector = main.embed_query(query)
        if index.approximate:
            found = index.search(vector, 1)
            best = found[0][1] if found else -1.0
        else:  # (the exact best, read from 8-bit codes first in a large index)
            best = max(flat_scores(index, main, facets, vector).best(), -1.0)
        s = self.backend.settings
        return best >= cutoff(main.key, s.min_similarity, s.similarity_margin, s.keyword_share, s.keyword_support).floor

    def _use_space(self, space: VectorSpace) -> None:
        """Search with this space's model and index (before anything is computed)."""
        if space is not self.space:
            self.space, self._cutoff = space, None
            self.index, self.facets = self.backend.snapshot(space)

    def _foreign(self) -> tuple[np.ndarray, Self] | None:
        """For a question the main model answers: the items written in a language it does not
        cover and the multilingual model does (a mask), and a searcher over that model's index for
        them, so that an English question finds a German practice too; None if there are none."""
        if self._across is False:
            self._across = None
            spaces, names = self.backend.spaces, self.facets.facets.get("language", ([],))[0]
            if self.space is self.backend.main and len(spaces) > 1:
                codes = [v for v in names if lang.covered(self.space.key, v) is False
                         and lang.covered(spaces[1].key, v) is not False]
                foreign = self.facets.mask({"language": codes}) if codes else None
                if foreign is not None and foreign.any():
                    reader = type(self)(self.backend)  # a Searcher (this class is one of its mixins)
                    reader.space, reader.facets, reader.across_languages = spaces[1], self.facets, True
                    reader.index = self.backend.snapshot(spaces[1])[0]
                    self._across = (foreign, reader)
        return self._across or None

    def _dense_across(self, query: str, keep: np.ndarray, items: int) -> list[tuple[int, str, float]]:
        """`_dense`, with the items in other languages scored by the multilingual model (its scores
        mapped linearly onto the main model's scale so that the two floors meet)."""
        across = self._foreign()
        if not across:
            return self._dense(query, keep, items)
        foreign, reader = across
        rows = self._dense(query, keep & ~foreign, items) + [
            (pid, item, self._on_our_scale(score, reader)) for pid, item, score in reader._dense(query, keep & foreign, items)]
        return sorted(rows, key=lambda r: (-r[2], r[0]))

    def _on_our_scale(self, score: float, reader: Self) -> float:
        """A similarity by the reader's model, mapped linearly onto this model's so the floors meet."""
        own, theirs = self.cutoff.floor, reader.cutoff.floor
        return own + (score - theirs) * (1 - own) / (1 - theirs)


def question_language(detected: str | None, used: str | None, model: str) -> dict[str, Any]:
    """What a result says about the question's language: detected, used (forced by the user, or
    detected), the model that embedded the question and whether it covers the language; a note in
    plain words when it does not."""
    covered = lang.covered(model, used)
    out: dict[str, Any] = {"detected": detected, "used": used, "covered": covered, "model": model}
    if covered is False:
        out["note"] = (f"Questions in {lang.language_name(used)} are matched less well by this knowledge base; "
                       "if few results come back, try asking in English.")
    return out


def keyword_note(language: dict[str, Any] | None) -> None:
    """A keyword search in a language other than English found nothing: say why, and what works."""
    used = (language or {}).get("used")
    if language is not None and used not in (None, "en"):
        language["note"] = (f"Keyword search matches words as they are written, so a question in "
                            f"{lang.language_name(used)} finds only items that use its words: hybrid or semantic "
                            "search finds items by meaning, whatever their language.")

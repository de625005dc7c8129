"""Search over a knowledge base: keyword (BM25 over the postings), semantic (exact over a flat
index, or FAISS IVF), hybrid (RRF), browse; disjunctive facet counts over the result set; similar
items. Per query, the BM25 scores of every matching passage and (flat index) the similarity of
every passage are computed once; each scope asked about (the result's, each facet's) is a mask.

The result set of a query is what the counts, the total, paging and exports describe: the items
relevant to it (`relevance.py`: a similarity floor, a keyword minimum-should-match, their union
in hybrid mode), inside the filters. Ranking happens inside that set. The keyword side is in
search/keyword.py (with maxscore.py), the semantic side in search/dense.py, the routing of a
question to a model by its language in search/languages.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from policykb.errors import InvalidQuery, NotFound
from policykb.language.detect import NAMES
from policykb.language.text import english_word
from policykb.language.words import has_content
from policykb.models import YEAR_MAX, YEAR_MIN, Hit, Item, Passage, SearchResult, document_link, public_source
from policykb.search.passages import also_pages, answering_order
from policykb.search.relevance import Cutoff, cutoff
from policykb.topics import TOPIC_FACETS, Topic
from policykb.search.parts import MODES, convex, first_scores as _first_scores, items_of as _items, \
    holds_phrase, phrase_of, rrf, snippet
from policykb.backends.embedded.maxscore import QueryScorer
from policykb.search.dense import DenseMixin
from policykb.search.keyword import KeywordMixin
from policykb.search.languages import LanguageMixin, keyword_note

if TYPE_CHECKING:
    from policykb.backends.backend import Backend
    from policykb.search.flat_scores import FlatScores
    from policykb.backends.embedded.spaces import VectorSpace

MAX_PAGE_SIZE = 1000
MAX_QUERY_CHARS = 1000  # a question longer than this as sent is refused (the API's bound too, so every interface agrees)
# ... and one longer than this once normalised (a ligature such as "ﬁ" is then two letters): generous
MAX_NORMALISED_CHARS = 4 * MAX_QUERY_CHARS
NEAREST = 3  # nearest items offered (as not matches) when nothing is relevant


def check_query_length(sent: str) -> None:
    """`InvalidQuery` for a question longer than MAX_QUERY_CHARS as the user sent it: counted before
    normalising, which may lengthen it (the facade checks, then normalises)."""
    if len(sent) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"the query is {len(sent):,} characters long; the limit is {MAX_QUERY_CHARS:,}",
                           {"length": len(sent)})


def check_years(year_from: int | None, year_to: int | None) -> None:
    """`InvalidQuery` for a year bound outside YEAR_MIN..YEAR_MAX or a range that ends before it starts
    (checked here, so the API, the CLI and the UI refuse the same years with the same message)."""
    for name, year in (("year_from", year_from), ("year_to", year_to)):
        if year is not None and not YEAR_MIN <= year <= YEAR_MAX:
            raise InvalidQuery(f"{name} {year} is not a year between {YEAR_MIN} and {YEAR_MAX}", {name: year})
    if year_from is not None and year_to is not None and year_from > year_to:
        raise InvalidQuery(f"year_from {year_from} is after year_to {year_to}")


class Searcher(DenseMixin, KeywordMixin, LanguageMixin):
    """One search (or one similar-items request) over a knowledge base's current generation."""

    def __init__(self, backend: Backend, cut: Cutoff | None = None) -> None:
        self.backend = backend
        self._cutoff = cut
        self.store = backend.store
        self.settings = backend.settings
        self.space: VectorSpace = backend.main  # the model that embeds the query (see _use_language)
        self.index, self.facets = backend.snapshot()  # one generation for the whole search
        self._qvec: np.ndarray | None = None
        self._sims: FlatScores | None = None  # flat index: every searchable passage's similarity
        self._exact: dict[int, float] = {}  # approximate index: exact similarities read so far (_exactly_near)
        self._scored: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}  # terms -> BM25 of matches
        self._scorers: dict[tuple[str, ...], QueryScorer] = {}  # terms -> their scoring (see _scorer)
        self.keyword_path = ""  # how the last keyword ranking was scored (see _keyword)
        self._masks: dict[tuple[Any, ...], np.ndarray] = {}  # see _mask
        self._across: tuple[np.ndarray, Searcher] | None | bool = False  # see _foreign (False: not yet asked)
        self.language: str | None = None  # the question's language, once known (see _use_language)
        self.doubtful = False  # a question that may be none (see _use_language)
        self.not_english = False  # sent to the multilingual model as another language's (see _use_language)
        self.across_languages = False  # an English question read against items in other languages
        self.topic: Topic | None | bool = False  # the question's topic (False: not yet asked; see _labelled)
        self._terms: dict[str, tuple[str, ...] | None] = {}  # see _match

    @property
    def cutoff(self) -> Cutoff:
        if self._cutoff is None:
            s = self.settings
            if self.space is self.backend.main:
                self._cutoff = cutoff(self.space.key, s.min_similarity, s.similarity_margin, s.keyword_share,
                                      s.keyword_support)
            else:  # the cut-off settings are the main model's; a second model uses its own calibration
                self._cutoff = cutoff(self.space.key, keyword_share=s.keyword_share)
        return self._cutoff

    def relevant(self, query: str, mode: str) -> np.ndarray:
        """The items relevant to a query in a mode (a mask over the facet index's items, whatever
        the filters)."""
        relevant = np.zeros(len(self.facets), dtype=bool)
        if not has_content(query, self.language):  # ("k", "ab" in German, "' OR 1=1 --": nothing to search for)
            relevant.setflags(write=False)
            return relevant
        match = self._match(query) if mode != "semantic" else None
        if match:
            relevant = self._keyword_set(match, query if mode == "hybrid" else None)
        if mode != "keyword":
            relevant |= self._semantic_set(query)
            if across := self._foreign():
                foreign, reader = across
                relevant |= reader._semantic_set(query) & foreign
            # a question that is a thematic value's label ("skills and talent") is about the items
            # labelled with it, however far their wording is from its few words (it found 0 of 15)
            for facet, value in self.backend.taxonomy.named(query, TOPIC_FACETS):
                relevant |= self._mask({facet: [value]}, None, None, None)
        relevant.setflags(write=False)
        return relevant

    # -- masks over the facet index's items ----------------------------------------------------

    def _mask(self, filters: dict[str, list[str]], year_from: int | None, year_to: int | None,
              relevant: np.ndarray | None) -> np.ndarray:
        """Items passing the filters and years, among the relevant ones if given (asked again, the
        same read-only mask: the total and the facet counts often ask about one scope)."""
        key = (tuple(sorted((name, tuple(values)) for name, values in filters.items())), year_from, year_to,
               relevant is None)
        if key not in self._masks:
            self._masks[key] = self.facets.mask(filters, year_from, year_to, base=relevant)
            self._masks[key].setflags(write=False)
        return self._masks[key]

    # -- search -------------------------------------------------------------------------------

    def search(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None, page: int = 1, size: int = 10,
               with_facets: bool = True, facet_size: int = 50, with_years: bool = False,
               language: str | None = None) -> SearchResult:
        if mode not in MODES:
            raise InvalidQuery(f"unknown mode {mode!r}; use one of {', '.join(MODES)}", {"mode": mode})
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidQuery(f"page must be >= 1 and size between 1 and {MAX_PAGE_SIZE}")
        check_years(year_from, year_to)
        if len(query) > MAX_NORMALISED_CHARS:  # (normalised: its length as sent was checked by the facade)
            raise InvalidQuery(f"the query is {len(query):,} characters long once normalised (ligatures and other "
                               f"compatibility characters written out); the limit is {MAX_NORMALISED_CHARS:,}",
                               {"normalised_length": len(query)})
        if language is not None and language.lower() not in NAMES:
            raise InvalidQuery(f"unknown language {language!r}: give one of {', '.join(sorted(NAMES))} (ISO 639-1), "
                               "or leave it out to have it detected", {"language": language})
        filters = self.backend.taxonomy.normalise_filters(filters)
        query = query.strip()
        offset = (page - 1) * size
        result = SearchResult(query, mode, 0, page, size, [])
        relevant = None
        if query and not any(c.isalnum() for c in query):  # punctuation alone ("?!"): nothing asked, nothing
            relevant = np.zeros(len(self.facets), dtype=bool)  # relevant (the model read the marks: 3 items)
        elif not query:
            keep = self._mask(filters, year_from, year_to, None)
            result.total = int(keep.sum())
            ids = self.facets.browse(keep, size, offset)
            result.hits = self._hits(ids, self.store.first_passages(ids), {}, query)
        else:
            result.language = self._use_language(query, language)
            match = self._match(query) if mode != "semantic" else None
            relevant = self.relevant(query, mode)
            result.topic = self.topic.as_dict() if self.topic else None
            keep = self._mask(filters, year_from, year_to, relevant)
            result.total = int(keep.sum())
            if result.total:
                depth = max(self.settings.candidates, offset + size)
                kw = self._keyword(match, keep, depth) if match else []
                dense = self._dense_across(query, keep, depth) if mode != "keyword" else []
                ranked, scores = self._rank(mode, kw, dense)
                result.hits = self._ranked_hits(ranked[offset: offset + size], kw, dense, scores, query)
            else:
                self._no_match(result, match, filters, year_from, year_to, relevant)
                if mode == "keyword":
                    keyword_note(result.language)
        if with_facets:
            result.facets = self._facets(filters, year_from, year_to, relevant, facet_size)
        if with_years:  # what the result set itself holds, for charts: values of every facet, start years
            keep = self._mask(filters, year_from, year_to, relevant)
            kept = np.flatnonzero(keep)
            result.values = {name: dict(self.facets.counts(name, keep, 1_000_000, kept)[0])
                             for name in self.backend.taxonomy.names}
            starts = self.facets.start[keep]
            known = starts[np.isfinite(starts)].astype(int)
            years, counts = np.unique(known, return_counts=True)
            result.start_years = dict(zip(years.tolist(), counts.tolist()))
            result.undated = int(len(starts) - len(known))
        return result

    def _no_match(self, result: SearchResult, match: tuple[str, ...] | None, filters: dict[str, list[str]], year_from: int | None, year_to: int | None,
                  relevant: np.ndarray) -> None:
        """Nothing relevant: the few nearest items (clearly not matches), the query's words that no
        item contains, and how many matches the query has without its filters."""
        base = self.facets.mask(filters, year_from, year_to)
        if result.mode == "keyword":
            rows = self._keyword(match, base, NEAREST) if match else []
        else:
            rows = self._dense(result.query, base, NEAREST)
        ids = _items(rows)[:NEAREST]
        scores = {i: round(s, 6) for i, s in _first_scores(rows).items()}
        result.nearest = self._ranked_hits(ids, rows if result.mode == "keyword" else [],
                                           rows if result.mode != "keyword" else [], scores, result.query)
        result.absent_terms = self._absent_words(result.query)
        result.unknown_terms = [w for w in result.absent_terms if not english_word(w)]
        if filters or year_from is not None or year_to is not None:
            result.total_without_filters = int(relevant.sum())

    def _ranked_hits(self, page_ids: list[str], kw: list[tuple[int, str, float]],
                     dense: list[tuple[int, str, float]], scores: dict[str, float], query: str) -> list[Hit]:
        items = self.store.get_items(page_ids)
        best, also = self._best_passages(items, kw, dense, query)
        return self._hits(page_ids, best, scores, query, items, also)

    def _rank(self, mode: str, kw: list[tuple[int, str, float]], dense: list[tuple[int, str, float]]
              ) -> tuple[list[str], dict[str, float]]:
        """Item ranking and item scores (an item scores by its best passage in each retriever)."""
        if mode == "semantic" or (dense and not kw):
            scores = _first_scores(dense)
            return _items(dense), {i: round(v, 6) for i, v in scores.items()}
        if mode == "keyword" or not dense:
            scores = _first_scores(kw)
            return _items(kw), {i: round(v, 6) for i, v in scores.items()}
        if self.settings.fusion == "convex":
            item_scores = convex(_first_scores(kw), _first_scores(dense), self.settings.hybrid_alpha)
        else:
            item_scores = rrf([_items(kw), _items(dense)], self.settings.rrf_k)
        dense_rank = {item: rank for rank, item in enumerate(_items(dense))}
        ranked = sorted(item_scores, key=lambda i: (-item_scores[i], dense_rank.get(i, len(dense_rank)), i))
        return ranked, {i: round(s, 6) for i, s in item_scores.items()}

    def _best_passages(self, items: dict[str, Item], kw: list[tuple[int, str, float]],
                       dense: list[tuple[int, str, float]], query: str
                       ) -> tuple[dict[str, Passage], dict[str, list[dict[str, Any]]]]:
        """Each shown item's passage that answers the question best (`passages.answering`): by the
        model's similarity (keyword mode: BM25) fused with the question's words that few of the
        item's passages hold; a cover page last. And for a document, the next pages in that order
        (`passages.also_pages`)."""
        if not items:
            return {}, {}
        match = self._match(query) if query else None
        terms = set(match or ())
        asked_in = self.language or "en"
        across = self._foreign() if dense and query else None  # items read by the multilingual model
        shown = self.store.passages_of(list(items))
        scored = None  # (every shown passage's similarity is known, unless keyword mode's scores stand for it)
        if dense or not kw:  # every shown passage's similarity, asked of each reader once
            similarity: dict[int, float] = {}
            for foreign in (False, True):
                reader = across[1] if foreign and across else self
                ids = np.array([pid for item, passages in shown.items() for pid, _ in passages
                                if bool(across and across[0][self.facets.row[item]]) == foreign], dtype=np.int64)
                if len(ids):
                    similarity.update(zip(ids.tolist(), reader._passage_similarities(query, ids).tolist()))
        else:
            similarity = {pid: score for pid, _, score in kw}
            scored = similarity
        best: dict[str, Passage] = {}
        also: dict[str, list[dict[str, Any]]] = {}
        alike = {item for item in shown if (items[item].facets.get("language") or ["en"])[0] == asked_in}
        held = self._held_terms(match, [row for item in alike if len(shown[item]) > 1 for row in shown[item]])
        phrase = phrase_of(query, self.language) if query and match else ()
        for item, passages in shown.items():  # (the question's words count only in its own language)
            leading = {pid for pid, p in passages if (held is None or pid not in held or set(phrase) <= held[pid])
                       and holds_phrase(p.text, phrase, self.language)} if phrase and len(passages) > 1 else ()
            order = answering_order(passages, similarity, terms if item in alike else set(), items[item].title,
                                    held=held, leading=leading)
            chosen = next(order)[0]
            by_id = dict(passages)
            best[item] = by_id[chosen]
            if best[item].page is not None and len(passages) > 1:
                also[item] = also_pages(order, by_id, chosen, scored=scored)
        return best, also

    def _hits(self, ids: list[str], passages: dict[str, Passage], scores: dict[str, float], query: str,
              items: dict[str, Item] | None = None, also: dict[str, list[dict[str, Any]]] | None = None) -> list[Hit]:
        """The hits of these items in order (`items`: already read), each showing its passage (and
        naming the other pages in `also`)."""
        items = self.store.get_items(ids) if items is None else items
        hits = []
        for item_id in ids:
            if item_id not in items:  # deleted by a write since this search began
                continue
            item, passage = items[item_id], passages.get(item_id)
            text = passage.text if passage else item.summary
            hits.append(Hit(
                id=item.id, kind=item.kind, title=item.title, score=scores.get(item_id, 0.0), passage=text,
                page=passage.page if passage else None, snippet=snippet(text, query), source=public_source(item.source, self.backend.home),
                url=item.url, facets=item.facets, summary=item.summary, region=item.region,
                start_year=item.start_year, end_year=item.end_year, section=passage.section if passage else None,
                also=(also or {}).get(item_id, []),
                file=document_link(item.id, item.source, passage.page if passage else None),
            ))
        return hits

    # -- facets -------------------------------------------------------------------------------

    def _facets(self, filters: dict[str, list[str]], year_from: int | None, year_to: int | None,
                relevant: np.ndarray | None, facet_size: int) -> dict[str, dict[str, Any]]:
        """Disjunctive counts over the relevant items: each facet counted with every filter applied
        except its own (relevance does not depend on filters, so each count is one mask)."""
        taxonomy = self.backend.taxonomy
        out: dict[str, dict[str, Any]] = {}
        keep = self._mask(filters, year_from, year_to, relevant)
        kept = np.flatnonzero(keep)  # shared by every facet that has no filter of its own
        for name in taxonomy.names:
            others = {k: v for k, v in filters.items() if k != name}
            if name in filters:
                facet_keep = self._mask(others, year_from, year_to, relevant)
                counts, truncated = self.facets.counts(name, facet_keep, facet_size, np.flatnonzero(facet_keep))
            else:
                counts, truncated = self.facets.counts(name, keep, facet_size, kept)
            selected = filters.get(name, [])
            values = [
                {"value": v, "label": taxonomy.label(name, v), "count": n, "selected": v in selected}
                for v, n in counts
            ]
            listed = {v for v, _ in counts}
            for v in selected:
                if v not in listed:
                    n = int(self._mask({**others, name: [v]}, year_from, year_to, relevant).sum())
                    values.append({"value": v, "label": taxonomy.label(name, v), "count": n, "selected": True})
            out[name] = {"label": taxonomy.facet(name).label, "values": values, "truncated": truncated}
        return out

    # -- similar items ------------------------------------------------------------------------

    def similar(self, item_id: str, k: int = 10, filters: dict[str, Any] | None = None,
                year_from: int | None = None, year_to: int | None = None) -> list[Hit]:
        """Items near in meaning to an item (its passages' centroid), only those that clear the
        similarity floor: none rather than unrelated ones. An item written in a language only the
        multilingual model reads is compared by that model; items in such languages are compared
        with an English one by that model too."""
        item = self.store.get_items([item_id]).get(item_id)
        if item is None or self.store.item_status(item_id) != "published":
            raise NotFound(f"no item with id {item_id!r}", {"id": item_id})
        check_years(year_from, year_to)
        self._use_space(self.backend.space_for((item.facets.get("language") or [None])[0]))
        passages = self.store.passage_ids(item_id)
        keep = self.facets.mask(self.backend.taxonomy.normalise_filters(filters), year_from, year_to)
        across = self._foreign()
        found = self._near(passages, keep & ~across[0] if across else keep, k, item_id)
        if across:
            foreign, reader = across
            found = sorted(found + [(pid, item, self._on_our_scale(score, reader)) for pid, item, score in
                                    reader._near(passages, keep & foreign, k, item_id)], key=lambda r: (-r[2], r[0]))
        ranked, scores = self._rank("semantic", [], found)
        return self._ranked_hits(ranked[:k], [], found, scores, "")

    def _near(self, passages: list[int], keep: np.ndarray, k: int, item_id: str) -> list[tuple[int, str, float]]:
        """Dense rows of the `k` items nearest to the centroid of these passages (this space's
        vectors) among `keep`, above the floor, the item itself left out."""
        ids, vectors = self.store.passage_vectors(self.space.key, passages)
        if not len(ids):
            return []
        centroid = vectors.mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        self._qvec, self._sims, self._exact = centroid.astype(np.float32), None, {}
        return [r for r in self._dense("", keep, k + 1) if r[1] != item_id and r[2] >= self.cutoff.similar_floor]

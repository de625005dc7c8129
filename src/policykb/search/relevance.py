"""When an item is relevant to a query: the cut-offs that decide a result set.

A result set is what every count describes (`total`, facet counts, paging, exports), so it holds
the items that clear a bar, never "the N nearest":

- semantic: the item's best passage has cosine similarity >= `floor` with the query, and (when a
  `margin` is set) >= the best passage in the whole knowledge base minus `margin` (for a model
  calibrated so, the floor follows how near the question is to everyday subjects: `Cutoff.gate`);
- keyword: one of the item's passages holds at least `keyword_share` of the query's informative
  weight (each distinct query term weighs its IDF, so a word found in most passages weighs
  almost nothing and a word found nowhere weighs most; short queries need more, long ones less)
  and at least two of its terms when it has two or more: a search engine's minimum-should-match;
- hybrid: the semantic matches, and the keyword matches whose matching passage the model does
  not find unrelated (similarity >= `support`), so a chance word match ("capital", "sit") in an
  unrelated text does not count.

None of these depends on the filters, so the set under a filter is the unfiltered set intersected
with it, and disjunctive facet counts are plain masks. Cosine levels differ between models, so
the floor is calibrated per model on judged data (`policykb eval --curve`; BENCHMARKS.md, "Result
sets") and can be overridden with POLICYKB_MIN_SIMILARITY and its neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from policykb.errors import PolicyKBError


@dataclass(frozen=True)
class Cutoff:
    """How close in meaning an item must be to a question to be relevant (see the module's text):
    `floor`: the best passage must reach it, or nothing is relevant ("no close match");
    `cross_floor`: the same for a question written in another language than the knowledge base
    (its similarities run lower), if the model has one; `margin`: an item is relevant within this
    much of the best passage, and at least `item_floor`; `topic`: a question this similar to a
    thematic facet value is about it (`topics.py`), and the items labelled with it are relevant
    within `topic_margin` of the best, or from `item_floor` on when the question is about the
    value at least as much as about its best match less `topical`."""

    floor: float
    margin: float | None = None
    keyword_share: float = 0.4
    support: float = -1.0
    item_floor: float | None = None
    topic: float | None = None
    topic_margin: float | None = None
    topical: float | None = None
    cross_floor: float | None = None
    similar: float | None = None  # similar items: an item at least this close to another (default: floor)
    everyday: tuple[float, float] | None = None  # (weight, from): see `gate`

    @property
    def similar_floor(self) -> float:
        return self.floor if self.similar is None else self.similar

    def required_share(self, terms: int) -> float:
        """The keyword share a passage needs for a query of this many distinct terms, conditional
        as search engines' minimum-should-match is: a short query (three terms or fewer) needs 1.5
        times `keyword_share` (0.6 by default), since one rare word of three is mostly chance; from
        four terms on, the share shrinks with the square root of the length, down to half of it
        (0.4 at four terms, 0.28 at eight, 0.2 from sixteen), since a long question's answer
        rarely repeats most of its words."""
        if terms <= 3:
            return min(1.0, 1.5 * self.keyword_share)
        return self.keyword_share * max(math.sqrt(4 / terms), 0.5)

    def gate(self, foreign: bool = False, everyday: float | None = None) -> float:
        """What the best passage must reach for anything to be relevant. With `everyday` (the
        question's similarity with the nearest everyday subject, `topics.Everyday`) and a model
        calibrated for it, the floor moves by `weight` x (everyday - `from`): up for a question that
        looks like one about cooking or the weather, down (to `item_floor` at most) for one unlike
        any. A model whose similarities lie close together finds policy texts about as near to
        "suklaakakun resepti" as to some questions about clusters; what tells them apart is that
        the first is nearer still to everyday life."""
        base = self.cross_floor if foreign and self.cross_floor is not None else self.floor
        if everyday is None or self.everyday is None:
            return base
        weight, start = self.everyday
        return max(base + weight * (everyday - start), base if self.item_floor is None else min(base, self.item_floor))

    def similarity_cut(self, best: float, foreign: bool = False, everyday: float | None = None) -> float:
        """The lowest similarity that is relevant when the best passage scores `best` (infinite
        when the best is under the floor: nothing in the knowledge base is close to the question)."""
        if best < self.gate(foreign, everyday):
            return math.inf
        low = self.floor if self.item_floor is None else self.item_floor
        return low if self.margin is None else max(low, best - self.margin)

    def topic_cut(self, best: float, topic: float, foreign: bool = False, everyday: float | None = None) -> float:
        """The same for the items labelled with the question's topic (`topic`: its similarity)."""
        if (self.topic is None or self.topic_margin is None or best < self.gate(foreign, everyday)
                or topic < self.topic):
            return math.inf
        low = self.floor if self.item_floor is None else self.item_floor
        if self.topical is not None and topic >= best - self.topical:
            return low
        return max(low, best - self.topic_margin)


# Calibrated per model key (BENCHMARKS.md, "Result sets"). The hashing embedder is a test double:
# its floor only separates texts that share words from texts that do not.
CALIBRATED: dict[str, Cutoff] = {
    "all-MiniLM-L6-v2": Cutoff(floor=0.30, margin=0.15, support=0.25, item_floor=0.20, topic=0.40, topic_margin=0.30,
                               topical=0.20, similar=0.40),
    # Multilingual USE v3: its cosines are lower and closer together (SciFact: floor 0.25 with a 0.2
    # margin keeps 1.97 % of the corpus at set recall 0.80; off-topic questions peak at 0.24).
    "use-multilingual-v3": Cutoff(floor=0.25, margin=0.20, support=0.20),
    # multilingual-e5-small: every cosine lies between 0.7 and 0.95, and a question in another
    # language than its answer scores lower than the same question in the answer's language; its
    # floor follows how near the question is to everyday subjects (BENCHMARKS.md, "Every EU language").
    "multilingual-e5-small": Cutoff(floor=0.82, cross_floor=0.80, margin=0.04, support=0.81, item_floor=0.78,
                                    topic=0.82, topic_margin=0.08, topical=0.04, similar=0.85,
                                    everyday=(0.5, 0.81)),
    "hashing": Cutoff(floor=0.25, margin=None, support=-1.0),
}


def cutoff(model: str, min_similarity: float | None = None, margin: float | None = None,
           keyword_share: float = 0.4, support: float | None = None) -> Cutoff:
    """The cut-off for `model`: each setting where given, else the value calibrated for the model.
    A model with no calibration and no POLICYKB_MIN_SIMILARITY is an error naming the setting
    (there is no safe guess: cosine levels differ from model to model)."""
    known = CALIBRATED.get(model)
    if known is None and min_similarity is None:
        raise PolicyKBError(
            f"no calibrated similarity floor for the model {model!r}: set POLICYKB_MIN_SIMILARITY "
            "(`policykb eval --curve` on a judged data set shows set size and recall per value)",
            {"setting": "POLICYKB_MIN_SIMILARITY", "model": model})
    default = known or Cutoff(floor=min_similarity if min_similarity is not None else 0.0)
    return replace(
        default,
        floor=min_similarity if min_similarity is not None else default.floor,
        # a floor set by hand is the floor for every item too, as it always was
        item_floor=None if min_similarity is not None else default.item_floor,
        everyday=None if min_similarity is not None else default.everyday,
        margin=(None if margin >= 2 else margin) if margin is not None else default.margin,
        keyword_share=keyword_share,
        support=support if support is not None else default.support,
    )

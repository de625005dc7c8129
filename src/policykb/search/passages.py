"""Which passage of an item answers a question: the one a result shows, with its page.

A long document (a slide deck, a guide) has many passages, and every one of them carries the
document's title for the model, so the title decides much of their similarity to a question that
names the document. What tells the answering slide from the others is what only it holds: the
question's words that few of the document's passages contain ("selected", "vouchers awarded")
weigh most; words on every page (the programme's name) weigh nothing. The shown passage is the
one ranked best by both orders fused: this within-document specificity and the model's
similarity. A cover page (a first page that is little more than the document's title) comes last: it
names the document but rarely answers anything, and so does a table of contents or an agenda
(a page naming three or more of the document's other headings).
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from policykb.language.terms import term, term_set, tokens, words
from policykb.models import Passage
from policykb.search.parts import rrf

COVER_EXTRA_WORDS = 12  # a page with fewer words than this besides the title's is a cover
ALSO_PAGES = 2  # other pages a result of a document names (`also_pages`)


def weighed(terms: set[str], held: Sequence[set[str]]) -> list[float]:
    """Each passage's specificity, given the question's terms each holds (`held_terms`): the summed
    weight of those terms, each weighing by how few of the passages hold it (an inverse document
    frequency inside one document)."""
    counts = {t: sum(t in h for h in held) for t in terms}
    weight = {t: math.log((len(held) + 1) / (n + 0.5)) for t, n in counts.items() if n}
    return [math.fsum(weight[t] for t in h) for h in held]  # (exact: whatever order a set gives its terms in)


@lru_cache(maxsize=4096)
def heading_terms(section: str | None) -> frozenset[str]:
    """The terms of a passage's heading (the same on many passages, and few)."""
    return frozenset(term_set(section or ""))


def held_terms(terms: set[str], passage: Passage) -> set[str]:
    """The question's terms a passage holds in its heading or its text (what `weighed` weighs)."""
    return (heading_terms(passage.section) | term_set(passage.text)) & terms


def is_cover(title: str, text: str, section: str | None = None) -> bool:
    """A passage that holds the document's title and little else, in its heading (`section`) and
    text together: a cover slide's largest line is read as its heading, and it is often the title
    itself, or its first part ("Lakeshire Innovation Voucher Scheme" above "Mid-term review, June
    2025"). Read only until it holds COVER_EXTRA_WORDS other words: most passages are told from a
    cover in their first line."""
    title_words = set(tokens(title))
    if not title_words:
        return False
    held: set[str] = set()
    extra = 0
    for word in map(term, words(f"{section}\n{text}" if section else text)):
        if word in title_words:
            held.add(word)
        elif word:
            extra += 1
            if extra >= COVER_EXTRA_WORDS:
                return False
    return held == title_words


def is_contents(text: str, headings: set[str]) -> bool:
    """A table of contents or an agenda: a passage that names three or more of the document's
    other section headings."""
    if len(headings) < 3:  # (nothing to look for: the text need not be read)
        return False
    folded = " ".join(tokens(text))
    return sum(1 for h in headings if (f := " ".join(tokens(h))) and f in folded) >= 3


def answering(passages: list[tuple[int, Passage]], similarity: dict[int, float], terms: set[str], title: str,
              k: int = 60, held: Mapping[int, set[str]] | None = None) -> int:
    """The id of the passage to show: by rank fusion of within-document specificity (when the
    question shares words with any passage; pass no `terms` when the question and the document
    are in different languages, where the words they share are names and numbers found on many
    pages) and the model's similarity; covers and contents pages last. `held`: which of the terms
    each passage holds (`held_terms`), when the caller knows it already (from the postings)."""
    return next(answering_order(passages, similarity, terms, title, k, held))[0]


def answering_order(passages: list[tuple[int, Passage]], similarity: dict[int, float], terms: set[str],
                    title: str, k: int = 60, held: Mapping[int, set[str]] | None = None,
                    leading: Container[int] = ()) -> Iterator[tuple[int, bool]]:
    """Passage ids as `answering` ranks them, best first, each with whether it may answer: the
    passages that are neither a cover nor a contents page (True), then those (False); read only as
    far as the caller takes them. `leading`: passages that come before the others (those holding a
    short question's words as a phrase: "trade union" showed the conclusion, which speaks of the
    European Union and of trade, instead of the page naming the trade union)."""
    if len(passages) == 1:
        yield passages[0][0], True
        return
    ids = [pid for pid, _ in passages]
    if terms:
        spec = weighed(terms, [held[pid] if held is not None else held_terms(terms, p) for pid, p in passages])
    else:
        spec = [0.0] * len(ids)
    orders = [sorted(ids, key=lambda pid: -similarity.get(pid, -1.0))]
    if any(spec):
        by_spec = dict(zip(ids, spec))
        orders.append(sorted(ids, key=lambda pid: (-by_spec[pid], -similarity.get(pid, -1.0))))
    fused = rrf(orders, k)
    by_spec = dict(zip(ids, spec))
    ranked = sorted(ids, key=lambda pid: (pid not in leading, -fused[pid], -by_spec[pid], -similarity.get(pid, -1.0), pid))
    headings = {p.section for _, p in passages if p.section and p.section != title}
    first = min(passages, key=lambda row: row[1].seq)[0]
    by_id = dict(passages)
    last = []
    for pid in ranked:
        p = by_id[pid]
        if (pid == first and is_cover(title, p.text, p.section)) or is_contents(p.text, headings - {p.section}):
            last.append(pid)
        else:
            yield pid, True
    for pid in last:  # (every passage is one of those when none came before)
        yield pid, False


def also_pages(order: Iterable[tuple[int, bool]], passages: Mapping[int, Passage], shown: int,
               count: int = ALSO_PAGES, scored: Container[int] | None = None) -> list[dict[str, Any]]:
    """The pages a result names beside the one it shows, best first: the pages of the next passages
    of `order` (the rest of what `answering_order` gives) that may answer, on another page than the
    shown passage's, at most `count`; with `scored`, only passages among those (keyword mode: the
    passages that hold the question's words, not the others that follow them in the order). A
    slide deck's passages lie close together in the multilingual model's similarity, and the page
    that answers is often the second or third."""
    seen = {passages[shown].page}
    out: list[dict[str, Any]] = []
    for pid, may_answer in order:
        if len(out) >= count or not may_answer:
            break
        p = passages[pid]
        if p.page is None or p.page in seen or pid == shown or (scored is not None and pid not in scored):
            continue
        seen.add(p.page)
        out.append({"page": p.page, "section": p.section})
    return out

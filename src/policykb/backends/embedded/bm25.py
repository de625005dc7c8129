"""Keyword scoring in numpy: postings and BM25 over the searchable passages, with no SQL in sight.

Why not FTS5 itself: it scores every passage matching any query term through a callback, which
at 100k passages costs tens of milliseconds per query; the same arithmetic over the postings of
the query terms, as arrays, costs a few.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

import numpy as np

K1 = 1.2
B = 0.75
POSITION = np.int32  # a passage's place in a corpus, as impacts hold it (13 bytes a posting with its impact and flag)
IMPACTS_BYTES = 128 * 2**20  # terms' impacts kept per corpus (`Corpus.impacts`)
# One posting: a passage id and how often the term occurs in its title and in its text.
POSTING = np.dtype([("passage", "<u4"), ("title", "<u2"), ("text", "<u2")])


class Impacts(NamedTuple):
    """One term's side of a corpus (`Corpus.impacts`): per searchable passage holding it, ascending
    by position, its impact, its position, and whether its text holds the term (not only its title
    and heading)."""

    values: np.ndarray
    positions: np.ndarray
    in_text: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.positions.nbytes + self.in_text.nbytes

    def text_holds(self, positions: np.ndarray) -> np.ndarray:
        """Whether the passage at each of these positions holds the term in its text."""
        if not len(self.positions):
            return np.zeros(len(positions), dtype=bool)
        at = np.minimum(np.searchsorted(self.positions, positions), len(self.positions) - 1)
        return (self.positions[at] == positions) & self.in_text[at]


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
    _impacts: dict[tuple[str, float], Impacts] = field(default_factory=dict, repr=False)
    _impact_bytes: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, passage_ids: np.ndarray, lengths: np.ndarray) -> Corpus:
        """The corpus of these passages (ids ascending: positions follow ids) with their lengths."""
        n = len(passage_ids)
        if n > 1 and not bool(np.all(passage_ids[1:] > passage_ids[:-1])):
            raise ValueError("a corpus's passage ids must be ascending")
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

    def known_impacts(self, term: str, title_weight: float = 1.0) -> Impacts | None:
        """The term's impacts if remembered (see `impacts`)."""
        with self._lock:
            found = self._impacts.pop((term, title_weight), None)
            if found is not None:
                self._impacts[(term, title_weight)] = found  # (last: the most recently used)
            return found

    def impacts(self, term: str, postings: np.ndarray, title_weight: float = 1.0) -> Impacts:
        """The impact `f / (f + norm)` of the term in each searchable passage holding it, those
        passages' positions (`POSITION`s, ascending for postings by passage id: positions follow
        ids), and whether each holds it in its text (not only in its title and heading). The most
        recently used terms' are remembered for this corpus, up to `IMPACTS_BYTES`."""
        found = self.known_impacts(term, title_weight)
        if found is not None:
            return found
        at = self._at(postings["passage"])
        searchable = at != len(self)
        text = postings["text"][searchable]
        freq = text + title_weight * postings["title"][searchable]
        found = Impacts(freq / (freq + self.norm[at[searchable]]), at[searchable].astype(POSITION), text > 0)
        with self._lock:
            self._impacts[(term, title_weight)] = found
            self._impact_bytes += found.nbytes
            while self._impact_bytes > IMPACTS_BYTES and len(self._impacts) > 1:
                dropped = self._impacts.pop(next(iter(self._impacts)))
                self._impact_bytes -= dropped.nbytes
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

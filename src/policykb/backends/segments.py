"""The keyword index's postings as segments, whatever database keeps them (no SQL here).

A store counts each new passage's terms when it writes the passage and buffers the postings
(`PostingsBuffer`) until its transaction commits, or until `FLUSH_POSTINGS` of them wait; then it
writes one new segment per term (a `bm25.POSTING` array) and, at commit, merges each written
term's segments like a binary counter (`absorbed`): the newest segment absorbs the ones before it
while each is at most twice the size gathered so far, so a term has O(log n) segments and a
posting is rewritten O(log n) times. Passages are never updated in place (a changed item gets new
passage ids, which are never reused), so a posting stays true for as long as its passage exists;
deleted passages' postings are skipped at query time and dropped when segments merge.
"""

from __future__ import annotations

from array import array
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from policykb.backends.embedded import bm25
from policykb.language.terms import term_counts

FLUSH_POSTINGS = 4_000_000  # buffered postings that trigger a write inside a long transaction


class BufferedPostings:
    """The side of a store's postings that knows no SQL: new passages' postings buffered per
    transaction, written as segments when the buffer is full or at commit (`_flush_postings`, which
    the store's transaction calls before it commits; `_reset_postings` after a rollback), and the
    passages' postings all made again. The store supplies `_insert_segments(rows)`,
    `_merge_segments(terms)`, `_postings_by_term(terms)`, `_passages_after(last id, limit)` (id,
    context, text) and `_set_lengths([(tokens, passage id)])`."""

    _insert_segments: Callable[[list[tuple[str, int, bytes]]], None]
    _merge_segments: Callable[[list[str]], None]
    _postings_by_term: Callable[[list[str]], list[np.ndarray]]
    _passages_after: Callable[[int, int], list[tuple[int, str | None, str]]]
    _set_lengths: Callable[[list[tuple[int, int]]], None]

    def _reset_postings(self) -> None:
        """Forget the buffered postings and the terms written (after a rollback, or at the start)."""
        self._pending = PostingsBuffer()
        self._touched: set[str] = set()  # terms given a new segment in this transaction

    def _add_postings(self, passage_id: int, counts: dict[str, tuple[int, int]]) -> None:
        """Buffer one new passage's postings (`term_counts`) until its transaction commits."""
        self._pending.add(passage_id, counts)
        if len(self._pending) >= FLUSH_POSTINGS:
            self._write_segments()

    def _flush_postings(self) -> None:
        """At commit: write what is buffered, then merge the segments of every term written to."""
        self._write_segments()
        if self._touched:
            self._merge_segments(sorted(self._touched))
        self._touched = set()

    def _write_segments(self) -> None:
        """The buffered postings as one new segment per term (a long write does this several times
        and merges once, at commit)."""
        rows = self._pending.take()
        if rows:
            self._insert_segments(rows)
            self._touched.update(r[0] for r in rows)

    def _index_all_passages(self, batch: int = 10_000) -> None:
        """Every passage's postings and length in tokens, made from its text (inside a transaction)."""
        last = -1
        while rows := self._passages_after(last, batch):
            lengths = []
            for pid, title, text in rows:
                counts, length = term_counts(title or "", text)
                self._add_postings(pid, counts)
                lengths.append((length, pid))
            self._set_lengths(lengths)
            last = rows[-1][0]

    def _index_copied(self, names: Sequence[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Copied passage rows (columns `names`: id, title, text, tokens among them) with their length in
        tokens as this tokenizer counts it; their postings are buffered as they arrive."""
        at = {name: i for i, name in enumerate(names)}
        counted = []
        for row in rows:
            counts, length = term_counts(row[at["title"]] or "", row[at["text"]])
            self._add_postings(row[at["id"]], counts)
            counted.append(tuple(length if name == "tokens" else row[i] for i, name in enumerate(names)))
        return counted

    def postings(self, terms: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Every posting of each term found (dead passages included: `bm25.Corpus` skips them)."""
        distinct = list(dict.fromkeys(terms))
        return {t: p for t, p in zip(distinct, self._postings_by_term(distinct)) if len(p)}


class PostingsBuffer:
    """New passages' postings, waiting to be written as segments."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._term_ids: dict[str, int] = {}
        self._columns = (array("I"), array("I"), array("H"), array("H"))  # term id, passage, title tf, text tf

    def __len__(self) -> int:
        return len(self._columns[0])

    def add(self, passage_id: int, counts: dict[str, tuple[int, int]]) -> None:
        """One passage's postings (`term_counts`)."""
        terms, passages, in_title, in_text = self._columns
        for term, (t, x) in counts.items():
            terms.append(self._term_ids.setdefault(term, len(self._term_ids)))
            passages.append(passage_id)
            in_title.append(t)
            in_text.append(x)

    def take(self) -> list[tuple[str, int, bytes]]:
        """What is buffered as one segment per term: (term, number of postings, `bm25.POSTING`
        bytes, by passage as added); the buffer is empty afterwards."""
        term_ids, passages, in_title, in_text = self._columns
        if not term_ids:
            return []
        names = list(self._term_ids)
        ids = np.frombuffer(term_ids, dtype=np.uint32)
        postings = np.empty(len(ids), dtype=bm25.POSTING)
        postings["passage"] = np.frombuffer(passages, dtype=np.uint32)
        postings["title"] = np.frombuffer(in_title, dtype=np.uint16)
        postings["text"] = np.frombuffer(in_text, dtype=np.uint16)
        order = np.argsort(ids, kind="stable")
        ids, postings = ids[order], postings[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]).tolist()
        ends = starts[1:] + [len(ids)]
        self.clear()
        return [(names[ids[a]], b - a, postings[a:b].tobytes()) for a, b in zip(starts, ends)]


def absorbed(older: Sequence[tuple[int, int]]) -> list[int]:
    """The ids of the segments to merge into one, given a term's (segment id, size), oldest first:
    the newest and the ones before it while each is at most twice the size gathered so far (only
    the newest: nothing to merge)."""
    count, size = 1, older[-1][1]
    while count < len(older) and older[-1 - count][1] <= 2 * size:
        size += older[-1 - count][1]
        count += 1
    return [seg_id for seg_id, _ in older[-count:]]


class Merger:
    """Merges each term's newest segments (`absorbed`) within one transaction, dropping the postings
    of passages that no longer exist; `read(segment ids)` gives segments' postings, `live()` the ids
    of the passages that exist (asked once, when a first merge needs them)."""

    def __init__(self, read: Callable[[list[int]], list[np.ndarray]], live: Callable[[], np.ndarray]) -> None:
        self._read, self._live = read, live
        self._alive: np.ndarray | None = None

    def merge(self, found: Iterable[tuple[str, int, int]]) -> tuple[list[tuple[str, int, bytes]], list[int]]:
        """Given terms' segments (term, segment id, size; oldest first), the merged segments to
        write (as `PostingsBuffer.take`) and the ids of the segments they replace."""
        older: dict[str, list[tuple[int, int]]] = {}
        for term, seg_id, size in found:
            older.setdefault(term, []).append((seg_id, size))
        rows, drop = [], []
        for term, segments in older.items():
            merged_ids = absorbed(segments)
            if len(merged_ids) == 1:
                continue
            if self._alive is None:
                live = self._live()
                self._alive = np.zeros(int(live.max(initial=0)) + 1, dtype=bool)
                self._alive[live] = True
            merged = bm25.merge(self._read(merged_ids), self._alive)
            drop += merged_ids
            rows.append((term, len(merged), merged.tobytes()))
        return rows, drop


def by_term(terms: list[str], rows: Iterable[tuple[str, bytes]]) -> list[np.ndarray]:
    """Each term's postings, its segments' rows (term, data; oldest first) concatenated."""
    parts: dict[str, list[np.ndarray]] = {t: [] for t in terms}
    for term, data in rows:
        parts[term].append(np.frombuffer(data, dtype=bm25.POSTING))
    return [np.concatenate(p) if p else np.zeros(0, dtype=bm25.POSTING) for p in parts.values()]


def disagreeing(rows: list[tuple[int, str | None, str, int | None]],
                postings_of: Callable[[list[str]], list[np.ndarray]]) -> list[int]:
    """The ids among the sampled passages (id, context, text, length in tokens) whose stored length
    or postings (`postings_of(terms)`: each term's postings) differ from their text's."""
    expected = {pid: term_counts(title or "", text) for pid, title, text, _ in rows}
    wrong = {pid for pid, _, _, tokens in rows if tokens != expected[pid][1]}
    terms = sorted({t for counts, _ in expected.values() for t in counts})
    found: dict[int, dict[str, tuple[int, int]]] = {pid: {} for pid in expected}
    sampled = np.array(sorted(expected), dtype=np.int64)
    for term, postings in zip(terms, postings_of(terms)):
        for pid, in_title, in_text in postings[np.isin(postings["passage"], sampled)].tolist():
            found[pid][term] = (in_title, in_text)
    return sorted(wrong | {pid for pid in expected if found[pid] != expected[pid][0]})

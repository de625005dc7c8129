"""The keyword index's side of `Store`: postings of every term, kept in step with the passages.

Each passage's terms are counted when it is written and buffered until its transaction commits
(or the buffer is full), then written as one new *segment* per term (`postings` rows: term, size,
a blob of `bm25.POSTING`); segments merge at commit.
Passages are never updated in place (a changed item gets new passage ids, which are never reused),
so a posting stays true for as long as its passage exists; deleted passages' postings are skipped
at query time and dropped when segments merge. Segments merge like a binary counter: a new segment
absorbs the ones before it while they are at most twice its size, so a term has O(log n) segments
and each posting is rewritten O(log n) times.
"""

from __future__ import annotations

import json
import sqlite3
from array import array

import numpy as np

from policykb.backends.embedded import bm25
from policykb.language.terms import TOKENIZER_VERSION, term_counts

FLUSH_POSTINGS = 4_000_000  # buffered postings that trigger a write inside a long transaction


class PostingsMixin:
    conn: sqlite3.Connection

    def _reset_postings(self) -> None:
        """Forget the buffered postings and the terms written (after a rollback, or at the start)."""
        self._clear_buffer()
        self._touched: set[str] = set()  # terms given a new segment in this transaction

    def _clear_buffer(self) -> None:
        self._term_ids: dict[str, int] = {}
        self._pending = (array("I"), array("I"), array("H"), array("H"))  # term id, passage, title tf, text tf

    def _create_postings_schema(self) -> None:
        """The postings table and the passages' token counts; filled from the passages when a
        knowledge base made before them is opened, and made again when its postings come from
        another version of the tokenizer (`TOKENIZER_VERSION`, kept in the meta table)."""
        if self._has_table("postings") and self._postings_current():
            return
        with self.transaction():
            if not self._has_table("postings"):
                self.conn.execute("CREATE TABLE postings (id INTEGER PRIMARY KEY, term TEXT NOT NULL, "
                                  "size INTEGER NOT NULL, data BLOB NOT NULL)")
                self.conn.execute("CREATE INDEX postings_term ON postings(term)")
                columns = {r[1] for r in self.conn.execute("PRAGMA table_info(passages)")}
                if "tokens" not in columns:
                    self.conn.execute("ALTER TABLE passages ADD COLUMN tokens INTEGER")
            elif self._postings_current():
                return  # another process got there first
            else:
                self.conn.execute("DELETE FROM postings")
            self._index_all_passages()
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('tokenizer', ?)",
                              [str(TOKENIZER_VERSION)])

    def _postings_current(self) -> bool:
        """Whether the postings were made by this version of the tokenizer (a knowledge base made
        before versions were recorded has version 1: FTS5's tokens)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone()
        return (row[0] if row else "1") == str(TOKENIZER_VERSION)

    def _has_table(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name]).fetchone() is not None

    def _index_all_passages(self) -> None:
        last = -1
        while rows := self.conn.execute("SELECT id, title, text FROM passages WHERE id > ? ORDER BY id LIMIT 10000",
                                        [last]).fetchall():
            lengths = []
            for pid, title, text in rows:
                counts, length = term_counts(title or "", text)
                self._add_postings(pid, counts)
                lengths.append((length, pid))
            self.conn.executemany("UPDATE passages SET tokens = ? WHERE id = ?", lengths)
            last = rows[-1][0]

    def rebuild_postings(self) -> int:
        """Write every term's postings again as one segment (drops what deletions left); returns the
        number of terms."""
        with self.transaction():
            self.conn.execute("DELETE FROM postings")
            self._index_all_passages()
        return self.conn.execute("SELECT count(DISTINCT term) FROM postings").fetchone()[0]

    def _add_postings(self, passage_id: int, counts: dict[str, tuple[int, int]]) -> None:
        """Buffer one new passage's postings (`term_counts`) until its transaction commits."""
        terms, passages, in_title, in_text = self._pending
        for term, (t, x) in counts.items():
            terms.append(self._term_ids.setdefault(term, len(self._term_ids)))
            passages.append(passage_id)
            in_title.append(t)
            in_text.append(x)
        if len(terms) >= FLUSH_POSTINGS:
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
        term_ids, passages, in_title, in_text = self._pending
        if not term_ids:
            return
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
        self._clear_buffer()
        rows = [(names[ids[a]], b - a, postings[a:b].tobytes()) for a, b in zip(starts, ends)]
        self.conn.executemany("INSERT INTO postings(term, size, data) VALUES (?, ?, ?)", rows)
        self._touched.update(r[0] for r in rows)

    def _merge_segments(self, terms: list[str], batch: int = 500) -> None:
        """For each term, the newest segment absorbs the ones before it while each is at most twice
        the size gathered so far; postings of passages that no longer exist are dropped."""
        alive: np.ndarray | None = None
        for at in range(0, len(terms), batch):
            segments: dict[str, list[tuple[int, int]]] = {}
            for term, seg_id, size in self.conn.execute(
                    "SELECT term, id, size FROM postings WHERE term IN (SELECT value FROM json_each(?)) ORDER BY id",
                    [json.dumps(terms[at: at + batch])]):
                segments.setdefault(term, []).append((seg_id, size))
            rows, drop = [], []
            for term, older in segments.items():
                absorbed, size = 1, older[-1][1]
                while absorbed < len(older) and older[-1 - absorbed][1] <= 2 * size:
                    size += older[-1 - absorbed][1]
                    absorbed += 1
                if absorbed == 1:
                    continue
                if alive is None:
                    live = self._live_passages()
                    alive = np.zeros(int(live.max(initial=0)) + 1, dtype=bool)
                    alive[live] = True
                merged_ids = [seg_id for seg_id, _ in older[-absorbed:]]
                merged = bm25.merge(self._segments(merged_ids), alive)
                drop += merged_ids
                rows.append((term, len(merged), merged.tobytes()))
            if drop:
                self.conn.execute("DELETE FROM postings WHERE id IN (SELECT value FROM json_each(?))",
                                  [json.dumps(drop)])
            self.conn.executemany("INSERT INTO postings(term, size, data) VALUES (?, ?, ?)", rows)

    def _segments(self, segment_ids: list[int]) -> list[np.ndarray]:
        rows = self.conn.execute("SELECT data FROM postings WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                                 [json.dumps(segment_ids)])
        return [np.frombuffer(r[0], dtype=bm25.POSTING) for r in rows]

    def postings(self, terms: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Every posting of each term found (dead passages included: `bm25.Corpus` skips them)."""
        distinct = list(dict.fromkeys(terms))
        return {t: p for t, p in zip(distinct, self._postings_by_term(distinct)) if len(p)}

    def _postings_by_term(self, terms: list[str]) -> list[np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {t: [] for t in terms}
        for term, data in self.conn.execute(
                "SELECT term, data FROM postings WHERE term IN (SELECT value FROM json_each(?)) ORDER BY id",
                [json.dumps(terms)]):
            parts[term].append(np.frombuffer(data, dtype=bm25.POSTING))
        return [np.concatenate(p) if p else np.zeros(0, dtype=bm25.POSTING) for p in parts.values()]

    def postings_disagreeing(self, sample: int) -> tuple[int, list[int]]:
        """How many passages were checked (`sample`, spread over all), and the ids of those whose
        postings or length in tokens differ from their stored text (for `policykb check`)."""
        total = self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        rows = self.conn.execute(
            "SELECT id, title, text, tokens FROM (SELECT id, title, text, tokens, row_number() OVER (ORDER BY id) AS n "
            "FROM passages) WHERE (n - 1) % ? = 0 LIMIT ?", [max(1, total // max(sample, 1)), sample]).fetchall()
        expected = {pid: term_counts(title or "", text) for pid, title, text, _ in rows}
        wrong = {pid for pid, _, _, tokens in rows if tokens != expected[pid][1]}
        terms = sorted({t for counts, _ in expected.values() for t in counts})
        found: dict[int, dict[str, tuple[int, int]]] = {pid: {} for pid in expected}
        sampled = np.array(sorted(expected), dtype=np.int64)
        for term, postings in zip(terms, self._postings_by_term(terms)):
            for pid, in_title, in_text in postings[np.isin(postings["passage"], sampled)].tolist():
                found[pid][term] = (in_title, in_text)
        return len(rows), sorted(wrong | {pid for pid in expected if found[pid] != expected[pid][0]})

    def _live_passages(self) -> np.ndarray:
        return np.fromiter((r[0] for r in self.conn.execute("SELECT id FROM passages")), dtype=np.int64)

    def postings_stats(self) -> dict[str, int]:
        row = self.conn.execute("SELECT count(DISTINCT term), count(*), coalesce(sum(size), 0) FROM postings").fetchone()
        return {"terms": row[0], "segments": row[1], "postings": row[2]}

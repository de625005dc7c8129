"""The keyword index's side of `Store`: postings of every term, kept in step with the passages.

Each passage's terms are counted when it is written and buffered until its transaction commits
(or the buffer is full), then written as one new *segment* per term (`postings` rows: term, size,
a blob of `bm25.POSTING`); segments merge at commit (`segments.py`: the buffer and the merge rule,
shared with the PostgreSQL store).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from policykb.backends import segments
from policykb.backends.embedded import bm25
from policykb.backends.segments import BufferedPostings
from policykb.language.terms import TOKENIZER_VERSION


class PostingsMixin(BufferedPostings):
    conn: sqlite3.Connection

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

    def _passages_after(self, last: int, limit: int) -> list[tuple[int, str | None, str]]:
        return self.conn.execute("SELECT id, title, text FROM passages WHERE id > ? ORDER BY id LIMIT ?",
                                 [last, limit]).fetchall()

    def _set_lengths(self, lengths: list[tuple[int, int]]) -> None:
        self.conn.executemany("UPDATE passages SET tokens = ? WHERE id = ?", lengths)

    def rebuild_postings(self) -> int:
        """Write every term's postings again as one segment (drops what deletions left); returns the
        number of terms."""
        with self.transaction():
            self.conn.execute("DELETE FROM postings")
            self._index_all_passages()
        return self.conn.execute("SELECT count(DISTINCT term) FROM postings").fetchone()[0]

    def _insert_segments(self, rows: list[tuple[str, int, bytes]]) -> None:
        self.conn.executemany("INSERT INTO postings(term, size, data) VALUES (?, ?, ?)", rows)

    def _merge_segments(self, terms: list[str], batch: int = 500) -> None:
        """For each term, the newest segment absorbs the ones before it while each is at most twice
        the size gathered so far; postings of passages that no longer exist are dropped."""
        merger = segments.Merger(self._segments, self._live_passages)
        for at in range(0, len(terms), batch):
            rows, drop = merger.merge(self.conn.execute(
                "SELECT term, id, size FROM postings WHERE term IN (SELECT value FROM json_each(?)) ORDER BY id",
                [json.dumps(terms[at: at + batch])]))
            if drop:
                self.conn.execute("DELETE FROM postings WHERE id IN (SELECT value FROM json_each(?))",
                                  [json.dumps(drop)])
            self._insert_segments(rows)

    def _segments(self, segment_ids: list[int]) -> list[np.ndarray]:
        rows = self.conn.execute("SELECT data FROM postings WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                                 [json.dumps(segment_ids)])
        return [np.frombuffer(r[0], dtype=bm25.POSTING) for r in rows]

    def _postings_by_term(self, terms: list[str]) -> list[np.ndarray]:
        return segments.by_term(terms, self.conn.execute(
            "SELECT term, data FROM postings WHERE term IN (SELECT value FROM json_each(?)) ORDER BY id",
            [json.dumps(terms)]))

    def postings_disagreeing(self, sample: int) -> tuple[int, list[int]]:
        """How many passages were checked (`sample`, spread over all), and the ids of those whose
        postings or length in tokens differ from their stored text (for `policykb check`)."""
        total = self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        rows = self.conn.execute(
            "SELECT id, title, text, tokens FROM (SELECT id, title, text, tokens, row_number() OVER (ORDER BY id) AS n "
            "FROM passages) WHERE (n - 1) % ? = 0 LIMIT ?", [max(1, total // max(sample, 1)), sample]).fetchall()
        return len(rows), segments.disagreeing(rows, self._postings_by_term)

    def _live_passages(self) -> np.ndarray:
        return np.fromiter((r[0] for r in self.conn.execute("SELECT id FROM passages")), dtype=np.int64)

    def postings_stats(self) -> dict[str, int]:
        row = self.conn.execute("SELECT count(DISTINCT term), count(*), coalesce(sum(size), 0) FROM postings").fetchone()
        return {"terms": row[0], "segments": row[1], "postings": row[2]}

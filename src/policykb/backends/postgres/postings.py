"""The keyword index's side of `PgStore`: every term's postings as segments (`postings` rows: term,
size, a `bytea` of `bm25.POSTING` records), buffered per transaction and merged at commit exactly
as the SQLite store does (`segments.py` holds the buffer and the merge rule both use)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Callable

import numpy as np

from policykb.backends import segments
from policykb.backends.embedded import bm25
from policykb.backends.segments import BufferedPostings
from policykb.language.terms import TOKENIZER_VERSION

if TYPE_CHECKING:
    import psycopg


class PostingsMixin(BufferedPostings):
    _db: psycopg.Connection
    transaction: Callable[[], AbstractContextManager[None]]
    get_meta: Callable[[str], str | None]
    set_meta: Callable[[str, str], None]

    def _check_postings(self) -> None:
        """Make every posting again when the database's postings come from another version of the
        tokenizer (`TOKENIZER_VERSION`, kept in the meta table; a new database gets it here)."""
        if self._postings_current():
            return
        with self.transaction():
            if self._postings_current():
                return  # another process got there first
            self._db.execute("DELETE FROM postings")
            self._index_all_passages()
            self.set_meta("tokenizer", str(TOKENIZER_VERSION))

    def _postings_current(self) -> bool:
        return self.get_meta("tokenizer") == str(TOKENIZER_VERSION)

    def _passages_after(self, last: int, limit: int) -> list[tuple[int, str | None, str]]:
        return self._db.execute("SELECT id, title, text FROM passages WHERE id > %s ORDER BY id LIMIT %s",
                                [last, limit]).fetchall()

    def _set_lengths(self, lengths: list[tuple[int, int]]) -> None:
        with self._db.cursor() as cur:
            cur.executemany("UPDATE passages SET tokens = %s WHERE id = %s", lengths)

    def rebuild_postings(self) -> int:
        """Write every term's postings again as one segment (drops what deletions left); returns the
        number of terms."""
        with self.transaction():
            self._db.execute("DELETE FROM postings")
            self._index_all_passages()
        return self._db.execute("SELECT count(DISTINCT term) FROM postings").fetchone()[0]

    def _insert_segments(self, rows: list[tuple[str, int, bytes]]) -> None:
        """New segments (term, size, data), their ids in this order (COPY: one round trip)."""
        if not rows:
            return
        with self._db.cursor() as cur, cur.copy("COPY postings (term, size, data) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int4", "bytea"])
            for row in rows:
                copy.write_row(row)

    def _merge_segments(self, terms: list[str], batch: int = 500) -> None:
        """For each term, the newest segment absorbs the ones before it while each is at most twice
        the size gathered so far; postings of passages that no longer exist are dropped."""
        merger = segments.Merger(self._segments, self._live_passages)
        for at in range(0, len(terms), batch):
            rows, drop = merger.merge(self._db.execute(
                "SELECT term, id, size FROM postings WHERE term = ANY(%s::text[]) ORDER BY id",
                [terms[at: at + batch]]).fetchall())
            if drop:
                self._db.execute("DELETE FROM postings WHERE id = ANY(%s::bigint[])", [drop])
            self._insert_segments(rows)

    def _segments(self, segment_ids: list[int]) -> list[np.ndarray]:
        rows = self._db.execute("SELECT data FROM postings WHERE id = ANY(%s::bigint[]) ORDER BY id",
                                [list(segment_ids)], binary=True)
        return [np.frombuffer(r[0], dtype=bm25.POSTING) for r in rows]

    def _postings_by_term(self, terms: list[str]) -> list[np.ndarray]:
        return segments.by_term(terms, self._db.execute(
            "SELECT term, data FROM postings WHERE term = ANY(%s::text[]) ORDER BY id", [terms], binary=True))

    def postings_disagreeing(self, sample: int) -> tuple[int, list[int]]:
        """How many passages were checked (`sample`, spread over all), and the ids of those whose
        postings or length in tokens differ from their stored text (for `policykb check`)."""
        total = self._db.execute("SELECT count(*) FROM passages").fetchone()[0]
        rows = self._db.execute(
            "SELECT id, title, text, tokens FROM (SELECT id, title, text, tokens, row_number() OVER (ORDER BY id) AS n "
            "FROM passages) AS numbered WHERE mod(n - 1, %s) = 0 ORDER BY n LIMIT %s",
            [max(1, total // max(sample, 1)), sample]).fetchall()
        return len(rows), segments.disagreeing(rows, self._postings_by_term)

    def _live_passages(self) -> np.ndarray:
        rows = self._db.execute("SELECT id FROM passages", binary=True).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def postings_stats(self) -> dict[str, int]:
        row = self._db.execute("SELECT count(DISTINCT term), count(*), coalesce(sum(size), 0) FROM postings").fetchone()
        return {"terms": row[0], "segments": row[1], "postings": int(row[2])}

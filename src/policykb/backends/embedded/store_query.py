"""The read side of `Store`: FTS5's own keyword search (the reference for `bm25.py`)."""

from __future__ import annotations

import sqlite3
from typing import Any


class QueryMixin:
    """SQLite FTS5's own BM25: the reference the tests hold the keyword index to (and a way in for
    anyone querying `kb.sqlite` directly). Searches use `bm25.Corpus` over the postings instead;
    filters, totals, facet counts and browsing are computed in memory by `FacetIndex`.
    """

    conn: sqlite3.Connection

    def keyword_top(self, match: str, limit: int, title_weight: float) -> list[tuple[int, float]]:
        """Best BM25 passages (id, score; higher is better) for an FTS5 expression, searching the
        full-text index alone (joins and filters happen afterwards, in memory)."""
        rows = self._query(
            "SELECT rowid, -bm25(passages_fts, ?, 1.0) AS score FROM passages_fts WHERE passages_fts MATCH ? "
            "ORDER BY bm25(passages_fts, ?, 1.0) LIMIT ?",
            [title_weight, match, title_weight, limit],
        )
        return [(r[0], r[1]) for r in rows]

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

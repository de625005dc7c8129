"""The read side of `Store`: scopes (filters, keyword match, id lists), counts, facets, keyword search."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np



@dataclass
class Scope:
    """Which items a query covers: facet filters AND year range AND (keyword match OR listed ids).

    With neither `match` nor `ids`, every published item passing the filters is in scope.
    """

    filters: dict[str, list[str]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    match: str | None = None
    ids: list[str] | None = None

    def without(self, facet: str) -> Scope:
        """The same scope with one facet's filter removed (for disjunctive facet counts)."""
        filters = {k: v for k, v in self.filters.items() if k != facet}
        return Scope(filters, self.year_from, self.year_to, self.match, self.ids)


class QueryMixin:
    """Keyword search over the full-text index; every value is a bound parameter.

    Filters, totals, facet counts and browsing are computed in memory by `FacetIndex`.
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

    def keyword_matches(self, match: str) -> np.ndarray:
        """Ids of every passage matching an FTS5 expression."""
        rows = self._query("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", [match])
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

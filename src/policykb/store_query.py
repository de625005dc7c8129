"""The read side of `Store`: scopes (filters, keyword match, id lists), counts, facets, keyword search."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any



@dataclass
class Scope:
    """Which items a query covers: facet filters AND year range AND (keyword match OR listed ids).

    With neither `match` nor `ids`, every published item passing the filters is in scope.
    """

    filters: dict[str, list[str]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    match: tuple[str, ...] | None = None  # index terms (see `search.keyword_terms`)
    ids: list[str] | None = None

    def without(self, facet: str) -> Scope:
        """The same scope with one facet's filter removed (for disjunctive facet counts)."""
        filters = {k: v for k, v in self.filters.items() if k != facet}
        return Scope(filters, self.year_from, self.year_to, self.match, self.ids)


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

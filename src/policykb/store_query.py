"""The read side of `Store`: scopes (filters, keyword match, id lists), counts, facets, keyword search."""

from __future__ import annotations

import json
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
    match: str | None = None
    ids: list[str] | None = None

    def without(self, facet: str) -> Scope:
        """The same scope with one facet's filter removed (for disjunctive facet counts)."""
        filters = {k: v for k, v in self.filters.items() if k != facet}
        return Scope(filters, self.year_from, self.year_to, self.match, self.ids)


class QueryMixin:
    """Keyword search over the store's tables; every value is a bound parameter.

    Totals, facet counts, browsing and filter masks are computed in memory by `FacetIndex`.
    """

    conn: sqlite3.Connection

    def _scope_sql(self, scope: Scope) -> tuple[str, list[Any]]:
        """SQL selecting the ids (column `id`) of the published items passing a scope's filters."""
        sql = ["SELECT i.id FROM items i WHERE i.status = 'published'"]
        params: list[Any] = []
        for facet, values in sorted(scope.filters.items()):
            # Not correlated (no EXISTS): SQLite evaluates the subquery once, not once per item.
            sql.append("AND i.id IN (SELECT item_id FROM item_facets WHERE facet = ? "
                       "AND value IN (SELECT value FROM json_each(?)))")
            params += [facet, json.dumps(values)]
        if scope.year_from is not None:
            sql.append("AND (i.end_year IS NULL OR i.end_year >= ?)")
            params.append(scope.year_from)
        if scope.year_to is not None:
            sql.append("AND (i.start_year IS NULL OR i.start_year <= ?)")
            params.append(scope.year_to)
        return " ".join(sql), params

    def keyword_search(self, scope: Scope, limit: int, title_weight: float) -> list[tuple[int, str, float, float]]:
        """Best BM25 passages matching `scope.match`: (id, item id, score, text-only score), best first.

        The title is repeated in every passage of an item, so it ranks items but says nothing about
        which of an item's passages answers best: the text-only score is for that choice.
        """
        assert scope.match is not None
        inner, params = self._scope_sql(Scope(scope.filters, scope.year_from, scope.year_to))
        rows = self._query(
            "SELECT p.id, p.item_id, -bm25(passages_fts, ?, 1.0), -bm25(passages_fts, 0.0, 1.0) FROM passages_fts "
            "JOIN passages p ON p.id = passages_fts.rowid "
            f"WHERE passages_fts MATCH ? AND p.item_id IN ({inner}) ORDER BY bm25(passages_fts, ?, 1.0) LIMIT ?",
            [title_weight, scope.match, *params, title_weight, limit],
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

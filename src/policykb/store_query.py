"""The read side of `Store`: scopes (filters, keyword match, id lists), counts, facets, keyword search."""

from __future__ import annotations

import json
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
    """Search queries over the store's tables; every value is a bound parameter.

    A scope's keyword matches and listed ids are materialised once per thread into a temporary
    table (`scope_ids`, one slot per distinct scope, reused while the store's generation stays),
    so the total and the ten facet counts of one search each join a small indexed table instead
    of re-running the full-text match.
    """

    conn: sqlite3.Connection
    _local: Any
    generation: int

    def _slot(self, match: str | None, ids: list[str] | None) -> int:
        """The temp-table slot holding the items that match `match` or are listed in `ids`."""
        key = (self.generation, match, tuple(ids) if ids is not None else None)
        slots: dict[Any, int] = getattr(self._local, "slots", None) or {}
        if not slots:
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS scope_ids "
                              "(slot INTEGER, id TEXT, PRIMARY KEY (slot, id)) WITHOUT ROWID")
            self.conn.execute("DELETE FROM scope_ids")
            self._local.slots = slots
        if key in slots:
            return slots[key]
        if len(slots) >= 32:  # forget old scopes
            self.conn.execute("DELETE FROM scope_ids")
            slots.clear()
        slot = len(slots) + 1
        if match is not None:
            self.conn.execute(
                "INSERT OR IGNORE INTO scope_ids(slot, id) SELECT ?, p.item_id FROM passages_fts "
                "JOIN passages p ON p.id = passages_fts.rowid WHERE passages_fts MATCH ?", [slot, match])
        if ids:
            self.conn.executemany("INSERT OR IGNORE INTO scope_ids(slot, id) VALUES (?, ?)",
                                  [(slot, i) for i in ids])
        slots[key] = slot
        return slot

    def _scope_sql(self, scope: Scope) -> tuple[str, list[Any]]:
        """SQL selecting the ids (column `id`) of the items in `scope`."""
        params: list[Any] = []
        if scope.match is not None or scope.ids is not None:
            sql = ["SELECT i.id FROM scope_ids s JOIN items i ON i.id = s.id WHERE s.slot = ? "
                   "AND i.status = 'published'"]
            params.append(self._slot(scope.match, scope.ids))
        else:
            sql = ["SELECT i.id FROM items i WHERE i.status = 'published'"]
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

    def count(self, scope: Scope) -> int:
        sql, params = self._scope_sql(scope)
        return self._query(f"SELECT count(*) FROM ({sql})", params)[0][0]

    def facet_counts(self, facet: str, scope: Scope, limit: int) -> tuple[list[tuple[str, int]], bool]:
        """Value counts of one facet over a scope, biggest first; `limit + 1` rows flag truncation."""
        sql, params = self._scope_sql(scope)
        rows = self._query(
            f"SELECT f.value, count(*) AS n FROM ({sql}) sc JOIN item_facets f ON f.item_id = sc.id "
            "AND f.facet = ? GROUP BY f.value ORDER BY n DESC, f.value LIMIT ?",
            [*params, facet, limit + 1],
        )
        return [(r[0], r[1]) for r in rows[:limit]], len(rows) > limit

    def browse(self, scope: Scope, limit: int, offset: int = 0) -> list[str]:
        """Item ids in scope, in title order."""
        sql, params = self._scope_sql(scope)
        rows = self._query(
            f"SELECT id FROM items WHERE id IN ({sql}) ORDER BY title COLLATE NOCASE, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [r[0] for r in rows]

    def allowed_passage_ids(self, scope: Scope) -> np.ndarray:
        sql, params = self._scope_sql(scope)
        rows = self._query(f"SELECT id FROM passages WHERE item_id IN ({sql})", params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

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

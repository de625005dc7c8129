"""In-memory facet index: counts, filters, totals and browsing over numpy arrays.

Built from the store once per generation (it only reads), then shared by every search: filters
become boolean masks over the published items, facet counts a `bincount` over the masked rows.
At 100k items that is a few milliseconds where the same counts in SQL took hundreds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from .store import Store


class FacetIndex:
    """Published items in browse (title) order, with their facet values, years and passages."""

    def __init__(self, store: Store, facets: Iterable[str]) -> None:
        items = store.published_items()  # (id, start_year, end_year), in title order
        self.ids = [r[0] for r in items]
        self.row = {item_id: i for i, item_id in enumerate(self.ids)}
        self.start = np.array([r[1] if r[1] is not None else -np.inf for r in items], dtype=float)
        self.end = np.array([r[2] if r[2] is not None else np.inf for r in items], dtype=float)
        self.facets: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        for name in facets:
            pairs = [(self.row[i], v) for i, v in store.facet_pairs(name) if i in self.row]
            values = sorted({v for _, v in pairs})
            code = {v: c for c, v in enumerate(values)}
            rows = np.fromiter((r for r, _ in pairs), dtype=np.int64, count=len(pairs))
            codes = np.fromiter((code[v] for _, v in pairs), dtype=np.int64, count=len(pairs))
            self.facets[name] = (values, rows, codes)
        passages = sorted(store.published_passages())  # (passage id, item id), by passage id
        self.passage_ids = np.fromiter((p for p, _ in passages), dtype=np.int64, count=len(passages))
        self.passage_rows = np.fromiter((self.row[i] for _, i in passages), dtype=np.int64, count=len(passages))

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of_passages(self, passage_ids: np.ndarray) -> np.ndarray:
        """Item row of each passage id; -1 where the passage is not searchable."""
        passage_ids = np.asarray(passage_ids, dtype=np.int64)
        at = np.searchsorted(self.passage_ids, passage_ids)
        at = np.minimum(at, max(len(self.passage_ids) - 1, 0))
        if not len(self.passage_ids):
            return np.full(len(passage_ids), -1, dtype=np.int64)
        return np.where(self.passage_ids[at] == passage_ids, self.passage_rows[at], -1)

    def base(self, ids: Iterable[str] = (), passage_ids: np.ndarray | None = None) -> np.ndarray:
        """Items listed by id, or owning one of the passages."""
        keep = np.zeros(len(self.ids), dtype=bool)
        keep[[self.row[i] for i in ids if i in self.row]] = True
        if passage_ids is not None and len(passage_ids):
            rows = self.rows_of_passages(passage_ids)
            keep[rows[rows >= 0]] = True
        return keep

    def mask(self, filters: dict[str, list[str]], year_from: int | None = None, year_to: int | None = None,
             ids: Iterable[str] | None = None, base: np.ndarray | None = None) -> np.ndarray:
        """Items passing every filter (values OR-ed within a facet) and the years, among `base` (a mask)
        or `ids` if given, else among all."""
        if base is not None:
            keep = base.copy()
        elif ids is not None:
            keep = self.base(ids)
        else:
            keep = np.ones(len(self.ids), dtype=bool)
        for name, wanted in filters.items():
            values, rows, codes = self.facets[name]
            wanted_codes = [c for c, v in enumerate(values) if v in set(wanted)]
            passing = np.zeros(len(self.ids), dtype=bool)
            passing[rows[np.isin(codes, wanted_codes)]] = True
            keep &= passing
        if year_from is not None:
            keep &= self.end >= year_from
        if year_to is not None:
            keep &= self.start <= year_to
        return keep

    def counts(self, name: str, keep: np.ndarray, limit: int) -> tuple[list[tuple[str, int]], bool]:
        """Value counts of one facet over the kept items, biggest first (ties by value); truncated?"""
        values, rows, codes = self.facets[name]
        counted = np.bincount(codes[keep[rows]], minlength=len(values))
        present = [(values[c], int(n)) for c, n in enumerate(counted) if n]
        present.sort(key=lambda vn: (-vn[1], vn[0]))
        return present[:limit], len(present) > limit

    def browse(self, keep: np.ndarray, limit: int, offset: int = 0) -> list[str]:
        return [self.ids[r] for r in np.flatnonzero(keep)[offset: offset + limit]]

    def passages(self, keep: np.ndarray) -> np.ndarray:
        """Ids of the passages of the kept items."""
        return self.passage_ids[keep[self.passage_rows]]

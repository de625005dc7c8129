"""What the in-process facet index reads from `Store`: the searchable items in browse order, their
facet values and passages; all of them (a build), or those of a few items (following a change)."""

from __future__ import annotations

import json
import sqlite3

PUBLISHED = "SELECT id FROM items WHERE status = 'published'"
LISTED = "SELECT value FROM json_each(?)"


class IndexReadsMixin:
    conn: sqlite3.Connection

    def _create_browse_index(self) -> None:
        """Browse order, covering what the facet index reads (`published_items`): read in order from a
        small index, not sorted from the items table (at a million items, from a cold cache: 12 s ->
        1.1 s). Made once in an older file (5 s at a million)."""
        self.conn.execute("CREATE INDEX IF NOT EXISTS items_browse ON items(status, title COLLATE NOCASE, id, "
                          "start_year, end_year)")

    def published_items(self) -> list[tuple[str, int | None, int | None]]:
        """(id, start year, end year) of the searchable items, in browse (title) order."""
        return self.conn.execute(
            "SELECT id, start_year, end_year FROM items WHERE status = 'published' "
            "ORDER BY title COLLATE NOCASE, id").fetchall()

    def facet_pairs(self, facet: str) -> list[tuple[str, str]]:
        return self.conn.execute("SELECT item_id, value FROM item_facets WHERE facet = ?", [facet]).fetchall()

    def published_passages(self) -> list[tuple[int, str, int]]:
        """(passage id, item id, length in tokens) of the searchable passages, by passage id."""
        return self.conn.execute(
            f"SELECT id, item_id, tokens FROM passages WHERE item_id IN ({PUBLISHED}) ORDER BY id").fetchall()

    # -- of a few items -------------------------------------------------------------------------

    def browse_keys(self, ids: list[str]) -> dict[str, str]:
        """Each listed item's title as browse order compares it (ASCII letters folded, as NOCASE
        does; then compared as UTF-8 bytes, and ties by id)."""
        return dict(self.conn.execute(f"SELECT id, lower(title) FROM items WHERE id IN ({LISTED})", [json.dumps(ids)]))

    def published_items_of(self, ids: list[str]) -> list[tuple[str, int | None, int | None]]:
        """`published_items` of the listed items only (in no particular order)."""
        return self.conn.execute(f"SELECT id, start_year, end_year FROM items WHERE status = 'published' "
                                 f"AND id IN ({LISTED})", [json.dumps(ids)]).fetchall()

    def facet_pairs_of(self, ids: list[str]) -> list[tuple[str, str, str]]:
        """(item id, facet, value) of the listed items."""
        return self.conn.execute(f"SELECT item_id, facet, value FROM item_facets WHERE item_id IN ({LISTED})",
                                 [json.dumps(ids)]).fetchall()

    def published_passages_of(self, ids: list[str]) -> list[tuple[int, str, int]]:
        """`published_passages` of the listed items only."""
        return self.conn.execute(f"SELECT p.id, p.item_id, p.tokens FROM passages p JOIN items i ON i.id = p.item_id "
                                 f"WHERE i.status = 'published' AND p.item_id IN ({LISTED}) ORDER BY p.id",
                                 [json.dumps(ids)]).fetchall()

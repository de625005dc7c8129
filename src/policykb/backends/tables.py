"""The tables every store keeps, with their columns, in an order that satisfies their references:
what a copy from one store to another carries (`backends/copy.py`). Derived data is not among
them: the keyword postings (and SQLite's FTS5 index) are rebuilt from the passages, the vector
indexes from the cached vectors, the meta keys by each store for itself (the generation aside)."""

from __future__ import annotations

TABLES: dict[str, tuple[str, ...]] = {
    "items": ("id", "kind", "title", "summary", "description", "region", "organisation", "start_year", "end_year",
              "links", "language", "source", "pages", "content_hash", "status", "added_at", "updated_at"),
    "item_facets": ("item_id", "facet", "value"),
    "passages": ("id", "item_id", "seq", "page", "section", "title", "text", "hash", "tokens"),
    "vectors": ("model", "hash", "vector"),
    "files": ("path", "hash", "size", "item_ids", "ingested_at"),
    "contributions": ("id", "token_hash", "status", "record", "file_name", "file_path", "client", "reason",
                      "item_id", "checks", "submitted_at", "updated_at"),
    "submissions": ("id", "client", "at"),
    "audit": ("id", "at", "actor", "action", "target", "before", "after", "note"),
    "item_versions": ("id", "item_id", "version", "replaced_at", "replaced_by", "status", "item", "passages"),
    "purged": ("item_id", "source", "content_hash", "purged_at"),
}
# Tables whose integer `id` a store numbers itself (a copy keeps the ids; the store's counter follows).
NUMBERED = ("passages", "submissions", "audit", "item_versions")


def columns(table: str) -> tuple[str, ...]:
    """A copied table's columns; a name that is not one of them is refused (names go into SQL)."""
    if table not in TABLES:
        raise ValueError(f"not a copied table: {table!r}")
    return TABLES[table]

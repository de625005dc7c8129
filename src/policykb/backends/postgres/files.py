"""The ingested files, as part of `PgStore`: which file (by path) holds which items, with its hash."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from policykb.backends.rows import now

if TYPE_CHECKING:
    import psycopg


class FilesMixin:
    _db: psycopg.Connection

    def file_record(self, path: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT hash, size, item_ids FROM files WHERE path = %s", [path]).fetchone()
        if row is None:
            return None
        return {"hash": row[0], "size": row[1], "item_ids": json.loads(row[2])}

    def upsert_file(self, path: str, digest: str, size: int, item_ids: list[str]) -> None:
        self._db.execute(
            "INSERT INTO files (path, hash, size, item_ids, ingested_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (path) "
            "DO UPDATE SET hash = EXCLUDED.hash, size = EXCLUDED.size, item_ids = EXCLUDED.item_ids, "
            "ingested_at = EXCLUDED.ingested_at", [path, digest, size, json.dumps(item_ids), now()])

    def drop_from_file(self, path: str, item_id: str) -> None:
        """The file no longer lists `item_id` among its items (it was purged)."""
        self._db.execute(
            "UPDATE files SET item_ids = (SELECT coalesce(jsonb_agg(j.value ORDER BY j.n), '[]'::jsonb)::text "
            "FROM jsonb_array_elements(files.item_ids::jsonb) WITH ORDINALITY AS j(value, n) "
            "WHERE j.value <> to_jsonb(%s::text)) WHERE path = %s", [item_id, path])

    def delete_file(self, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE path = %s", [path])

    def file_paths(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT path FROM files ORDER BY path")]

    def files_disagreeing(self) -> list[tuple[str, str]]:
        """(file, item id) pairs where a file lists an item that is missing or owned by another file."""
        return [(r[0], r[1]) for r in self._db.execute(
            "SELECT f.path, j.value FROM files f CROSS JOIN LATERAL jsonb_array_elements_text(f.item_ids::jsonb) "
            "AS j(value) LEFT JOIN items i ON i.id = j.value WHERE i.source IS DISTINCT FROM f.path "
            "ORDER BY f.path, j.value COLLATE \"C\"")]

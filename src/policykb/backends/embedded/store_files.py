"""The ingested files, as part of `Store`: which file (by path) holds which items, with its hash."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from policykb.backends.rows import now


class FilesMixin:
    conn: sqlite3.Connection

    def file_record(self, path: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT hash, size, item_ids FROM files WHERE path = ?", [path]).fetchone()
        if row is None:
            return None
        return {"hash": row[0], "size": row[1], "item_ids": json.loads(row[2])}

    def upsert_file(self, path: str, digest: str, size: int, item_ids: list[str]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO files(path, hash, size, item_ids, ingested_at) VALUES (?, ?, ?, ?, ?)",
            [path, digest, size, json.dumps(item_ids), now()],
        )

    def drop_from_file(self, path: str, item_id: str) -> None:
        """The file no longer lists `item_id` among its items (it was purged)."""
        self.conn.execute("UPDATE files SET item_ids = (SELECT json_group_array(value) FROM json_each(files.item_ids) "
                          "WHERE value != ?) WHERE path = ?", [item_id, path])

    def delete_file(self, path: str) -> None:
        self.conn.execute("DELETE FROM files WHERE path = ?", [path])

    def file_paths(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM files ORDER BY path")]

    def files_disagreeing(self) -> list[tuple[str, str]]:
        """(file, item id) pairs where a file lists an item that is missing or owned by another file."""
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT f.path, j.value FROM files f, json_each(f.item_ids) j LEFT JOIN items i ON i.id = j.value "
            "WHERE i.source IS NOT f.path ORDER BY f.path, j.value")]

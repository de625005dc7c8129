"""The passages' vectors, as part of `Store`: the vector cache (by passage hash and model) and
what the vector index is built and re-scored from."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterator

import numpy as np


class VectorsMixin:
    conn: sqlite3.Connection

    def cached_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        rows = self.conn.execute(
            "SELECT hash, vector FROM vectors WHERE model = ? AND hash IN (SELECT value FROM json_each(?))",
            [model, json.dumps(hashes)],
        )
        return {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in rows}

    def cache_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors(model, hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )

    def passage_vectors(self, model: str, passage_ids: list[int] | None = None,
                        searchable_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of passages whose vector is cached for `model`: the given ones (of published
        items only if `searchable_only`), or without ids all searchable ones, which is exactly what
        the vector index holds."""
        sql = "SELECT p.id, v.vector FROM passages p JOIN vectors v ON v.hash = p.hash AND v.model = ? WHERE 1"
        params: list[Any] = [model]
        if passage_ids is None or searchable_only:
            sql += " AND p.item_id IN (SELECT id FROM items WHERE status = 'published')"
        if passage_ids is not None:
            sql += " AND p.id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps([int(i) for i in passage_ids]))
        rows = self.conn.execute(sql + " ORDER BY p.id", params).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, 0), dtype=np.float32)
        return ids, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def iter_passage_vectors(self, model: str, batch: int = 50_000,
                             ordered: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All searchable passages' (ids, vectors) in batches, so a million never sit in memory twice;
        by passage id (`ordered` False allows any order: the same here)."""
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT p.id, v.vector FROM passages p JOIN vectors v ON v.hash = p.hash AND v.model = ? "
                "WHERE p.id > ? AND p.item_id IN (SELECT id FROM items WHERE status = 'published') "
                "ORDER BY p.id LIMIT ?", [model, last, batch]).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                   np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1))

    def passage_texts(self) -> list[tuple[str, str, str]]:
        """(hash, context, text) of every passage, as the model sees them."""
        return self.conn.execute("SELECT hash, title, text FROM passages ORDER BY id").fetchall()

    def passages_missing_vectors(self, model: str) -> list[tuple[str, str, str]]:
        """(hash, title, text) of passages with no cached vector for `model`."""
        rows = self.conn.execute(
            "SELECT DISTINCT p.hash, p.title, p.text FROM passages p LEFT JOIN vectors v "
            "ON v.hash = p.hash AND v.model = ? WHERE v.hash IS NULL",
            [model],
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def prune_vector_cache(self, model: str) -> int:
        """Drop cached vectors no passage uses any more."""
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM vectors WHERE model = ? AND hash NOT IN (SELECT hash FROM passages)", [model]
            )
        return cur.rowcount

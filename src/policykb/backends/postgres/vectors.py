"""The vector cache of `PgStore`: one vector per (model, passage hash), and the searchable passages'
vectors that the in-process vector indexes are built from.

In this phase a vector is stored as `bytea`, its float32 values in the machine's byte order, as
the SQLite store keeps them; `to_column` and `from_column` (and the SQL below) are the only places
that know it, so storing pgvector `vector` columns instead changes this module alone.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

if TYPE_CHECKING:
    import psycopg

JOIN = "FROM passages p JOIN vectors v ON v.hash = p.hash AND v.model = %s"
PUBLISHED = "p.item_id IN (SELECT id FROM items WHERE status = 'published')"


def to_column(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_column(value: bytes) -> np.ndarray:
    return np.frombuffer(value, dtype=np.float32)


def _matrix(values: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(values), dtype=np.float32).reshape(len(values), -1)


class VectorsMixin:
    _db: psycopg.Connection
    transaction: Callable[[], AbstractContextManager[None]]

    def cached_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        rows = self._db.execute("SELECT hash, vector FROM vectors WHERE model = %s AND hash = ANY(%s::text[]) ORDER BY hash",
                                [model, list(hashes)], binary=True)
        return {r[0]: from_column(r[1]) for r in rows}

    def cache_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.transaction(), self._db.cursor() as cur:
            cur.executemany("INSERT INTO vectors (model, hash, vector) VALUES (%s, %s, %s) "
                            "ON CONFLICT (model, hash) DO UPDATE SET vector = EXCLUDED.vector",
                            [(model, h, to_column(v)) for h, v in vectors.items()])

    def passage_vectors(self, model: str, passage_ids: list[int] | None = None,
                        searchable_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(ids, matrix) of passages whose vector is cached for `model`: the given ones (of published
        items only if `searchable_only`), or without ids all searchable ones, which is exactly what
        the vector index holds."""
        where, params = ["true"], [model]
        if passage_ids is None or searchable_only:
            where.append(PUBLISHED)
        if passage_ids is not None:
            where.append("p.id = ANY(%s::bigint[])")
            params.append([int(i) for i in passage_ids])
        rows = self._db.execute(f"SELECT p.id, v.vector {JOIN} WHERE {' AND '.join(where)} ORDER BY p.id", params,
                                binary=True).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, 0), dtype=np.float32)
        return ids, _matrix([r[1] for r in rows])

    def iter_passage_vectors(self, model: str, batch: int = 50_000,
                             ordered: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All searchable passages' (ids, vectors) in batches, so a million never sit in memory twice:
        by passage id, or (`ordered` False) in whatever order one pass over the tables gives, several
        times faster at a million (the vectors are not stored in passage order)."""
        if not ordered:
            with self._db.cursor() as cur:
                rows: list[Any] = []
                for row in cur.stream(f"SELECT p.id, v.vector {JOIN} WHERE {PUBLISHED}", [model], binary=True,
                                      size=2_000):
                    rows.append(row)
                    if len(rows) == batch:
                        yield (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                               _matrix([r[1] for r in rows]))
                        rows = []
                if rows:
                    yield (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), _matrix([r[1] for r in rows]))
            return
        last = -1
        while rows := self._db.execute(f"SELECT p.id, v.vector {JOIN} WHERE p.id > %s AND {PUBLISHED} "
                                       "ORDER BY p.id LIMIT %s", [model, last, batch], binary=True).fetchall():
            last = rows[-1][0]
            yield (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)), _matrix([r[1] for r in rows]))

    def passages_missing_vectors(self, model: str) -> list[tuple[str, str, str]]:
        """(hash, title, text) of passages with no cached vector for `model` (each once, by its
        first passage)."""
        rows: list[Any] = self._db.execute(
            "SELECT p.hash, p.title, p.text FROM passages p LEFT JOIN vectors v ON v.hash = p.hash AND v.model = %s "
            "WHERE v.hash IS NULL GROUP BY p.hash, p.title, p.text ORDER BY min(p.id)", [model]).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def prune_vector_cache(self, model: str) -> int:
        """Drop cached vectors no passage uses any more."""
        with self.transaction():
            cur = self._db.execute("DELETE FROM vectors v WHERE v.model = %s "
                                   "AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.hash = v.hash)", [model])
        return cur.rowcount

"""Nearest-neighbour search inside PostgreSQL (pgvector), for knowledge bases past `ivf_threshold`.

Below the threshold every server keeps an exact in-memory index built from the stored vectors, as
the embedded backend does. Past it, instead of each server building and holding an approximate
FAISS index of its own, the searchable passages' vectors live in one table per model, as 16-bit
floats (`halfvec`: half the memory, scores within `half_error_bound`) under a pgvector index, and
every write changes that table in its own transaction: whatever server committed, every other one
searches the new state at once, with no index to rebuild or catch up, and nothing per process.

The index is IVFFlat by default (`POLICYKB_VECTOR_TABLE_INDEX`; lists: rows / 1000, at least 10,
or their square root past a million; `POLICYKB_IVF_NPROBE` lists read per search), HNSW on
request. Measured at a million passages with near-duplicates (BENCHMARKS.md): HNSW's graph falls
apart into clusters of near-copies (recall@10 0.22-0.59 at ef_search 100-1000), IVFFlat keeps
1.000 at 10 probes.

How a search reaches it (`DatabaseIndex.search`): without a filter, the index with pgvector's
iterative scan (`relaxed_order`: it reads on until it has the rows asked for; the caller sorts).
With a filter, the allowed passages are counted first (the caller knows them): up to
`exact_filter_limit` they are scored exactly, by primary key, in an ORDER BY the index cannot
serve, so the planner never trades them for an approximate scan (at 1M rows it would, with a
recall of 0.04); above it, the index reads as many nearest passages as the filter's share says
hold the `k` wanted and keeps the allowed ones (more while too few are; an exact scan when that
would read past `MAX_FETCH`).
Candidates are re-scored from the float32 vectors by the searcher (dense.py), as for IVF.

The vectors are sent by binary COPY in pgvector's own format (two int16, then big-endian halves),
the query as text. `PgStore` gets the SQL from `AnnMixin`; `DatabaseIndex` holds no SQL.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import struct
import tempfile
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from policykb.errors import IndexMismatch, VectorTablesUnavailable

if TYPE_CHECKING:
    import psycopg

    from policykb.config import Settings

log = logging.getLogger("policykb")

METHODS = ("ivfflat", "hnsw")
HNSW_M = 16  # pgvector's defaults: neighbours per node, candidates while building
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH = 100  # candidates an HNSW search keeps (at least k); iterative scan reads on past it
MAX_SCAN = 50_000  # tuples an iterative scan may visit before it gives up (at least 4x the rows asked for)
RECENT_QUERIES = 32  # queries whose nearest passages a table's index object remembers
MAX_FETCH = 40_000  # nearest passages read for a broad filter before an exact scan of its passages is cheaper


def half_error_bound(dim: int) -> float:
    """How far a halfvec inner product of two unit vectors (both rounded to 16-bit floats, each
    component off by at most 2^-11 of itself, plus 2^-25 below 2^-14) may be from the exact one:
    2^-11 per side by Cauchy-Schwarz, the products of the two roundings, the subnormal terms, and
    float32 accumulation over `dim` terms."""
    return 2 * 2.0 ** -11 + 2.0 ** -22 + 2 * dim * 2.0 ** -25 + dim * 2.0 ** -24


def ivf_lists(rows: int) -> int:
    """IVFFlat lists for a table of `rows` (pgvector's advice: rows / 1000 up to a million rows,
    their square root past it)."""
    return max(10, rows // 1000 if rows <= 1_000_000 else int(math.sqrt(rows)))


def table_name(model: str) -> str:
    """A new table for a model's vectors: a name derived from the model key (never the key itself,
    which may hold anything) and made unique, so that a rebuild fills a table nobody reads yet."""
    return f"ann_{hashlib.sha1(model.encode('utf-8')).hexdigest()[:16]}_{secrets.token_hex(3)}"


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # binary COPY: signature, flags, no extension
COPY_TRAILER = struct.pack(">h", -1)


def copy_tuples(ids: np.ndarray, vectors: np.ndarray) -> bytes:
    """Rows (id bigint, v halfvec) in binary COPY's tuple format, built by numpy in one go."""
    dim = vectors.shape[1]
    row = np.dtype([("fields", ">i2"), ("id_size", ">i4"), ("id", ">i8"), ("v_size", ">i4"), ("dim", ">i2"),
                    ("unused", ">i2"), ("v", ">f2", (dim,))])
    out = np.zeros(len(ids), dtype=row)
    out["fields"], out["id_size"], out["id"], out["v_size"], out["dim"] = 2, 8, ids, 4 + 2 * dim, dim
    out["v"] = vectors
    return out.tobytes()


def text_vector(vector: np.ndarray) -> str:
    """A query vector as pgvector's text input (float32 values, shortest round-trip form)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32).reshape(-1)) + "]"


class AnnMixin:
    """`PgStore`'s side: the tables, their upkeep and the queries."""

    _db: psycopg.Connection
    transaction: Callable[[], AbstractContextManager[None]]

    if TYPE_CHECKING:
        def passage_vectors(self, model: str, passage_ids: list[int] | None = None,
                            searchable_only: bool = False) -> tuple[np.ndarray, np.ndarray]: ...

        def iter_passage_vectors(self, model: str, batch: int = 50_000,
                                 ordered: bool = True) -> Iterable[tuple[np.ndarray, np.ndarray]]: ...

    database_indexes = True

    def database_index(self, model: str, settings: Settings | None = None) -> DatabaseIndex | None:
        """The model's vector table when it has one (built past the threshold), with its count now,
        searched as `settings` say (probes, exact filters)."""
        row = self._db.execute("SELECT tbl, dim, count, method, lists FROM ann_spaces WHERE model = %s",
                               [model]).fetchone()
        if row is None:
            return None
        return DatabaseIndex(self, row[0], int(row[1]), int(row[2]), row[3], int(row[4] or 0), settings)

    def build_database_index(self, model: str, settings: Settings | None = None) -> DatabaseIndex:
        """(Re)build the model's vector table from every searchable passage's stored vector, then its
        index (`settings.vector_table_index`), inside the caller's transaction (the caller holds the
        write lock). The vectors pass through a temporary file (~800 MB at a million). Raises
        `VectorTablesUnavailable` (before any work) when the database has no pgvector and this role
        may not create it. Searches
        go on reading the previous table meanwhile (another one is filled, then swapped in)."""
        self._need_vector_extension()
        table = table_name(model)
        db = self._db
        with tempfile.TemporaryFile() as spool:  # one pass over the vectors, then one COPY (a connection does one at a time)
            dim = 0
            for ids, vectors in self.iter_passage_vectors(model, ordered=False):
                dim = int(vectors.shape[1])
                spool.write(copy_tuples(ids, vectors))
            if not dim:
                raise IndexMismatch(f"no passage has a vector for the model {model!r}: nothing to index")
            db.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, v halfvec({dim}) NOT NULL)")
            spool.seek(0)
            with db.cursor() as cur, cur.copy(f"COPY {table} (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.write(COPY_HEADER)
                while chunk := spool.read(1 << 22):
                    copy.write(chunk)
                copy.write(COPY_TRAILER)
        count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        method = settings.vector_table_index if settings is not None else METHODS[0]
        lists = ivf_lists(count) if method == "ivfflat" else 0
        db.execute("SELECT set_config('maintenance_work_mem', '1GB', true)")
        if method == "ivfflat":  # (trained on the rows just copied: built after them)
            db.execute(f"CREATE INDEX {table}_ivf ON {table} USING ivfflat (v halfvec_ip_ops) WITH (lists = {lists})")
        else:
            db.execute(f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (v halfvec_ip_ops) "
                       f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")
        self.drop_database_index(model)
        db.execute("INSERT INTO ann_spaces (model, tbl, dim, count, method, lists) VALUES (%s, %s, %s, %s, %s, %s) "
                   "ON CONFLICT (model) DO UPDATE SET tbl = EXCLUDED.tbl, dim = EXCLUDED.dim, count = EXCLUDED.count, "
                   "method = EXCLUDED.method, lists = EXCLUDED.lists, built_at = now()",
                   [model, table, dim, count, method, lists])
        db.execute(f"ANALYZE {table}")
        index = self.database_index(model, settings)
        assert index is not None
        return index

    def _need_vector_extension(self) -> None:
        """pgvector in this database, created if this role may (inside a savepoint: a refusal leaves
        the caller's transaction usable); else `VectorTablesUnavailable`."""
        import psycopg

        db = self._db
        if db.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is not None:
            return
        try:
            with db.transaction():
                db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise VectorTablesUnavailable(
                f"the database has no pgvector extension and this role cannot create it ({str(exc).strip()}); "
                "vectors are searched in memory until an administrator runs CREATE EXTENSION vector",
                {"extension": "vector"}) from None

    def drop_database_index(self, model: str) -> None:
        """Forget a model's vector table (inside the caller's transaction)."""
        row = self._db.execute("DELETE FROM ann_spaces WHERE model = %s RETURNING tbl", [model]).fetchone()
        if row is not None:
            self._db.execute(f"DROP TABLE IF EXISTS {row[0]}")

    def change_database_index(self, index: DatabaseIndex, model: str, removed: list[int],
                              added: list[int]) -> DatabaseIndex:
        """Passages removed from and added to a model's vector table, inside the caller's write
        transaction (so the table commits with the rows it mirrors); the index after it."""
        ids, vectors = self.passage_vectors(model, added, searchable_only=True) if added else (np.zeros(0), None)
        gone = [int(i) for i in removed] + ids.astype(np.int64).tolist()  # (an added one may be there already)
        count = index.count
        if gone:
            count -= self._db.execute(f"DELETE FROM {index.table} WHERE id = ANY(%s::bigint[])", [gone]).rowcount
        if len(ids):
            self._copy_vectors(index.table, ids, vectors)
            count += len(ids)
        self._db.execute("UPDATE ann_spaces SET count = %s WHERE model = %s", [count, model])
        return index.with_count(count)

    def _copy_vectors(self, table: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        with self._db.cursor() as cur, cur.copy(f"COPY {table} (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(COPY_HEADER + copy_tuples(ids, vectors) + COPY_TRAILER)

    def nearest_in_table(self, table: str, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
                         method: str = "ivfflat", probes: int = 32, lists: int = 0) -> list[tuple[int, float]]:
        """Up to `k` (id, halfvec score) of the passages nearest to `query`, not necessarily in order:
        among `allowed` ids exactly (each one scored), else through the table's index (`method`:
        IVFFlat reading `probes` of its `lists` and more while it has fewer than `k`, or HNSW)."""
        q = text_vector(query)
        if allowed is not None:
            # the ORDER BY names the score, not the distance: the table's index cannot serve it
            return [(int(i), float(s)) for i, s in self._db.execute(
                f"SELECT id, -(v <#> %s::halfvec) AS score FROM {table} WHERE id = ANY(%s::bigint[]) "
                "ORDER BY score DESC LIMIT %s", [q, np.asarray(allowed, dtype=np.int64).tolist(), k])]
        if method == "ivfflat":
            self._db.execute("SELECT set_config('ivfflat.probes', %s, false), "
                             "set_config('ivfflat.iterative_scan', 'relaxed_order', false), "
                             "set_config('ivfflat.max_probes', %s, false)",
                             [str(max(1, min(probes, lists or probes))), str(max(lists, probes, 1))])
        else:
            self._db.execute("SELECT set_config('hnsw.ef_search', %s, false), "
                             "set_config('hnsw.iterative_scan', 'relaxed_order', false), "
                             "set_config('hnsw.max_scan_tuples', %s, false)",
                             [str(min(1000, max(k, EF_SEARCH))), str(max(MAX_SCAN, 4 * k))])
        return [(int(i), float(s)) for i, s in self._db.execute(
            f"SELECT id, -(v <#> %s::halfvec) FROM {table} ORDER BY v <#> %s::halfvec LIMIT %s", [q, q, k])]

    def rows_in_table(self, table: str) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def scores_in_table(self, table: str, query: np.ndarray, ids: np.ndarray) -> dict[int, float]:
        """The halfvec scores of these passages that the table holds."""
        rows = self._db.execute(f"SELECT id, -(v <#> %s::halfvec) FROM {table} WHERE id = ANY(%s::bigint[])",
                                [text_vector(query), np.asarray(ids, dtype=np.int64).tolist()])
        return {int(i): float(s) for i, s in rows}


class DatabaseIndex:
    """A model's vector table, searched like an approximate `VectorIndex` (dense.py re-scores its
    candidates exactly from the stored float vectors). Immutable: a write makes a new one."""

    kind = "pgvector"
    approximate = True

    def __init__(self, store: AnnMixin, table: str, dim: int, count: int, method: str = "ivfflat", lists: int = 0,
                 settings: Settings | None = None) -> None:
        self.store, self.table, self.dim, self.count, self.method, self.lists = store, table, dim, count, method, lists
        self.settings = settings
        self.exact_filter_limit = settings.exact_filter_limit if settings is not None else 20_000
        self.probes = settings.ivf_nprobe if settings is not None else 32
        self._recent: dict[bytes, list[tuple[int, float]]] = {}  # query -> its nearest passages, best first
        self._lock = threading.Lock()

    def with_count(self, count: int) -> DatabaseIndex:
        return DatabaseIndex(self.store, self.table, self.dim, count, self.method, self.lists, self.settings)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"DatabaseIndex({self.table!r}, {self.method}, {self.count} vectors)"

    def _nearest(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The table's answer, best first; without `allowed`, the first `k` of a longer answer to the
        same query when there was one (a search asks for its semantic set, then its ranking): the
        index is read once per question, not once per step. (This object serves one generation.)"""
        if allowed is not None:
            found = self.store.nearest_in_table(self.table, query, k, allowed, self.method, self.probes, self.lists)
            return sorted(found, key=lambda pair: (-pair[1], pair[0]))
        key = np.asarray(query, dtype=np.float32).tobytes()
        with self._lock:
            known = self._recent.get(key)
        if known is not None and (len(known) >= k or len(known) == self.count):
            return known[:k]
        found = sorted(self.store.nearest_in_table(self.table, query, k, None, self.method, self.probes, self.lists),
                       key=lambda pair: (-pair[1], pair[0]))
        with self._lock:
            self._recent[key] = found
            while len(self._recent) > RECENT_QUERIES:
                del self._recent[next(iter(self._recent))]
        return found[:k]  # (a copy: the remembered list is never handed out)

    @property
    def error_bound(self) -> float:
        return half_error_bound(self.dim)

    def copy(self) -> DatabaseIndex:
        return self

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               every_list: bool = False) -> list[tuple[int, float]]:
        """The top-`k` (id, score) pairs, best first, among `allowed` ids when given: exact up to
        `exact_filter_limit` allowed passages (or with `every_list`), through the index above."""
        if self.count == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        available = self.count if allowed is None else len(allowed)
        k = min(k, available)
        if allowed is None:
            found = self._nearest(query, k)
        elif every_list or available <= self.exact_filter_limit:
            found = self._nearest(query, k, allowed)
        else:
            found = self._through_index(query, k, np.asarray(allowed, dtype=np.int64))
        found.sort(key=lambda pair: (-pair[1], pair[0]))
        return found[:k]

    def _through_index(self, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """A broad filter's top `k`: the index's nearest passages, as many as the filter's share says
        hold `k` allowed ones (and more while they do not), kept when allowed (a bitmap here: the
        allowed ids are never sent); exact when that would read more than `MAX_FETCH` passages."""
        bits = np.zeros(int(allowed.max()) + 1, dtype=bool)
        bits[allowed] = True
        fetch = min(self.count, int(k * self.count / len(allowed) * 1.25) + 32)
        while fetch <= MAX_FETCH:
            found = self._nearest(query, fetch)
            kept = [(i, s) for i, s in found if i < len(bits) and bits[i]]
            if len(kept) >= k or fetch >= self.count:
                return kept
            if len(found) < fetch:  # the scan gave up (max_scan_tuples) before it had them
                break
            fetch = min(self.count, fetch * 2)
        log.info("the index would read more than %d passages for %d filtered neighbours: scanned exactly", MAX_FETCH, k)
        return self._nearest(query, k, allowed)

    def rows(self) -> int:
        """The table's rows, counted (`len` is the count kept with every change)."""
        return self.store.rows_in_table(self.table)

    def scores_of(self, query: np.ndarray, ids: np.ndarray, floor: float | None = None) -> np.ndarray | None:
        """Scores (within `error_bound`) of these ids, all of which the table must hold; else None
        (every score is given, also below `floor`)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        scores = self.store.scores_in_table(self.table, query, ids)
        if len(scores) != len(np.unique(ids)):
            return None
        return np.array([scores[int(i)] for i in ids], dtype=np.float32)

    def similarities(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise ValueError("similarities() needs a flat index")

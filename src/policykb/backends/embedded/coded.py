"""`CodedIndex`: a flat, exact vector index that holds codes only, and reads a passage's float
vector from the store when a comparison needs its exact score.

Past `POLICYKB_IVF_THRESHOLD` passages, a PostgreSQL knowledge base keeps each model's vectors in a
table under a pgvector index (`backends/postgres/ann.py`), which is approximate: at a million
passages with near-copies, recall@10 0.955 at 32 IVFFlat probes. With `POLICYKB_VECTOR_SEARCH=codes`
(the default) every API process instead scans 8-bit codes of every searchable vector (`rough.py`),
each score within a proven bound of the exact one (~0.02), and holds 4-bit codes of what those
leave over, which bring a score within ~0.0006 of the exact one: ~600 bytes a passage at 384
dimensions, 0.6 GB at a million, against 1.5 GB for the float vectors. `search/flat_scores.py`
refines the scores a comparison or a ranking cannot decide from the rough ones, and reads the exact
score (the float vector, by primary key: ~30 us each from PostgreSQL at a million) only where the
finer bound still leaves it undecided, or the passage is ranked. Its answers are those of an exact
scan, at every filter.

The codes are made from the stored vectors when a process first searches the table's generation,
and follow each later write by the changes it recorded (`changes_between`): the removed passages'
codes dropped, the added ones' coded alone. The vector table stays the store's record (built and
changed in the writers' transactions) and the fallback (`POLICYKB_VECTOR_SEARCH=table`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from policykb.backends.embedded.rough import RoughScan

Reader = Callable[[list[int]], tuple[np.ndarray, np.ndarray]]  # passage ids -> (ids found, float vectors)


class CodedIndex:
    """Passage `ids` and their codes (entry i: ids[i]); `read` gives stored float vectors by id;
    `table` is the store's own index this one mirrors (what a writer changes). Never changed in
    place: `followed` makes a new one. Searched through `search/flat_scores.py` (rough scores,
    refined ones, exact ones), as a flat index whose float vectors are dear to read."""

    kind = "coded"
    approximate = False
    error_bound = 0.0

    def __init__(self, ids: np.ndarray, codes: RoughScan, read: Reader, table: Any = None) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.ids.setflags(write=False)
        self.codes, self.read, self.table = codes, read, table
        self.dim = codes.dim

    @classmethod
    def build(cls, dim: int, batches: Iterable[tuple[np.ndarray, np.ndarray]], read: Reader,
              table: Any = None) -> CodedIndex:
        """Codes of every (ids, vectors) batch, joined once."""
        ids, parts = [], []
        for batch_ids, vectors in batches:
            if len(batch_ids):
                ids.append(np.asarray(batch_ids, dtype=np.int64))
                vectors = np.asarray(vectors, dtype=np.float32).reshape(len(batch_ids), dim)
                parts.append(RoughScan(vectors, residual=True))
        joined = RoughScan.joined(parts, dim)
        return cls(np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64), joined, read, table)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """What this index holds in memory: the ids and every code and bound."""
        return int(self.ids.nbytes) + self.codes.nbytes

    def __repr__(self) -> str:
        return f"CodedIndex({len(self)} vectors, {self.dim}-d)"

    def followed(self, removed: list[int], added_ids: np.ndarray, added: np.ndarray | None,
                 table: Any = None) -> CodedIndex:
        """This index with passages removed and others added (their float vectors: `added`)."""
        ids, codes = self.ids, self.codes
        gone = np.asarray(list(removed) + np.asarray(added_ids, dtype=np.int64).tolist(), dtype=np.int64)
        if len(gone):
            keep = ~np.isin(ids, gone)
            if not keep.all():
                ids, codes = ids[keep], codes.kept(keep)
        if len(added_ids):
            ids = np.concatenate([ids, np.asarray(added_ids, dtype=np.int64)])
            codes = codes.appended(np.asarray(added, dtype=np.float32).reshape(len(added_ids), self.dim))
        return CodedIndex(ids, codes, self.read, self.table if table is None else table)

    def rough_similarities(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every id, its rough inner product with `query` and how far the exact one may lie from it."""
        return (self.ids, *self.codes.scores(query))

    @property
    def refinable(self) -> bool:
        return self.codes.residual is not None  # (not: an empty index)

    def refined_at(self, query: np.ndarray, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closer scores of the vectors at these entries, and their bounds, from the 4-bit codes of
        what the 8-bit ones leave over (~0.0006 against ~0.02): a comparison the rough score
        leaves undecided is mostly decided by these, without reading the vector (~30 us each from
        PostgreSQL at a million)."""
        return self.codes.refined(query, entries)

    def exact_at(self, query: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """The exact inner products (float64, rounded to float32) of the vectors at these entries,
        read from the store; a passage the store no longer holds scores -1 (it is not searchable)."""
        entries = np.asarray(entries, dtype=np.int64)
        out = np.full(len(entries), -1.0, dtype=np.float32)
        if not len(entries):
            return out
        wanted = self.ids[entries]
        found, vectors = self.read(wanted.tolist())
        if len(found):
            q = np.asarray(query, dtype=np.float64).reshape(self.dim)
            scores = (vectors.astype(np.float64) @ q).astype(np.float32)
            order = np.argsort(found)
            at = np.searchsorted(found[order], wanted)
            hit = (at < len(found)) & (found[order][np.minimum(at, len(found) - 1)] == wanted)
            out[hit] = scores[order][at[hit]]
        return out

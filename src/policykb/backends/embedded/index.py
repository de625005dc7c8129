"""`VectorIndex` owns FAISS: passage vectors under our own ids, saved with a manifest.

Two kinds, chosen by size: `flat` (exact inner product, IndexIDMap2 over IndexFlatIP) below
`Settings.ivf_threshold` vectors, and `ivf` above it (IVF with vectors stored as 16-bit floats,
768 bytes a vector at 384 dimensions, searched with `nprobe` lists; indexes built before
2026-11-30 hold 8-bit codes). An `ivf` index is approximate in which passages it visits, and
its 16-bit scores are within `error_bound` of the exact ones: the searcher decides every cut-off
exactly by reading the stored float vectors of the passages that close to it (see searcher.py).
A `flat` index of ROUGH_FROM vectors or more is also scanned by 8-bit codes made in memory
(rough.py: a quarter of the bytes, each score within a proven bound), where that is measured
quicker on the machine than the float product (`scan_pays`), and its exact scores are read only
where a comparison needs them (search/flat_scores.py): its answers stay exact.

Layout of the knowledge-base directory: `vectors-<generation>.faiss` plus `manifest.json`
(model, dimension, count, generation, kind, version). The manifest is written last, by an
atomic rename, so it always names a complete index file.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import faiss
import numpy as np

from policykb.backends.embedded.product import matvec
from policykb.backends.embedded.rough import RoughScan, scan_pays
from policykb.errors import IndexMismatch

INDEX_VERSION = 1
MANIFEST = "manifest.json"
SCAN_PER_DECODE = 400  # reading one vector by id costs about as much as scanning this many in a list
# A flat index this large may be scanned by 8-bit codes first (rough.py: a quarter of the bytes),
# if that is quicker on this machine (`scan_pays`).
ROUGH_FROM = 10_000


class VectorIndex:
    """Inner-product search over normalised vectors under our own int64 ids."""

    def __init__(self, dim: int, index: Any | None = None, nprobe: int = 32) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.nprobe = nprobe
        self.lock = threading.Lock()  # FAISS indexes are not safe to search while they change
        self._held: np.ndarray | None = None  # ids held (an `ivf` index's, made when first asked; follows changes)
        self._rough: RoughScan | None = None  # a large flat index's 8-bit codes (made when first needed)
        self._asked = False  # whether a question was answered without them
        self._no_scan_below = 0  # a size below which the codes were measured slower than the float product

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self.index, faiss.IndexIVF) else "flat"

    @property
    def approximate(self) -> bool:
        return self.kind == "ivf"

    @classmethod
    def build(cls, dim: int, batches: Iterable[tuple[np.ndarray, np.ndarray]], total: int,
              ivf_threshold: int, nprobe: int = 32) -> VectorIndex:
        """An index over (ids, vectors) batches: flat below `ivf_threshold` vectors, IVF (16-bit) above."""
        if total < ivf_threshold:
            flat = cls(dim, nprobe=nprobe)
            for ids, vectors in batches:
                flat.add(ids, vectors)
            return flat
        nlist = int(min(16384, max(64, 4 * np.sqrt(total))))
        ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_fp16,
                                            faiss.METRIC_INNER_PRODUCT)
        ivf.by_residual = False  # the vectors themselves as 16-bit floats (the bound of `error_bound`)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # remove_ids and reconstruct by our ids
        index = cls(dim, ivf, nprobe)
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        sample = 0
        for ids, vectors in batches:  # train on the first ~50 vectors per list, then add everything
            if not ivf.is_trained:
                pending.append((ids, vectors))
                sample += len(ids)
                if sample < 50 * nlist:
                    continue
                ivf.train(np.ascontiguousarray(np.vstack([v for _, v in pending]), dtype=np.float32))
                for pending_ids, pending_vectors in pending:
                    index.add(pending_ids, pending_vectors)
                pending = []
                continue
            index.add(ids, vectors)
        if not ivf.is_trained:  # fewer vectors than the sample wanted
            ivf.train(np.ascontiguousarray(np.vstack([v for _, v in pending]), dtype=np.float32))
            for pending_ids, pending_vectors in pending:
                index.add(pending_ids, pending_vectors)
        return index

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def error_bound(self) -> float | None:
        """How far a score of this index may be from the exact inner product of two unit vectors:
        0 for `flat`; for 16-bit floats, each component is off by at most 2^-11 of itself (plus
        2^-25 below 2^-14), so by Cauchy-Schwarz the score by at most 2^-11 + dim * 2^-25; None
        for 8-bit codes, whose error has no such bound (values outside the trained range are clipped)."""
        if not self.approximate:
            return 0.0
        if self.index.sq.qtype == faiss.ScalarQuantizer.QT_fp16 and not self.index.by_residual:
            return 2.0 ** -11 + self.dim * 2.0 ** -25
        return None

    def scores_of(self, query: np.ndarray, ids: np.ndarray, floor: float | None = None) -> np.ndarray | None:
        """An `ivf` index's scores (within `error_bound`) of the query with these ids' vectors, all
        of which it must hold; None if it does not hold one of them. With `floor`, an id the index
        scores at or below `floor` may be given -inf instead: many ids are then found by one scan of
        every list with the ids as a filter (~8 ns a stored vector, against ~3-5 us to decode one
        vector by id: 15 against 240 ms for 40,000 ids of a million)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        if floor is not None and len(ids) * SCAN_PER_DECODE > len(self) and self.approximate:
            with self.lock:
                held = self._held_ids()
                if int(ids.min()) < 0 or int(ids.max()) >= len(held) or not held[ids].all():
                    return None
                selector, _bitmap = id_selector(ids)  # (the bitmap lives as long as the selector is used)
                params = faiss.SearchParametersIVF(nprobe=self.index.nlist, sel=selector)
                with _one_thread():
                    _, scores, found = self.index.range_search(q, float(floor), params=params)
            out = np.full(int(ids.max()) + 1, -np.inf, dtype=np.float32)
            out[found] = scores  # (an inner-product range search keeps the scores above `floor`)
            return out[ids]
        try:
            with self.lock:
                vectors = self.index.reconstruct_batch(ids)
        except RuntimeError:  # an id the index does not hold
            return None
        return vectors @ q.reshape(self.dim)

    def _held_ids(self) -> np.ndarray:
        """Which ids an `ivf` index holds (a mask by id, read from its lists once per change)."""
        if self._held is None:
            invlists = self.index.invlists
            parts = [faiss.rev_swig_ptr(invlists.get_ids(n), invlists.list_size(n)).copy()
                     for n in range(self.index.nlist) if invlists.list_size(n)]
            ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            held = np.zeros(int(ids.max()) + 1 if len(ids) else 0, dtype=bool)
            held[ids] = True
            self._held = held
        return self._held

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self.lock:
            self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
            self._held = _marked(self._held, np.asarray(ids, dtype=np.int64), True)
            if self._rough is not None:  # (a flat index appends: the codes follow, ~10 ms at 100k)
                self._rough = self._rough.appended(vectors)

    def remove(self, ids: list[int] | np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        # An IVF direct map (hashtable) removes only through an array selector.
        selector = faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)) if self.approximate \
            else faiss.IDSelectorBatch(ids)
        with self.lock:
            self._held = _marked(self._held, ids, False)
            if self._rough is not None:  # (a flat index keeps the others in order: so do the codes)
                self._rough = self._rough.kept(~np.isin(faiss.vector_to_array(self.index.id_map), ids))
            return int(self.index.remove_ids(selector))

    def copy(self) -> VectorIndex:
        """An independent copy (a writer changes the copy; searches keep using this one)."""
        with self.lock:
            copy = VectorIndex(self.dim, faiss.clone_index(self.index), self.nprobe)
            copy._rough, copy._held = self._rough, self._held  # (never changed in place: shared until one changes)
            copy._no_scan_below = self._no_scan_below
            return copy

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               every_list: bool = False) -> list[tuple[int, float]]:
        """The top-`k` (id, similarity) pairs, only among `allowed` ids when given (exact for `flat`;
        for `ivf`, `every_list` scans all lists instead of the `nprobe` nearest)."""
        if len(self) == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        k = min(k, len(self) if allowed is None else len(allowed))
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        selector = None
        if allowed is not None:
            selector, _bitmap = id_selector(np.asarray(allowed, dtype=np.int64))  # (kept until the search returns)
        if self.approximate:
            params = faiss.SearchParametersIVF(nprobe=self.index.nlist if every_list else self.nprobe)
            if selector is not None:
                params.sel = selector
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        with self.lock, _one_thread():
            scores, ids = self.index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def similarities(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every id of a `flat` index with its exact inner product with `query`: one matrix-vector
        product over FAISS's own storage (no copy), which filters then mask at no extra cost."""
        if self.approximate:
            raise ValueError("similarities() needs a flat index")
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(self.dim)
        with self.lock:
            if len(self) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            return faiss.vector_to_array(self.index.id_map), matvec(self._vectors(), q)

    def rough_similarities(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """For a `flat` index of ROUGH_FROM vectors or more: every id, its rough inner product with
        `query` from 8-bit codes, and how far the exact one may lie from it (rough.py); entry i is
        the index's vector i (`exact_at`). None for a smaller index (one exact product is as quick),
        and for the first question asked of an index whose codes are not made (`prepare`), and where
        scanning the codes is not quicker on this machine (`scan_pays`)."""
        if not self._scanned():
            return None
        with self.lock:
            if self._rough is None and not self._asked:  # a process that asks one question (the CLI)
                self._asked = True                       # does not make the codes for it
                return None
            rough = self._rough_scan()
            if rough is None:
                return None
            ids = faiss.vector_to_array(self.index.id_map)
        return (ids, *rough.scores(query))

    def exact_at(self, query: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """The exact inner products of a `flat` index's vectors at these entries with `query` (in
        float64, rounded to float32: one vector's score does not depend on which others are asked)."""
        q = np.asarray(query, dtype=np.float64).reshape(self.dim)
        with self.lock:
            vectors = self._vectors()[np.asarray(entries, dtype=np.int64)]
        return (vectors.astype(np.float64) @ q).astype(np.float32)

    def prepare(self) -> None:
        """Make now what the first search would otherwise make (a large flat index's 8-bit codes:
        ~0.3 s for 100,000 vectors), so that the first question is answered as fast as the next."""
        if self._scanned():
            with self.lock:
                self._rough_scan()

    def _scanned(self) -> bool:
        """Whether the index is one whose codes may be scanned (flat, large, not measured slower)."""
        return not self.approximate and len(self) >= max(ROUGH_FROM, self._no_scan_below)

    def _rough_scan(self) -> RoughScan | None:
        """The codes, made when first asked for, and kept if scanning them pays (else None, until the
        index has doubled in size)."""
        if self._rough is None and self._scanned():
            vectors = self._vectors()
            rough = RoughScan(vectors)
            if scan_pays(rough, vectors, lambda q: matvec(vectors, q)):
                self._rough = rough
            else:
                self._no_scan_below = 2 * len(self)
        return self._rough

    def _vectors(self) -> np.ndarray:
        """A flat index's vectors, FAISS's own storage (no copy; read under the lock)."""
        flat = faiss.downcast_index(self.index.index)
        return faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.dim).reshape(len(self), self.dim)

    # -- persistence --------------------------------------------------------------------------

    def save(self, home: Path, model: str, generation: int, runtime: str | None = None) -> None:
        """Write `vectors-<generation>.faiss`, then switch the manifest to it atomically. Temporary
        files are private to the writing process; the previous generation's file stays (a reader
        may be about to load it), older ones go."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        name = f"vectors-{generation}.faiss"
        private = f"{os.getpid()}-{secrets.token_hex(4)}.tmp"
        tmp = home / f".{name}.{private}"
        with self.lock:
            faiss.write_index(self.index, str(tmp))
        _fsync(tmp)
        os.replace(tmp, home / name)
        manifest = {
            "version": INDEX_VERSION,
            "model": model,
            "dimension": self.dim,
            "count": len(self),
            "generation": generation,
            "kind": self.kind,
            "nprobe": self.nprobe,
            "file": name,
            "metric": "inner_product",
            **({"runtime": runtime} if runtime else {}),  # what computed the vectors (ONNX Runtime, torch, ...)
        }
        tmp_manifest = home / f".{MANIFEST}.{private}"
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _fsync(tmp_manifest)
        os.replace(tmp_manifest, home / MANIFEST)
        for stale in home.glob("vectors-*.faiss"):
            number = stale.name.removeprefix("vectors-").removesuffix(".faiss")
            if number.isdigit() and int(number) < generation - 1:
                stale.unlink(missing_ok=True)
        for leftover in home.glob(".*.tmp"):  # of writers that died while saving
            pid = leftover.name.rsplit(".", 2)[-2].split("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                leftover.unlink(missing_ok=True)


def _marked(held: np.ndarray | None, ids: np.ndarray, value: bool) -> np.ndarray | None:
    """A copy of the held-ids mask with these ids marked (None stays None: made when asked)."""
    if held is None or not len(ids):
        return held
    out = np.zeros(max(len(held), int(ids.max()) + 1), dtype=bool)
    out[: len(held)] = held
    out[ids[ids >= 0]] = value
    return out


def id_selector(ids: np.ndarray) -> tuple[Any, np.ndarray]:
    """A FAISS selector of these ids (a bitmap over them: built in a blink even for half a million
    ids) and the bitmap it points into, which the caller keeps alive while FAISS uses the selector."""
    bits = np.zeros(int(np.max(ids)) + 1, dtype=bool)
    bits[ids] = True
    bitmap = np.packbits(bits, bitorder="little")
    return faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap


@contextmanager
def _one_thread() -> Iterator[None]:
    """One query gains nothing from FAISS's OpenMP threads, and their spinning after a search
    starves the model's threads on a small machine (a hybrid search took 2x at 1M): one thread
    for the search only, so building an index keeps all of them."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def read_manifest(home: Path) -> dict[str, Any] | None:
    path = Path(home) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexMismatch(f"{path} is unreadable ({exc}); delete it to rebuild the index from the store") from exc


def load_index(home: Path, manifest: dict[str, Any], model: str, dim: int,
               setting: str = "POLICYKB_MODEL") -> VectorIndex:
    """Load the index a manifest names; any disagreement with the settings fails loudly."""
    if manifest.get("version") != INDEX_VERSION:
        raise IndexMismatch(
            f"index in {home} has version {manifest.get('version')}, this policykb reads {INDEX_VERSION}; "
            "run `policykb reindex` to rebuild it"
        )
    if manifest.get("model") != model or manifest.get("dimension") != dim:
        raise IndexMismatch(
            f"index in {home} was built with model {manifest.get('model')!r} ({manifest.get('dimension')}-d) "
            f"but {setting} is {model!r} ({dim}-d); use that model, or run `policykb reindex` "
            "to re-embed everything with the new one",
            {"index_model": manifest.get("model"), "model": model},
        )
    index = faiss.read_index(str(Path(home) / manifest["file"]))
    if index.ntotal != manifest.get("count") or index.d != dim:
        raise IndexMismatch(f"index file {manifest['file']} does not match its manifest; run `policykb reindex`")
    return VectorIndex(dim, index, int(manifest.get("nprobe", 32)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())

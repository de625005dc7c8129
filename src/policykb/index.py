"""`VectorIndex` owns FAISS: passage vectors under our own ids, saved with a manifest.

Layout of the knowledge-base directory: `vectors-<generation>.faiss` plus `manifest.json`
(model, dimension, count, generation, version). The manifest is written last, by an atomic
rename, so it always names a complete index file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .errors import IndexMismatch

INDEX_VERSION = 1
MANIFEST = "manifest.json"


class VectorIndex:
    """Exact inner-product search over normalised vectors (IndexIDMap2 over IndexFlatIP)."""

    def __init__(self, dim: int, index: Any | None = None) -> None:
        self.dim = dim
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.lock = threading.Lock()  # FAISS indexes are not safe to search while they change

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        with self.lock:
            self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int] | np.ndarray) -> int:
        if len(ids) == 0:
            return 0
        with self.lock:
            return int(self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The exact top-`k` (id, similarity) pairs, only among `allowed` ids when given."""
        if len(self) == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        k = min(k, len(self) if allowed is None else len(allowed))
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        with self.lock:
            scores, ids = self.index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def vectors(self, ids: list[int]) -> np.ndarray:
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]) if ids else np.zeros((0, self.dim), "float32")

    # -- persistence --------------------------------------------------------------------------

    def save(self, home: Path, model: str, generation: int) -> None:
        """Write `vectors-<generation>.faiss`, then switch the manifest to it atomically."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        name = f"vectors-{generation}.faiss"
        tmp = home / (name + ".tmp")
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
            "file": name,
            "metric": "inner_product",
        }
        tmp_manifest = home / (MANIFEST + ".tmp")
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _fsync(tmp_manifest)
        os.replace(tmp_manifest, home / MANIFEST)
        for stale in home.glob("vectors-*.faiss*"):
            if stale.name != name:
                stale.unlink(missing_ok=True)


def read_manifest(home: Path) -> dict[str, Any] | None:
    path = Path(home) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexMismatch(f"{path} is unreadable ({exc}); delete it to rebuild the index from the store") from exc


def load_index(home: Path, manifest: dict[str, Any], model: str, dim: int) -> VectorIndex:
    """Load the index a manifest names; any disagreement with the settings fails loudly."""
    if manifest.get("version") != INDEX_VERSION:
        raise IndexMismatch(
            f"index in {home} has version {manifest.get('version')}, this policykb reads {INDEX_VERSION}; "
            "run `policykb reindex` to rebuild it"
        )
    if manifest.get("model") != model or manifest.get("dimension") != dim:
        raise IndexMismatch(
            f"index in {home} was built with model {manifest.get('model')!r} ({manifest.get('dimension')}-d) "
            f"but POLICYKB_MODEL is {model!r} ({dim}-d); use that model, or run `policykb reindex` "
            "to re-embed everything with the new one",
            {"index_model": manifest.get("model"), "model": model},
        )
    index = faiss.read_index(str(Path(home) / manifest["file"]))
    if index.ntotal != manifest.get("count") or index.d != dim:
        raise IndexMismatch(f"index file {manifest['file']} does not match its manifest; run `policykb reindex`")
    return VectorIndex(dim, index)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())

"""`VectorSpace`: one embedding model's view of a knowledge base.

A knowledge base has one or two: the main model's (all-MiniLM-L6-v2 by default, its index in the
knowledge-base directory itself) and, beside it, the multilingual encoder's (USE v3 by default,
its index in `<home>/multilingual/`). Each passage has a stored vector per model; each space has
its own FAISS index and manifest, of the same generation as the store. A question goes to one
space, chosen by its language (`KnowledgeBase.space_for`): English to the main model, which ranks
English best, a language only the multilingual encoder covers to that one (BENCHMARKS.md,
"Across languages").
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from policykb.config import Settings
from policykb.encoders.embed import Embedder, load_embedder, model_key
from policykb.encoders.e5 import E5_NAME
from policykb.encoders.runtime import default_cache
from policykb.errors import IndexMismatch, VectorTablesUnavailable
from policykb.backends.embedded.coded import CodedIndex
from policykb.backends.embedded.index import MANIFEST, VectorIndex, load_index, read_manifest
from policykb.backends.embedded.store import Store
from policykb.topics import Everyday, TopicIndex

log = logging.getLogger("policykb")
MULTILINGUAL_FOLDER = "multilingual"
OFF = {"", "none", "off", "no", "false", "0"}


def multilingual_setting(settings: Settings, main_key: str) -> str | None:
    """The model to run beside the main one, or None: `auto` means the multilingual encoder
    beside the shipped English model, and nothing beside any other model (a test double, a
    model the operator chose, the multilingual encoder itself)."""
    value = settings.multilingual_model.strip()
    if value.lower() in OFF:
        return None
    if value.lower() == "auto":
        return E5_NAME if main_key == "all-MiniLM-L6-v2" else None
    return None if model_key(value) == main_key else value


class VectorSpace:
    """A model, its embedder (loaded at first use), its vector index in `folder` (loaded or rebuilt
    from the stored vectors per generation) and a cache of recent query vectors."""

    def __init__(self, settings: Settings, store: Store, folder: Path, model: str, setting_name: str,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = store
        self.folder = Path(folder)
        self.model = model  # the setting's value, e.g. "use-multilingual"
        self.setting_name = setting_name  # the environment variable that chose it, for messages
        self.key = embedder.name if embedder is not None else model_key(model)
        self._embedder = embedder
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._generation = -1
        self._queries: dict[str, np.ndarray] = {}  # query text -> vector, least recently used first
        self._layout: tuple[Any, ...] | None = None  # see flat_layout()
        self._topics: tuple[Any, TopicIndex] | None = None  # (taxonomy, its values embedded by this model)
        self._everyday: Everyday | None = None
        self._hinted = False  # (the hint that a database index is due was logged)

    def __repr__(self) -> str:
        return f"VectorSpace({self.key!r}, {str(self.folder)!r})"

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.model, self.settings.batch_size, self.settings.threads,
                                               self.setting_name, self.settings.model_cache, self.settings.runtime)
            return self._embedder

    @property
    def runtime(self) -> str | None:
        """What computes this model's vectors: the loaded embedder's runtime, else the manifest's."""
        if self._embedder is not None:
            return getattr(self._embedder, "runtime", None)
        return (read_manifest(self.folder) or {}).get("runtime")

    # -- the index -------------------------------------------------------------------------------

    def index_for(self, generation: int, writing_lock: Callable[..., AbstractContextManager[bool]]) -> VectorIndex:
        """The index of this generation: the one in memory, the saved one, or one rebuilt from the
        stored vectors (saved if no writer is at work)."""
        with self._lock:
            if self._index is None or self._generation != generation:
                self._index = (self._in_database(generation) or self._caught_up(generation, writing_lock)
                               or self._load_or_rebuild(generation, writing_lock))
                self._generation = generation
            return self._index

    def _in_database(self, generation: int) -> Any | None:
        """The store's own vector index (PostgreSQL past the IVF threshold: ann.py), always of the
        store's state, or (`POLICYKB_VECTOR_SEARCH=codes`) this process's 8-bit codes of the
        vectors it holds (coded.py); None when the store has none for this model. (Built by a
        writer, never here: a reader is inside a snapshot. Until then, past the threshold, an
        in-memory IVF index.)"""
        if not self.store.database_indexes:
            return None
        index = self.store.database_index(self.key, self.settings)
        if index is None and not self._hinted and self.settings.ivf_threshold <= (
                len(self._index) if self._index is not None else self.store.stats()["passages"]):  # (counted once)
            self._hinted = True
            log.warning("%s: past %d passages the vectors are searched in the database once `policykb reindex` "
                        "(or the next write) has built its index; meanwhile an index in memory", self.key,
                        self.settings.ivf_threshold)
        if index is None or self.settings.vector_search != "codes":
            return index
        return self._coded(index, generation)

    def _coded(self, table: Any, generation: int) -> CodedIndex:
        """Codes of the vectors `table` holds at `generation`: the codes of an earlier generation
        brought up to it by the changes the store recorded, else made from every stored vector
        (BENCHMARKS.md gives the time at a million)."""
        base, since = self._index, self._generation
        if isinstance(base, CodedIndex) and 0 <= since < generation:
            change = self.store.changes_between(since, generation)
            if change is not None:
                index = self._followed(base, change[0], change[1], table)
                if len(index) == len(table):
                    return index
        started = time.perf_counter()
        index = CodedIndex.build(table.dim, self.store.iter_passage_vectors(self.key, ordered=False),
                                 self._read_vectors, table)
        log.info("%s: codes of %d vectors made in %.1f s (%.0f MB in this process; POLICYKB_VECTOR_SEARCH=table "
                 "keeps none, and is approximate)", self.key, len(index), time.perf_counter() - started,
                 index.nbytes / 2**20)
        return index

    def _followed(self, index: CodedIndex, removed: list[int], added: list[int], table: Any) -> CodedIndex:
        ids, vectors = (self.store.passage_vectors(self.key, added, searchable_only=True) if added
                        else (np.zeros(0, dtype=np.int64), None))
        return index.followed(removed, ids, vectors, table)

    def _read_vectors(self, passage_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return self.store.passage_vectors(self.key, passage_ids)

    def goes_in_database(self, total: int) -> bool:
        """Whether an index over `total` passages lives in the store rather than in memory."""
        return self.store.database_indexes and total >= self.settings.ivf_threshold

    def build_in_database(self) -> Any | None:
        """Build the store's vector index for this model (inside the writer's transaction); index
        files saved on this machine go (a rollback rebuilds them from the store). None, and a
        warning, when the database may not have pgvector (the transaction goes on: a savepoint
        was refused): the caller keeps an index in memory."""
        try:
            index = self.store.build_database_index(self.key, self.settings)
        except VectorTablesUnavailable as exc:
            log.warning("%s", exc)
            return None
        (self.folder / MANIFEST).unlink(missing_ok=True)
        for stale in self.folder.glob("vectors-*.faiss"):
            stale.unlink(missing_ok=True)
        return index

    def _caught_up(self, generation: int, writing_lock: Callable[..., AbstractContextManager[bool]]
                   ) -> VectorIndex | None:
        """The index of an earlier generation (in memory, or the saved one) brought to `generation`
        by the changes the store recorded since (another server wrote: its saved index is on its own
        disk); None when the saved index is of this generation (it is loaded), when a change is not
        recorded, or when the index would change kind (then it is rebuilt)."""
        manifest = read_manifest(self.folder)
        if manifest is not None and (manifest.get("model") != self.key or manifest.get("generation") == generation):
            return None  # another model's (refused there), or the one a writer on this machine saved: loaded
        base, since = self._index, self._generation
        if base is None or base.kind in ("pgvector", "coded") or not 0 <= since < generation:  # (_in_database)
            if manifest is None or not 0 <= manifest.get("generation", -1) < generation:
                return None
            base, since = None, manifest["generation"]
        change = self.store.changes_between(since, generation)
        if change is None:
            return None
        if base is None:  # the index this machine saved earlier
            try:
                base = load_index(self.folder, manifest, self.key, manifest["dimension"], self.setting_name)
            except RuntimeError:
                return None
        touched, present = change
        index = base.copy()
        index.remove(touched)
        if present:
            ids, vectors = self.store.passage_vectors(self.key, present, searchable_only=True)
            if len(ids):
                index.add(ids, vectors)
        if self._outgrown(index) or len(index) != self.store.stats()["passages"]:
            return None
        self._save_if_no_writer(index, generation, writing_lock)
        index.prepare()
        return index

    def _outgrown(self, index: VectorIndex) -> bool:
        """Whether an index grew past or shrank below the IVF threshold (it is then built anew)."""
        threshold = self.settings.ivf_threshold
        return (index.kind == "flat" and len(index) >= threshold) or \
            (index.kind in ("ivf", "pgvector", "coded") and len(index) < threshold // 2)

    def _save_if_no_writer(self, index: VectorIndex, generation: int,
                           writing_lock: Callable[..., AbstractContextManager[bool]]) -> None:
        """A reader's index is saved only if no writer is at work and the store is still at its
        generation; else it stays in memory (index files are written under the write lock only)."""
        with writing_lock(wait=False) as mine:
            if mine and self.store.generation == generation:
                index.save(self.folder, self.key, generation, self.runtime)

    def in_step(self, generation: int) -> bool:
        """Whether the index saved in `folder` is this model's for this generation (so every
        searchable passage has a vector for the model)."""
        if self.store.database_indexes and self.store.database_index(self.key) is not None:
            return True  # (changed in every write's transaction: always in step)
        manifest = read_manifest(self.folder)
        return manifest is not None and manifest.get("model") == self.key and manifest.get("generation") == generation

    def described(self) -> dict[str, Any]:
        """The saved index's dimension, count and generation (and `kind`: pgvector for the database's own,
        with `search`: whether its table or each process's codes of it answer)."""
        index = self.store.database_index(self.key) if self.store.database_indexes else None
        if index is not None:
            return {"dimension": index.dim, "count": len(index), "generation": self.store.generation,
                    "kind": index.kind, "search": self.settings.vector_search}
        manifest = read_manifest(self.folder) or {}
        return {k: manifest.get(k) for k in ("dimension", "count", "generation")}

    def set_index(self, index: VectorIndex | None, generation: int = -1) -> None:
        if index is not None and index.kind == "pgvector" and self.settings.vector_search == "codes":
            index = None  # (the codes are made at the next search, from the table just built)
        with self._lock:
            self._index, self._generation = index, generation

    def _load_or_rebuild(self, generation: int, writing_lock: Callable[..., AbstractContextManager[bool]]
                         ) -> VectorIndex:
        manifest = read_manifest(self.folder)
        if manifest is not None and manifest.get("model") != self.key:  # raises IndexMismatch
            load_index(self.folder, manifest, self.key, manifest.get("dimension", 0), self.setting_name)
        why = None  # (why the index is rebuilt, for the log)
        if manifest is not None and manifest.get("generation") == generation:
            try:
                return load_index(self.folder, manifest, self.key, manifest["dimension"], self.setting_name)
            except RuntimeError:  # FAISS cannot read its file: gone (a writer moved two generations on) or damaged
                path = self.folder / str(manifest.get("file"))
                why = f"index file {path} {'is damaged' if path.exists() else 'is missing'}"
        elif manifest is not None:
            why = f"index generation {manifest.get('generation')} != store generation {generation} in {self.folder}"
        index = self.build_index((manifest or {}).get("dimension"))
        total = self.store.stats()["passages"]
        if len(index) != total:
            raise IndexMismatch(
                f"{total - len(index)} passage(s) have no vector for the model {self.key!r} "
                f"({self.setting_name}); run `policykb reindex` to embed them",
                {"model": self.key, "setting": self.setting_name})
        if why:
            log.warning("%s: rebuilt from the vectors stored in the database", why)
        self._save_if_no_writer(index, generation, writing_lock)
        return index

    def build_index(self, dim: int | None = None, store: Store | None = None) -> VectorIndex:
        """A fresh index over every searchable passage's stored vector (flat or IVF by size), from
        this knowledge base's store or another one (a restore's)."""
        store = store or self.store
        batches = store.iter_passage_vectors(self.key)
        first = next(batches, None)
        if first is None:
            return VectorIndex(dim or self.embedder.dim, nprobe=self.settings.ivf_nprobe)

        def all_batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            yield first
            yield from batches

        total = store.stats()["passages"]
        return VectorIndex.build(first[1].shape[1], all_batches(), total, self.settings.ivf_threshold,
                                 self.settings.ivf_nprobe)

    def changed(self, index: VectorIndex, removed: list[int], added: list[int], generation: int) -> VectorIndex:
        """A copy of `index` with passages removed and added (searches holding `index` are not
        disturbed), rebuilt when it grew past or shrank below the IVF threshold, saved for `generation`.
        A store's own index (PostgreSQL) changes in the writer's transaction instead; it is built
        there when an in-memory one outgrows the threshold, and dropped when it shrinks below half."""
        if index.kind in ("pgvector", "coded"):
            coded = index if isinstance(index, CodedIndex) else None
            index = self.store.change_database_index(coded.table if coded else index, self.key, removed, added)
            if not self._outgrown(index):
                return self._followed(coded, removed, added, index) if coded else index
            self.store.drop_database_index(self.key)
            index = self.build_index(index.dim)
        else:
            index = index.copy()
            index.remove(removed)
            if added:
                ids, vectors = self.store.passage_vectors(self.key, added, searchable_only=True)
                index.add(ids, vectors)
            if self.goes_in_database(len(index)) and (built := self.build_in_database()) is not None:
                return built
            if self._outgrown(index):
                index = self.build_index(index.dim)
        index.save(self.folder, self.key, generation, self.runtime)
        index.prepare()  # (by the writer, before a search holds it)
        return index

    # -- queries ---------------------------------------------------------------------------------

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector; the last `POLICYKB_QUERY_CACHE` ones are remembered (a user who
        clicks a filter or turns a page asks the same query again)."""
        size = self.settings.query_cache
        if not size:
            return self.embedder.encode_query(text)
        with self._lock:
            vec = self._queries.pop(text, None)
        if vec is None:
            vec = self.embedder.encode_query(text)
            vec.setflags(write=False)
        with self._lock:
            self._queries[text] = vec  # (re)inserted last: the dict's order is the use order
            while len(self._queries) > size:
                del self._queries[next(iter(self._queries))]
        return vec

    def topics(self, taxonomy: Any) -> TopicIndex:
        """The taxonomy's thematic values embedded by this space's model (once per taxonomy)."""
        with self._lock:
            if self._topics is None or self._topics[0] is not taxonomy:
                self._topics = (taxonomy, TopicIndex(taxonomy, self.settings.model_cache or default_cache()))
            return self._topics[1]

    def everyday(self, query_vector: np.ndarray) -> float | None:
        """How close the question is to the nearest everyday subject (`topics.Everyday`), by this
        space's model (the subjects embedded once per process, or read from the model cache)."""
        with self._lock:
            if self._everyday is None:
                self._everyday = Everyday(self.settings.model_cache or default_cache())
        return self._everyday.closeness(query_vector, self.embedder)

    def flat_layout(self, ids: np.ndarray, facets: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For exact search over a flat index whose entries hold passage `ids`: which entries are
        searchable (a mask), their item rows in `facets` (the search's FacetIndex), and, indexed by
        passage id, each searchable passage's place among the searchable entries (-1: none);
        cached until either changes."""
        key = (id(facets), len(ids), int(ids.sum()))
        with self._lock:
            if self._layout is None or self._layout[0] != key:
                rows = facets.rows_of_passages(ids)
                searchable = rows >= 0
                place = np.full(int(ids.max(initial=-1)) + 1, -1, dtype=np.int64)
                place[ids[searchable]] = np.arange(int(searchable.sum()))
                self._layout = (key, (searchable, rows, place), facets)  # (holding facets keeps its id unique)
            return self._layout[1]

"""`Backend`: one knowledge-base directory on this machine, and what keeps it in step.

It composes the `Store` (SQLite) and one or two `VectorSpace`s (a model with its FAISS index: the
main model's, and the multilingual encoder's beside it), loads models and indexes lazily (keyword
search and statistics never import torch), and keeps the store and the indexes in step: the store
is the source of truth, each index is derived from the vectors cached in it and rebuilt from them
whenever its manifest's generation disagrees. Searching, ingesting and moderating are handed this
object (never the `KnowledgeBase` facade above them).
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from policykb.backends.embedded.index import MANIFEST, VectorIndex, read_manifest
from policykb.backends.embedded.spaces import MULTILINGUAL_FOLDER, VectorSpace, multilingual_setting
from policykb.backends.embedded.store import Store
from policykb.config import Settings
from policykb.encoders.embed import Embedder
from policykb.errors import NotFound
from policykb.language.detect import covered
from policykb.models import embed_text
from policykb.taxonomy import Taxonomy

log = logging.getLogger("policykb")
STORE_MARKER = "store.json"  # which store the index files beside it were saved for
# The facet index follows up to this many changed items (or 5 % of its items) from the generation it
# was built for, instead of being built again from every item (20-35 s at a million items).
FOLLOWED_ITEMS = 5_000

if TYPE_CHECKING:
    from policykb.backends.embedded.facet_index import FacetIndex


@dataclass
class IndexChange:
    """Passages a write removes from and adds to the vector index."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    changed: bool = False


class Backend:
    """A store and the in-process indexes derived from it: today a knowledge-base directory
    (`kb.sqlite`, `vectors-<generation>.faiss`, `manifest.json`)."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder | None = None,
                 taxonomy: Taxonomy | None = None) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.taxonomy = taxonomy or Taxonomy.default()
        self.store = store
        self.main = VectorSpace(settings, self.store, self.home, settings.model, "POLICYKB_MODEL", embedder)
        self.model = self.main.key
        second = multilingual_setting(settings, self.main.key)
        self.spaces = [self.main] + ([VectorSpace(settings, self.store, self.home / MULTILINGUAL_FOLDER, second,
                                                  "POLICYKB_MULTILINGUAL_MODEL")] if second else [])
        self._facets: tuple[int, FacetIndex] | None = None  # (generation, FacetIndex)
        self._seen = 0  # the newest generation this process has read or written (a replica must have it)
        self._lock = threading.RLock()
        self._write_lock = threading.RLock()  # one writing thread per process; the file lock, one process
        self._writer = threading.local()  # .depth: how deep this thread is inside writing_lock()
        self._claim_home()

    def _claim_home(self) -> None:
        """Index files in `home` are derived from one store: when they were saved for another one
        (a folder reused, POLICYKB_DATABASE_URL set or changed), their manifests go, so that they
        are rebuilt from this store rather than taken for its own (generations may coincide)."""
        marker, mine = self.home / STORE_MARKER, self.store.store_id()
        try:
            known = json.loads(marker.read_text(encoding="utf-8")).get("store")
        except (OSError, ValueError, AttributeError):
            known = None
        if known == mine:
            return
        for space in self.spaces:  # (a folder from before these markers keeps its index files)
            if known is not None and (space.folder / MANIFEST).exists():
                log.warning("the index files in %s were saved for another store: rebuilt from this one", space.folder)
                (space.folder / MANIFEST).unlink(missing_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"store": mine}), encoding="utf-8")

    def close(self) -> None:
        self.store.close()

    # -- lazily loaded parts ------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The main model (it also sizes passages)."""
        return self.main.embedder

    @property
    def index(self) -> VectorIndex:
        """The main model's FAISS index, (re)loaded when the store's generation moved on (another
        process wrote)."""
        return self.snapshot()[0]

    @property
    def facet_index(self) -> FacetIndex:
        """Facet values, years and passages of the published items in memory, rebuilt per generation."""
        return self.snapshot()[1]

    def space_for(self, language: str | None, words: bool = True) -> VectorSpace:
        """The vector space that answers a question in `language`: the main model's for English
        (and for everything when there is no second model); the multilingual encoder's for anything
        that is not English, an undetermined language (one word) included, unless that encoder is
        known not to cover the language. A question without a letter (numbers, codes: `words`
        False) has no language and stays with the main model."""
        main = covered(self.main.key, language)
        if len(self.spaces) == 1 or language == "en" or (main and language is not None) or not words:
            return self.main
        second = self.spaces[1]
        return second if covered(second.key, language) is not False else self.main

    def snapshot(self, space: VectorSpace | None = None) -> tuple[VectorIndex, FacetIndex]:
        """A space's vector index (the main one's by default) and the facet index of one and the
        same generation, for one search (neither object changes afterwards: a writer replaces them,
        never edits them in place), each (re)built from one committed state of the store."""
        with self._lock, self.store.reading():
            generation = self.store.generation
            self._seen = max(self._seen, generation)
            return (space or self.main).index_for(generation, self.writing_lock), self._facets_for(generation)

    @contextmanager
    def searching(self) -> Iterator[None]:
        """One search's reads, all from one committed state: a read replica's when the store has
        one that holds every change this process has seen (POLICYKB_DATABASE_READ_URL), else the
        primary's (see `PgStore.reading`). Without replicas, as before: each read of its own."""
        if not getattr(self.store, "read_url", None):
            yield
            return
        with self.store.reading(replica_from=self._seen):
            yield

    def _facets_for(self, generation: int) -> FacetIndex:
        from policykb.backends.embedded.facet_index import FacetIndex

        if self._facets is None or self._facets[0] != generation:
            followed = None
            if self._facets is not None and self._facets[0] < generation:
                before = self._facets[1]
                changed = self.store.items_changed_between(self._facets[0], generation)
                if changed is not None and len(changed) <= max(FOLLOWED_ITEMS, len(before) // 20):
                    followed = before.followed(self.store, changed)
            self._facets = (generation, followed or FacetIndex(self.store, self.taxonomy.names))
        return self._facets[1]

    def forget_index(self) -> None:
        """Load the indexes again at next use (after a restore replaced the store)."""
        with self._lock:
            for space in self.spaces:
                space.set_index(None)
            self._facets = None

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector by the main model (cached: see `VectorSpace.embed_query`)."""
        return self.main.embed_query(text)

    # -- writing ------------------------------------------------------------------------------

    @contextmanager
    def writing_lock(self, wait: bool = True) -> Iterator[bool]:
        """Hold the knowledge base's write lock: one writer at a time across threads and processes
        (the store's `exclusive` lock: a file lock beside an SQLite file), for the whole of a write,
        deciding included (an ingest reads what is stored, plans, embeds and writes under it).
        Re-entrant in one thread. With `wait=False` it is only taken if free; the context value
        says whether it was."""
        if not self._write_lock.acquire(blocking=wait):
            yield False
            return
        try:
            depth = getattr(self._writer, "depth", 0)
            if depth:
                self._writer.depth = depth + 1
                try:
                    yield True
                finally:
                    self._writer.depth = depth
                return
            with self.store.exclusive(wait) as mine:
                if not mine:
                    yield False
                    return
                self._writer.depth = 1
                try:
                    yield True
                finally:
                    self._writer.depth = 0
        finally:
            self._write_lock.release()

    @contextmanager
    def writing(self) -> Iterator[IndexChange]:
        """One atomic write of the store and the index.

        Inside: store writes, recorded in the yielded `IndexChange`. On leaving: if anything changed,
        the generation moves on and each space's index for it is saved before the SQLite transaction
        commits. If anything fails, the store rolls back and the indexes are reloaded or rebuilt from
        the store.
        """
        store = self.store
        committed: list[tuple[VectorSpace, VectorIndex]] = []
        generation = -1
        with self.writing_lock():
            try:
                with store.transaction():
                    # Read under the write lock: if another process committed since, this reloads the indexes.
                    current = [(space, space.index_for(store.generation, self.writing_lock)) for space in self.spaces]
                    change = IndexChange()
                    yield change
                    if change.changed:
                        generation = store.bump_generation()
                        store.record_change(generation, change.removed, change.added)
                        committed = [(space, space.changed(index, change.removed, change.added, generation))
                                     for space, index in current]
            except BaseException:
                # An index in memory may be of a generation the store never committed, and so may a
                # manifest: forget them, so the next use loads or rebuilds from the store.
                for space in self.spaces:
                    space.set_index(None)
                    manifest = read_manifest(space.folder)
                    if manifest and manifest.get("generation") != store.generation:
                        (space.folder / MANIFEST).unlink(missing_ok=True)
                raise
            with self._lock:  # only now: until the commit, searches use the old generation
                self._seen = max(self._seen, generation)
                for space, index in committed:
                    space.set_index(index, generation)

    def set_published(self, item_id: str, published: bool, then: Callable[[str, str], None] | None = None) -> None:
        """Hide an item from every search (kept in the store), or show it again; `then(before,
        after)` runs inside the same transaction (the audit entry), even when nothing changes."""
        with self.writing() as change:
            status = self.store.item_status(item_id)
            if status is None:
                raise NotFound(f"no item with id {item_id!r}", {"id": item_id})
            wanted = "published" if published else "unpublished"
            if status != wanted:
                pids = self.store.passage_ids(item_id)
                self.store.set_status(item_id, wanted)
                if published:
                    change.added += pids
                else:
                    change.removed += pids
                change.changed = True
            if then is not None:
                then(status, wanted)

    # -- vectors ------------------------------------------------------------------------------

    def embed_and_cache(self, texts: dict[str, str], progress: bool = False) -> int:
        """Embed the texts (by hash) that have no cached vector, by every model of the knowledge
        base; returns how many the main model embedded."""
        return [self._embed_for(space, texts, progress) for space in self.spaces][0]

    def embed_missing(self, space: VectorSpace | None = None, progress: bool = True) -> int:
        """Embed stored passages that have no vector for a space's model (the main one by default),
        after a model change or when a second model was switched on."""
        space = space or self.main
        missing = self.store.passages_missing_vectors(space.key)
        return self._embed_for(space, {h: embed_text(title, text) for h, title, text in missing}, progress)

    def _embed_for(self, space: VectorSpace, texts: dict[str, str], progress: bool) -> int:
        if not texts:
            return 0
        from policykb.progress import bar

        cached = self.store.cached_vectors(space.key, list(texts))
        missing = [h for h in texts if h not in cached]
        batch = max(self.settings.batch_size * 8, 256)
        label = "embedding" if space is self.main else f"embedding ({space.key})"
        shown = bar(len(missing), label, "passage", progress)
        for start in range(0, len(missing), batch):
            chunk = missing[start:start + batch]
            vectors = space.embedder.encode([texts[h] for h in chunk])
            self.store.cache_vectors(space.key, dict(zip(chunk, vectors)))
            shown.update(len(chunk))
        shown.close()
        return len(missing)

    def build_database_indexes(self) -> int:
        """Past the IVF threshold on a store that searches its vectors itself (PostgreSQL), build
        each model's vector table now (after a copy) rather than at the next write; how many were built."""
        built = 0
        with self.writing_lock(), self.store.transaction():
            total = self.store.stats()["passages"]
            for space in self.spaces:
                if space.goes_in_database(total):
                    if space.build_in_database() is None:
                        break
                    built += 1
        self.forget_index()
        return built

    def reindex(self) -> dict[str, int]:
        """Embed every passage that lacks a vector for the current model, rebuild the vector index,
        and write the keyword index again in one segment per term."""
        with self.writing_lock():
            embedded = sum(self.embed_missing(space) for space in self.spaces)
            self.store.rebuild_postings()
            total = self.store.stats()["passages"]
            # (past the IVF threshold on PostgreSQL the vectors are searched in the database: ann.py)
            indexes: list[Any] = [None if space.goes_in_database(total) else space.build_index() for space in self.spaces]
            with self.store.transaction():
                generation = self.store.bump_generation()
                for at, (space, index) in enumerate(zip(self.spaces, indexes)):
                    if index is None:
                        indexes[at] = space.build_in_database()
                        if indexes[at] is not None:
                            continue
                        index = indexes[at] = space.build_index()
                    if self.store.database_indexes:
                        self.store.drop_database_index(space.key)
                    index.save(space.folder, space.key, generation, space.runtime)
            with self._lock:
                for space, index in zip(self.spaces, indexes):
                    space.set_index(index, generation)
        return {"embedded": embedded, "passages": len(indexes[0])}

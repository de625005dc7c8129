"""`KnowledgeBase`: the one facade the CLI, the API and the UI call.

It composes the `Store` (SQLite) and one or two `VectorSpace`s (a model with its FAISS index:
the main model's, and the multilingual encoder's beside it), loads models and indexes lazily
(keyword search and statistics never import torch), and keeps the store and the indexes in step:
the store is the source of truth, each index is derived from the vectors cached in it and rebuilt
from them whenever its manifest's generation disagrees.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from policykb.config import Settings
from policykb.encoders.embed import Embedder
from policykb.errors import NotFound
from policykb.backends.embedded.index import MANIFEST, VectorIndex, read_manifest
from policykb.ingest.export import item_record
from policykb.language.detect import covered
from policykb.models import SearchResult
from policykb.backends.embedded.spaces import MULTILINGUAL_FOLDER, VectorSpace, multilingual_setting
from policykb.backends.embedded.store import Store
from policykb.taxonomy import Taxonomy
from policykb.language.text import normalise

log = logging.getLogger("policykb")


@dataclass
class IndexChange:
    """Passages a write removes from and adds to the vector index."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    changed: bool = False


class KnowledgeBase:
    """A knowledge-base directory: `kb.sqlite`, `vectors-<generation>.faiss`, `manifest.json`."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 taxonomy: Taxonomy | None = None) -> None:
        self.settings = settings or Settings()
        self.home = Path(self.settings.home)
        self.taxonomy = taxonomy or Taxonomy.default()
        self.store = Store(self.home / "kb.sqlite")
        self.main = VectorSpace(self.settings, self.store, self.home, self.settings.model, "POLICYKB_MODEL", embedder)
        self.model = self.main.key
        second = multilingual_setting(self.settings, self.main.key)
        self.spaces = [self.main] + ([VectorSpace(self.settings, self.store, self.home / MULTILINGUAL_FOLDER, second,
                                                  "POLICYKB_MULTILINGUAL_MODEL")] if second else [])
        self._facets: tuple[int, Any] | None = None  # (generation, FacetIndex)
        self._lock = threading.RLock()
        self._write_lock = threading.RLock()  # one writing thread per process; the file lock, one process
        self._writer = threading.local()  # .depth: how deep this thread is inside writing_lock()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    @property
    def facet_index(self):  # -> FacetIndex
        """Facet values, years and passages of the published items in memory, rebuilt per generation."""
        return self.snapshot()[1]

    def snapshot(self, space: VectorSpace | None = None):  # -> tuple[VectorIndex, FacetIndex]
        """A space's vector index (the main one's by default) and the facet index of one and the
        same generation, for one search (neither object changes afterwards: a writer replaces them,
        never edits them in place), each (re)built from one committed state of the store."""
        with self._lock, self.store.reading():
            generation = self.store.generation
            return (space or self.main).index_for(generation, self.writing_lock), self._facets_for(generation)

    def _facets_for(self, generation: int):  # -> FacetIndex
        from policykb.backends.embedded.facet_index import FacetIndex

        if self._facets is None or self._facets[0] != generation:
            self._facets = (generation, FacetIndex(self.store, self.taxonomy.names))
        return self._facets[1]

    def forget_index(self) -> None:
        """Load the indexes again at next use (after a restore replaced the store)."""
        with self._lock:
            for space in self.spaces:
                space.set_index(None)
            self._facets = None

    @contextmanager
    def writing_lock(self, wait: bool = True) -> Iterator[bool]:
        """Hold the knowledge base's write lock: one writer at a time across threads and processes
        (a file lock on `write.lock`), for the whole of a write, deciding included (an ingest reads
        what is stored, plans, embeds and writes under it). Re-entrant in one thread. With
        `wait=False` it is only taken if free; the context value says whether it was."""
        if not self._write_lock.acquire(blocking=wait):
            yield False
            return
        try:
            depth = getattr(self._writer, "depth", 0)
            handle = None
            if depth == 0:
                self.home.mkdir(parents=True, exist_ok=True)
                handle = os.open(self.home / "write.lock", os.O_CREAT | os.O_RDWR, 0o644)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(handle)
                    yield False
                    return
            self._writer.depth = depth + 1
            try:
                yield True
            finally:
                self._writer.depth = depth
                if handle is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    os.close(handle)
        finally:
            self._write_lock.release()

    def reindex(self) -> dict[str, int]:
        """Embed every passage that lacks a vector for the current model, rebuild the vector index,
        and write the keyword index again in one segment per term."""
        from policykb.ingest.pipeline import embed_missing

        with self.writing_lock():
            embedded = sum(embed_missing(self, space) for space in self.spaces)
            self.store.rebuild_postings()
            indexes = [space.build_index() for space in self.spaces]
            with self.store.transaction():
                generation = self.store.bump_generation()
                for space, index in zip(self.spaces, indexes):
                    index.save(space.folder, space.key, generation, space.runtime)
            with self._lock:
                for space, index in zip(self.spaces, indexes):
                    space.set_index(index, generation)
        return {"embedded": embedded, "passages": len(indexes[0])}

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

    def chunker(self):  # -> Chunker
        """Cuts text into passages that fit the model with their title (loads the model)."""
        from policykb.ingest.loader import Chunker

        e = self.embedder
        return Chunker(e.count_tokens, e.max_tokens, self.settings.chunk_tokens, self.settings.chunk_overlap)

    @property
    def contributions(self):  # -> Contributions
        from policykb.moderation.contributions import Contributions

        return Contributions(self)

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector by the main model (cached: see `VectorSpace.embed_query`)."""
        return self.main.embed_query(text)

    # -- the operations -----------------------------------------------------------------------

    def ingest(self, paths: list[Path | str], prune: bool = False, progress: bool = False,
               fmt: str = "auto"):  # -> IngestReport
        """Add or update items from files; `fmt` "beir" or "stip" reads those public data sets."""
        from policykb.ingest.pipeline import ingest

        return ingest(self, [Path(p) for p in paths], prune=prune, progress=progress, fmt=fmt)

    def search(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None, page: int = 1, size: int = 10,
               facets: bool = True, facet_size: int = 50, language: str | None = None) -> SearchResult:
        """A search; `language` forces the question's language (else it is detected). The query is
        normalised as stored text is (`text.normalise`: ligatures, soft hyphens, Unicode hyphens)."""
        from policykb.search.searcher import Searcher

        return Searcher(self).search(normalise(query), mode=mode, filters=filters, year_from=year_from, year_to=year_to,
                                     page=page, size=size, with_facets=facets, facet_size=facet_size,
                                     language=language)

    def counts(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None) -> dict[str, Any]:
        """What a result set holds, counted: the total, `facets` (disjunctive, for filters: each facet
        without its own filter), `values` (each facet over the result set itself, for charts) and
        items per start year; as fast as a search, whatever the size of the set."""
        from policykb.search.searcher import Searcher

        result = Searcher(self).search(normalise(query), mode=mode, filters=filters, year_from=year_from,
                                       year_to=year_to, size=1, facet_size=100_000, with_years=True)
        return {"query": result.query, "mode": result.mode, "total": result.total, "facets": result.facets,
                "values": result.values, "start_years": result.start_years, "undated": result.undated}

    def similar(self, item_id: str, k: int = 10, filters: dict[str, Any] | None = None,
                year_from: int | None = None, year_to: int | None = None) -> list:
        from policykb.search.searcher import Searcher

        return Searcher(self).similar(item_id, k=k, filters=filters, year_from=year_from, year_to=year_to)

    def get(self, item_id: str, include_unpublished: bool = False) -> dict[str, Any]:
        """The full record of one item with its passages and facet labels."""
        item = self.store.get_items([item_id]).get(item_id)
        status = self.store.item_status(item_id)
        if item is None or (status != "published" and not include_unpublished):
            raise NotFound(f"no item with id {item_id!r}", {"id": item_id})
        record = item_record(item, self.taxonomy, self.home)
        record["status"] = status
        record["passages"] = [
            {"id": pid, "seq": p.seq, "page": p.page, "section": p.section, "text": p.text}
            for pid, p in self.store.get_passages(item_id)
        ]
        record["facet_labels"] = {
            facet: [self.taxonomy.label(facet, v) for v in values] for facet, values in item.facets.items()
        }
        return record

    def export(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None) -> list[dict[str, Any]]:
        """Every item of a search's result set, in rank order, as records (the fields the record
        loaders read, which ignore the rest) with `rank`, `score` (none when browsing) and each
        facet's labels beside its ids; a facet no item of the knowledge base uses is left out."""
        from policykb.search.searcher import MAX_PAGE_SIZE

        ranked: list[tuple[str, float | None]] = []
        page = 1
        while True:
            result = self.search(query, mode=mode, filters=filters, year_from=year_from, year_to=year_to,
                                 page=page, size=MAX_PAGE_SIZE, facets=False)
            ranked += [(h.id, h.score if query.strip() else None) for h in result.hits]
            if len(result.hits) < MAX_PAGE_SIZE or len(ranked) >= result.total:
                break
            page += 1
        items = self.store.get_items([i for i, _ in ranked])
        unused = {self.taxonomy.facet(name).record_key for name, facet in self.facet_overview(facet_size=1).items()
                  if not any(v["count"] for v in facet["values"])}  # e.g. the STIP facets of a base without STIP
        left_out = unused | {f"{key}_label" for key in unused}
        return [{k: v for k, v in {"rank": rank, "score": score,
                                   **item_record(items[i], self.taxonomy, self.home, labels=True)}.items()
                 if k not in left_out}
                for rank, (i, score) in enumerate(((i, s) for i, s in ranked if i in items), 1)]

    def document_path(self, item_id: str) -> Path | None:
        """The original document file of a published item, if it has one on this machine."""
        self.get(item_id)  # raises NotFound for unknown and unpublished items
        source = self.store.item_sources([item_id])[item_id][1]
        path = Path(source) if source and not source.startswith("contribution") else None
        return path if path is not None and path.is_file() else None

    def backup(self, target: Path | str) -> dict[str, Any]:
        """A consistent copy of this knowledge base in a new folder, safe while others write."""
        from policykb.backends.embedded.backup import backup

        return backup(self, Path(target))

    def restore(self, source: Path | str) -> dict[str, Any]:
        """Replace this knowledge base with a backup (the index is rebuilt from its vectors)."""
        from policykb.backends.embedded.backup import restore

        return restore(self, Path(source))

    def stats(self, public: bool = False) -> dict[str, Any]:
        """Counts of what is published; `public` leaves out what only an operator may know (how
        many items are hidden, how many files were ingested)."""
        stats = self.store.stats()
        if public:
            stats = {k: v for k, v in stats.items() if k not in ("unpublished", "files")}
        manifest = read_manifest(self.home) or {}
        stats["model"] = self.model
        stats["index"] = {k: manifest.get(k) for k in ("dimension", "count", "generation")}
        if len(self.spaces) > 1:
            second = read_manifest(self.spaces[1].folder) or {}
            stats["multilingual_model"] = self.spaces[1].key
            stats["multilingual_index"] = {k: second.get(k) for k in ("dimension", "count", "generation")}
        return stats

    def check(self, sample: int = 20) -> dict[str, Any]:
        """Do the store and the indexes agree? The vector index on disk: generation and number of
        vectors; the keyword index: the postings of `sample` passages against their stored text;
        ingested files and moderated contributions against the items (see health.py)."""
        from policykb.backends.embedded.health import check

        return check(self, sample)

    def warm_up(self) -> dict[str, float]:
        """Load everything a search may need and ask one question of each kind (see warmup.py);
        the seconds each step took."""
        from policykb.warmup import warm_up

        return warm_up(self)

    def facet_overview(self, facet_size: int = 100) -> dict[str, Any]:
        """Counts of every facet value over the whole knowledge base."""
        return self.search("", size=1, facet_size=facet_size).facets

"""`KnowledgeBase`: the one facade the CLI, the API and the UI call.

It holds a backend (today the embedded one: `backends/embedded/`, a SQLite file with FAISS indexes
beside it) and hands it to the parts that do the work: `search/` (a `Searcher` per question),
`ingest/`, `moderation/`, and the backend's own health check and backup. Those parts never import
this module: the facade sits above them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from policykb.backends import open_backend
from policykb.backends.backend import Backend, IndexChange
from policykb.config import Settings
from policykb.encoders.embed import Embedder
from policykb.errors import NotFound, PolicyKBError
from policykb.ingest.export import item_record
from policykb.models import SearchResult, document_link, from_file
from policykb.language.text import normalise
from policykb.taxonomy import Taxonomy

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from policykb.backends.embedded.facet_index import FacetIndex
    from policykb.backends.embedded.index import VectorIndex
    from policykb.backends.embedded.spaces import VectorSpace
    from policykb.moderation.contributions import Contributions

__all__ = ["IndexChange", "KnowledgeBase"]


class KnowledgeBase:
    """A knowledge base: its backend, and every operation the interfaces offer."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 taxonomy: Taxonomy | None = None) -> None:
        self.backend: Backend = open_backend(settings or Settings(), embedder, taxonomy)
        b = self.backend  # its settings are the facade's: one object (a change to one is a change to both)
        self.settings, self.home, self.taxonomy, self.store, self.main, self.spaces, self.model = (
            b.settings, b.home, b.taxonomy, b.store, b.main, b.spaces, b.model)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the backend's parts, for operators' tools and tests ----------------------------------

    @property
    def embedder(self) -> Embedder:
        return self.backend.embedder

    @property
    def index(self) -> VectorIndex:
        return self.backend.index

    @property
    def facet_index(self) -> FacetIndex:
        return self.backend.facet_index

    def snapshot(self, space: VectorSpace | None = None) -> tuple[VectorIndex, FacetIndex]:
        return self.backend.snapshot(space)

    def space_for(self, language: str | None, words: bool = True) -> VectorSpace:
        return self.backend.space_for(language, words)

    def writing(self) -> AbstractContextManager[IndexChange]:
        return self.backend.writing()

    def writing_lock(self, wait: bool = True) -> AbstractContextManager[bool]:
        return self.backend.writing_lock(wait)

    def embed_query(self, text: str) -> np.ndarray:
        return self.backend.embed_query(text)

    def set_published(self, item_id: str, published: bool, then: Callable[[str, str], None] | None = None) -> None:
        self.backend.set_published(item_id, published, then)

    def reindex(self) -> dict[str, int]:
        """Embed every passage that lacks a vector for the current model, rebuild the vector index,
        and write the keyword index again in one segment per term."""
        return self.backend.reindex()

    @property
    def contributions(self) -> Contributions:
        from policykb.moderation.contributions import Contributions

        return Contributions(self.backend)

    # -- the operations -----------------------------------------------------------------------

    def ingest(self, paths: list[Path | str], prune: bool = False, progress: bool = False,
               fmt: str = "auto"):  # -> IngestReport
        """Add or update items from files; `fmt` "beir" or "stip" reads those public data sets."""
        from policykb.ingest.pipeline import ingest

        return ingest(self.backend, [Path(p) for p in paths], prune=prune, progress=progress, fmt=fmt)

    def search(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None, page: int = 1, size: int = 10,
               facets: bool = True, facet_size: int = 50, language: str | None = None) -> SearchResult:
        """A search; `language` forces the question's language (else it is detected). The query is
        normalised as stored text is (`text.normalise`: ligatures, soft hyphens, Unicode hyphens)."""
        from policykb.search.searcher import Searcher

        with self.backend.searching():
            return Searcher(self.backend).search(_question(query), mode=mode, filters=filters, year_from=year_from,
                                                 year_to=year_to, page=page, size=size, with_facets=facets,
                                                 facet_size=facet_size, language=language)

    def counts(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None, language: str | None = None
               ) -> dict[str, Any]:
        """What a result set holds, counted: the total, `facets` (disjunctive, for filters: each facet
        without its own filter), `values` (each facet over the result set itself, for charts) and
        items per start year; as fast as a search, whatever the size of the set. `language`: as for
        `search` (the same set as the search with that language)."""
        from policykb.search.searcher import Searcher

        with self.backend.searching():
            result = Searcher(self.backend).search(_question(query), mode=mode, filters=filters, year_from=year_from,
                                                   year_to=year_to, size=1, facet_size=100_000, with_years=True,
                                                   language=language)
        return {"query": result.query, "mode": result.mode, "total": result.total, "facets": result.facets,
                "values": result.values, "start_years": result.start_years, "undated": result.undated}

    def similar(self, item_id: str, k: int = 10, filters: dict[str, Any] | None = None,
                year_from: int | None = None, year_to: int | None = None) -> list:
        from policykb.search.searcher import Searcher

        with self.backend.searching():
            return Searcher(self.backend).similar(item_id, k=k, filters=filters, year_from=year_from, year_to=year_to)

    def get(self, item_id: str, include_unpublished: bool = False) -> dict[str, Any]:
        """The full record of one item with its passages and facet labels."""
        item = self.store.get_items([item_id]).get(item_id)
        status = self.store.item_status(item_id)
        if item is None or (status != "published" and not include_unpublished):
            raise NotFound(f"no item with id {item_id!r}", {"id": item_id})
        record = item_record(item, self.taxonomy, self.home)
        record["status"] = status
        record["file"] = document_link(item.id, item.source)
        record["passages"] = [
            {"id": pid, "seq": p.seq, "page": p.page, "section": p.section, "text": p.text}
            for pid, p in self.store.get_passages(item_id)
        ]
        record["facet_labels"] = {
            facet: [self.taxonomy.label(facet, v) for v in values] for facet, values in item.facets.items()
        }
        return record

    def export(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               year_from: int | None = None, year_to: int | None = None, language: str | None = None
               ) -> list[dict[str, Any]]:
        """Every item of a search's result set, in rank order, as records (the fields the record
        loaders read, which ignore the rest) with `rank`, `score` (none when browsing) and each
        facet's labels beside its ids; a facet no item of the knowledge base uses is left out.
        `language`: as for `search` (the same set as the search with that language)."""
        from policykb.search.searcher import MAX_PAGE_SIZE

        ranked: list[tuple[str, float | None]] = []
        page = 1
        while True:
            result = self.search(query, mode=mode, filters=filters, year_from=year_from, year_to=year_to,
                                 page=page, size=MAX_PAGE_SIZE, facets=False, language=language)
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
        """The original document file of a published item, None if it has none; NotFound (reason
        `file_missing`) if it was ingested from a file that has since been moved or deleted (its
        text is still searchable; no server path is named)."""
        self.get(item_id)  # raises NotFound for unknown and unpublished items
        source = self.store.item_sources([item_id])[item_id][1]
        path = Path(source) if from_file(source) else None
        if path is not None and not path.is_file():
            raise NotFound(f"the original document of item {item_id!r} is no longer where it was ingested from; "
                           "ingest it again from where it is now", {"id": item_id, "reason": "file_missing"})
        return path

    def backup(self, target: Path | str) -> dict[str, Any]:
        """A consistent copy of this knowledge base in a new folder, safe while others write."""
        from policykb.backends.embedded.backup import backup

        self._embedded_only("backup", f"policykb migrate --to {target} (a copy into a new folder)")

        return backup(self.backend, Path(target))

    def restore(self, source: Path | str) -> dict[str, Any]:
        """Replace this knowledge base with a backup (the index is rebuilt from its vectors)."""
        from policykb.backends.embedded.backup import restore

        self._embedded_only("restore", "policykb --home BACKUP migrate --to THE_DATABASE_URL (into an empty "
                                       "database), or PostgreSQL's own tools (pg_dump, pg_restore)")

        return restore(self.backend, Path(source))

    def migrate(self, to: Path | str) -> dict[str, Any]:
        """Copy this knowledge base into an empty one: a new folder (the embedded store) or a
        PostgreSQL database (a postgresql:// URL), every item, passage, cached vector,
        contribution, audit entry and version, ids kept; then check both. The rows copied per
        table, the target's generation and each side's check status. A database target's vector
        indexes are built in a temporary folder for its check (each server builds its own), or past
        the IVF threshold in the database itself (`vector_tables`: see backends/postgres/ann.py); its
        contributions keep pointing at the uploaded documents where they are (POLICYKB_HOME/uploads
        of this knowledge base: move them to the servers' shared storage with the same path)."""
        from tempfile import TemporaryDirectory

        from policykb.backends import is_database_url
        from policykb.backends.copy import copy_knowledge_base

        with TemporaryDirectory(prefix="policykb-migrate-") as scratch:
            if is_database_url(to):
                update = {"database_url": str(to), "home": Path(scratch)}
            else:
                update = {"database_url": None, "home": Path(to)}
            with KnowledgeBase(self.settings.model_copy(update=update), taxonomy=self.taxonomy) as target:
                report = copy_knowledge_base(self.backend, target.backend, uploads=not is_database_url(to))
                report["check"] = {"source": self.check()["status"], "target": target.check()["status"]}
        return report

    def _embedded_only(self, action: str, instead: str) -> None:
        if self.settings.database_url:
            raise PolicyKBError(f"{action} copies the embedded SQLite file; this knowledge base is in PostgreSQL "
                                f"(POLICYKB_DATABASE_URL): use {instead}")

    def stats(self, public: bool = False) -> dict[str, Any]:
        """Counts of what is published; `public` leaves out what only an operator may know (how
        many items are hidden, how many files were ingested)."""
        stats = self.store.stats()
        if public:
            stats = {k: v for k, v in stats.items() if k not in ("unpublished", "files")}
        stats["model"] = self.model
        stats["index"] = self.spaces[0].described()
        if len(self.spaces) > 1:
            stats["multilingual_model"] = self.spaces[1].key
            stats["multilingual_index"] = self.spaces[1].described()
        return stats

    def check(self, sample: int = 20) -> dict[str, Any]:
        """Do the store and the indexes agree? The vector index on disk: generation and number of
        vectors; the keyword index: the postings of `sample` passages against their stored text;
        ingested files and moderated contributions against the items (see health.py)."""
        from policykb.backends.health import check

        return check(self.backend, sample)

    def warm_up(self) -> dict[str, float]:
        """Load everything a search may need and ask one question of each kind (see warmup.py);
        the seconds each step took."""
        from policykb.warmup import warm_up

        return warm_up(self)

    def facet_overview(self, facet_size: int = 100) -> dict[str, Any]:
        """Counts of every facet value over the whole knowledge base."""
        return self.search("", size=1, facet_size=facet_size).facets


def _question(query: str) -> str:
    """The query normalised as stored text is; a query of invisible characters alone (zero-width
    spaces and joiners, which normalising removes) is kept as it came, so that it finds nothing, as
    punctuation alone does: normalised to nothing, it was an empty query and browsed every item. Its
    length is checked as it came (normalising may lengthen it: "ﬁ" is two letters then)."""
    from policykb.search.searcher import check_query_length

    check_query_length(query)
    normalised = normalise(query)
    return normalised if normalised.strip() or not query.strip() else query.strip()

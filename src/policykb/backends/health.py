"""Does a knowledge base agree with itself? The store, each vector index, the keyword index, the
files that were ingested and the contributions that were moderated (`policykb check`, `/health`).

A writer saves the index of generation N+1 (and its manifest) just before its SQLite transaction
commits, so for a moment the manifest on disk is one generation ahead of the store. A check that
meets a disagreement therefore looks again holding the write lock, so that nothing moves under the
second look; when another writer holds the lock, an index exactly one generation ahead is that
writer's work in progress, not a fault. `/health` does not flap while moderators approve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from policykb.errors import IndexMismatch
from policykb.backends.embedded.index import read_manifest

if TYPE_CHECKING:
    from policykb.backends.backend import Backend


def check(backend: Backend, sample: int = 20) -> dict[str, Any]:
    """The full report: `status` ("ok" or "inconsistent") and what was compared."""
    report = _look(backend, sample, writing=False)
    if report["status"] == "ok":
        return report
    with backend.writing_lock(wait=False) as mine:
        return _look(backend, sample, writing=not mine)


def public(report: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a report is healthy, and if not a short reason that names no path or item."""
    if report["status"] == "ok":
        return True, None
    if report.get("problem") or report["vectors"] != report["passages"] or \
            report["index_generation"] != report["generation"]:
        return False, "the vector index disagrees with the store"
    if report["keyword_disagreeing"]:
        return False, "the keyword index disagrees with the store"
    if report["files_disagreeing"]:
        return False, "files and items disagree"
    if report["contributions_disagreeing"]:
        return False, "moderation and items disagree"
    return False, "the multilingual index disagrees with the store"


def _look(backend: Backend, sample: int, writing: bool) -> dict[str, Any]:
    """One look; with `writing` (another writer holds the write lock), an index saved for the next
    generation is accepted as long as the index in use agrees with the store."""
    store = backend.store
    with store.reading():  # one committed state of the store for every count below
        stats = store.stats()
        generation, passages = stats["generation"], stats["passages"]
        ok, found, problem = True, [], None
        for space in backend.spaces:
            try:
                index = backend.snapshot(space)[0]  # loads the index, rebuilding it if its generation is stale
                vectors = len(index)
            except IndexMismatch as exc:  # e.g. a second model switched on and nothing embedded for it yet
                if space is backend.main:
                    raise
                ok, problem = False, str(exc)
                found.append((None, 0))
                continue
            if index.kind in ("pgvector", "coded"):  # the database's own, changed in every write's transaction
                table = index.table if index.kind == "coded" else index  # (and this process's codes of it)
                vectors = table.rows()  # (counted, not the count kept beside it)
                ok &= vectors == len(table) == len(index) == passages
                found.append((generation, vectors))
                continue
            manifest = read_manifest(space.folder) or {}
            saved = manifest.get("generation")
            ok &= (saved == generation and manifest.get("count") == vectors == passages) or \
                (writing and saved == generation + 1 and vectors == passages)
            found.append((saved, vectors))
        checked, disagree = store.postings_disagreeing(sample)
        owners = store.files_disagreeing()
        moderated = store.contributions_disagreeing()
    out = {"status": "ok" if ok and not disagree and not owners and not moderated else "inconsistent",
           "generation": generation, "index_generation": found[0][0],
           "items": stats["items"], "passages": passages, "vectors": found[0][1],
           "keyword_checked": checked, "keyword_disagreeing": disagree,
           "files_disagreeing": [f"{path}: {item}" for path, item in owners[:20]],
           "contributions_disagreeing": [f"{c} is {status} but its item {item} exists"
                                         for c, status, item in moderated[:20]]}
    if writing and ok and found[0][0] != generation:
        out["writing"] = True  # a writer is committing generation + 1
    if len(found) > 1:
        out["multilingual_index_generation"], out["multilingual_vectors"] = found[1]
    if problem:
        out["problem"] = problem
    return out

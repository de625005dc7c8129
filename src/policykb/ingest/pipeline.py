"""The ingest run: scan -> parse -> diff against the store -> embed what is new -> one atomic write.

Order of writes: vectors of new passages go to the store's cache first (harmless on their own);
then one SQLite transaction writes items, passages and facets, bumps the generation and, before
it commits, saves the FAISS index for that generation. If the process dies in between, the next
open sees a manifest whose generation differs from the store's and rebuilds the index from the
cached vectors, so the store and the index never stay out of step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from policykb.models import IngestReport, Item, Problem, passage_texts, sha256
from policykb.errors import PolicyKBError
from policykb.ingest.importers import FORMATS
from policykb.ingest.loader import Chunker, chunker_for, extra_inputs, load_file, scan
from policykb.progress import iterate

if TYPE_CHECKING:
    from policykb.backends.backend import Backend

CHUNKER_VERSION = 5  # 2: section headings moved from the text to the context; 3: PDF running lines dropped;
# 4: text normalised (text.py), PDF titles from the page, ids transliterated, field names matched leniently;
# 5: PDF pages cut at their headings (pdf_sections.py)


@dataclass
class FilePlan:
    key: str
    digest: str
    size: int
    items: list[Item]
    old_ids: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)



def ingest(backend: Backend, paths: list[Path], prune: bool = False, progress: bool = False,
           fmt: str = "auto") -> IngestReport:
    """Under the knowledge base's write lock from the first read to the commit: what is stored
    decides what is written, so no other writer may change it in between."""
    with backend.writing_lock():
        return _ingest(backend, paths, prune, progress, fmt)


def _ingest(backend: Backend, paths: list[Path], prune: bool, progress: bool, fmt: str) -> IngestReport:
    if fmt not in FORMATS:
        raise PolicyKBError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    report = IngestReport()
    files, report.ignored = scan(paths, fmt)
    settings = backend.settings
    signature = f"{backend.model}|{settings.chunk_tokens}|{settings.chunk_overlap}|{CHUNKER_VERSION}|{fmt}".encode()
    chunker: Chunker | None = None
    owners: dict[str, str] = {}  # item id -> file key, for this run
    plans: list[FilePlan] = []
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    gone = _gone_files(backend, paths, files) if prune else []
    freed = {i for key in gone for i in backend.store.file_record(key)["item_ids"]}  # ids a moved file may take

    for path in iterate(files, "reading", "file", progress):
        key = str(path)
        size = path.stat().st_size
        if size > max_bytes:
            report.skipped.append(Problem(key, f"file is {size / 1e6:.1f} MB, over the {settings.max_file_mb} MB limit"))
            continue
        data = path.read_bytes()
        digest = sha256(data + b"\0" + extra_inputs(path) + b"\0" + signature)
        known = backend.store.file_record(key)
        if known and known["hash"] == digest:
            report.unchanged += known["item_ids"]
            owners.update({i: key for i in known["item_ids"]})
            continue
        chunker = chunker or chunker_for(backend.embedder, backend.settings)
        result = load_file(path, data, key, backend.taxonomy, chunker, fmt)
        report.warnings += result.warnings
        if result.failed:
            report.skipped.append(result.failed)  # the file's previous items, if any, stay as they were
            continue
        problems = list(result.skipped)
        plan = FilePlan(key, digest, size, [], known["item_ids"] if known else [])
        stored = backend.store.item_sources([i.id for i in result.items])
        purged = backend.store.purged_items([i.id for i in result.items])
        for item in result.items:
            if _still_purged(purged.get(item.id), key, item):
                report.warnings.append(Problem(key, f"id {item.id!r} was purged on {purged[item.id][2][:10]}; not "
                                                    "ingested again while its record is unchanged", warning=True))
                continue
            owner = owners.get(item.id) or (stored[item.id][1] if item.id in stored else key)
            if owner == key and any(i.id == item.id for i in plan.items):
                problems.append(Problem(key, f"id {item.id!r} appears twice in this file"))
                continue
            if owner != key and item.id not in plan.old_ids and item.id not in freed:
                problems.append(Problem(key, f"id {item.id!r} is already used by {owner}"))
                continue
            owners[item.id] = key
            plan.items.append(item)
        if problems:
            # Not marked as seen, so the next run reports the problems again; items the file had
            # before and no longer yields cleanly keep their previous version.
            plan.digest = ""
            new_ids = {i.id for i in plan.items}
            plan.kept = [i for i in plan.old_ids if i not in new_ids]
        report.skipped += problems
        plans.append(plan)

    claimed = {i.id for plan in plans for i in plan.items}
    candidates = {i: plan.key for plan in plans for i in plan.old_ids if i not in claimed and i not in plan.kept}
    candidates |= {i: key for key in gone for i in backend.store.file_record(key)["item_ids"] if i not in claimed}
    # An item is removed only by the file that owns it (its stored source), never by another
    # file that once listed it.
    owned_by = {i: source for i, (_, source) in backend.store.item_sources(list(candidates)).items()}
    removals = {i for i, key in candidates.items() if owned_by.get(i) == key}
    to_write: list[Item] = []
    for plan in plans:
        stored = backend.store.item_sources([i.id for i in plan.items])
        for item in plan.items:
            if item.id not in stored:
                report.added.append(item.id)
                to_write.append(item)
            elif stored[item.id][0] != item.content_hash():
                report.updated.append(item.id)
                to_write.append(item)
            else:
                report.unchanged.append(item.id)
    report.removed = sorted(removals)

    hashes = {id(item): [sha256(t) for t in passage_texts(item)] for item in to_write}
    texts = {sha256(t): t for item in to_write for t in passage_texts(item)}
    report.embedded = backend.embed_and_cache(texts, progress)
    for space in backend.spaces[1:]:  # switched on for a knowledge base built (or written) without it
        if not space.in_step(backend.store.generation):  # (looking for passages without vectors takes ~1 s at 100k)
            backend.embed_missing(space, progress)

    if not (to_write or report.removed or plans or gone):
        return report
    _apply(backend, plans, gone, to_write, hashes, report)
    if prune:
        for space in backend.spaces:
            backend.store.prune_vector_cache(space.key)
    return report


def _still_purged(purged: tuple[str, str | None, str] | None, key: str, item: Item) -> bool:
    """Whether a file's record is the very one a moderator purged (a changed record comes back)."""
    return purged is not None and purged[0] == key and purged[1] == item.content_hash()


def _gone_files(backend: Backend, paths: list[Path], files: list[Path]) -> list[str]:
    """Stored files under `paths` that no longer exist (for --prune)."""
    roots = [str(Path(p).resolve()) for p in paths]
    scanned = {str(p) for p in files}
    return [
        key for key in backend.store.file_paths()
        if any(key == r or key.startswith(r.rstrip("/") + "/") for r in roots)
        and key not in scanned and not Path(key).exists()
    ]


def _apply(backend: Backend, plans: list[FilePlan], gone: list[str], to_write: list[Item],
           hashes: dict[int, list[str]], report: IngestReport, first: Callable[[], None] | None = None,
           then: Callable[[], None] | None = None) -> None:
    """One atomic write; `first` runs before it under the write lock (to check what others may have
    changed), `then` last inside it (its writes commit with the items, or nothing does)."""
    store = backend.store
    with backend.writing() as change:
        if first is not None:
            first()
        for item_id in report.removed:
            change.removed += store.delete_item(item_id)
        for item in to_write:
            old, new = store.write_item(item, hashes[id(item)])
            change.removed += old
            change.added += new
        store.forget_purges([item.id for item in to_write])
        for plan in plans:
            store.upsert_file(plan.key, plan.digest, plan.size, [i.id for i in plan.items] + plan.kept)
        for key in gone:
            store.delete_file(key)
        report.passages = len(change.added)
        change.changed = bool(report.removed or to_write)
        if then is not None:
            then()


def publish(backend: Backend, items: list[Item], first: Callable[[], None] | None = None,
            then: Callable[[], None] | None = None) -> IngestReport:
    """Write items that did not come from an ingested file (approved contributions); `first` and
    `then` run inside the same transaction (the approval's checks, status and audit entry)."""
    report = IngestReport()
    stored = backend.store.item_sources([i.id for i in items])
    for item in items:
        (report.updated if item.id in stored else report.added).append(item.id)
    hashes = {id(item): [sha256(t) for t in passage_texts(item)] for item in items}
    texts = {sha256(t): t for item in items for t in passage_texts(item)}
    report.embedded = backend.embed_and_cache(texts)
    _apply(backend, [], [], items, hashes, report, first, then)
    return report

"""A whole knowledge base copied into another store (`policykb migrate --to`): every table of
`tables.TABLES` in one transaction of the target, read from one snapshot of the source, ids kept,
so that both answer every question alike. The target must be empty; its vector indexes are built
from the copied vectors (no passage is embedded again) and its keyword postings by its own
tokenizer; uploaded documents are copied beside a folder target and the paths pointing at them
moved (a database target points at them where they are)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from policykb.backends.tables import TABLES
from policykb.errors import PolicyKBError

if TYPE_CHECKING:
    from policykb.backends.backend import Backend

UPLOADS = "uploads"


def copy_knowledge_base(source: Backend, target: Backend, batch: int = 5_000, uploads: bool = True) -> dict[str, Any]:
    """Copy `source` into the empty `target`; the rows copied per table, and the target's generation.
    With `uploads`, the uploaded documents are copied into the target's home and what points at
    them follows; without (a database target, whose home is only a machine's index folder), they
    stay where they are and so do the paths to them."""
    if source.store is target.store or source.home.resolve() == target.home.resolve():
        raise PolicyKBError("a knowledge base cannot be copied onto itself: give another target")
    counts: dict[str, int] = {}
    with target.writing_lock():
        if not target.store.is_empty():
            raise PolicyKBError("the target already holds a knowledge base; copy only into an empty one "
                                "(a new folder, or an empty PostgreSQL database)")
        with source.store.reading(), target.store.transaction():
            for table in TABLES:
                counts[table] = 0
                for rows in source.store.table_rows(table, batch):
                    target.store.insert_rows(table, rows)
                    counts[table] += len(rows)
            generation = max(source.store.generation, target.store.generation) + 1
            target.store.set_generation(generation)
            folder = source.home / UPLOADS
            if uploads and folder.is_dir():
                shutil.copytree(folder, target.home / UPLOADS, dirs_exist_ok=True)
                new = str((target.home / UPLOADS).resolve())
                for old in dict.fromkeys((str(folder), str(folder.resolve()))):  # paths as written, and resolved
                    target.store.relocate_uploads(old, new)
    report: dict[str, Any] = {"tables": counts, "generation": generation}
    if target.store.database_indexes:  # past the IVF threshold, vectors are searched in the database (ann.py)
        report["vector_tables"] = target.build_database_indexes()
    for space in target.spaces:
        target.snapshot(space)  # builds and saves its index from the copied vectors (or finds the table)
    return report

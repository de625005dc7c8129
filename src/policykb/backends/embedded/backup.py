"""Backup and restore of a whole knowledge base: the SQLite file through SQLite's online backup
API (one consistent snapshot, while the API and ingests keep writing) and the uploaded documents.

The vector index is not copied: it is derived data, rebuilt on restore from the vectors stored in
the database (a copy of the index would have to be of the very same generation as the database,
which a copy made while others write cannot promise).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policykb.backends import DATABASE
from policykb.errors import PolicyKBError
from policykb.backends.embedded.index import MANIFEST
from policykb.backends.embedded.store import Store, is_damage

if TYPE_CHECKING:
    from policykb.backends.backend import Backend

FORMAT = 1
INFO = "backup.json"
UPLOADS = "uploads"


def backup(backend: Backend, target: Path) -> dict[str, Any]:
    """Write `target/kb.sqlite`, `target/uploads/` and `target/backup.json`; `target` must be new
    or empty. Uploads are copied after the database: every upload the copy refers to was saved
    before its contribution was recorded, so it is there."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PolicyKBError(f"{target} already exists and is not an empty folder; choose a new one")
    target.mkdir(parents=True, exist_ok=True)
    generation = backend.store.backup_to(target / DATABASE)
    uploads = backend.home / UPLOADS
    if uploads.is_dir():
        shutil.copytree(uploads, target / UPLOADS)
    copy = Store(target / DATABASE)
    try:
        counts = copy.stats()
    finally:
        copy.close()
    info = {"format": FORMAT, "generation": generation, "model": backend.model, "home": str(backend.home.resolve()),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "items": counts["items"], "unpublished": counts["unpublished"], "passages": counts["passages"]}
    (target / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return {**info, "path": str(target)}


def set_aside_if_damaged(home: Path) -> Path | None:
    """Move a damaged `kb.sqlite` (with its -wal and -shm files) aside, so that a restore can put
    a good one in its place; where it went, or None if it was readable (or absent)."""
    database = Path(home) / DATABASE
    if not database.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{database.resolve()}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check(1)").fetchall() == [("ok",)]:
                return None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = database.with_name(f"{DATABASE}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = database.with_name(DATABASE + suffix)
        if part.exists():
            os.replace(part, aside.with_name(aside.name + suffix))
    return aside


def restore(backend: Backend, source: Path) -> dict[str, Any]:
    """Make `backend` hold what the backup in `source` holds. Order (each step safe to die after): the
    uploads are copied in; a private copy of the backup gets its upload paths moved here and a
    generation above the live one; the index for that generation is built from its vectors and
    saved; then the live database is replaced in one write, which every process sees at once."""
    info_path, database = source / INFO, source / DATABASE
    if not database.is_file() or not info_path.is_file():
        raise PolicyKBError(f"{source} is not a policykb backup (it needs {DATABASE} and {INFO})")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("format") != FORMAT:
        raise PolicyKBError(f"{source} is a backup of format {info.get('format')}; this policykb reads {FORMAT}")
    home = backend.home.resolve()
    if (source / UPLOADS).is_dir():
        shutil.copytree(source / UPLOADS, home / UPLOADS, dirs_exist_ok=True)
    staged = home / f".restore-{os.getpid()}-{secrets.token_hex(4)}.sqlite"
    shutil.copyfile(database, staged)
    try:
        copy = Store(staged)
        try:
            with copy.transaction():
                generation = max(backend.store.generation, copy.generation) + 1
                copy.set_generation(generation)
                # the store of this folder it stays: its id is the live one's, so that the index files
                # built below are taken for its own (with the backup's id, the next process to open the
                # folder saw index files "saved for another store" and built them all again)
                copy.set_meta("store_id", backend.store.store_id())
                copy.relocate_uploads(str(Path(info["home"]) / UPLOADS), str(home / UPLOADS))
            with backend.writing_lock():
                for space in backend.spaces:
                    index = space.build_index(store=copy)
                    index.save(space.folder, space.key, generation, space.runtime)
                    if space is backend.main:
                        vectors = len(index)
                backend.store.restore_from(staged)
                backend.forget_index()
            counts = copy.stats()
        finally:
            copy.close()
    finally:
        for leftover in (staged, staged.with_name(staged.name + "-wal"), staged.with_name(staged.name + "-shm")):
            leftover.unlink(missing_ok=True)
    return {"generation": generation, "items": counts["items"], "passages": counts["passages"],
            "vectors": vectors, "manifest": str(home / MANIFEST)}

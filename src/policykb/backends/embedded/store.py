"""`Store` owns the SQLite file: items, facets, passages, keyword postings, FTS5, the vector cache
and the generation.

Nobody else writes SQL. Filters always travel as bound parameters; facet names are checked
against the taxonomy before they get here.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator


from policykb.backends.meta import GenerationMixin
from policykb.backends.titles import PublishedTitles
from policykb.backends.rows import facet_values, item_from_row, item_values, now, passage_values
from policykb.errors import StoreDamaged
from policykb.models import Item, Passage
from policykb.backends.embedded.store_backup import BackupMixin
from policykb.backends.embedded.store_files import FilesMixin
from policykb.backends.embedded.store_history import HistoryMixin
from policykb.backends.embedded.store_moderation import ModerationMixin
from policykb.backends.embedded.store_postings import PostingsMixin
from policykb.backends.embedded.store_indexes import IndexReadsMixin
from policykb.backends.embedded.store_query import QueryMixin
from policykb.backends.embedded.store_vectors import VectorsMixin

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["Store", "damaged", "is_damage"]

SCHEMA_VERSION = 1


def is_damage(exc: BaseException) -> bool:
    """Whether an SQLite error says the file is not a database or is damaged (not a busy lock)."""
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorname", "") in (
        "SQLITE_CORRUPT", "SQLITE_NOTADB") or str(exc) in ("file is not a database", "database disk image is malformed")


def damaged(path: Path, exc: BaseException) -> StoreDamaged:
    """The error to raise for a damaged knowledge-base file: what happened, and the way out."""
    home = Path(path).parent
    return StoreDamaged(
        f"{path} is damaged ({exc}); policykb cannot read it. Restore the knowledge base from a backup: "
        f"policykb --home {home} restore BACKUP_FOLDER (a folder written by `policykb backup`); without a "
        f"backup, move the file aside and ingest the sources again", {"file": str(path)})


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL mode. Switching needs a moment alone with the file and SQLite answers "database
    is locked" at once, without its busy timeout, when processes open a new file together: retry."""
    for attempt in range(100):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)


class Store(GenerationMixin, QueryMixin, IndexReadsMixin, PostingsMixin, ModerationMixin, BackupMixin, HistoryMixin,
            FilesMixin, VectorsMixin):
    """The knowledge base's SQLite file (`kb.sqlite`). Query methods live in `store_query.py`, what
    the facet index reads in `store_indexes.py`, the keyword index's postings in `store_postings.py`, contributions and audit in `store_moderation.py`,
    the ingested files in `store_files.py`, the passages' vectors in `store_vectors.py`."""

    database_indexes = False  # vectors are searched in this process's FAISS index (PgStore: see ann.py)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self.lock = threading.RLock()  # one writer per process at a time (SQLite enforces it across processes)
        self._published_titles = PublishedTitles()  # (for items_with_title)
        self._reset_postings()
        try:
            self._create_schema()
            self._create_postings_schema()
            self._create_history_schema()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            self.close()
            raise damaged(self.path, exc) from None

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (WAL mode: readers never wait for the writer)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # Each thread uses only its own connection; check_same_thread=False lets close() run anywhere.
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30, check_same_thread=False)
            try:
                _wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise damaged(self.path, exc) if is_damage(exc) else exc from None
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        import sqlite_utils  # only to create the schema; its import pulls in pandas (half a second)

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:  # created in a thread that is gone
                    pass
            self._connections.clear()
        self._local = threading.local()

    # -- schema -------------------------------------------------------------------------------

    def _create_schema(self) -> None:
        if self._has_table("meta"):
            self._create_later_schema()
            return  # (and `_create_postings_schema` adds the keyword index to those made before it)
        with self.transaction():  # BEGIN IMMEDIATE: two processes opening a new home take turns
            if self._has_table("meta"):
                self._create_later_schema()
                return  # another process created the schema between the check above and this lock
            db = self.db
            db["meta"].create({"key": str, "value": str}, pk="key")
            db["items"].create(
                {
                    "id": str, "kind": str, "title": str, "summary": str, "description": str,
                    "region": str, "organisation": str, "start_year": int, "end_year": int,
                    "links": str, "language": str, "source": str, "pages": int,
                    "content_hash": str, "status": str, "added_at": str, "updated_at": str,
                },
                pk="id",
                not_null={"kind", "title"},
                defaults={"status": "published"},
            )
            db["item_facets"].create(
                {"item_id": str, "facet": str, "value": str},
                pk=("item_id", "facet", "value"),
                foreign_keys=[("item_id", "items", "id")],
            )
            db["item_facets"].create_index(["facet", "value"])
            self.conn.execute(
                "CREATE TABLE passages (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "item_id TEXT NOT NULL REFERENCES items(id), seq INTEGER, page INTEGER, section TEXT, "
                "title TEXT, text TEXT NOT NULL, hash TEXT NOT NULL, tokens INTEGER)"
            )
            db["passages"].create_index(["item_id"])
            self.conn.execute(
                "CREATE VIRTUAL TABLE passages_fts USING fts5(title, text, content='passages', "
                "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
            )
            self.conn.execute(
                "CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN "
                "INSERT INTO passages_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END"
            )
            self.conn.execute(
                "CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN "
                "INSERT INTO passages_fts(passages_fts, rowid, title, text) "
                "VALUES ('delete', old.id, old.title, old.text); END"
            )
            db["vectors"].create({"model": str, "hash": str, "vector": bytes}, pk=("model", "hash"))
            db["files"].create(
                {"path": str, "hash": str, "size": int, "item_ids": str, "ingested_at": str}, pk="path"
            )
            self._create_later_schema()
            self.conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("generation", "0")],
            )

    def _create_later_schema(self) -> None:
        """What was added after the first schema, made where missing (in knowledge bases made
        before moderation, or before the browse-order index existed) and in new ones."""
        self._create_moderation_schema()
        self._create_browse_index()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside commits together or not at all."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._flush_postings()
            except BaseException:
                self.conn.execute("ROLLBACK")
                self._reset_postings()
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def reading(self, replica_from: int | None = None) -> Iterator[None]:
        """Every read inside sees one committed state (a read transaction; WAL mode lets writers go
        on meanwhile). Inside a write transaction of this thread, that transaction's state.
        (`replica_from`: an SQLite file has no replicas.)"""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @contextmanager
    def exclusive(self, wait: bool = True) -> Iterator[bool]:
        """The knowledge base's write lock across processes: a file lock on `write.lock` beside the
        database, held for a whole write (planning included, not only its transaction). With
        `wait=False` it is only taken if free; the context value says whether it was. Not
        re-entrant: the backend counts its own depth."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path.parent / "write.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])

    def delete_meta(self, key: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", [key])


    # -- items --------------------------------------------------------------------------------

    def item_sources(self, ids: list[str]) -> dict[str, tuple[str, str]]:
        """`{id: (content_hash, source)}` for the ids that exist."""
        rows = self.conn.execute(
            "SELECT id, content_hash, source FROM items WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)],
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def passage_ids(self, item_id: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM passages WHERE item_id = ? ORDER BY seq", [item_id])]

    def delete_item(self, item_id: str, keep: str | None = "remove") -> list[int]:
        """Remove an item with its facets and passages (kept as a version first, unless `keep` is
        None: a purge); returns the removed passage ids."""
        self.touch_items(item_id)
        if keep:
            self.keep_version(item_id, keep)
        old = self.passage_ids(item_id)
        self.conn.execute("DELETE FROM passages WHERE item_id = ?", [item_id])
        self.conn.execute("DELETE FROM item_facets WHERE item_id = ?", [item_id])
        self.conn.execute("DELETE FROM items WHERE id = ?", [item_id])
        return old

    def write_item(self, item: Item, passage_hashes: list[str]) -> tuple[list[int], list[int]]:
        """Insert or replace an item; returns (removed passage ids, new passage ids)."""
        row = self.conn.execute("SELECT added_at, status FROM items WHERE id = ?", [item.id]).fetchone()
        added_at, status = row if row else (now(), "published")  # an unpublished item stays unpublished
        old = self.delete_item(item.id, keep="update" if row else None)
        self.conn.execute(
            "INSERT INTO items(id, kind, title, summary, description, region, organisation, start_year, "
            "end_year, links, language, source, pages, content_hash, status, added_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            item_values(item, status, added_at),
        )
        self.conn.executemany("INSERT INTO item_facets(item_id, facet, value) VALUES (?, ?, ?)", facet_values(item))
        new = []
        for values, counts in passage_values(item, passage_hashes):
            cur = self.conn.execute(
                "INSERT INTO passages(item_id, seq, page, section, title, text, hash, tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
            new.append(int(cur.lastrowid))
            self._add_postings(new[-1], counts)
        return old, new

    def item_status(self, item_id: str) -> str | None:
        row = self.conn.execute("SELECT status FROM items WHERE id = ?", [item_id]).fetchone()
        return row[0] if row else None

    def set_status(self, item_id: str, status: str) -> None:
        """Publish or unpublish an item (the version before is kept)."""
        self.touch_items(item_id)
        self.keep_version(item_id, "publish" if status == "published" else "unpublish")
        self.conn.execute("UPDATE items SET status = ?, updated_at = ? WHERE id = ?", [status, now(), item_id])

    def _facets_of(self, ids: list[str]) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {i: {} for i in ids}
        rows = self.conn.execute(
            "SELECT item_id, facet, value FROM item_facets WHERE item_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY item_id, facet, rowid",
            [json.dumps(ids)],
        )
        for item_id, facet, value in rows:
            out[item_id].setdefault(facet, []).append(value)
        return out

    def get_items(self, ids: list[str]) -> dict[str, Item]:
        """Items by id (without passages); missing ids are left out."""
        rows = self.conn.execute(
            "SELECT id, kind, title, summary, description, region, organisation, start_year, end_year, "
            "links, source, pages FROM items WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)],
        ).fetchall()
        facets = self._facets_of([r[0] for r in rows])
        return {r[0]: item_from_row(r, facets[r[0]]) for r in rows}

    def get_passages(self, item_id: str) -> list[tuple[int, Passage]]:
        return self.passages_of([item_id]).get(item_id, [])

    def passages_of(self, item_ids: list[str]) -> dict[str, list[tuple[int, Passage]]]:
        """Each item's `(passage id, passage)`s in order, read at once; items with none are left out."""
        out: dict[str, list[tuple[int, Passage]]] = {}
        for r in self.conn.execute("SELECT item_id, id, seq, page, section, text FROM passages "
                                   "WHERE item_id IN (SELECT value FROM json_each(?)) ORDER BY item_id, seq, id",
                                   [json.dumps(item_ids)]):
            out.setdefault(r[0], []).append((r[1], Passage(text=r[5], page=r[3], seq=r[2], section=r[4])))
        return out

    def passages_by_id(self, passage_ids: list[int]) -> dict[int, tuple[str, Passage]]:
        """`{passage id: (item id, passage)}`."""
        rows = self.conn.execute(
            "SELECT id, item_id, seq, page, section, text FROM passages "
            "WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps([int(i) for i in passage_ids])],
        )
        return {r[0]: (r[1], Passage(text=r[5], page=r[3], seq=r[2], section=r[4])) for r in rows}

    def first_passages(self, item_ids: list[str]) -> dict[str, Passage]:
        """Each item's first passage (for browsing, where no passage is better than another)."""
        rows = self.conn.execute(
            "SELECT item_id, seq, page, section, text FROM passages WHERE id IN (SELECT min(id) FROM passages "
            "WHERE item_id IN (SELECT value FROM json_each(?)) GROUP BY item_id)",
            [json.dumps(item_ids)],
        )
        return {r[0]: Passage(text=r[4], page=r[2], seq=r[1], section=r[3]) for r in rows}

    def passage_ids_of(self, item_ids: list[str]) -> list[int]:
        rows = self.conn.execute("SELECT id FROM passages WHERE item_id IN (SELECT value FROM json_each(?))",
                                 [json.dumps(item_ids)])
        return [r[0] for r in rows]

    def item_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM items ORDER BY id")]

    # -- statistics and export ----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        q = self.conn.execute
        published = "SELECT id FROM items WHERE status = 'published'"
        kinds = dict(q(f"SELECT kind, count(*) FROM items WHERE id IN ({published}) GROUP BY kind ORDER BY kind"))
        return {
            "items": q(f"SELECT count(*) FROM ({published})").fetchone()[0],
            "by_kind": kinds,
            "unpublished": q("SELECT count(*) FROM items WHERE status != 'published'").fetchone()[0],
            "passages": q(f"SELECT count(*) FROM passages WHERE item_id IN ({published})").fetchone()[0],
            "files": q("SELECT count(*) FROM files").fetchone()[0],
            "territories": q("SELECT count(DISTINCT value) FROM item_facets WHERE facet='territory' "
                             f"AND item_id IN ({published})").fetchone()[0],
            "generation": self.generation,
        }

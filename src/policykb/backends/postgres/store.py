"""`PgStore`: the knowledge base in a PostgreSQL database, the twin of the SQLite `Store`.

The same public methods and properties with the same parameters, results, orders and meaning,
so that a backend can hold either; the in-process indexes (FAISS, BM25, facets) are derived from it
exactly as from the SQLite store. Nobody else writes SQL for this database; every value travels as a
bound parameter and every list as an array (`= ANY(%s)`).

Transactions behave like SQLite's: `transaction()` is one atomic write whose first act is to take a
transaction-level advisory lock, so writers take turns across threads, processes and machines as
`BEGIN IMMEDIATE` makes them do on one file, and each sees everything committed before it (READ
COMMITTED, read after the lock); `reading()` sees one committed snapshot (REPEATABLE READ, READ ONLY,
taken when it begins), and inside this thread's write transaction, that transaction.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from policykb.backends.meta import GenerationMixin
from policykb.backends.titles import PublishedTitles
from policykb.backends.postgres.ann import AnnMixin
from policykb.backends.postgres.connection import READ_SETTING, Connections, connect, describe, rollback
from policykb.errors import StoreUnavailable
from policykb.backends.postgres.copies import CopiesMixin
from policykb.backends.postgres.files import FilesMixin
from policykb.backends.postgres.history import HistoryMixin
from policykb.backends.postgres.migrate import migrate
from policykb.backends.postgres.moderation import ModerationMixin
from policykb.backends.postgres.postings import PostingsMixin
from policykb.backends.postgres.reads import ReadsMixin
from policykb.backends.postgres.vectors import VectorsMixin
from policykb.backends.rows import facet_values, item_values, now, passage_values
from policykb.models import Item

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgStore", "WRITE_LOCK"]

WRITE_LOCK = int.from_bytes(b"policykb", "big")  # the advisory lock every write takes first (one per database)
EXCLUSIVE_LOCK = WRITE_LOCK + 1  # the advisory lock held for a whole write, planning included (`exclusive`)
WRITE_WAIT = "30s"  # how long a writer waits for the lock before it fails, as the SQLite store's busy timeout


def in_transaction(conn: psycopg.Connection) -> bool:
    return conn.info.transaction_status.name != "IDLE"


class PgStore(GenerationMixin, ReadsMixin, VectorsMixin, AnnMixin, PostingsMixin, ModerationMixin, HistoryMixin,
              FilesMixin, CopiesMixin):
    """The knowledge base in the PostgreSQL database at `url` (a libpq URL, `POLICYKB_DATABASE_URL`),
    migrated to the current schema when opened (`migrate.py`). Its reads live in `reads.py`, the
    vector cache in `vectors.py`, the vector tables searched past the IVF threshold in `ann.py`, the
    keyword postings in `postings.py`, contributions and audit in `moderation.py`, item history in
    `history.py`, the ingested files in `files.py`, a copy's rows in `copies.py`.

    What the SQLite store has and this one has not: its connection and sqlite-utils handle (`conn`,
    `db`), FTS5's own keyword search (`keyword_top`, the reference the BM25 tests compare with), and
    copies of the database file (`backup_to`, `restore_from`): a PostgreSQL database is backed up
    with the server's tools (a knowledge base is copied between stores table by table, `migrate --to`).
    """

    def __init__(self, url: str, read_url: str | None = None) -> None:
        self.url = url
        self.where = describe(url)
        self._connections = Connections(url)
        self.read_url = read_url or None
        self._replicas = Connections(read_url, READ_SETTING) if read_url else None
        self._route = threading.local()  # .replica: this thread's reads go to the replica (see reading())
        self.lock = threading.RLock()  # one writing thread per process (the advisory lock: one writer in all)
        self._published_titles = PublishedTitles()  # (for items_with_title)
        self._reset_postings()
        try:
            self.migrated = migrate(self._db, WRITE_LOCK, self.where)  # the versions this open applied
            self._check_postings()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PgStore({self.where})"

    @property
    def _db(self) -> psycopg.Connection:
        """This thread's connection (autocommit outside `transaction()` and `reading()`): to the
        replica inside a `reading()` that chose it, else to the primary."""
        if self._replicas is not None and getattr(self._route, "replica", False):
            return self._replicas.get()
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()
        if self._replicas is not None:
            self._replicas.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside commits together or not at all, buffered keyword
        postings included. Writers take turns (the advisory lock `WRITE_LOCK`, held until the end);
        one that waits longer than `WRITE_WAIT` fails (psycopg.errors.LockNotAvailable)."""
        with self.lock:
            if in_transaction(self._db):
                raise RuntimeError("cannot start a transaction within a transaction")
            conn = self._begin("BEGIN")
            try:
                conn.execute("SELECT set_config('lock_timeout', %s, true)", [WRITE_WAIT])
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
                yield
                self._flush_postings()
            except BaseException:
                rollback(conn)
                self._reset_postings()
                raise
            conn.execute("COMMIT", prepare=False)

    @contextmanager
    def reading(self, replica_from: int | None = None) -> Iterator[None]:
        """Every read inside sees one committed state, the one of the moment it begins (writers go
        on meanwhile). Inside a transaction of this thread, that transaction's state. With
        `replica_from` and a read URL: a replica's state when it holds generation `replica_from`
        (what this process has seen), else the primary's, else (the primary unreachable: a
        failover) the replica's all the same."""
        on_replica = self._replicas is not None and getattr(self._route, "replica", False)
        current = (self._replicas if on_replica else self._connections).current()  # (not connecting: it may be down)
        if current is not None and in_transaction(current):
            yield
            return
        conn = self._begin_reading(replica_from)
        try:
            yield
        except BaseException:
            rollback(conn)
            raise
        finally:
            self._route.replica = False
        conn.execute("COMMIT", prepare=False)

    def _begin_reading(self, replica_from: int | None) -> psycopg.Connection:
        import psycopg

        # The snapshot is taken by the first statement: take it now, in the same round trip.
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1"
        if replica_from is None or self._replicas is None:
            return self._begin(begin)
        self._route.replica = True
        try:
            conn = self._begin(begin)
            if self.generation >= replica_from:
                return conn
        except (psycopg.Error, StoreUnavailable):
            pass  # unreachable: the primary
        if (left := self._replicas.current()) is not None:
            rollback(left)  # behind this process, or failed midway: ended (closed if even that fails)
        self._route.replica = False
        try:
            return self._begin(begin)
        except (psycopg.OperationalError, StoreUnavailable):
            self._route.replica = True  # a replica behind is better than no answer (raises if it is gone too)
            try:
                return self._begin(begin)
            except BaseException:
                self._route.replica = False
                raise

    @contextmanager
    def exclusive(self, wait: bool = True) -> Iterator[bool]:
        """The knowledge base's write lock across processes and machines, held for a whole write
        (planning included, not only its transaction): a session advisory lock (`EXCLUSIVE_LOCK`,
        not the transactions' lock, so others' short writes go on meanwhile) on a connection of its
        own, which gives it back when it closes, whatever happens to this process. With `wait=False`
        it is only taken if free; the context value says whether it was. Not re-entrant: the backend
        counts its own depth."""
        try:
            conn = connect(self.url)
        except StoreUnavailable:
            if wait:
                raise
            yield False  # (a reader that would save an index: not now)
            return
        try:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", [EXCLUSIVE_LOCK])
            mine = wait or conn.execute("SELECT pg_try_advisory_lock(%s)", [EXCLUSIVE_LOCK]).fetchone()[0]
            yield bool(mine)
        finally:
            conn.close()

    def _begin(self, sql: str) -> psycopg.Connection:
        """Begin a transaction on this thread's connection; one the server closed while it was idle
        (a restart, a failover, an idle timeout) is replaced once, as nothing was done on it yet."""
        import psycopg

        conn = self._db
        try:
            conn.execute(sql, prepare=False)
        except psycopg.OperationalError:
            if not conn.closed:
                raise
            conn = self._db
            conn.execute(sql, prepare=False)
        return conn

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = %s", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (%s, %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [key, value])

    def delete_meta(self, key: str) -> None:
        self._db.execute("DELETE FROM meta WHERE key = %s", [key])


    # -- items --------------------------------------------------------------------------------

    def delete_item(self, item_id: str, keep: str | None = "remove") -> list[int]:
        """Remove an item with its facets and passages (kept as a version first, unless `keep` is
        None: a purge); returns the removed passage ids."""
        self.touch_items(item_id)
        if keep:
            self.keep_version(item_id, keep)
        # One statement (the references are checked at its end), the passages' ids in `passage_ids` order.
        return [r[0] for r in self._db.execute(
            "WITH passages_gone AS (DELETE FROM passages WHERE item_id = %(id)s RETURNING id, seq), "
            "facets_gone AS (DELETE FROM item_facets WHERE item_id = %(id)s), "
            "item_gone AS (DELETE FROM items WHERE id = %(id)s) "
            "SELECT id FROM passages_gone ORDER BY seq, id", {"id": item_id})]

    def write_item(self, item: Item, passage_hashes: list[str]) -> tuple[list[int], list[int]]:
        """Insert or replace an item; returns (removed passage ids, new passage ids)."""
        conn = self._db
        row = conn.execute("SELECT added_at, status FROM items WHERE id = %s", [item.id]).fetchone()
        added_at, status = row if row else (now(), "published")  # an unpublished item stays unpublished
        old = self.delete_item(item.id, keep="update" if row else None)
        conn.execute(
            "INSERT INTO items (id, kind, title, summary, description, region, organisation, start_year, end_year, "
            "links, language, source, pages, content_hash, status, added_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            item_values(item, status, added_at))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO item_facets (item_id, facet, value) VALUES (%s, %s, %s)", facet_values(item))
        passages = list(passage_values(item, passage_hashes))
        new: list[int] = []
        if passages:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO passages (item_id, seq, page, section, title, text, hash, tokens) "
                                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                                [values for values, _ in passages], returning=True)
                for _ in cur.results():
                    new.append(cur.fetchone()[0])
        for passage_id, (_, counts) in zip(new, passages):
            self._add_postings(passage_id, counts)
        return old, new

    def set_status(self, item_id: str, status: str) -> None:
        """Publish or unpublish an item (the version before is kept)."""
        self.touch_items(item_id)
        self.keep_version(item_id, "publish" if status == "published" else "unpublish")
        self._db.execute("UPDATE items SET status = %s, updated_at = %s WHERE id = %s", [status, now(), item_id])

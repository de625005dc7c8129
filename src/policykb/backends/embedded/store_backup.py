"""The store's side of backup and restore (SQLite's online backup API, both ways) and of a copy to
another store, table by table (`backends/copy.py`)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from policykb.backends.tables import TABLES, columns


class BackupMixin:
    """Copies of the whole database file that are consistent while others write (WAL mode: the
    backup reads one snapshot; a restore replaces the database in one write that readers see all
    at once, or not yet)."""

    conn: sqlite3.Connection
    lock: threading.RLock
    _index_copied: Callable[[tuple[str, ...], list[tuple[Any, ...]]], list[tuple[Any, ...]]]

    def backup_to(self, target: Path) -> int:
        """Write a consistent copy of the database to `target` (a new file); its generation."""
        dest = sqlite3.connect(str(target))
        try:
            self.conn.backup(dest)  # one step: a single read snapshot of the source
            row = dest.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        finally:
            dest.close()
        return int(row[0]) if row else 0

    def restore_from(self, source: Path) -> None:
        """Replace this database with the one in `source`, in one write."""
        src = sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
        try:
            with self.lock:
                src.backup(self.conn)
        finally:
            src.close()

    def relocate_uploads(self, old: str, new: str) -> int:
        """Point contributions and items at uploads that moved from folder `old` to folder `new`."""
        count = 0
        for table, column in (("contributions", "file_path"), ("items", "source")):
            count += self.conn.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE substr({column}, 1, ?) = ?",
                [new, len(old) + 1, len(old), old]).rowcount
        return count

    def table_rows(self, table: str, batch: int = 5_000) -> Iterator[list[tuple[Any, ...]]]:
        """A copied table's rows (`tables.TABLES` columns, in that order), in batches, in the order
        they were written; call it inside `reading()` for one consistent state."""
        cursor = self.conn.execute(f"SELECT {', '.join(columns(table))} FROM {table} ORDER BY rowid")
        while rows := cursor.fetchmany(batch):
            yield rows

    def insert_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Add rows of a copied table as they are (ids included), inside this store's transaction.
        Passages are indexed as they arrive (FTS5 by its triggers, the keyword postings by this
        store's tokenizer, which also gives their length), so the copy commits whole."""
        names = columns(table)
        if table == "passages":
            rows = self._index_copied(names, rows)
        self.conn.executemany(f"INSERT INTO {table}({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)

    def is_empty(self) -> bool:
        """Whether no copied table holds a row (a copy goes only into an empty store)."""
        return not any(self.conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() for table in TABLES)

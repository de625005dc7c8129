"""The store's side of backup and restore: SQLite's online backup API, both ways."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class BackupMixin:
    """Copies of the whole database file that are consistent while others write (WAL mode: the
    backup reads one snapshot; a restore replaces the database in one write that readers see all
    at once, or not yet)."""

    conn: sqlite3.Connection
    lock: threading.RLock

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

    def set_generation(self, generation: int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('generation', ?)", [str(generation)])

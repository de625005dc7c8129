"""Item history: every replacement, removal, unpublishing and re-publishing of an item keeps the
version it replaced, so a moderator can see and restore it. Only `purge_item` deletes for real."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from policykb.backends.rows import history_entry, now, version_from_values, version_values
from policykb.models import Item, Passage


class HistoryMixin:
    conn: sqlite3.Connection

    def _create_history_schema(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS item_versions (id INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, replaced_at TEXT NOT NULL, replaced_by TEXT NOT NULL, status TEXT, "
            "item TEXT NOT NULL, passages TEXT NOT NULL, UNIQUE(item_id, version))")
        # Items purged from a file that still holds their record: skipped by ingest while it is unchanged.
        self.conn.execute("CREATE TABLE IF NOT EXISTS purged (item_id TEXT PRIMARY KEY, source TEXT NOT NULL, "
                          "content_hash TEXT, purged_at TEXT NOT NULL)")

    def keep_version(self, item_id: str, replaced_by: str) -> int | None:
        """Store the item as it is now (before `replaced_by`: update, remove, unpublish, publish,
        restore); its version number, or None if there is no such item."""
        items = self.get_items([item_id])  # type: ignore[attr-defined]
        if item_id not in items:
            return None
        status = self.conn.execute("SELECT status FROM items WHERE id = ?", [item_id]).fetchone()[0]
        item, passages = version_values(items[item_id], self._passages_with_hashes(item_id))
        version = self.conn.execute("SELECT coalesce(max(version), 0) + 1 FROM item_versions WHERE item_id = ?",
                                    [item_id]).fetchone()[0]
        self.conn.execute(
            "INSERT INTO item_versions(item_id, version, replaced_at, replaced_by, status, item, passages) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [item_id, version, now(), replaced_by, status, item, passages])
        return int(version)

    def _passages_with_hashes(self, item_id: str) -> list[tuple[Passage, str]]:
        rows = self.conn.execute("SELECT seq, page, section, text, hash FROM passages WHERE item_id = ? ORDER BY seq",
                                 [item_id])
        return [(Passage(text=r[3], page=r[1], seq=r[0], section=r[2]), r[4]) for r in rows]

    def item_history(self, item_id: str) -> list[dict[str, Any]]:
        """The kept versions of an item, newest first: number, when and by what it was replaced,
        its status then, title and number of passages."""
        rows = self.conn.execute(
            "SELECT version, replaced_at, replaced_by, status, json_extract(item, '$.title'), json_array_length(passages) "
            "FROM item_versions WHERE item_id = ? ORDER BY version DESC", [item_id])
        return [history_entry(r) for r in rows]

    def item_version(self, item_id: str, version: int) -> tuple[Item, str | None] | None:
        """A kept version as an item with its passages, and its status then."""
        row = self.conn.execute("SELECT item, passages, status FROM item_versions WHERE item_id = ? AND version = ?",
                                [item_id, version]).fetchone()
        if row is None:
            return None
        return version_from_values(row[0], row[1]), row[2]

    def purge_versions(self, item_id: str) -> int:
        return self.conn.execute("DELETE FROM item_versions WHERE item_id = ?", [item_id]).rowcount

    def remember_purge(self, item_id: str, source: str, content_hash: str | None) -> None:
        """Remember that an item of an ingested file was purged: the file keeps its record, and an
        ingest must not bring it back while the record is the same."""
        self.conn.execute("INSERT OR REPLACE INTO purged(item_id, source, content_hash, purged_at) VALUES (?, ?, ?, ?)",
                          [item_id, source, content_hash, now()])

    def purged_items(self, ids: list[str]) -> dict[str, tuple[str, str | None, str]]:
        """`{id: (source, content hash, when)}` of the given ids that were purged from a file."""
        rows = self.conn.execute("SELECT item_id, source, content_hash, purged_at FROM purged "
                                 "WHERE item_id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def forget_purges(self, ids: list[str]) -> None:
        """Items written again (their record changed, or another source took the id)."""
        self.conn.execute("DELETE FROM purged WHERE item_id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])

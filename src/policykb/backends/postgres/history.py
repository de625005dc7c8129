"""Item history in `PgStore`: every replacement, removal, unpublishing and re-publishing of an item
keeps the version it replaced, so a moderator can see and restore it; only a purge deletes for real.
Items purged from a file that still holds their record are remembered (ingest skips them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from policykb.backends.rows import history_entry, now, version_from_values, version_values
from policykb.models import Item, Passage

if TYPE_CHECKING:
    import psycopg


class HistoryMixin:
    _db: psycopg.Connection
    get_items: Callable[[list[str]], dict[str, Item]]

    def keep_version(self, item_id: str, replaced_by: str) -> int | None:
        """Store the item as it is now (before `replaced_by`: update, remove, unpublish, publish,
        restore); its version number, or None if there is no such item."""
        items = self.get_items([item_id])
        if item_id not in items:
            return None
        status = self._db.execute("SELECT status FROM items WHERE id = %s", [item_id]).fetchone()[0]
        item, passages = version_values(items[item_id], self._passages_with_hashes(item_id))
        version = self._db.execute("SELECT coalesce(max(version), 0) + 1 FROM item_versions WHERE item_id = %s",
                                   [item_id]).fetchone()[0]
        self._db.execute(
            "INSERT INTO item_versions (item_id, version, replaced_at, replaced_by, status, item, passages) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)", [item_id, version, now(), replaced_by, status, item, passages])
        return int(version)

    def _passages_with_hashes(self, item_id: str) -> list[tuple[Passage, str]]:
        rows = self._db.execute("SELECT seq, page, section, text, hash FROM passages WHERE item_id = %s "
                                "ORDER BY seq, id", [item_id])
        return [(Passage(text=r[3], page=r[1], seq=r[0], section=r[2]), r[4]) for r in rows]

    def item_history(self, item_id: str) -> list[dict[str, Any]]:
        """The kept versions of an item, newest first: number, when and by what it was replaced,
        its status then, title and number of passages."""
        rows = self._db.execute(
            "SELECT version, replaced_at, replaced_by, status, item::jsonb ->> 'title', jsonb_array_length(passages::jsonb) "
            "FROM item_versions WHERE item_id = %s ORDER BY version DESC", [item_id])
        return [history_entry(r) for r in rows]

    def item_version(self, item_id: str, version: int) -> tuple[Item, str | None] | None:
        """A kept version as an item with its passages, and its status then."""
        row = self._db.execute("SELECT item, passages, status FROM item_versions WHERE item_id = %s AND version = %s",
                               [item_id, version]).fetchone()
        if row is None:
            return None
        return version_from_values(row[0], row[1]), row[2]

    def purge_versions(self, item_id: str) -> int:
        return self._db.execute("DELETE FROM item_versions WHERE item_id = %s", [item_id]).rowcount

    def remember_purge(self, item_id: str, source: str, content_hash: str | None) -> None:
        """Remember that an item of an ingested file was purged: the file keeps its record, and an
        ingest must not bring it back while the record is the same."""
        self._db.execute(
            "INSERT INTO purged (item_id, source, content_hash, purged_at) VALUES (%s, %s, %s, %s) ON CONFLICT (item_id) "
            "DO UPDATE SET source = EXCLUDED.source, content_hash = EXCLUDED.content_hash, purged_at = EXCLUDED.purged_at",
            [item_id, source, content_hash, now()])

    def purged_items(self, ids: list[str]) -> dict[str, tuple[str, str | None, str]]:
        """`{id: (source, content hash, when)}` of the given ids that were purged from a file."""
        rows = self._db.execute("SELECT item_id, source, content_hash, purged_at FROM purged "
                                "WHERE item_id = ANY(%s::text[]) ORDER BY item_id", [list(ids)])
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def forget_purges(self, ids: list[str]) -> None:
        """Items written again (their record changed, or another source took the id)."""
        self._db.execute("DELETE FROM purged WHERE item_id = ANY(%s::text[])", [list(ids)])

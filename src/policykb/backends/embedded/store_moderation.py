"""The contribution queue and the audit log, as part of `Store` (all SQL stays in the store)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from policykb.backends.titles import PublishedTitles
from policykb.backends.rows import (AUDIT_READ, CONTRIBUTION_COLUMNS, audit_from_row, audit_values, contribution_changes,
                                    contribution_from_row, now, PURGED_RECORD)


class ModerationMixin:
    conn: sqlite3.Connection
    generation: int
    _published_titles: PublishedTitles

    def _create_moderation_schema(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS contributions (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, "
            "status TEXT NOT NULL, record TEXT NOT NULL, file_name TEXT, file_path TEXT, client TEXT, "
            "reason TEXT, item_id TEXT, checks TEXT, submitted_at TEXT, updated_at TEXT)"
        )
        self.conn.execute("CREATE INDEX IF NOT EXISTS contributions_status ON contributions(status, submitted_at)")
        # Every submission attempt, accepted or not, for the rate limit (kept for an hour).
        self.conn.execute("CREATE TABLE IF NOT EXISTS submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                          "client TEXT NOT NULL, at TEXT NOT NULL)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS submissions_client ON submissions(client, at)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS submissions_at ON submissions(at)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, "
            "actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT, note TEXT)"
        )
        self.conn.execute("CREATE INDEX IF NOT EXISTS audit_target ON audit(target, id)")

    def add_contribution(self, contribution_id: str, token_hash: str, record: dict[str, Any], file_name: str | None,
                         file_path: str | None, client: str, checks: dict[str, Any]) -> None:
        at = now()
        self.conn.execute(
            "INSERT INTO contributions(id, token_hash, status, record, file_name, file_path, client, checks, "
            "submitted_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
            [contribution_id, token_hash, json.dumps(record), file_name, file_path, client, json.dumps(checks),
             at, at],
        )

    def contribution(self, contribution_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(CONTRIBUTION_COLUMNS)}, token_hash FROM contributions WHERE id = ?", [contribution_id]
        ).fetchone()
        if row is None:
            return None
        return contribution_from_row(row)

    def update_contribution(self, contribution_id: str, expect_status: str | None = None,
                            expect_record: dict[str, Any] | None = None, **fields: Any) -> bool:
        """Change a contribution; with `expect_status` / `expect_record`, only if it still has that
        status and record (compare-and-set: call it inside the write transaction that decided on
        the change). Whether it was changed."""
        fields = contribution_changes(fields)
        assignments = ", ".join(f"{k} = ?" for k in fields)
        params = list(fields.values())
        where, expected = "id = ?", [contribution_id]
        if expect_status is not None:
            where, expected = where + " AND status = ?", [*expected, expect_status]
        if expect_record is not None:
            where, expected = where + " AND record = ?", [*expected, json.dumps(expect_record)]
        cur = self.conn.execute(f"UPDATE contributions SET {assignments}, updated_at = ? WHERE {where}",
                                [*params, now(), *expected])
        return cur.rowcount == 1

    def contributions_disagreeing(self) -> list[tuple[str, str, str]]:
        """(contribution, its status, item) for items published from a contribution that is not
        approved (what a rejection racing an approval left behind before compare-and-set)."""
        return [(r[0], r[1], r[2]) for r in self.conn.execute(
            "SELECT c.id, c.status, i.id FROM contributions c JOIN items i "
            "ON i.id IN (json_extract(c.record, '$.id'), c.item_id) "
            "AND i.source = coalesce(c.file_path, 'contribution:' || c.id) "
            "WHERE c.status != 'approved' ORDER BY c.id")]

    def contributions(self, status: str | None, limit: int, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        total = self.conn.execute(f"SELECT count(*) FROM contributions {where}", params).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT id FROM contributions {where} ORDER BY submitted_at, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return total, [self.contribution(r[0]) for r in rows]

    def pending_ids(self) -> set[str]:
        """Item ids that pending contributions ask for."""
        rows = self.conn.execute("SELECT json_extract(record, '$.id') FROM contributions WHERE status = 'pending'")
        return {r[0] for r in rows if r[0]}

    def submissions_since(self, client: str, since: str) -> tuple[int, str | None]:
        """How many submission attempts `client` made since `since`, and when the oldest of them was."""
        count, oldest = self.conn.execute("SELECT count(*), min(at) FROM submissions WHERE client = ? AND at >= ?",
                                          [client, since]).fetchone()
        return int(count), oldest

    def add_submission(self, client: str, at: str, forget_before: str) -> None:
        """Record an attempt (call inside the transaction that counted them); drop those before `forget_before`."""
        self.conn.execute("DELETE FROM submissions WHERE at < ?", [forget_before])
        self.conn.execute("INSERT INTO submissions(client, at) VALUES (?, ?)", [client, at])

    def audit(self, actor: str, action: str, target: str, before: Any = None, after: Any = None,
              note: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO audit(at, actor, action, target, before, after, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            audit_values(actor, action, target, before, after, note),
        )

    def forget_contributions(self, item_id: str) -> list[tuple[str, str | None]]:
        """Wipe the content of the contributions that made an item (record, file, checks; their audit
        entries' contents and notes) for a purge, and give `(contribution id, uploaded file path)`."""
        rows = self.conn.execute("SELECT id, file_path FROM contributions WHERE item_id = ? "
                                 "OR json_extract(record, '$.id') = ?", [item_id, item_id]).fetchall()
        for contribution_id, _ in rows:
            self.conn.execute("UPDATE contributions SET record = ?, file_name = NULL, file_path = NULL, checks = NULL, "
                              "updated_at = ? WHERE id = ?", [json.dumps(PURGED_RECORD), now(), contribution_id])
            self.conn.execute("UPDATE audit SET before = NULL, after = NULL, note = NULL WHERE target = ?",
                              [contribution_id])
        return [(r[0], r[1]) for r in rows]

    def audit_log(self, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE target = ?", [target]) if target else ("", [])
        rows = self.conn.execute(
            f"SELECT {', '.join(AUDIT_READ)} FROM audit {where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [audit_from_row(r) for r in rows]

    def items_with_title(self, title: str) -> list[tuple[str, str]]:
        """The published items titled `title` as duplicate checks compare titles (`title_key`: any
        case, spacing, Unicode form), by id."""
        keep = not self.conn.in_transaction
        with self.reading():
            return self._published_titles.find(title, self.generation, lambda: self.conn.execute(
                "SELECT id, title FROM items WHERE status = 'published'"), keep)

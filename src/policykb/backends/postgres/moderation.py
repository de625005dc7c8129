"""The contribution queue, the submission attempts (rate limit) and the audit log, as part of `PgStore`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from policykb.backends.rows import (AUDIT_READ, CONTRIBUTION_COLUMNS, audit_from_row, audit_values, contribution_changes,
                                    contribution_from_row, now, PURGED_RECORD)
from policykb.backends.titles import PublishedTitles

if TYPE_CHECKING:
    import psycopg

RECORD_ID = "(record::jsonb ->> 'id')"


class ModerationMixin:
    _db: psycopg.Connection
    generation: int
    _published_titles: PublishedTitles

    def add_contribution(self, contribution_id: str, token_hash: str, record: dict[str, Any], file_name: str | None,
                         file_path: str | None, client: str, checks: dict[str, Any]) -> None:
        at = now()
        self._db.execute(
            "INSERT INTO contributions (id, token_hash, status, record, file_name, file_path, client, checks, "
            "submitted_at, updated_at) VALUES (%s, %s, 'pending', %s, %s, %s, %s, %s, %s, %s)",
            [contribution_id, token_hash, json.dumps(record), file_name, file_path, client, json.dumps(checks), at, at])

    def contribution(self, contribution_id: str) -> dict[str, Any] | None:
        row = self._db.execute(f"SELECT {', '.join(CONTRIBUTION_COLUMNS)}, token_hash FROM contributions WHERE id = %s",
                               [contribution_id]).fetchone()
        return None if row is None else contribution_from_row(row)

    def update_contribution(self, contribution_id: str, expect_status: str | None = None,
                            expect_record: dict[str, Any] | None = None, **fields: Any) -> bool:
        """Change a contribution; with `expect_status` / `expect_record`, only if it still has that
        status and record (compare-and-set: call it inside the write transaction that decided on
        the change). Whether it was changed."""
        from psycopg import sql

        changes = contribution_changes(fields)
        assignments = [sql.SQL("{} = %s").format(sql.Identifier(k)) for k in changes]
        where, expected = ["id = %s"], [contribution_id]
        if expect_status is not None:
            where, expected = [*where, "status = %s"], [*expected, expect_status]
        if expect_record is not None:
            where, expected = [*where, "record = %s"], [*expected, json.dumps(expect_record)]
        query = sql.SQL("UPDATE contributions SET {}, updated_at = %s WHERE {}").format(
            sql.SQL(", ").join(assignments), sql.SQL(" AND ".join(where)))
        return self._db.execute(query, [*changes.values(), now(), *expected]).rowcount == 1

    def contributions_disagreeing(self) -> list[tuple[str, str, str]]:
        """(contribution, its status, item) for items published from a contribution that is not
        approved (what a rejection racing an approval left behind before compare-and-set)."""
        return [(r[0], r[1], r[2]) for r in self._db.execute(
            f"SELECT c.id, c.status, i.id FROM contributions c JOIN items i ON i.id IN ({RECORD_ID}, c.item_id) "
            "AND i.source = coalesce(c.file_path, 'contribution:' || c.id) WHERE c.status <> 'approved' "
            "ORDER BY c.id, i.id")]

    def contributions(self, status: str | None, limit: int, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        where, params = ("WHERE status = %s", [status]) if status else ("", [])
        total = self._db.execute(f"SELECT count(*) FROM contributions {where}", params).fetchone()[0]
        rows = self._db.execute(f"SELECT id FROM contributions {where} ORDER BY submitted_at, id LIMIT %s OFFSET %s",
                                [*params, limit, offset]).fetchall()
        return total, [self.contribution(r[0]) for r in rows]

    def pending_ids(self) -> set[str]:
        """Item ids that pending contributions ask for."""
        rows = self._db.execute(f"SELECT {RECORD_ID} FROM contributions WHERE status = 'pending'")
        return {r[0] for r in rows if r[0]}

    def submissions_since(self, client: str, since: str) -> tuple[int, str | None]:
        """How many submission attempts `client` made since `since`, and when the oldest of them was."""
        count, oldest = self._db.execute("SELECT count(*), min(at) FROM submissions WHERE client = %s AND at >= %s",
                                         [client, since]).fetchone()
        return int(count), oldest

    def add_submission(self, client: str, at: str, forget_before: str) -> None:
        """Record an attempt (call inside the transaction that counted them); drop those before `forget_before`."""
        self._db.execute("DELETE FROM submissions WHERE at < %s", [forget_before])
        self._db.execute("INSERT INTO submissions (client, at) VALUES (%s, %s)", [client, at])

    def audit(self, actor: str, action: str, target: str, before: Any = None, after: Any = None,
              note: str | None = None) -> None:
        self._db.execute("INSERT INTO audit (at, actor, action, target, before, after, note) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s)", audit_values(actor, action, target, before, after, note))

    def forget_contributions(self, item_id: str) -> list[tuple[str, str | None]]:
        """Wipe the content of the contributions that made an item (record, file, checks; their audit
        entries' contents and notes) for a purge, and give `(contribution id, uploaded file path)`."""
        rows = self._db.execute(f"SELECT id, file_path FROM contributions WHERE item_id = %s OR {RECORD_ID} = %s "
                                "ORDER BY id", [item_id, item_id]).fetchall()
        for contribution_id, _ in rows:
            self._db.execute("UPDATE contributions SET record = %s, file_name = NULL, file_path = NULL, checks = NULL, "
                             "updated_at = %s WHERE id = %s", [json.dumps(PURGED_RECORD), now(), contribution_id])
            self._db.execute("UPDATE audit SET before = NULL, after = NULL, note = NULL WHERE target = %s",
                             [contribution_id])
        return [(r[0], r[1]) for r in rows]

    def audit_log(self, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE target = %s", [target]) if target else ("", [])
        rows = self._db.execute(f"SELECT {', '.join(AUDIT_READ)} FROM audit {where} ORDER BY id DESC LIMIT %s",
                                [*params, limit])
        return [audit_from_row(r) for r in rows]

    def items_with_title(self, title: str) -> list[tuple[str, str]]:
        """The published items titled `title` as duplicate checks compare titles (`title_key`: any
        case, spacing, Unicode form), by id."""
        keep = self._db.info.transaction_status.name == "IDLE"  # (as store.in_transaction)
        with self.reading():
            return self._published_titles.find(title, self.generation, lambda: self._db.execute(
                "SELECT id, title FROM items WHERE status = 'published'").fetchall(), keep)

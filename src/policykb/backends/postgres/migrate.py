"""Schema migrations: the SQL files in `migrations/` (`NNNN_what.sql`), applied in order when a `PgStore`
opens a database, each in the same transaction as its row in `schema_migrations`.

Whoever migrates holds the store's write lock (a transaction-level advisory lock), so two processes
opening a new database at once take turns and the second finds the work done; a database whose
schema is already current is opened without taking the lock. A database migrated by a newer policykb
(a version this one does not have) is refused rather than written with an older idea of its schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from policykb.backends.postgres.connection import rollback
from policykb.errors import StoreUnavailable

if TYPE_CHECKING:
    import psycopg

FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """The migrations this policykb ships, by version."""
    folder = resources.files("policykb.backends.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise RuntimeError(f"two migrations share a version in {folder}")
    return found


def applied(conn: psycopg.Connection) -> set[int]:
    """The versions recorded in `schema_migrations` (none when the table is not there)."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return set()
    return {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conn: psycopg.Connection, lock: int, where: str) -> list[int]:
    """Apply the migrations `conn`'s database lacks, under the advisory lock `lock`, in one
    transaction; the versions applied (none when it was current). `conn` is in autocommit mode and
    outside a transaction; `where` names the database in errors."""
    wanted = available()
    done = applied(conn)
    _refuse_newer(done, wanted, where)
    if {m.version for m in wanted} <= done:
        return []
    conn.execute("BEGIN", prepare=False)
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        conn.execute(TABLE)
        done = applied(conn)  # another process may have migrated while this one waited for the lock
        _refuse_newer(done, wanted, where)
        new = [m for m in wanted if m.version not in done]
        for migration in new:
            conn.execute(migration.sql, prepare=False)  # no parameters: the file may hold many statements
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                         [migration.version, migration.name])
    except BaseException:
        rollback(conn)
        raise
    conn.execute("COMMIT", prepare=False)
    return [m.version for m in new]


def _refuse_newer(done: set[int], wanted: list[Migration], where: str) -> None:
    unknown = done - {m.version for m in wanted}
    if unknown:
        raise StoreUnavailable(
            f"the PostgreSQL database {where} has schema migration {max(unknown)}, which this version of policykb "
            f"does not know (it knows 1 to {max(m.version for m in wanted)}): a newer policykb migrated it; "
            "upgrade policykb to use it", {"database": where, "migration": max(unknown)})

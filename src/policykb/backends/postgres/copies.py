"""`PgStore`'s side of a copy from one store to another (`backends/copy.py`, `policykb migrate --to`):
a table's rows read in batches from one snapshot, rows added as they are (ids included, the identity
counters following them), and the paths of uploads that moved with the copy."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from policykb.backends.tables import NUMBERED, TABLES, columns

if TYPE_CHECKING:
    import psycopg

# The order a table's rows are read in: the order they were written where a column keeps it (SQLite's
# rowid order), else the primary key's.
ORDER = {"items": ("id",), "item_facets": ("id",), "vectors": ("model", "hash"), "files": ("path",),
         "contributions": ("submitted_at", "id"), "purged": ("item_id",)}
UPLOAD_COLUMNS = (("contributions", "file_path"), ("items", "source"))


class CopiesMixin:
    _db: psycopg.Connection
    reading: Callable[[], AbstractContextManager[None]]
    _index_copied: Callable[[tuple[str, ...], list[tuple[Any, ...]]], list[tuple[Any, ...]]]

    def table_rows(self, table: str, batch: int = 5_000) -> Iterator[list[tuple[Any, ...]]]:
        """A copied table's rows (`tables.TABLES` columns, in that order), in batches, in the order
        they were written; inside `reading()` they come from its snapshot, else from one of their own."""
        from psycopg import sql

        names = columns(table)
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, ORDER.get(table, ("id",)))))
        with self.reading(), self._db.cursor(name=f"policykb_copy_{table}", binary=True) as cursor:
            cursor.execute(query)  # a server-side cursor: a million vectors are never all in memory
            while rows := cursor.fetchmany(batch):
                yield rows

    def insert_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Add rows of a copied table as they are (ids included), inside this store's transaction.
        Passages are indexed as they arrive (the keyword postings by this store's tokenizer, which
        also gives their length), so the copy commits whole; the id counters follow the copied ids."""
        from psycopg import sql

        names = columns(table)
        if table == "passages":
            rows = self._index_copied(names, rows)
        with self._db.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)))) as copy:
                for row in rows:
                    copy.write_row(row)
            if table in NUMBERED and rows:  # COPY writes identity columns as given; the counter moves past them
                cursor.execute(sql.SQL(
                    "SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS s, "
                    "(SELECT max(id) FROM {}) AS m) AS q WHERE m > coalesce(pg_sequence_last_value(s), 0)").format(
                        sql.Identifier(table)), [table])

    def is_empty(self) -> bool:
        """Whether no copied table holds a row (a copy goes only into an empty store)."""
        from psycopg import sql

        return not any(self._db.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(table)))
                       .fetchone()[0] for table in TABLES)

    def relocate_uploads(self, old: str, new: str) -> int:
        """Point contributions and items at uploads that moved from folder `old` to folder `new`."""
        from psycopg import sql

        count = 0
        for table, column in UPLOAD_COLUMNS:
            count += self._db.execute(sql.SQL("UPDATE {table} SET {column} = %s || substr({column}, %s) "
                                              "WHERE substr({column}, 1, %s) = %s").format(
                table=sql.Identifier(table), column=sql.Identifier(column)), [new, len(old) + 1, len(old), old]).rowcount
        return count

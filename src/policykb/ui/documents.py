"""Original documents, streamed through the UI's own server, so that a link to a PDF works wherever
the UI is opened from (the API may listen on the loopback address only, as `make run` starts it).

`streamlit run ui/app.py` serves the route below beside the app (`st.App(..., routes=...)`); pages
link to it with addresses relative to themselves (`documents/ID#page=N`), which hold on any host,
port or path prefix the UI is served under. Markdown and text documents open as a page of the app
instead (the `document` page), without their metadata header.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

ROUTE = "/documents/{item_id}"
# what the API says about a document that the browser needs: its type, name, size, and how it may run
PASSED_HEADERS = ("content-type", "content-disposition", "content-length", "content-encoding", "last-modified",
                  "etag", "content-security-policy", "x-content-type-options")
PAGE_SUFFIXES = (".md", ".markdown", ".txt")  # shown as a page of the app, not as a file


def document_href(item_id: str, page: int | None = None) -> str:
    """Where a browser opens an item's original document, relative to any page of the UI."""
    href = f"documents/{quote(item_id, safe='')}"
    return f"{href}#page={page}" if page else href


def shown_as_page(source: str | None) -> bool:
    """Whether the document is text the app shows as a page (Markdown, plain text)."""
    return bool(source) and str(source).lower().endswith(PAGE_SUFFIXES)


def open_href(item_id: str, source: str | None) -> str:
    """Where "Open the document" leads: the document page of the app for text, else the file."""
    return f"document?id={quote(item_id, safe='')}" if shown_as_page(source) else document_href(item_id)


async def _file_missing(response: httpx.Response) -> bool:
    """Whether the API's 404 says the item's file is missing on disk (not that it has none)."""
    try:
        body = json.loads((await response.aread())[:4096])
        return body["error"]["details"].get("reason") == "file_missing"
    except (ValueError, KeyError, TypeError, AttributeError, httpx.HTTPError):
        return False


def document_routes(api_url: str, timeout: float = 30.0) -> list[Route]:
    """The route that streams `/items/{id}/file` from the API at `api_url` to the browser."""
    base = api_url.rstrip("/")

    async def document(request: Request) -> Response:
        item_id = request.path_params["item_id"]
        client = httpx.AsyncClient(base_url=base, timeout=timeout)
        try:
            upstream = await client.send(client.build_request("GET", f"/items/{quote(item_id, safe='')}/file"),
                                         stream=True)
        except httpx.HTTPError:
            await client.aclose()
            return _plain("The document cannot be fetched right now: the search service is not reachable. "
                          "Please try again in a few minutes.", 502)
        if upstream.status_code != 200:
            status = upstream.status_code
            missing = status == 404 and await _file_missing(upstream)
            await upstream.aclose()
            await client.aclose()
            if missing:
                return _plain("This item's document file is missing on the server (moved or deleted after it was "
                              "added); its text can still be searched. The knowledge base's maintainers can add the "
                              "file again.", 404)
            if status == 404:
                return _plain("This item has no document to open (it may have been unpublished).", 404)
            return _plain("The document cannot be fetched right now.", 502)

        async def close() -> None:
            await upstream.aclose()
            await client.aclose()

        headers = {k: v for k, v in upstream.headers.items() if k.lower() in PASSED_HEADERS}
        headers.setdefault("x-content-type-options", "nosniff")
        headers.setdefault("content-security-policy", "default-src 'none'")
        headers["referrer-policy"] = "no-referrer"
        return StreamingResponse(upstream.aiter_raw(), status_code=200, headers=headers, background=BackgroundTask(close))

    return [Route(ROUTE, document, methods=["GET"])]


def _plain(text: str, status: int) -> Response:
    return PlainTextResponse(text, status_code=status, headers={
        "x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'"})

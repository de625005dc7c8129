"""Documents through the UI: the `documents/` route streams a PDF from the API (so links work from any
machine, relative to the UI), and a Markdown document opens as a page without its metadata header."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from policykb.ui.documents import document_href, document_routes, open_href

from .test_ui import api_url, free_port, ok, open_page, running_api, ui_settings  # noqa: F401 - fixtures


@pytest.fixture
def with_pdf(ui_settings, corpus, make_pdf, monkeypatch):
    make_pdf(corpus / "docs" / "hydrogen.pdf", ["Cover page.", "Hydrogen valley roadmap for cluster firms."])
    (corpus / "docs" / "hydrogen.meta.yaml").write_text("title: Hydrogen valley roadmap\nkind: guide\n")
    with running_api(ui_settings, corpus) as base:
        monkeypatch.setenv("POLICYKB_UI_API_URL", base)
        yield base


def test_links_are_relative_to_the_ui():
    assert document_href("a b:c", 3) == "documents/a%20b%3Ac#page=3"
    assert open_href("guide-abroad", "ingest/guides/abroad.md") == "document?id=guide-abroad"
    assert open_href("hydrogen", "docs/hydrogen.pdf") == "documents/hydrogen"


def test_the_route_streams_the_api_document_with_its_headers(with_pdf):
    """Issue 19, 10: PDF links pointed at the API's loopback address, unreachable from another machine."""
    client = TestClient(Starlette(routes=document_routes(with_pdf)))
    pdf = client.get("/documents/hydrogen")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")  # so `#page=N` opens in the browser
    assert pdf.headers["x-content-type-options"] == "nosniff" and "default-src 'none'" in pdf.headers[
        "content-security-policy"]
    assert pdf.content == httpx.get(f"{with_pdf}/items/hydrogen/file").content
    markdown = client.get("/documents/guide-abroad")  # not a PDF: a download, never rendered here
    assert markdown.headers["content-type"] == "application/octet-stream"
    assert markdown.headers["content-disposition"].startswith("attachment")
    missing = client.get("/documents/de-vouchers")  # a record: no document
    assert (missing.status_code, missing.text) == (404, "This item has no document to open (it may have been "
                                                        "unpublished).")


def test_the_route_says_when_the_api_is_down():
    client = TestClient(Starlette(routes=document_routes(f"http://127.0.0.1:{free_port()}", timeout=1)))
    down = client.get("/documents/hydrogen")
    assert down.status_code == 502 and "not reachable" in down.text


def test_item_and_card_links_go_through_the_ui(with_pdf):
    item = ok(open_page("item", id="hydrogen"))
    assert [b.proto.url for b in item.link_button] == ["documents/hydrogen"]
    assert any("[p. 2](documents/hydrogen#page=2)" in c.value for c in item.caption)  # each passage
    guide = ok(open_page("item", id="guide-abroad"))
    assert [b.proto.url for b in guide.link_button] == ["document?id=guide-abroad"]


def test_a_markdown_document_opens_as_a_page_without_its_header(api_url):
    """Issue 19, 8: "Open the document" on a Markdown item downloaded the raw file, front matter first."""
    at = ok(open_page("document", id="guide-abroad"))
    assert at.title[0].value == "Going abroad guide"
    text = next(m.value for m in at.markdown if "Missions" in m.value)
    assert text.startswith("## Going abroad guide\n\n### Missions\n\nMatchmaking missions")  # under the page's h1
    assert "id: guide-abroad" not in text and "---" not in text
    assert at.query_params == {"id": "guide-abroad"}
    assert [link.proto.label for link in at.page_link][0] == "Back to the item"


def test_a_document_page_for_an_item_without_a_document(api_url):
    at = ok(open_page("document", id="de-vouchers"))
    assert "no document to read here" in at.warning[0].value and not at.link_button


def test_a_card_links_the_other_pages_a_document_result_names(ui_settings, corpus, make_pdf, monkeypatch):
    from .test_api import ROADMAP

    make_pdf(corpus / "docs" / "roadmap.pdf", ROADMAP, title="Hydrogen roadmap")
    with running_api(ui_settings, corpus) as base:
        monkeypatch.setenv("POLICYKB_UI_API_URL", base)
        at = ok(open_page("search", q="hydrogen vouchers for feasibility studies"))
    line = next(m.value for m in at.markdown if "[p. 2](documents/roadmap#page=2)" in m.value)
    also = re.search(r"also \[p\. (\d)\]\(documents/roadmap#page=\1\), \[p\. (\d)\]\(documents/roadmap#page=\2\)", line)
    assert also and len({also[1], also[2]}) == 2 and {also[1], also[2]} < {"1", "3", "4"}, line


def test_a_document_whose_file_is_gone_says_so(ui_settings, corpus, make_pdf, monkeypatch):
    """A review found every link of documents ingested from a folder since deleted answered "This item
    has no document to open (it may have been unpublished)", though the items were published."""
    make_pdf(corpus / "docs" / "roadmap.pdf", ["Hydrogen valley roadmap for cluster firms."], title="Hydrogen roadmap")
    with running_api(ui_settings, corpus) as base:
        (corpus / "docs" / "roadmap.pdf").unlink()
        api = httpx.get(f"{base}/items/roadmap/file")
        assert api.status_code == 404 and api.json()["error"]["details"] == {"id": "roadmap", "reason": "file_missing"}
        assert "no longer where it was ingested from" in api.json()["error"]["message"]
        assert str(corpus) not in api.text  # (no server path)
        client = TestClient(Starlette(routes=document_routes(base)))
        gone = client.get("/documents/roadmap")
        assert gone.status_code == 404 and gone.text.startswith("This item's document file is missing on the server")
        assert client.get("/documents/de-vouchers").text.startswith("This item has no document to open")

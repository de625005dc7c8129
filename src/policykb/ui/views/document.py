"""Document: an item's Markdown or text document as a page of the app, without its metadata header
(the YAML front matter ingest reads), Markdown rendered with no HTML (contributed text is hostile)."""

from __future__ import annotations

import re

import streamlit as st

from policykb.ui.client import ApiError, ApiUnavailable
from policykb.ui.common import api, has_document, md_escape, no_such_item, show_unavailable, tab_title
from policykb.ui.documents import document_href, shown_as_page
from policykb.ui.nav import page
from policykb.ui.url import keep_in_url

MAX_CHARS = 300_000  # more than any guide; a longer document is cut, and says so
FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
HEADING = re.compile(r"^(#{1,5})(?=[ \t])", re.M)


def readable(text: str, markdown: bool) -> str:
    """The text a reader wants: no front matter; a Markdown document's headings one level down,
    under the page's own title."""
    body = FRONT_MATTER.sub("", text, count=1).strip()
    return HEADING.sub(r"#\1", body) if markdown else body


def render() -> None:
    item_id = (st.query_params.get("id") or "").strip()
    keep_in_url({"id": item_id} if item_id else {})
    if not item_id:
        st.info("Open a document from an item's page to read it here.", icon=":material/info:")
        return
    client = api()
    try:
        record = client.item(item_id)
    except ApiUnavailable as exc:
        show_unavailable(exc)
        return
    except ApiError as exc:  # (no such item: not "this item has no document", nor a link back to it)
        no_such_item(item_id) if exc.status == 404 else st.error(f"The API refused this request: {md_escape(exc.message)}")
        return
    st.page_link(page("item"), label="Back to the item", icon=":material/arrow_back:", query_params={"id": item_id})
    source = str(record.get("source") or "")
    try:
        data = client.document(item_id) if shown_as_page(source) else None
    except ApiUnavailable as exc:
        show_unavailable(exc)
        return
    except ApiError as exc:
        st.warning("This item has no document to read here." if exc.status == 404 else
                   f"The document cannot be shown: {md_escape(exc.message)}", icon=":material/search_off:")
        return
    tab_title(record["title"], "Document")
    st.title(md_escape(record["title"]), anchor=False)
    if not has_document(record):
        st.warning("This item has no document to read here: its text is on the item's page.",
                   icon=":material/search_off:")
        return
    if data is None:  # a PDF or another file: the browser opens it
        st.link_button("Open the document", document_href(item_id), icon=":material/description:")
        return
    text = data.decode("utf-8-sig", errors="replace")
    markdown = source.lower().endswith((".md", ".markdown"))
    body = readable(text[:MAX_CHARS], markdown)
    with st.container(key="document-text"):
        if markdown:
            st.markdown(body)  # no HTML: Streamlit shows tags as text
        else:
            st.text(body)
    if len(text) > MAX_CHARS:
        st.caption(f"The document is longer than {MAX_CHARS:,} characters; the rest is not shown here.")

"""Item: the full record, every facet, the passages (with pages), the source and similar items."""

from __future__ import annotations

from typing import Any

import streamlit as st

from policykb.ingest.records import is_web_link
from policykb.ui import resets
from policykb.ui.cards import tags, where
from policykb.ui.client import ApiError, ApiUnavailable
from policykb.ui.common import (KIND_COLORS, api, badges, developer_mode, has_document, label, md_escape, no_such_item,
                                record_text, show_unavailable, tab_title, web_link, years)
from policykb.ui.documents import document_href, open_href, shown_as_page
from policykb.ui.nav import page
from policykb.ui.state import STATE_KEY, SearchState
from policykb.ui.url import keep_in_url, scroll_to_top

SHOWN_PASSAGES = 5
FACET_ROWS = ("territory", "level", "challenge", "theme", "support", "typology", "kind", "language")


def back_to_search() -> None:
    """A link back to the search the visitor came from (its query and filters)."""
    stored = st.session_state.get(STATE_KEY)
    params = SearchState(**stored).url_params() if stored else {}
    st.page_link(page("search"), label="Back to search", icon=":material/arrow_back:", query_params=params)


def facet_table(record: dict[str, Any]) -> None:
    """Every facet with its labels, as a two-column Markdown table."""
    names = {"territory": "Territory", "level": "Territorial level", "challenge": "Strategic challenge",
             "theme": "Thematic priority", "support": "Type of support", "typology": "Typology", "kind": "Kind",
             "language": "Language"}
    labels: dict[str, list[str]] = record.get("facet_labels") or {}
    rows = ["| Facet | Values |", "|---|---|"]
    for name in FACET_ROWS:
        values = ", ".join(md_escape(v) for v in labels.get(name, [])) or "—"
        rows.append(f"| {names[name]} | {values} |")
    extra = [("Region", record.get("region")), ("Organisation", record.get("organisation")),
             ("Years", years(record.get("start_year"), record.get("end_year")))]
    if developer_mode():
        extra.append(("Id", record.get("id")))
    rows += [f"| {k} | {md_escape(str(v))} |" for k, v in extra if v]
    st.markdown("\n".join(rows))


def passage_box(record_id: str, passage: dict[str, Any], document: bool) -> None:
    """One passage, headed by its page (a link into the PDF) and section."""
    where_ = []
    if passage.get("page"):
        where_.append(f"[p. {passage['page']}]({document_href(record_id, passage['page'])})"
                      if document else f"p. {passage['page']}")
    section = passage.get("section") or ""
    if section:
        where_.append(f"§ {md_escape(section)}")
    text = str(passage.get("text", ""))
    with st.container(border=True):
        if where_:
            st.caption(" · ".join(where_))
        st.markdown(md_escape(text))


def passages(record: dict[str, Any]) -> None:
    """The item's passages: the first few, the rest behind an expander."""
    items = record.get("passages") or []
    st.header(f"Passages ({len(items)})", anchor=False)
    document = has_document(record) and not shown_as_page(record.get("source"))
    for passage in items[:SHOWN_PASSAGES]:
        passage_box(record["id"], passage, document)
    if len(items) > SHOWN_PASSAGES:
        with st.expander(f"Show the other {len(items) - SHOWN_PASSAGES} passages"):
            for passage in items[SHOWN_PASSAGES:]:
                passage_box(record["id"], passage, document)


def similar(item_id: str) -> None:
    """Items nearest in meaning, as links to their own item pages."""
    st.header("Similar items", anchor=False)
    try:
        hits = api().similar(item_id, k=5)
    except (ApiError, ApiUnavailable) as exc:
        st.caption(f"Similar items are unavailable: {exc}")
        return
    if not hits:
        st.caption("No item is close enough in meaning to count as similar.")
    for rank, hit in enumerate(hits):
        with st.container(border=True, key=f"similar-{rank}"):
            st.page_link(page("item"), label=md_escape(hit["title"]), query_params={"id": hit["id"]},
                         width="stretch", help=hit["title"])
            kind = hit.get("kind") or "example"
            st.markdown(badges([(label("kind", kind), KIND_COLORS.get(kind, "gray"))]) + " "
                        + md_escape(where(hit.get("facets") or {}, hit.get("region"))))


def render() -> None:
    item_id = (st.query_params.get("id") or "").strip()
    keep_in_url({"id": item_id} if item_id else {})  # also after a link from one item to another
    if resets.begin("item", item_id):
        scroll_to_top()  # a similar item is linked from the bottom of the page
    back_to_search()
    if not item_id:
        st.info("Open an item from the search results to see it here.", icon=":material/info:")
        return
    client = api()
    try:
        record = client.item(item_id)
    except ApiUnavailable as exc:
        show_unavailable(exc)
        return
    except ApiError as exc:
        if exc.status == 404:
            no_such_item(item_id)
        else:
            st.error(f"The API refused this request: {md_escape(exc.message)}")
        return
    kind = record.get("kind") or "example"
    tab_title(record["title"])
    with st.container(key="item-title"):
        st.title(md_escape(record["title"]), anchor=False)
    facets = {name: [v] if isinstance(v, str) else list(v or []) for name, v in (
        ("territory", record.get("country")), ("level", record.get("level")), ("challenge", record.get("challenges")),
        ("theme", record.get("themes")), ("support", record.get("support")), ("typology", record.get("typology")))}
    st.markdown(" · ".join(p for p in (badges([(label("kind", kind), KIND_COLORS.get(kind, "gray"))]),
                                       md_escape(where(facets, record.get("region"))),
                                       years(record.get("start_year"), record.get("end_year"))) if p))  # (as its card)
    st.markdown(tags(facets, limit=30))
    main, side = st.columns([7, 5], gap="large")
    with main:
        record_text(record)
        with st.container(horizontal=True):
            if record.get("url") and is_web_link(record["url"]):
                st.link_button("Source", record["url"], icon=":material/open_in_new:")
            if has_document(record):
                st.link_button("Open the document", open_href(item_id, record.get("source")),
                               icon=":material/description:")
        if has_document(record):  # a record's passages are its summary and description again
            passages(record)
    with side:
        st.header("Facets", anchor=False)
        with st.container(key="facets"):
            facet_table(record)
        if record.get("url"):
            st.caption("Source: " + web_link(record["url"]))
        for link in (record.get("links") or [])[1:]:
            st.markdown("- " + web_link(link))
        similar(item_id)

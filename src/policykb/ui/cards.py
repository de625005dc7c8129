"""A search hit as a card: title, kind badge, country and level, facet tags, best passage, page link."""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from policykb.ingest.records import is_web_link
from policykb.ui.common import KIND_COLORS, badges, developer_mode, has_document, label, md_escape, web_link, years
from policykb.ui.documents import document_href, open_href, shown_as_page
from policykb.ui.nav import page

TAG_FACETS = (("challenge", "orange"), ("theme", "green"), ("support", "blue"), ("typology", "gray"))
MAX_TAGS = 8


def where(facets: dict[str, list[str]], region: str | None = None) -> str:
    """'Austria · Upper Austria · Regional' from a hit's facets."""
    parts = [", ".join(label("territory", t) for t in facets.get("territory", []))]
    parts += [region or "", ", ".join(label("level", v) for v in facets.get("level", []))]
    return " · ".join(p for p in parts if p)


def tags(facets: dict[str, list[str]], limit: int = MAX_TAGS) -> str:
    """Facet values as coloured Markdown badges (challenges, themes, support, typology)."""
    pairs = [(label(name, value), color) for name, color in TAG_FACETS for value in facets.get(name, [])]
    more = len(pairs) - limit
    return badges(pairs[:limit]) + (f" +{more} more" if more > 0 else "")


def also_pages(hit: dict[str, Any], linked: bool) -> str:
    """The other pages a document's result names ("also p. 5 (Who took part), p. 6"), each a link
    to the document at that page when the document can be opened."""
    named = []
    for other in hit["also"]:
        number = int(other["page"])
        text = f"[p. {number}]({document_href(hit['id'], number)})" if linked else f"p. {number}"
        named.append(text + (f" ({md_escape(other['section'])})" if other.get("section") else ""))
    return "also " + ", ".join(named)


def hit_card(hit: dict[str, Any], rank: int) -> None:
    """One result; the title opens the item page, "p. N" opens the document at that page."""
    facets = hit.get("facets") or {}
    kind = hit.get("kind") or "example"
    with st.container(border=True, key=f"hit-{rank}"):
        # A heading for screen readers (they jump from result to result by headings); the link shows it.
        st.html(f'<h2 class="pk-sr-only">{html.escape(str(rank))}. {html.escape(hit["title"])}</h2>')
        st.page_link(page("item"), label=md_escape(hit["title"]), query_params={"id": hit["id"]}, width="stretch")
        head = [badges([(label("kind", kind), KIND_COLORS.get(kind, "gray"))])]
        place = where(facets, hit.get("region"))
        if place:
            head.append(md_escape(place))
        span = years(hit.get("start_year"), hit.get("end_year"))
        if span:
            head.append(span)
        tag_line = tags(facets)
        st.markdown(" · ".join(head) + (f"\n\n{tag_line}" if tag_line else ""))  # one element, not two
        if hit.get("snippet"):
            st.html(f'<div class="pk-snippet">{hit["snippet"]}</div>')  # the API escapes it and adds <mark>
        links = [f"§ {md_escape(hit['section'])}"] if hit.get("section") else []
        source = hit.get("source")
        if hit.get("page") and has_document(hit) and not shown_as_page(source):
            links.append(f"[p. {hit['page']}]({document_href(hit['id'], hit['page'])})")
        elif hit.get("page"):
            links.append(f"p. {hit['page']}")
        if hit.get("page") and hit.get("also"):
            links.append(also_pages(hit, has_document(hit) and not shown_as_page(source)))
        if not hit.get("page") and has_document(hit):
            links.append(f"[Open the document]({open_href(hit['id'], source)})")
        if hit.get("url") and is_web_link(hit["url"]):
            links.append(web_link(hit["url"], "Source ↗"))
        if not developer_mode():  # the common case: one line of links, no row around it
            if links:
                st.markdown(" · ".join(links))
            return
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            if links:
                st.markdown(" · ".join(links), width="content")
            with st.popover("Details", type="tertiary", icon=":material/info:"):
                st.markdown(f"**Score** {hit.get('score', 0):.4f}  \n**Rank** {rank}  \n"
                            f"**Id** {md_escape(hit['id'])}")
                if hit.get("source"):
                    st.caption(f"Source file: {md_escape(hit['source'])}")

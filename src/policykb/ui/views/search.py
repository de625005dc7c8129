"""Search: one query box, mode toggle, facet filters with live counts, result cards, paging, downloads."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from policykb.ui.cards import hit_card
from policykb.ui.client import ApiClient, ApiError, ApiUnavailable, SearchQuery
from policykb.ui.common import EXAMPLE_QUESTION, api, developer_mode, label, md_escape, shorten, show_unavailable, tab_title
from policykb.ui.filters import active_chips, canonical_filters, sidebar_filters
from policykb.ui.language import language_box, language_chip, note, read_as
from policykb.ui.nav import page
from policykb.ui.state import (MAX_PAGES, MAX_QUESTION, MODES, SearchState, clear_all, load_state, page_key,
                               remove_filter, save_state, set_filters)
from policykb.ui.url import scroll_to_top

PAGE_SIZE = 10


def effective_query(state: SearchState) -> SearchQuery:
    """The query to send: the years only when they make a range (a start after the end is said
    next to the year boxes, not sent to the API to be refused)."""
    query = state.query()
    if query.year_from is not None and query.year_to is not None and query.year_from > query.year_to:
        query.year_from = query.year_to = None
    return query


def run_search(client: ApiClient, state: SearchState) -> dict[str, Any]:
    """Search, dropping filter values the API does not know (with a warning) instead of failing."""
    for _ in range(10):
        try:
            return client.search(effective_query(state), page=state.page, size=PAGE_SIZE)
        except ApiError as exc:
            facet, value = exc.details.get("facet"), exc.details.get("value")
            if exc.code != "unknown_facet_value" or value not in state.filters.get(facet, []):
                raise
            st.warning(f"Ignored the filter “{md_escape(value)}”: it is not one of the {md_escape(facet)} values "
                       "this knowledge base knows.", icon=":material/warning:")
            set_filters(state, {**state.filters, facet: [v for v in state.filters[facet] if v != value]})
    raise ApiError(422, "invalid_request", "too many unknown filter values")


def search_box() -> None:
    """The query box and the mode toggle (their values live in session state under `q` and `mode`).
    No character counter: on a phone it covered the question; a question over the limit is said
    (`render`)."""
    left, right = st.columns([5, 2], vertical_alignment="center")
    left.text_input("Search", key="q", placeholder=EXAMPLE_QUESTION, label_visibility="collapsed",
                    icon=":material/search:")
    right.segmented_control("Mode", MODES, key="mode", required=True, format_func=str.capitalize,
                            label_visibility="collapsed",
                            help="Hybrid blends meaning and keywords; semantic matches meaning; keyword matches words.")


def summary_line(result: dict[str, Any], state: SearchState) -> str:
    total, first = result["total"], (state.page - 1) * PAGE_SIZE + 1
    shown = f"{first}–{first + len(result['hits']) - 1} of " if total > len(result["hits"]) else ""
    if not state.q:
        return f"Browsing {shown}**{total}** item{'s' * (total != 1)} in title order. Type a question to rank them."
    how = ", ".join(p for p in (state.mode, read_as(result, state)) if p)
    return f"{shown}**{total}** result{'s' * (total != 1)} for “{md_escape(shorten(state.q))}” ({md_escape(how)})"


def refusal(exc: ApiError) -> None:
    """A refused search in the visitor's words; the API's own message only in the developer details."""
    st.error("**This search could not be run** with these settings. Clear the query and the filters to start "
             "again, or change the last thing you changed.", icon=":material/error:")
    if developer_mode():
        st.caption(f"The API said ({exc.status}, {md_escape(exc.code)}): {md_escape(exc.message)}")


def no_results(client: ApiClient, state: SearchState, result: dict[str, Any]) -> None:
    """Say so plainly; then what to try: words no item contains, filters to remove (each a button),
    and the nearest items, set apart and labelled as not matches."""
    facets = result["facets"]
    if state.q:
        st.info(f"**No close match** for “{md_escape(shorten(state.q))}”. Nothing in the knowledge base is close enough "
                "in meaning or words to count as a result.", icon=":material/search_off:")
    else:
        st.info("**No items** with these filters.", icon=":material/search_off:")
    if result.get("absent_terms"):  # (the spelling is in doubt only for words in no English word list: not "sat")
        unknown = result.get("unknown_terms") or []
        hint = (" — check the spelling of " + ", ".join(f"“{md_escape(w)}”" for w in unknown) + ", or try another word"
                if unknown else " — try another word")
        st.markdown("No item contains " + ", ".join(f"“{md_escape(w)}”" for w in result["absent_terms"]) + hint + ".")
    if result.get("total_without_filters"):
        n = result["total_without_filters"]
        st.markdown(f"Without the filters, the question has **{n}** result{'s' * (n != 1)}.")
    for name, values in list(state.filters.items())[:6]:
        for value in values[:3]:
            without = SearchState(**{**state.__dict__, "filters": {**state.filters, name: [
                v for v in values if v != value]}, "page": 1})
            try:
                count = client.search(without.query(), size=1)["total"]
            except (ApiError, ApiUnavailable):
                continue
            if count:
                text = f"Remove {facets.get(name, {}).get('label', name)}: {label(name, value)} → {count} result" \
                       + ("s" if count != 1 else "")
                st.button(text, key=f"suggest-{name}-{value}", on_click=remove_filter, args=(name, value),
                          icon=":material/filter_alt_off:")
    if result.get("nearest"):
        with st.container(border=True, key="nearest"):
            st.markdown("**Nearest items — not matches.** The closest the knowledge base has, shown so you can "
                        "judge the gap; they are not counted or downloaded as results.")
            for hit in result["nearest"]:
                st.page_link(page("item"), label=md_escape(hit["title"]), query_params={"id": hit["id"]},
                             width="stretch")


def downloads(client: ApiClient, query: SearchQuery) -> None:
    """'Download these results' as CSV or JSON (fetched from /export only when clicked)."""

    def fetch(fmt: str) -> bytes:
        try:
            return client.export(query, fmt)  # type: ignore[arg-type]
        except (ApiError, ApiUnavailable) as exc:
            return f"export failed: {exc}".encode()

    with st.container(horizontal=True, vertical_alignment="center", gap="small", width="content", wrap=False):
        st.caption("Download these results:", width="content")
        st.download_button("CSV", data=lambda: fetch("csv"), file_name="policykb-results.csv", mime="text/csv",
                           on_click="ignore", icon=":material/download:", key="dl-csv")
        st.download_button("JSON", data=lambda: fetch("json"), file_name="policykb-results.json",
                           mime="application/json", on_click="ignore", icon=":material/download:", key="dl-json")


def render() -> None:
    state = load_state()
    client = api()
    tab_title(f"“{shorten(state.q, 60)}”" if state.q else "", "Search")
    st.title("Search policy examples", anchor=False)
    with st.container(key="pk-intro"):
        st.caption("Cluster and innovation policy examples, smart guides and case studies — ask a question or "
                   "browse.")
    search_box()
    if len(state.q) > MAX_QUESTION:  # refused, as by the API and the CLI (it was cut, and searched)
        st.error(f"Your question has {len(state.q):,} characters; a question may have {MAX_QUESTION:,} at most. "
                 "Shorten it to search.", icon=":material/error:")
        save_state(state)
        return
    try:
        with st.spinner("Searching…"):
            result = run_search(client, state)
            pages = max(1, min(MAX_PAGES, math.ceil(result["total"] / PAGE_SIZE)))
            if state.page > pages:  # e.g. a shared link to a page that no longer exists
                state.page = pages
                result = run_search(client, state)
    except ApiUnavailable as exc:
        show_unavailable(exc)
        st.stop()
    except ApiError as exc:  # the filters stay at hand, with a way back
        sidebar_filters({}, state)
        refusal(exc)
        st.button("Clear the query, filters and years", on_click=clear_all, icon=":material/filter_alt_off:",
                  key="recover-clear-all")
        save_state(state)
        return
    facets = result["facets"]
    canonical = canonical_filters(state, facets)
    if canonical != state.filters:
        page_shown = state.page
        set_filters(state, canonical)
        state.page = page_shown
    sidebar_filters(facets, state)
    active_chips(state, facets, extra=language_chip(state))
    note(result)
    if not result["hits"]:
        no_results(client, state, result)
    else:
        st.markdown(summary_line(result, state))
        for rank, hit in enumerate(result["hits"], start=(state.page - 1) * PAGE_SIZE + 1):
            hit_card(hit, rank)
        if pages > 1:
            st.pagination(pages, default=state.page, key=page_key(state), max_visible_pages=7)
    with st.container(horizontal=True, vertical_alignment="bottom", gap="large", key="pk-after-results"):
        language_box(result, state)
        if result["hits"]:
            downloads(client, effective_query(state))
    scroll_up_after_paging(state)
    save_state(state)


def scroll_up_after_paging(state: SearchState) -> None:
    """Another page of the same results starts at their top, not where the pager was."""
    shown = (state.signature(), state.page)
    last = st.session_state.get("pk_shown_page")
    st.session_state["pk_shown_page"] = shown
    if last is not None and last[0] == shown[0] and last[1] != shown[1]:
        scroll_to_top()

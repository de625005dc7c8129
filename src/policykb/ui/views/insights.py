"""Insights: what the knowledge base (or the current search) holds, as charts that follow the filters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import streamlit as st

from policykb.ui.charts import bars, years
from policykb.ui.common import api, api_errors, label, md_escape, shorten, tab_title
from policykb.ui.filters import active_chips, canonical_filters, sidebar_filters
from policykb.ui.state import SearchState, load_state, save_state, set_filters

TOP = 25  # bars per chart


def facet_counts(counts: dict[str, Any], facet: str) -> Counter[str]:
    """A facet's value counts over the result set itself (every value, none left out)."""
    return Counter({v: n for v, n in (counts.get("values") or {}).get(facet, {}).items() if n})


def bar(title: str, counts: Counter[str], facet: str, what: str, top: int | None = TOP) -> None:
    """Horizontal bars of the most frequent values, largest first, with full labels and counts."""
    st.header(title, anchor=False)
    if not counts:
        st.caption(f"No {what} in these items.")
        return
    st.html(bars([(label(facet, v), n) for v, n in counts.most_common(top)], f"Items {title[0].lower()}{title[1:]}"))
    if top is not None and len(counts) > top:
        st.caption(f"The {top} most frequent of {len(counts)} {what}.")


def by_year(start_years: dict[str, int], undated: int) -> None:
    """Items by start year, every year of the span shown (gaps are years with none)."""
    st.header("By start year", anchor=False)
    counts = {int(y): n for y, n in (start_years or {}).items()}
    if not counts:
        st.caption("No start years in these items.")
        return
    st.html(years(counts, "Items by start year"))
    top = max(counts, key=lambda y: (counts[y], y))
    st.caption(f"The tallest bar: {counts[top]} item{'s' * (counts[top] != 1)} starting in {top}. Point at a bar for "
               "its year and count.")
    if undated:
        st.caption(f"{undated} item{'s' * (undated != 1)} without a start year.")


def nothing(state: SearchState) -> None:
    """Say what left nothing to count: the question, the filters, or both."""
    filtered = bool(state.filters) or state.year_from is not None or state.year_to is not None
    if state.q and not filtered:
        st.info(f"**Nothing in the knowledge base matches “{md_escape(shorten(state.q))}”**, so there is nothing to "
                "chart. Change the question on the Search page, or remove it (the chip above) to chart every item.",
                icon=":material/search_off:")
    elif state.q:
        st.info(f"**No item matches “{md_escape(shorten(state.q))}” with these filters.** Remove a filter or the "
                "question (the chips above) to see charts again.", icon=":material/search_off:")
    else:
        st.info("No items match these filters. Remove a filter to see charts again.", icon=":material/search_off:")


def render() -> None:
    state = load_state()
    client = api()
    tab_title("Insights")
    st.title("Insights", anchor=False)
    st.caption("What the knowledge base holds. Every chart follows the filters in the sidebar (and the query "
               "from Search: only the items relevant to it are counted).")
    with api_errors(), st.spinner("Counting…"):
        counts = client.counts(state.query())
        facets = counts["facets"]
        canonical = canonical_filters(state, facets)
        if canonical != state.filters:
            set_filters(state, canonical)
            counts = client.counts(state.query())
            facets = counts["facets"]
    sidebar_filters(facets, state)
    active_chips(state, facets, show_query=True)
    if not counts["total"]:
        nothing(state)
        save_state(state)
        return
    kinds = facet_counts(counts, "kind")
    countries = facet_counts(counts, "territory")
    metrics = [("Items", counts["total"]), ("Countries", len(countries))]
    metrics += [(label("kind", k), n) for k, n in kinds.most_common(3)]
    for column, (name, value) in zip(st.columns(len(metrics)), metrics):
        column.metric(name, value, border=True)
    left, right = st.columns(2, gap="large")
    with left:
        every = st.toggle("Show every country", key="insights-all-countries", value=False) \
            if len(countries) > TOP else False
        bar("By country", countries, "territory", "countries", None if every else TOP)
    with right:
        bar("By strategic challenge", facet_counts(counts, "challenge"), "challenge", "challenges")
        bar("By type of support", facet_counts(counts, "support"), "support", "support types")
    by_year(counts.get("start_years") or {}, counts.get("undated") or 0)
    save_state(state)

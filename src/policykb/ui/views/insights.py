"""Insights: what the knowledge base (or the current search) holds, as charts that follow the filters."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ..client import ApiClient
from ..common import api, api_errors, label
from ..filters import active_chips, canonical_filters, sidebar_filters
from ..state import load_state, save_state, set_filters

TOP = 25  # bars per chart
COLOR = "#2563eb"


def count_values(records: list[dict[str, Any]], key: str) -> Counter[str]:
    """How many records carry each value of `key` (a list or a single value)."""
    counts: Counter[str] = Counter()
    for record in records:
        value = record.get(key)
        for v in value if isinstance(value, list) else [value] if value not in (None, "") else []:
            counts[str(v)] += 1
    return counts


def bar(title: str, counts: Counter[str], facet: str, what: str) -> None:
    """A horizontal bar chart of the most frequent values, largest first, with full labels and counts."""
    st.subheader(title, anchor=False)
    if not counts:
        st.caption(f"No {what} in these items.")
        return
    frame = pd.DataFrame([{"value": label(facet, v), "items": n} for v, n in counts.most_common(TOP)])
    order = alt.EncodingSortField(field="items", order="descending")
    base = alt.Chart(frame).encode(
        y=alt.Y("value:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelFontSize=12, labelOverlap=False)),
        x=alt.X("items:Q", title="items", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("value:N", title=title.removeprefix("By ").capitalize()), "items:Q"],
    )
    chart = base.mark_bar(color=COLOR, cornerRadiusEnd=3) + base.mark_text(align="left", dx=4, fontSize=12).encode(
        text="items:Q")
    height = 28 * len(frame) + 50  # room for every label, plus the axis
    st.altair_chart(chart.properties(height=height - 50), width="stretch", height=height)
    if len(counts) > TOP:
        st.caption(f"The {TOP} most frequent of {len(counts)}.")


def by_year(records: list[dict[str, Any]]) -> None:
    """Items by start year, every year of the span shown (gaps are years with none)."""
    st.subheader("By start year", anchor=False)
    counts = Counter(int(r["start_year"]) for r in records if r.get("start_year"))
    if not counts:
        st.caption("No start years in these items.")
        return
    frame = pd.DataFrame({"year": list(range(min(counts), max(counts) + 1))})
    frame["items"] = [counts.get(y, 0) for y in frame["year"]]
    chart = alt.Chart(frame).mark_bar(color=COLOR, cornerRadiusEnd=2).encode(
        x=alt.X("year:O", title="start year", axis=alt.Axis(labelAngle=0, labelOverlap="greedy")),
        y=alt.Y("items:Q", title="items", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=["year:O", "items:Q"],
    )
    st.altair_chart(chart.properties(height=240), width="stretch", height=300)
    undated = sum(1 for r in records if not r.get("start_year"))
    if undated:
        st.caption(f"{undated} item{'s' * (undated != 1)} without a start year.")


def fetch_records(client: ApiClient, query: Any) -> list[dict[str, Any]]:
    return json.loads(client.export(query, "json") or b"[]")


def render() -> None:
    state = load_state()
    client = api()
    st.title("Insights", anchor=False)
    st.caption("What the knowledge base holds. Every chart follows the filters in the sidebar (and the query "
               "from Search).")
    with api_errors(), st.spinner("Counting…"):
        result = client.search(state.query(), size=1)
        facets = result["facets"]
        canonical = canonical_filters(state, facets)
        if canonical != state.filters:
            set_filters(state, canonical)
        records = fetch_records(client, state.query())
    sidebar_filters(facets, state)
    active_chips(state, facets, show_query=True)
    if not records:
        st.info("No items match these filters. Remove a filter to see charts again.", icon=":material/search_off:")
        save_state(state)
        return
    kinds = count_values(records, "kind")
    metrics = [("Items", len(records)), ("Countries", len(count_values(records, "country")))]
    metrics += [(label("kind", k), n) for k, n in kinds.most_common(3)]
    for column, (name, value) in zip(st.columns(len(metrics)), metrics):
        column.metric(name, value, border=True)
    left, right = st.columns(2, gap="large")
    with left:
        bar("By country", count_values(records, "country"), "territory", "countries")
    with right:
        bar("By strategic challenge", count_values(records, "challenges"), "challenge", "challenges")
        bar("By type of support", count_values(records, "support"), "support", "support types")
    by_year(records)
    save_state(state)

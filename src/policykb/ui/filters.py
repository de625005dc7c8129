"""Sidebar facet filters with live counts, and the active filters as removable chips."""

from __future__ import annotations

from typing import Any

import streamlit as st

from policykb.ui.client import FACETS, OPTIONAL_FACETS, ApiError, ApiUnavailable
from policykb.ui.common import label, shorten, taxonomy
from policykb.ui.state import YEAR_MAX, YEAR_MIN, SearchState, clear_all, clear_query, clear_years, facet_key, remove_filter

FACET_LABELS = {"territory": "Territory", "level": "Territorial level", "challenge": "Strategic challenge",
                "theme": "Thematic priority", "support": "Type of support", "typology": "Typology", "kind": "Kind",
                "language": "Language", "stip_theme": "STIP theme", "stip_instrument": "STIP instrument"}

OPEN_FACETS = ("kind", "challenge", "level")  # expanded by default; the others open when they have a selection
# Facets whose values sound alike ("Case study" is a kind and a typology; "Internationalisation" a challenge
# and a type of support): what each one is about.
FACET_HELP = {
    "kind": "What the entry is in this knowledge base: a policy example, a smart guide, a case study or a document.",
    "typology": "What the initiative itself is: a national or regional programme, an EU partnership, a strategy…",
    "challenge": "The goal a policy pursues (e.g. internationalisation of firms).",
    "support": "How it helps (e.g. internationalisation support: missions, matchmaking abroad).",
}


def canonical_filters(state: SearchState, facets: dict[str, Any]) -> dict[str, list[str]]:
    """The filters as the API understood them (ids instead of labels or synonyms typed in a URL)."""
    out: dict[str, list[str]] = {}
    for name, values in state.filters.items():
        selected = [v["value"] for v in facets.get(name, {}).get("values", []) if v["selected"]]
        out[name] = selected if selected and set(selected) != set(values) else values
    return out


def facet_label(name: str) -> str:
    """A facet's name for people (from the taxonomy; a fixed name when the API cannot say)."""
    try:
        return str(taxonomy().get(name, {}).get("label") or FACET_LABELS.get(name, name))
    except (ApiError, ApiUnavailable):
        return FACET_LABELS.get(name, name)


def sidebar_filters(facets: dict[str, Any], state: SearchState) -> None:
    """One group of pills per facet, each value with its count for the current query and other filters."""
    filters_control(state)
    with st.sidebar:
        st.header("Filters", anchor=False)
        st.caption("Counts follow your query and the other filters.")
        for name in FACETS:
            facet = facets.get(name) or {"label": facet_label(name), "values": []}
            counts = {v["value"]: v["count"] for v in facet["values"]}
            labels = {v["value"]: v["label"] for v in facet["values"]}
            selected = state.filters.get(name, [])
            options = [v["value"] for v in facet["values"] if v["count"] or v["value"] in selected]
            options += [v for v in selected if v not in options]
            if name in OPTIONAL_FACETS and not options:
                continue
            title = facet["label"] + (f" · {len(selected)} selected" if selected else "")
            group = st.expander(title, expanded=bool(selected) or name in OPEN_FACETS, key=f"fx-{name}",
                                on_change="rerun")
            if not group.open:  # drawn once opened: closed groups cost a page nothing (their filters stay)
                continue
            with group:
                if name in FACET_HELP:
                    st.caption(FACET_HELP[name])
                if not options:
                    st.caption("No values in these results.")
                    continue
                st.pills(
                    facet["label"], options, selection_mode="multi", key=facet_key(name),
                    format_func=lambda v, c=counts, lab=labels, n=name: f"{lab.get(v) or label(n, v)} · {c.get(v, 0)}",
                    label_visibility="collapsed",
                )
                if facet.get("truncated"):
                    st.caption("Showing the most frequent values.")
        with st.expander("Years", expanded=state.year_from is not None or state.year_to is not None):
            left, right = st.columns(2)
            left.number_input("From", min_value=YEAR_MIN, max_value=YEAR_MAX, step=1, key="year_from",
                              placeholder="any")
            right.number_input("To", min_value=YEAR_MIN, max_value=YEAR_MAX, step=1, key="year_to",
                               placeholder="any")
            if state.year_from is not None or state.year_to is not None:
                st.caption("Items active in these years; items without any year are left out.")
            if state.year_from is not None and state.year_to is not None and state.year_from > state.year_to:
                st.warning(f"“From” ({state.year_from}) is after “To” ({state.year_to}): the years are not "
                           "applied until one of them changes.", icon=":material/event_busy:")
                st.button("Clear the years", on_click=clear_years, key="years-clear")


def active_count(state: SearchState) -> int:
    """How many filter values (and year bounds) are in force."""
    return sum(len(v) for v in state.filters.values()) + (state.year_from is not None) + (state.year_to is not None)


def filters_control(state: SearchState) -> None:
    """A labelled way into the filters: Streamlit's button that opens the sidebar (on a phone, the only
    one, an unlabelled » in the corner) says "Filters (n)"; after a filter is chosen on a phone, the
    sidebar closes, so the results it changed are in view."""
    count = active_count(state)
    text = f"Filters ({count})" if count else "Filters"
    st.html(f'<style>[data-testid="stExpandSidebarButton"]::after {{ content: "{text}"; margin-left: .25rem; '
            'font-weight: 600; font-size: .95rem; }}</style>')
    shown = (tuple(sorted((k, tuple(v)) for k, v in state.filters.items())), state.year_from, state.year_to)
    last = st.session_state.get("pk_filters_shown")
    st.session_state["pk_filters_shown"] = shown
    if last is not None and last != shown:
        runs = st.session_state["pk_filters_changes"] = st.session_state.get("pk_filters_changes", 0) + 1
        st.html(CLOSE_ON_PHONES.replace("RUN", str(runs)), unsafe_allow_javascript=True)


# Streamlit's sidebar covers the page below 768 px; close it there once a filter has been applied
CLOSE_ON_PHONES = """<script>/* RUN */
if (window.innerWidth < 768) {
  const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (button) button.click();
}
</script>"""


def active_chips(state: SearchState, facets: dict[str, Any], show_query: bool = False,
                 extra: tuple[str, Any, tuple[Any, ...], str] | None = None) -> None:
    """The query (optionally), filters, years (and `extra`) in force, each a chip that removes itself
    when clicked."""
    chips: list[tuple[str, Any, tuple[Any, ...], str]] = []
    if show_query and state.q:
        chips.append((f"“{shorten(state.q)}”", clear_query, (), "chip-q"))
    if extra:
        chips.append(extra)
    for name, values in state.filters.items():
        labels = {v["value"]: v["label"] for v in facets.get(name, {}).get("values", [])}
        for value in values:
            text = labels.get(value) or label(name, value)
            chips.append((text, remove_filter, (name, value), f"chip-{name}-{value}"))
    if state.year_from is not None or state.year_to is not None:
        ignored = state.year_from is not None and state.year_to is not None and state.year_from > state.year_to
        text = f"Years {state.year_from or '…'}–{state.year_to or '…'}" + (" (not applied)" if ignored else "")
        chips.append((text, clear_years, (), "chip-years"))
    if not chips:
        return
    with st.container(horizontal=True, gap="small", key="pk-chips"):
        for text, callback, args, key in chips:
            st.button(text, key=key, on_click=callback, args=args, icon=":material/close:", icon_position="right",
                      help="Remove it from the search")
        if len(chips) > 1:
            st.button("Clear all", key="chip-clear-all", on_click=clear_all, type="tertiary")

"""Pieces every page uses: the API client, the taxonomy, labels and the friendly error states."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import streamlit as st

from policykb.config import Settings
from policykb.ingest.records import is_web_link
from policykb.ui.client import ApiClient, ApiError, ApiUnavailable

TAXONOMY_KEY = "pk_taxonomy"
DEVELOPER_KEY = "pk_developer"
EXAMPLE_QUESTION = "e.g. how do regions help cluster SMEs go international?"
KIND_COLORS = {"example": "blue", "guide": "green", "case_study": "violet", "document": "gray"}


CACHE_SECONDS = 30.0  # a session reuses an answer this long (its own writes forget them; a reload starts afresh)


def api() -> ApiClient:
    """A client for the API at `Settings().ui_api_url` (env `POLICYKB_UI_API_URL`), one per session."""
    client = st.session_state.get("pk_client")
    if client is None:
        settings = Settings()
        client = st.session_state["pk_client"] = ApiClient(settings.ui_api_url, cache_seconds=CACHE_SECONDS)
    return client


def tab_title(*parts: str) -> None:
    """Name the page (and what it shows) in the browser tab, for tabs, history and screen readers."""
    st.set_page_config(page_title=" · ".join([*(p[:80] for p in parts if p), "policykb"]))


def developer_mode() -> bool:
    """Whether the visitor asked to see developer details (scores, ids, API addresses)."""
    return bool(st.session_state.get(DEVELOPER_KEY))


def developer_toggle() -> None:
    """The switch for developer details, at the bottom of the sidebar (off by default)."""
    with st.sidebar:
        st.toggle("Show developer details", key=DEVELOPER_KEY, help="Scores, ids and API addresses, for "
                  "people who run or debug this knowledge base.")


def show_unavailable(error: ApiUnavailable) -> None:
    """Say that the service is down, in words for the visitor; how to start it only for developers."""
    st.error("**The search service is not reachable right now.** Please try again in a few minutes; if it "
             "stays so, tell the people who run this site.", icon=":material/cloud_off:")
    with st.expander("Details for the people who run this site"):
        st.caption(f"The API is not reachable at {md_escape(error.base_url)} ({md_escape(error.reason)}). Start it "
                   "with `make run` or `policykb serve`; if it runs elsewhere, set `POLICYKB_UI_API_URL`.")


@contextmanager
def api_errors() -> Iterator[None]:
    """Turn API failures inside the block into friendly messages and stop the page there."""
    try:
        yield
    except ApiUnavailable as exc:
        show_unavailable(exc)
        st.stop()
    except ApiError as exc:
        st.error(f"The API refused this request: {md_escape(exc.message)}", icon=":material/error:")
        st.stop()


def taxonomy() -> dict[str, dict[str, Any]]:
    """The taxonomy by facet name, each with `labels` {id: label}; fetched once per session."""
    cached = st.session_state.get(TAXONOMY_KEY)
    if cached is None:
        facets = api().facets()
        cached = {f["name"]: {**f, "labels": {v["id"]: v["label"] for v in f["values"]}} for f in facets}
        st.session_state[TAXONOMY_KEY] = cached
    return cached


def label(name: str, value: str) -> str:
    """The label of a facet value (the value itself when unknown or the taxonomy is unavailable)."""
    try:
        return taxonomy().get(name, {}).get("labels", {}).get(value, value)
    except (ApiUnavailable, ApiError):
        return value


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to about `limit` characters at a word, with an ellipsis when cut."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def years(start: int | None, end: int | None) -> str:
    if start and end:
        return f"{start}–{end}" if end != start else str(start)
    if start:
        return f"since {start}"
    return f"until {end}" if end else ""


def has_document(record: Mapping[str, Any]) -> bool:
    """Whether the API can serve a hit's or an item's original document: it names the route
    (`file`, "/items/{id}/file"), so the app and the API agree on which files those are."""
    return bool(record.get("file"))


def record_text(record: Mapping[str, Any]) -> None:
    """A record's summary (bold) and description as literal text, line breaks kept: on the item's
    page and in the moderator's preview of what will be published."""
    if record.get("summary"):
        st.markdown(bold_text(str(record["summary"])))
    if record.get("description"):
        st.markdown(md_escape(str(record["description"])))


def no_such_item(item_id: str) -> None:
    """What the item and document pages say for an id the API does not know (or does not show)."""
    st.warning(f"There is no published item with id “{md_escape(item_id)}”. It may have been unpublished or the "
               "link may be mistyped.", icon=":material/search_off:")


def badges(values: list[tuple[str, str]]) -> str:
    """Markdown badges (`:color-badge[text]`) for (text, color) pairs, safe for arbitrary text."""
    return " ".join(f":{color}-badge[{_escape_badge(text)}]" for text, color in values if text)


def _escape_badge(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def web_link(url: str | None, label: str | None = None) -> str:
    """A Markdown link to a well-formed http(s) URL, its text the literal URL (or a fixed `label`);
    anything else as literal text, never a link (contributed links are hostile until checked)."""
    if not url:
        return ""
    if not is_web_link(str(url)):
        return md_escape(str(url))
    return f"[{md_escape(label or str(url))}](<{url}>)"


def bold_text(text: str) -> str:
    """Plain text as bold Markdown, paragraph by paragraph: one pair of "**" around a blank line
    showed both pairs as text, and spaces inside the pair break it too."""
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", str(text)))
    return "\n\n".join(f"**{md_escape(p)}**" for p in paragraphs if p)


def md_escape(text: str) -> str:
    """Escape Markdown (and Streamlit's `$` maths and `:` directives) in plain text."""
    out = []
    for char in str(text):
        out.append("\\" + char if char in "\\`*_{}[]()#+-.!|$<>~:" else char)
    return "".join(out)

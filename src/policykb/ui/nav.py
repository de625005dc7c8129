"""The pages of the app, by name, so pages can link to each other (`st.page_link(page("item"), ...)`)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import streamlit as st

# name -> (title, material icon, visible in the navigation)
PAGES: dict[str, tuple[str, str | None, bool]] = {
    "search": ("Search", ":material/search:", True),
    "item": ("Item", None, False),  # no icon: its links are result titles
    "insights": ("Insights", ":material/bar_chart:", True),
    "contribute": ("Contribute", ":material/add_circle:", True),
    "moderate": ("Moderate", ":material/gavel:", True),
}


def _renderer(name: str) -> Callable[[], None]:
    def render() -> None:
        import_module(f"policykb.ui.views.{name}").render()

    render.__name__ = name  # st.Page derives nothing from it (url_path is explicit), but tracebacks read better
    return render


def page(name: str, default: str = "search") -> st.Page:
    """The `st.Page` for `name` (a new descriptor each call; Streamlit matches pages by url_path)."""
    title, icon, visible = PAGES[name]
    return st.Page(_renderer(name), title=title, icon=icon, url_path=name, default=name == default,
                   visibility="visible" if visible or name == default else "hidden")


def all_pages(default: str = "search") -> list[st.Page]:
    return [page(name, default) for name in PAGES]

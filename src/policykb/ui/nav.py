"""The pages of the app, by name, so pages can link to each other (`st.page_link(page("item"), ...)`).

Every page has its own address (`/search`, `/item`, ...), so a link to it is the same from any page
and in a new tab; the app's root `/` shows the default page as well (it is what a visitor types).
Links between pages always use the named address, never the root: Streamlit writes a link to the
root page as a bare `?q=...`, which a browser resolves against whatever page it is on.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import streamlit as st

# name -> (title, material icon, visible in the navigation)
PAGES: dict[str, tuple[str, str | None, bool]] = {
    "search": ("Search", ":material/search:", True),
    "item": ("Item", None, False),  # no icon: its links are result titles
    "document": ("Document", None, False),  # a Markdown or text document, shown as a page
    "insights": ("Insights", ":material/bar_chart:", True),
    "contribute": ("Contribute", ":material/add_circle:", True),
    "moderate": ("Moderate", ":material/gavel:", True),
}


def _renderer(name: str) -> Callable[[], None]:
    def render() -> None:
        import_module(f"policykb.ui.views.{name}").render()

    render.__name__ = name  # st.Page derives nothing from it (url_path is explicit), but tracebacks read better
    return render


def page(name: str) -> st.Page:
    """The `st.Page` at `/name` (a new descriptor each call; Streamlit matches pages by url_path)."""
    title, icon, _ = PAGES[name]
    return st.Page(_renderer(name), title=title, icon=icon, url_path=name, visibility="hidden")


def all_pages(default: str = "search") -> list[st.Page]:
    """The root page (showing `default`, listed in the navigation) and every page at its own address
    (listed when it is one of the visible pages other than the default)."""
    title, icon, _ = PAGES[default]
    root = st.Page(_renderer(default), title=title, icon=icon, url_path="", default=True)
    pages = [root]
    for name, (title, icon, visible) in PAGES.items():
        shown = "visible" if visible and name != default else "hidden"
        pages.append(st.Page(_renderer(name), title=title, icon=icon, url_path=name, visibility=shown))
    return pages

"""Entry point of the UI: page config, navigation, then the selected page (nothing runs at import);
and the extra routes the UI's server answers beside the app."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

import streamlit as st
from starlette.routing import Route

from policykb.config import Settings
from policykb.ui.charts import CSS as CHART_CSS
from policykb.ui.common import developer_toggle
from policykb.ui.documents import document_routes
from policykb.ui.nav import PAGES, all_pages

CSS = """
<style>
mark { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.pk-sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
.pk-snippet { font-size: 0.95rem; line-height: 1.5; color: #31333f; }
[data-testid="stMainBlockContainer"] { padding-top: 4.5rem; }
.st-key-item-title h1 { font-size: 2.25rem; line-height: 1.2; }
.st-key-facets td:first-child { white-space: nowrap; color: #555; }
/* result titles: links to the item page that read as headings */
[class*="st-key-hit-"] [data-testid="stPageLink-NavLink"],
[class*="st-key-similar-"] [data-testid="stPageLink-NavLink"] { padding: 0; background: none; }
[class*="st-key-hit-"] [data-testid="stPageLink-NavLink"] p { font-size: 1.15rem; font-weight: 600; color: #1d4ed8; }
[class*="st-key-similar-"] [data-testid="stPageLink-NavLink"] p { font-weight: 600; color: #1d4ed8; }
[class*="st-key-hit-"] [data-testid="stPageLink-NavLink"]:hover p,
[class*="st-key-similar-"] [data-testid="stPageLink-NavLink"]:hover p { text-decoration: underline; }
[class*="st-key-hit-"] { gap: 0.4rem; }
/* long titles wrap (phones, similar items) instead of being cut mid-word */
[class*="st-key-hit-"] [data-testid="stPageLink-NavLink"] *,
[class*="st-key-similar-"] [data-testid="stPageLink-NavLink"] *,
.st-key-nearest [data-testid="stPageLink-NavLink"] * { white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; overflow-wrap: anywhere; }
/* the facet table keeps to its column: long values wrap */
.st-key-facets table { table-layout: fixed; width: 100%; }
.st-key-facets td { overflow-wrap: anywhere; }
/* facet pills: wrap long labels instead of hiding the count behind an ellipsis */
[data-testid="stSidebar"] [data-testid="stButtonGroup"] button { height: auto; min-height: 2rem; text-align: left; }
[data-testid="stSidebar"] [data-testid="stButtonGroup"] button * { white-space: normal; overflow: visible;
  text-overflow: clip; }
/* section headings are h2 (under the page's h1), sized as Streamlit's subheaders */
[data-testid="stHeading"] h2 { font-size: 1.5rem; padding-top: .75rem; }
[data-testid="stSidebar"] [data-testid="stHeading"] h2 { font-size: 1.25rem; }
/* chosen values in multi-selects wrap onto more lines instead of scrolling out of view
   ("ternationalisation support") */
[data-testid="stMultiSelectTagsContainer"], [data-testid="stMultiSelectTagsContainer"] > span[role="group"] {
  flex-wrap: wrap; overflow: visible; }
[data-testid="stMultiSelectTagsContainer"] [data-tag] { max-width: 100%; height: auto; }
[data-testid="stMultiSelect"] div[role="group"][data-rac], [data-testid="stMultiSelectTagsContainer"] {
  height: auto !important; max-height: none !important; }
[data-testid="stMultiSelectTagsContainer"] [data-tag] > span { white-space: normal; overflow: visible;
  text-overflow: clip; }
/* phones: the first result within the first screen */
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-top: 3.5rem; }
  [data-testid="stMainBlockContainer"] h1 { font-size: 1.6rem; padding-bottom: .25rem; }
  .st-key-pk-intro { display: none; }
}
</style>
"""


def main(default: str = "search") -> None:
    """Run the app; `default` picks the page that `/` opens (tests use it to open one page directly)."""
    # "auto": the filter sidebar starts open on a desktop and closed on a phone, where it would cover the results
    st.set_page_config(page_title="policykb", page_icon=":material/travel_explore:", layout="wide",
                       initial_sidebar_state="auto")
    st.html(CSS.replace("</style>", CHART_CSS + "</style>"))
    st.navigation(all_pages(default), position="sidebar").run()
    developer_toggle()


def routes() -> list[Route]:
    """What `ui/app.py` serves beside the app: each item's original document, from the API."""
    return document_routes(Settings().ui_api_url)


def warm_up() -> None:
    """Import what the pages need (pandas alone takes a second or two), so that the first visitor of
    a fresh server does not wait for it."""
    for module in ("pandas", *(f"policykb.ui.views.{name}" for name in PAGES)):
        import_module(module)


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """`ui/app.py`'s server starting: warm up in the background, answer visitors meanwhile."""
    threading.Thread(target=warm_up, name="policykb-ui-warm-up", daemon=True).start()
    yield

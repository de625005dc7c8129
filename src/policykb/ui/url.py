"""The browser's address bar and viewport, kept in step with what a page shows.

Streamlit updates the address bar when a link goes to another page, but not when it stays on the
same page with other parameters (a similar item, a status link): each page therefore writes its
own parameters (`keep_in_url`). The browser then adds a history entry, so a reload, a shared link
and Back all match what was on screen.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

SCROLL_TOP = """<script>/* RUN */
(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  (main || document.scrollingElement).scrollTo({top: 0});
  window.scrollTo({top: 0});
})();
</script>"""


def keep_in_url(params: Mapping[str, str | list[str]]) -> None:
    """Make the address bar say `params`. Sent even when the server already has them (they came with
    a link within the page, which the browser's address bar does not show yet); the browser adds a
    history entry only when its address changes."""
    st.query_params.from_dict(params)


def scroll_to_top() -> None:
    """Show the top of the page (after paging, a new item, an action whose outcome is said at the top)."""
    runs = st.session_state["pk_scrolls"] = st.session_state.get("pk_scrolls", 0) + 1  # new text: runs again
    st.html(SCROLL_TOP.replace("RUN", str(runs)), unsafe_allow_javascript=True)

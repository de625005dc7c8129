"""The search state (query, mode, filters, years, page, a language set by hand), kept in the URL so a
search can be shared.

One canonical copy lives in session state (`pk_search`) so that the Insights page follows the
same filters as Search; the widgets hold the live values; the URL mirrors them after every run.
A URL the app did not write itself (a shared link, a new tab) wins over the session. A new question
starts without the language set by hand for the last one (`resets.RESETS["question"]`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import streamlit as st

from policykb.language.detect import NAMES
from policykb.models import YEAR_MAX, YEAR_MIN
from policykb.ui import resets
from policykb.ui.client import FACETS, SearchQuery
from policykb.ui.resets import LANG_KEY

MODES = ("hybrid", "semantic", "keyword")
MAX_QUESTION = 1000  # characters a question may have (the API's limit: a longer one is refused)
MAX_PAGES = 1000  # the API's page limit
STATE_KEY = "pk_search"
URL_KEY = "pk_url"


def facet_key(name: str) -> str:
    """The session-state key of a facet's filter widget."""
    return f"f_{name}"


def page_key(state: SearchState) -> str:
    """The pager's key: a new one for each query and filters, so a new search starts at page 1."""
    return "page-" + hashlib.sha1(repr(state.signature()).encode()).hexdigest()[:12]


@dataclass
class SearchState(SearchQuery):
    """A search query, the page shown and the question's language when set by hand (else detected)."""

    page: int = 1

    def query(self) -> SearchQuery:
        return SearchQuery(self.q, self.mode, {k: list(v) for k, v in self.filters.items() if v},
                           self.year_from, self.year_to, self.lang)

    def signature(self) -> tuple[Any, ...]:
        """Everything but the page: when it changes, paging starts again at page 1."""
        return (self.q, self.mode, tuple((k, tuple(v)) for k, v in sorted(self.filters.items()) if v),
                self.year_from, self.year_to, self.lang)

    def url_params(self) -> dict[str, str | list[str]]:
        """Query-string parameters, defaults left out so links stay short."""
        params: dict[str, str | list[str]] = {}
        if self.q:
            params["q"] = self.q
        if self.mode != "hybrid":
            params["mode"] = self.mode
        for name in FACETS:
            if self.filters.get(name):
                params[name] = list(self.filters[name])
        if self.year_from is not None:
            params["year_from"] = str(self.year_from)
        if self.year_to is not None:
            params["year_to"] = str(self.year_to)
        if self.page > 1:
            params["page"] = str(self.page)
        if self.lang:
            params["lang"] = self.lang
        return params

    @classmethod
    def from_url(cls, query_params: Any) -> SearchState | None:
        """The state a URL describes, or None when it carries no search parameter at all."""
        names = ("q", "mode", "year_from", "year_to", "page", "lang", *FACETS)
        if not any(name in query_params for name in names):
            return None
        mode = query_params.get("mode") or "hybrid"
        return cls(
            q=query_params.get("q") or "",  # (one over MAX_QUESTION is refused, not cut)
            mode=mode if mode in MODES else "hybrid",
            filters={name: _unique(query_params.get_all(name)) for name in FACETS if query_params.get_all(name)},
            year_from=_year(query_params.get("year_from")),
            year_to=_year(query_params.get("year_to")),
            page=min(MAX_PAGES, max(1, _int(query_params.get("page")) or 1)),
            lang=language(query_params.get("lang")),
        )


def language(code: object) -> str | None:
    """A language code the API takes, or None (detect): never a label or a stale widget value."""
    return code if isinstance(code, str) and code in NAMES else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _year(text: str | None) -> int | None:
    value = _int(text)
    return value if value is not None and YEAR_MIN <= value <= YEAR_MAX else None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _flat(params: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    return sorted((k, v) for k, vs in params.items() for v in ([vs] if isinstance(vs, str) else vs))


def _push(state: SearchState) -> None:
    """Set the widget keys from `state` (only before the widgets are drawn in this run)."""
    ss = st.session_state
    ss["q"], ss["mode"] = state.q, state.mode
    ss["year_from"], ss["year_to"] = state.year_from, state.year_to
    ss[LANG_KEY] = state.lang
    for name in FACETS:
        ss[facet_key(name)] = list(state.filters.get(name, []))


def question_text() -> str:
    """The question as typed (it may be longer than the API reads)."""
    return str(st.session_state.get("q") or "").strip()


def load_state() -> SearchState:
    """The current search: from a URL the app did not write, else from the widgets and the session."""
    ss = st.session_state
    from_url = SearchState.from_url(st.query_params)
    if from_url is not None and _flat(from_url.url_params()) != ss.get(URL_KEY):
        resets.begin("question", from_url.q)
        _push(from_url)
        return from_url
    stored = SearchState(**ss[STATE_KEY]) if STATE_KEY in ss else SearchState()
    for key, value in (("q", stored.q), ("mode", stored.mode), ("year_from", stored.year_from),
                       ("year_to", stored.year_to), (LANG_KEY, stored.lang)):
        ss.setdefault(key, value)
    for name in FACETS:
        ss.setdefault(facet_key(name), list(stored.filters.get(name, [])))
    q = question_text()
    resets.begin("question", q)  # another question than in the last run: detected afresh
    state = SearchState(
        q=q,
        mode=ss["mode"] if ss["mode"] in MODES else "hybrid",
        filters={name: list(ss[facet_key(name)]) for name in FACETS if ss[facet_key(name)]},
        year_from=ss["year_from"], year_to=ss["year_to"], lang=language(ss.get(LANG_KEY)),
    )
    same_search = state.signature() == stored.signature()
    state.page = int(ss.get(page_key(state)) or (stored.page if same_search else 1))
    return state


def set_filters(state: SearchState, filters: dict[str, list[str]]) -> None:
    """Replace the filters (e.g. with the API's canonical ids) before the widgets are drawn."""
    state.filters = {k: v for k, v in filters.items() if v}
    for name in FACETS:
        st.session_state[facet_key(name)] = list(state.filters.get(name, []))


def save_state(state: SearchState, write_url: bool = True) -> None:
    """Remember the state for the other pages and mirror it in the URL."""
    st.session_state[STATE_KEY] = asdict(state)
    if write_url:
        params = state.url_params()
        st.session_state[URL_KEY] = _flat(params)
        st.query_params.from_dict(params)


# -- callbacks for chips and buttons (they run before the script, so they may set widget keys) ---

def remove_filter(name: str, value: str) -> None:
    key = facet_key(name)
    st.session_state[key] = [v for v in st.session_state.get(key, []) if v != value]


def clear_query() -> None:
    st.session_state["q"] = ""


def detect_language() -> None:
    st.session_state[LANG_KEY] = None


def clear_years() -> None:
    st.session_state["year_from"] = st.session_state["year_to"] = None


def clear_all() -> None:
    clear_query()
    clear_years()
    for name in FACETS:
        st.session_state[facet_key(name)] = []

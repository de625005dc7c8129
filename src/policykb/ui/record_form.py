"""Record fields driven by the taxonomy (selects, not free text, for facets), shared by Contribute and
Moderate; errors are shown under the field they are about."""

from __future__ import annotations

from typing import Any

import streamlit as st

from policykb.ingest.records import is_web_link
from policykb.models import YEAR_MAX, YEAR_MIN
from policykb.ui.common import md_escape, taxonomy

# record key -> facet name, for the fields whose values come from the taxonomy
FACET_FIELDS = {"kind": "kind", "country": "territory", "level": "level", "challenges": "challenge",
                "themes": "theme", "support": "support", "typology": "typology", "language": "language"}
MULTI = {"country", "challenges", "themes", "support"}
SORTED = {"country", "language"}
LABELS = {"title": "Title", "kind": "Kind", "summary": "Summary", "description": "Description", "country": "Territory",
          "region": "Region", "level": "Territorial level", "challenges": "Strategic challenges",
          "themes": "Thematic priorities", "support": "Types of support", "typology": "Typology",
          "organisation": "Organisation", "start_year": "Start year", "end_year": "End year", "links": "Links",
          "language": "Language", "id": "Id"}
TEXT_FIELDS = ("title", "summary", "description", "region", "organisation")
YEAR_FIELDS = ("start_year", "end_year")
FIELDS = ("title", "kind", "summary", "description", "country", "region", "level", "challenges", "themes",
          "support", "typology", "organisation", "start_year", "end_year", "links", "language")


def key(prefix: str, field: str) -> str:
    return f"{prefix}-{field}"


def field_name(api_field: str) -> str:
    """The record key an API error names (a facet name like `territory` becomes `country`)."""
    reverse = {facet: record_key for record_key, facet in FACET_FIELDS.items()}
    return reverse.get(api_field, api_field)


def labelled(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(field label, value text) pairs for showing a record, facet ids replaced by their labels."""
    out = []
    for field, value in record.items():
        values = value if isinstance(value, list) else [value]
        if field in FACET_FIELDS:
            names = taxonomy().get(FACET_FIELDS[field], {}).get("labels", {})
            values = [names.get(str(v), v) for v in values]
        out.append((LABELS.get(field, field), ", ".join(str(v) for v in values)))
    return out


def set_record(prefix: str, record: dict[str, Any]) -> None:
    """Fill the widgets from a record (call before they are drawn)."""
    for field in FIELDS:
        value = record.get(field)
        if field in MULTI:
            value = [value] if isinstance(value, str) else list(value or [])
        elif field == "links":
            value = "\n".join(value or [])
        elif field in TEXT_FIELDS:
            value = value or ""
        st.session_state[key(prefix, field)] = value


def clear_record(prefix: str) -> None:
    for field in FIELDS:
        st.session_state.pop(key(prefix, field), None)


def read_record(prefix: str) -> dict[str, Any]:
    """The record the widgets describe, empty fields left out."""
    ss = st.session_state
    record: dict[str, Any] = {}
    for field in FIELDS:
        value = ss.get(key(prefix, field))
        if field == "links":
            value = [line.strip() for line in str(value or "").splitlines() if line.strip()]
        elif isinstance(value, str):
            value = value.strip()
        if value not in (None, "", []):
            record[field] = int(value) if field in YEAR_FIELDS else value
    return record


def validate(record: dict[str, Any]) -> dict[str, str]:
    """Checks the form can make before asking the API (which checks everything again)."""
    errors: dict[str, str] = {}
    if not record.get("title"):
        errors["title"] = "A title is required."
    start, end = record.get("start_year"), record.get("end_year")
    for field, year in (("start_year", start), ("end_year", end)):
        if year is not None and not YEAR_MIN <= year <= YEAR_MAX:
            errors[field] = f"{LABELS[field]} {year} is not a year between {YEAR_MIN} and {YEAR_MAX}."
    if start and end and end < start and not ({"start_year", "end_year"} & set(errors)):
        errors["end_year"] = "The end year is before the start year."
    bad = [link for link in record.get("links", []) if not is_web_link(link)]
    if bad:
        errors["links"] = (f"Links must start with http:// or https:// and hold no spaces, quotes or angle "
                           f"brackets ({bad[0][:200]}).")
    return errors


def _error(errors: dict[str, str], field: str) -> None:
    if errors.get(field):  # messages may quote what was typed: shown as literal text
        st.error(md_escape(errors[field]), icon=":material/error:")


def _select(prefix: str, field: str, label: str, errors: dict[str, str], help: str | None = None) -> None:
    facet = taxonomy()[FACET_FIELDS[field]]
    labels = facet["labels"]
    options = list(labels)
    if field in SORTED:  # long lists read alphabetically; the others keep the taxonomy's order
        options.sort(key=lambda v: (v != "EU", labels[v].casefold()))
    k = key(prefix, field)
    current = st.session_state.get(k)
    if field in MULTI:
        if current:  # keep values the taxonomy no longer lists visible rather than failing
            options += [v for v in current if v not in labels]
        st.multiselect(label, options, key=k, format_func=lambda v: labels.get(v, v), help=help,
                       placeholder="Choose one or more")
    else:
        if current and current not in labels:
            options.append(current)
        st.selectbox(label, options, key=k, index=None, format_func=lambda v: labels.get(v, v), help=help,
                     placeholder="Choose one")
    _error(errors, field)


def record_fields(prefix: str, errors: dict[str, str] | None = None) -> None:
    """Draw the record's fields in two columns; read them back with `read_record(prefix)`."""
    errors = errors or {}
    left, right = st.columns(2, gap="large")
    with left:
        st.text_input("Title *", key=key(prefix, "title"), max_chars=500,
                      placeholder="e.g. Cluster internationalisation vouchers")
        _error(errors, "title")
        _select(prefix, "kind", "Kind", errors, help="A policy example, a smart guide, a case study or a document.")
        st.text_area("Summary", key=key(prefix, "summary"), max_chars=2000, height=80,
                     placeholder="One or two sentences: what it does and for whom.")
        _error(errors, "summary")
        st.text_area("Description", key=key(prefix, "description"), max_chars=20000, height=140)
        _error(errors, "description")
        st.text_input("Organisation", key=key(prefix, "organisation"), max_chars=500)
        _error(errors, "organisation")
        st.text_area("Links (one per line; the first is the source)", key=key(prefix, "links"), height=80,
                     placeholder="https://…")
        _error(errors, "links")
    with right:
        _select(prefix, "country", "Territory", errors)
        st.text_input("Region", key=key(prefix, "region"), max_chars=500, placeholder="e.g. Upper Austria")
        _error(errors, "region")
        _select(prefix, "level", "Territorial level", errors)
        _select(prefix, "challenges", "Strategic challenges", errors)
        _select(prefix, "themes", "Thematic priorities", errors)
        _select(prefix, "support", "Types of support", errors)
        _select(prefix, "typology", "Typology", errors)
        for field in YEAR_FIELDS:
            st.session_state.setdefault(key(prefix, field), None)  # empty, not min_value
        start, end = st.columns(2)
        with start:
            st.number_input("Start year", step=1, key=key(prefix, "start_year"), placeholder="e.g. 2015")
            _error(errors, "start_year")
        with end:
            st.number_input("End year", step=1, key=key(prefix, "end_year"), placeholder="ongoing")
            _error(errors, "end_year")
        _select(prefix, "language", "Language", errors)

"""Contribute: a taxonomy-driven form, optional document upload, live facet suggestions and duplicate
warnings, errors next to the fields, and a confirmation with the private status link."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import streamlit as st

from policykb.config import Settings
from policykb.ui import resets
from policykb.ui.client import ApiError, ApiUnavailable
from policykb.ui.common import api, developer_mode, md_escape, show_unavailable, tab_title, taxonomy
from policykb.ui.nav import page
from policykb.ui.record_form import FACET_FIELDS, LABELS, MULTI, field_name, key, read_record, record_fields, validate
from policykb.ui.url import keep_in_url

PREFIX = "contrib"
UPLOAD_TYPES = ["pdf", "md", "markdown", "txt", "html", "htm"]
ERRORS, RECEIPT, CHECK, DRAFT = "pk_contrib_errors", "pk_receipt", "pk_check", "pk_draft"


PRESELECT, PRESELECTED, ADDED, SUBMIT = "pk_preselect", "pk_preselected", "pk_preselected_labels", "contrib-submit"


def apply_preselection() -> None:
    """Put the high-confidence suggestions found in the last run into their fields (before the fields
    are drawn); each is offered once, so a value the contributor removes stays removed."""
    for field, value in st.session_state.pop(PRESELECT, []):
        if field in MULTI or not st.session_state.get(key(PREFIX, field)):  # never replace a choice made
            add_suggestion(field, value)


def add_suggestion(field: str, value: str) -> None:
    """Callback: put a suggested facet value into its field."""
    k = key(PREFIX, field)
    if field in MULTI:
        st.session_state[k] = [*(st.session_state.get(k) or []), value]
    else:
        st.session_state[k] = value


def live_checks(record: dict[str, Any]) -> None:
    """Suggestions from similar published items and possible duplicates, as the draft is written."""
    draft = {k: v for k, v in record.items() if k in ("title", "summary", "description", *FACET_FIELDS)}
    if not (draft.get("title") or draft.get("summary") or draft.get("description")):
        st.caption("Facet suggestions and duplicate warnings appear here once you give a title or a summary.")
        return
    signature = json.dumps(draft, sort_keys=True)
    cached = st.session_state.get(CHECK)
    if not cached or cached[0] != signature:
        try:
            visitor = st.context.ip_address  # (as for a submission: each visitor has their own limit)
            visitor = visitor if isinstance(visitor, str) else None
            cached = st.session_state[CHECK] = (signature, api().check(draft, visitor))
        except (ApiError, ApiUnavailable) as exc:
            st.caption(f"Live suggestions are unavailable: {exc}")
            return
    checks = cached[1]
    for dup in checks.get("duplicates", []):
        with st.container(border=True):
            why = dup.get("why") or f"{dup['similarity']:.0%} similar"
            st.warning(f"Possible duplicate ({md_escape(why)}): **{md_escape(dup['title'])}**",
                       icon=":material/content_copy:")
            if dup.get("passage"):
                page_note = f" (p. {dup['page']})" if dup.get("page") else ""
                st.caption(f"Matching passage{page_note}: “{md_escape(dup['passage'][:300])}”")
            st.page_link(page("item"), label="Open the existing item", query_params={"id": dup["id"]})
    suggestions = checks.get("suggestions") or {}
    added = st.session_state.get(ADDED) or []
    if added:
        st.markdown("**Suggested facets**: " + ", ".join(md_escape(a) for a in added) + " — added for you from "
                    "similar published items (most of them agree); remove any that is wrong.")
    if not suggestions:
        return
    reverse = {facet: field for field, facet in FACET_FIELDS.items()}
    done = st.session_state.setdefault(PRESELECTED, set())
    fresh = [(facet, v) for facet, values in suggestions.items() for v in values
             if v.get("confidence") == "high" and (facet, v["value"]) not in done]
    if fresh and not st.session_state.get(SUBMIT):  # into the form at once (a rerun), unless it is being sent
        done.update((facet, v["value"]) for facet, v in fresh)
        st.session_state[PRESELECT] = [(reverse.get(facet, facet), v["value"]) for facet, v in fresh]
        st.session_state[ADDED] = [*added, *(v["label"] for _, v in fresh)]
        st.rerun()
    st.markdown("**More suggestions** from similar published items — click one to add it:")
    for facet, values in suggestions.items():
        field = reverse.get(facet, facet)
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            st.markdown(f"{LABELS.get(field, facet)}:", width=170)
            for value in values:
                st.button(f"{value['label']} · {'likely' if value.get('confidence') == 'high' else 'possible'}",
                          key=f"suggest-{facet}-{value['value']}", icon=":material/add:",
                          on_click=add_suggestion, args=(field, value["value"]), type="secondary")


def confirmation(receipt: dict[str, Any]) -> None:
    """What happened, and the private link to follow the contribution."""
    status_params = {"status": receipt["id"], "token": receipt["token"]}
    st.success(f"**Thank you — your contribution was received** (id `{receipt['id']}`). A moderator will review "
               "it; once approved it is searchable at once.", icon=":material/check_circle:")
    for warning in receipt.get("warnings") or []:  # e.g. front-matter keys of the document that were not read
        st.warning(f"Your document: {md_escape(warning)}", icon=":material/info:")
    ui_url = f"{str(st.context.url or '').split('?')[0]}?status={quote(receipt['id'])}&token={quote(receipt['token'])}"
    st.markdown("Keep this **private status link** (it contains your token; the token is shown only once):")
    st.code(ui_url, language=None, wrap_lines=True)
    with st.container(horizontal=True):
        st.page_link(page("contribute"), label="Check the status now", icon=":material/pending:",
                     query_params=status_params)
        if developer_mode():
            st.link_button("Status as JSON (API)", api().status_url(receipt["id"], receipt["token"]),
                           icon=":material/data_object:", type="tertiary")
        st.button("Contribute another", on_click=st.session_state.pop, args=(RECEIPT, None), type="tertiary",
                  key="contrib-another")


def status_box(contribution_id: str, token: str) -> None:
    """The status of one contribution, for the person holding its token."""
    try:
        status = api().status(contribution_id, token)
    except ApiUnavailable as exc:
        show_unavailable(exc)
        return
    except ApiError as exc:
        st.warning(f"Cannot show the status of {md_escape(contribution_id)}: {md_escape(exc.message)}",
                   icon=":material/lock:")
        return
    icon = {"pending": ":material/hourglass_top:", "approved": ":material/check_circle:",
            "rejected": ":material/cancel:"}.get(status["status"], ":material/info:")
    with st.container(border=True):
        if status.get("title"):
            st.markdown(f"**{md_escape(status['title'])}**")
        st.markdown(f"{icon} Contribution `{status['id']}` is **{status['status']}** "
                    f"(submitted {status['submitted_at'][:16].replace('T', ' ')}, "
                    f"updated {status['updated_at'][:16].replace('T', ' ')}).")
        if status.get("reason"):
            st.markdown(f"Moderator's reason: *{md_escape(status['reason'])}*")
        if status.get("item_id"):
            st.page_link(page("item"), label="Open the published item", query_params={"id": status["item_id"]},
                         icon=":material/open_in_new:")


def submit(record: dict[str, Any], upload: Any) -> None:
    """Validate, send, and remember the receipt or the errors for the next run."""
    errors = validate(record)
    if errors:
        st.session_state[ERRORS] = (record, errors)
        return
    document = (upload.name, upload.getvalue()) if upload is not None else None
    try:
        with st.spinner("Submitting and checking for similar items…"):
            visitor = st.context.ip_address  # None when unknown (and not a string in tests)
            receipt = api().submit(record, document, on_behalf_of=visitor if isinstance(visitor, str) else None)
    except ApiUnavailable as exc:
        show_unavailable(exc)
        st.stop()
    except ApiError as exc:
        fields = {field_name(k): v for k, v in exc.field_errors().items()}
        errors = fields or {"_form": exc.message}
        if fields and exc.message not in fields.values():
            errors["_form"] = exc.message
        st.session_state[ERRORS] = (record, errors)
        return
    st.session_state[RECEIPT] = receipt
    st.session_state[DRAFT] = st.session_state.get(DRAFT, 0) + 1  # the next draft starts empty
    st.session_state.pop(ERRORS, None)


def current_errors(record: dict[str, Any]) -> dict[str, str]:
    """After a submission with errors, what still holds: the form's own checks run again at every
    change, and an error the API found stays only while its field (or, for the whole form, the
    record) is as it was sent; a corrected link loses its error at once."""
    stored = st.session_state.get(ERRORS)
    if not stored:
        return {}
    sent, errors = stored
    out = validate(record)
    for field, error in errors.items():
        unchanged = record == sent if field == "_form" else record.get(field) == sent.get(field)
        if field not in out and unchanged:
            out[field] = error
    return out


def render() -> None:
    ss = st.session_state
    resets.begin("draft", ss.get(DRAFT, 0))  # after a submission: an empty form, a fresh upload widget
    tab_title("Contribute")
    st.title("Contribute a policy example", anchor=False)
    st.caption("Share a cluster or innovation policy example, guide or case study. A moderator reviews every "
               "contribution before it is published. Fields marked * are required.")
    if st.query_params.get("status") and st.query_params.get("token"):  # a status link: the status alone
        keep_in_url({"status": st.query_params["status"], "token": st.query_params["token"]})
        status_box(st.query_params["status"], st.query_params["token"])
        st.page_link(page("contribute"), label="Contribute another example", icon=":material/add_circle:",
                     query_params={})
        return
    keep_in_url({})
    if ss.get(RECEIPT):
        confirmation(ss[RECEIPT])
        return
    try:
        taxonomy()  # the facet fields come from the API: nothing is drawn without it
    except ApiUnavailable as exc:
        show_unavailable(exc)
        return
    apply_preselection()
    errors = current_errors(read_record(PREFIX))
    record_fields(PREFIX, errors)
    upload = st.file_uploader("Document (optional): PDF, Markdown, text or HTML", type=UPLOAD_TYPES,
                              key=f"contrib-file-{ss.get(DRAFT, 0)}",
                              max_upload_size=max(1, int(Settings().max_upload_mb)),
                              help="Its text becomes searchable passages, with page numbers for a PDF.")
    _field_error(errors, "file")
    record = read_record(PREFIX)
    with st.container(border=True):
        st.markdown("**Before you submit**")
        live_checks(record)
    if errors.get("_form"):
        st.error(md_escape(errors["_form"]), icon=":material/error:")
    elif errors:
        st.error("Please fix the fields marked above.", icon=":material/error:")
    if st.button("Submit for review", type="primary", icon=":material/send:", key=SUBMIT):
        submit(record, upload)
        st.rerun()


def _field_error(errors: dict[str, str], field: str) -> None:
    if errors.get(field):
        st.error(md_escape(errors[field]), icon=":material/error:")

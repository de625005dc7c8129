"""Moderate: sign in with a moderator token, see the queue, preview, edit, approve or reject with a
reason, and read the audit history."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ..client import ApiError, ApiUnavailable
from ..common import api, md_escape, show_unavailable, tab_title
from ..nav import page
from ..record_form import labelled, read_record, record_fields, set_record, validate

TOKEN, FLASH, LOADED, PREFIX = "pk_mod_token", "pk_mod_flash", "pk_mod_loaded", "mod"
STATUSES = ("pending", "approved", "rejected")


def sign_in() -> str | None:
    """The moderator token of this session, asking for one (and checking it with the API) if needed."""
    ss = st.session_state
    if ss.get(TOKEN):
        return ss[TOKEN]
    with st.form("mod-sign-in", border=True, width=520):
        st.text_input("Moderator token", type="password", key="mod-token-input",
                      help="One of the tokens in POLICYKB_MODERATOR_TOKENS on the API server.")
        signed = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if signed:
        token = str(ss.get("mod-token-input") or "").strip()
        try:
            api().queue(token, limit=1)
        except ApiUnavailable as exc:
            show_unavailable(exc)
            return None
        except ApiError as exc:
            if exc.status == 401:
                st.error("This token is not accepted. Ask the API's operator for a moderator token.",
                         icon=":material/lock:")
            else:
                st.error(md_escape(exc.message), icon=":material/block:")
            return None
        ss[TOKEN] = token
        st.rerun()
    return None


def sign_out() -> None:
    for k in (TOKEN, LOADED, FLASH):
        st.session_state.pop(k, None)


def flash() -> None:
    """The outcome of the last action (kept across the rerun that refreshes the queue)."""
    message = st.session_state.pop(FLASH, None)
    if message:
        kind, text, item_id = message
        (st.success if kind == "ok" else st.error)(text, icon=":material/check_circle:" if kind == "ok" else None)
        if item_id:
            st.page_link(page("item"), label="Open the published item", query_params={"id": item_id},
                         icon=":material/open_in_new:")


def record_table(record: dict[str, Any]) -> None:
    """The submitted record, field by field, facet values with their labels."""
    rows = ["| Field | Value |", "|---|---|"]
    # One line per cell: a line break inside a Markdown table cell would end the table there.
    rows += [f"| {name} | {md_escape(' '.join(text[:600].split()))} |" for name, text in labelled(record)]
    with st.container(key="facets"):
        st.markdown("\n".join(rows))


def changes(before: Any, after: Any) -> str:
    """What an action changed, readably: "status: pending → approved; themes: – → tourism"."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return "" if before is None and after is None else f"{_short(before)} → {_short(after)}"
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return "; ".join(f"{k}: {_short(before.get(k))} → {_short(after.get(k))}" for k in keys)


def _short(value: Any) -> str:
    if value in (None, "", []):
        return "–"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def audit_frame(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """The audit log as a table: what it was done to by title, and what changed (not raw JSON)."""
    return pd.DataFrame([{"when": e["at"].replace("T", " ")[:16], "who": e["actor"], "action": e["action"],
                          "title": e.get("title") or e["target"], "what changed": changes(e.get("before"),
                                                                                           e.get("after")),
                          "note": e.get("note") or ""} for e in entries])


def publication(token: str, contribution: dict[str, Any]) -> None:
    """For an approved contribution: its item, and unpublishing (or publishing again) after a confirmation."""
    item_id, status = contribution.get("item_id"), contribution.get("item_status")
    if not item_id or status is None:
        return
    with st.container(border=True, key="mod-publication"):
        if status == "published":
            st.markdown("**Published.** It is searchable now.")
            st.page_link(page("item"), label="Open the published item", query_params={"id": item_id},
                         icon=":material/open_in_new:")
        else:
            st.markdown("**Unpublished.** It is hidden from every search, count and export.")
        wanted = status != "published"
        verb = "Publish again" if wanted else "Unpublish"
        with st.popover(f"{verb}…", icon=":material/visibility:" if wanted else ":material/visibility_off:"):
            reason = st.text_input("Reason (for the audit log)", key="mod-publication-reason", max_chars=2000)
            if st.button(f"Confirm: {verb.lower()}", key="mod-publication-confirm", type="primary"):
                try:
                    api().set_published(token, item_id, wanted, reason.strip())
                except ApiError as exc:
                    st.session_state[FLASH] = ("error", f"Could not {verb.lower()}: {md_escape(exc.message)}", None)
                else:
                    st.session_state[FLASH] = ("ok", f"{'Published' if wanted else 'Unpublished'} "
                                               f"“{md_escape(contribution['record'].get('title', item_id))}”.", None)
                st.rerun()


def act(token: str, action: str, contribution: dict[str, Any], reason: str = "") -> None:
    """Approve, reject or save edits; the outcome is flashed after a rerun."""
    client, cid = api(), contribution["id"]
    try:
        with st.spinner("Publishing…" if action == "approve" else "Saving…"):
            if action == "approve":
                done = client.approve(token, cid)
                message = ("ok", f"Approved “{md_escape(contribution['record']['title'])}”: it is published and "
                           "searchable now.", done.get("item_id"))
            elif action == "reject":
                client.reject(token, cid, reason)
                message = ("ok", f"Rejected “{md_escape(contribution['record']['title'])}”. The contributor sees "
                           "your reason.", None)
            else:
                client.edit(token, cid, read_record(PREFIX))
                message = ("ok", "Changes saved.", None)
    except ApiUnavailable as exc:
        show_unavailable(exc)
        st.stop()
    except ApiError as exc:
        message = ("error", f"Could not {action}: {md_escape(exc.message)}", None)
    st.session_state[FLASH] = message
    st.session_state.pop(LOADED, None)
    st.rerun()


def preview(token: str, contribution: dict[str, Any]) -> None:
    """One contribution: its record, hints, actions (when pending) and audit history."""
    record = contribution["record"]
    st.subheader(md_escape(record.get("title", contribution["id"])), anchor=False)
    st.caption(f"{contribution['id']} · {contribution['status']} · submitted "
               f"{contribution['submitted_at'][:16].replace('T', ' ')}"
               + (f" · file: {contribution['file_name']}" if contribution.get("file_name") else ""))
    if contribution.get("reason"):
        st.markdown(f"Reason given: *{md_escape(contribution['reason'])}*")
    checks = contribution.get("checks") or {}
    for dup in checks.get("duplicates", []):
        why = dup.get("why") or f"{dup['similarity']:.0%} similar"
        st.warning(f"Possible duplicate of **{md_escape(dup['title'])}** ({md_escape(why)})",
                   icon=":material/content_copy:")
        st.page_link(page("item"), label="Open the existing item", query_params={"id": dup["id"]})
    publication(token, contribution)
    record_table(record)
    if contribution.get("file_name"):
        name = contribution["file_name"]
        st.download_button(f"Download {name} to preview it", icon=":material/description:",
                           data=lambda: api().contribution_file(token, contribution["id"]), file_name=name,
                           key=f"file-{contribution['id']}", on_click="ignore")
    if contribution["status"] == "pending":
        with st.expander("Edit before approving", icon=":material/edit:"):
            loaded = (contribution["id"], contribution["updated_at"])
            if st.session_state.get(LOADED) != loaded:
                set_record(PREFIX, record)
                st.session_state[LOADED] = loaded
            record_fields(PREFIX)
            draft = read_record(PREFIX)
            problems = validate(draft)
            for problem in problems.values():
                st.error(md_escape(problem))
            if st.button("Save changes", icon=":material/save:", disabled=bool(problems)):
                act(token, "edit", contribution)
        left, right = st.columns(2, gap="medium")
        with left.container(border=True, height="stretch"):
            st.markdown("**Approve**  \nPublish it now: it becomes searchable at once.")
            if st.button("Approve and publish", type="primary", icon=":material/check:", key="mod-approve"):
                act(token, "approve", contribution)
        with right.container(border=True, height="stretch"):
            st.markdown("**Reject**")
            reason = st.text_input("A reason the contributor will read", key="mod-reason",
                                   placeholder="e.g. No source link; please add one and submit again.")
            if st.button("Reject", icon=":material/close:", key="mod-reject"):
                if not reason.strip():
                    st.error("A rejection needs a reason the contributor can read.", icon=":material/error:")
                else:
                    act(token, "reject", contribution, reason.strip())
    st.markdown("**History**")
    st.dataframe(audit_frame(contribution.get("audit") or []), hide_index=True, width="stretch")


def history_tab(token: str) -> None:
    """An item's earlier versions, and restoring one after a confirmation (deleting for real is
    only `policykb purge`, on the server)."""
    item_id = st.text_input("Item id", key="mod-history-id", placeholder="e.g. de-go-cluster",
                            help="The id is in the item's link (…/item?id=…) and in the audit log.").strip()
    if not item_id:
        st.caption("Every edit, removal, unpublishing and publishing of an item keeps the version it replaced.")
        return
    try:
        history = api().history(token, item_id)
    except ApiError as exc:
        st.warning(md_escape(exc.message), icon=":material/search_off:")
        return
    st.markdown(f"**{md_escape(item_id)}** is {history['status']} now; "
                f"{len(history['versions'])} earlier version(s).")
    with st.popover("Delete for good…", icon=":material/delete_forever:"):
        st.caption("Deletes the item and every earlier version for real (the only deletion there is). "
                   "Type its id to confirm.")
        typed = st.text_input("Item id, to confirm", key="mod-purge-confirm-id")
        reason = st.text_input("Reason (for the audit log)", key="mod-purge-reason", max_chars=2000)
        if st.button("Delete for good", key="mod-purge", type="primary", disabled=typed.strip() != item_id):
            try:
                api().purge(token, item_id, reason.strip())
            except ApiError as exc:
                st.session_state[FLASH] = ("error", f"Could not delete: {md_escape(exc.message)}", None)
            else:
                st.session_state[FLASH] = ("ok", f"Deleted {md_escape(item_id)} and its history for good.", None)
            st.rerun()
    if not history["versions"]:
        return
    st.dataframe(pd.DataFrame([{"version": v["version"], "replaced": v["replaced_at"].replace("T", " ")[:16],
                                "by": v["replaced_by"], "status then": v["status"], "title": v["title"],
                                "passages": v["passages"]} for v in history["versions"]]),
                 hide_index=True, width="stretch")
    version = st.selectbox("Version to restore", [v["version"] for v in history["versions"]], key="mod-history-v")
    with st.popover(f"Restore version {version}…", icon=":material/history:"):
        reason = st.text_input("Reason (for the audit log)", key="mod-history-reason", max_chars=2000)
        if st.button(f"Confirm: restore version {version}", key="mod-history-confirm", type="primary"):
            try:
                api().restore(token, item_id, int(version), reason.strip())
            except ApiError as exc:
                st.session_state[FLASH] = ("error", f"Could not restore: {md_escape(exc.message)}", None)
            else:
                st.session_state[FLASH] = ("ok", f"Restored version {version} of {md_escape(item_id)}.", item_id)
            st.rerun()


def queue_tab(token: str) -> None:
    status = st.segmented_control("Status", STATUSES, key="mod-status", required=True, default="pending",
                                  format_func=str.capitalize)
    queue = api().queue(token, status=status or "pending")
    if not queue["items"]:
        st.info(f"No {status} contributions." + (" The queue is empty — nothing to review." if status == "pending"
                                                  else ""), icon=":material/inbox:")
        return
    items = {c["id"]: c for c in queue["items"]}
    chosen = st.selectbox(f"{queue['total']} {status} contribution{'s' * (queue['total'] != 1)}", list(items),
                          key="mod-selected",
                          format_func=lambda cid: f"{items[cid]['record'].get('title', cid)} · {cid}")
    if chosen:
        preview(token, api().contribution(token, chosen))


def render() -> None:
    tab_title("Moderate")
    st.title("Moderate contributions", anchor=False)
    token = sign_in()
    if not token:
        st.caption("Moderation needs a token. Without configured tokens the API keeps moderation closed.")
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Signed in as a moderator.", width="content")
        st.button("Sign out", on_click=sign_out, type="tertiary", icon=":material/logout:")
    flash()
    queue, history, audit = st.tabs(["Queue", "Item history", "Audit log"])
    try:
        with queue:
            queue_tab(token)
        with history:
            history_tab(token)
        with audit:
            entries = api().audit(token, limit=200)
            if entries:
                st.dataframe(audit_frame(entries), hide_index=True, width="stretch")
            else:
                st.info("Nothing has happened yet.", icon=":material/history:")
    except ApiUnavailable as exc:
        show_unavailable(exc)
    except ApiError as exc:
        if exc.status == 401:
            sign_out()
            st.error("The token is no longer accepted; sign in again.", icon=":material/lock:")
        else:
            st.error(md_escape(exc.message))

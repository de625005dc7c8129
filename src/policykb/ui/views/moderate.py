"""Moderate: sign in with a moderator token, see the queue, preview, edit, approve or reject with a
reason; unpublish or publish again; an item's history; the audit log.

After every action the page says what happened at its top and scrolls there, and whatever was typed
for the contribution acted on is gone (`resets`): the next contribution, named in its own box and
on its buttons, starts with empty fields.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from policykb.ui import resets
from policykb.ui.client import ApiError, ApiUnavailable
from policykb.ui.common import api, md_escape, record_text, shorten, show_unavailable, tab_title
from policykb.ui.moderation_log import FLASH, TAB_KEY, TABS, done, entries_view, history_tab, open_history
from policykb.ui.nav import page
from policykb.ui.record_form import labelled, read_record, record_fields, set_record, validate
from policykb.ui.url import keep_in_url, scroll_to_top

TOKEN, LOADED, PREFIX, SELECTED = "pk_mod_token", "pk_mod_loaded", "mod", "mod-selected"
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
    """The outcome of the last action (kept across the rerun that refreshes the queue), in view."""
    message = st.session_state.pop(FLASH, None)
    if message:
        kind, text, item_id = message
        (st.success if kind == "ok" else st.error)(text, icon=":material/check_circle:" if kind == "ok" else None)
        if item_id:
            st.page_link(page("item"), label="Open the published item", query_params={"id": item_id},
                         icon=":material/open_in_new:")
        scroll_to_top()


SHOWN_AS_TEXT = ("summary", "description")  # below the table, as the published item's page shows them


def record_table(record: dict[str, Any]) -> None:
    """The submitted record, field by field, facet values with their labels; then the summary and
    the description as the item's page will show them, line breaks and all (in a table cell they
    were one line: the moderator did not see what would be published)."""
    rows = ["| Field | Value |", "|---|---|"]
    # One line per cell: a line break inside a Markdown table cell would end the table there.
    rows += [f"| {name} | {md_escape(' '.join(text[:600].split()))} |"
             for name, text in labelled({k: v for k, v in record.items() if k not in SHOWN_AS_TEXT})]
    with st.container(key="facets"):
        st.markdown("\n".join(rows))
    with st.container(key="mod-text", border=True):
        record_text(record)


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
        with st.container(horizontal=True, vertical_alignment="center"):
            with st.popover(f"{verb}…", icon=":material/visibility:" if wanted else ":material/visibility_off:"):
                reason = st.text_input("Reason (for the audit log)", key="mod-publication-reason", max_chars=2000)
                if st.button(f"Confirm: {verb.lower()}", key="mod-publication-confirm", type="primary"):
                    title = md_escape(contribution["record"].get("title", item_id))
                    done(lambda: api().set_published(token, item_id, wanted, reason.strip()),
                         f"{'Published' if wanted else 'Unpublished'} “{title}”.", f"Could not {verb.lower()}",
                         "contribution")
            st.button("Item history", key="mod-publication-history", on_click=open_history, args=(item_id,),
                      icon=":material/history:", type="tertiary")


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
    resets.after_action("contribution")  # the next contribution starts with empty fields
    st.rerun()


def review(contribution_id: str) -> None:
    """Callback: show another contribution of the queue."""
    st.session_state[SELECTED] = contribution_id


def duplicates(checks: dict[str, Any]) -> None:
    """Possible duplicates, computed as the moderator looks: published items and pending contributions."""
    for n, dup in enumerate(checks.get("duplicates", [])):
        why = dup.get("why") or f"{dup['similarity']:.0%} similar"
        pending = dup.get("kind") == "contribution"
        what = "the pending contribution" if pending else "the published item"
        st.warning(f"Possible duplicate of {what} **{md_escape(dup['title'])}** ({md_escape(why)})",
                   icon=":material/content_copy:")
        if pending:
            st.button("Review that contribution", key=f"mod-dup-{n}", on_click=review, args=(dup["id"],),
                      type="tertiary", icon=":material/arrow_forward:")
        else:
            st.page_link(page("item"), label="Open the existing item", query_params={"id": dup["id"]})


def preview(token: str, contribution: dict[str, Any], position: str) -> None:
    """One contribution: who it is (title, place in the queue, id), hints, actions (when pending) and
    its history; every action names the contribution it acts on."""
    record, cid = contribution["record"], contribution["id"]
    title = record.get("title", cid)
    with st.container(border=True, key="mod-contribution"):
        st.header(md_escape(title), anchor=False)
        st.caption(f"{position} · {cid} · {contribution['status']} · submitted "
                   f"{contribution['submitted_at'][:16].replace('T', ' ')}"
                   + (f" · file: {contribution['file_name']}" if contribution.get("file_name") else ""))
        if contribution.get("reason"):
            st.markdown(f"Reason given: *{md_escape(contribution['reason'])}*")
        duplicates(contribution.get("checks") or {})
        publication(token, contribution)
        record_table(record)
        if contribution.get("file_name"):
            name = contribution["file_name"]
            st.download_button(f"Download {name} to preview it", icon=":material/description:",
                               data=lambda: api().contribution_file(token, cid), file_name=name,
                               key=f"file-{cid}", on_click="ignore")
    if contribution["status"] == "pending":
        with st.expander("Edit before approving", icon=":material/edit:"):
            loaded = (cid, contribution["updated_at"])
            if st.session_state.get(LOADED) != loaded:
                set_record(PREFIX, record)
                st.session_state[LOADED] = loaded
            record_fields(PREFIX)
            draft = read_record(PREFIX)
            problems = validate(draft)
            for problem in problems.values():
                st.error(md_escape(problem))
            if st.button("Save changes", icon=":material/save:", disabled=bool(problems), key="mod-save"):
                act(token, "edit", contribution)
        named = md_escape(shorten(title, 60))
        left, right = st.columns(2, gap="medium")
        with left.container(border=True, height="stretch"):
            st.markdown(f"**Approve “{named}”**  \nPublish it now: it becomes searchable at once.")
            if st.button("Approve and publish", type="primary", icon=":material/check:", key="mod-approve"):
                act(token, "approve", contribution)
        with right.container(border=True, height="stretch"):
            st.markdown(f"**Reject “{named}”**")
            reason = st.text_input("A reason the contributor will read", key="mod-reason",
                                   placeholder="e.g. No source link; please add one and submit again.")
            if st.button("Reject", icon=":material/close:", key="mod-reject"):
                if not reason.strip():
                    st.error("A rejection needs a reason the contributor can read.", icon=":material/error:")
                else:
                    act(token, "reject", contribution, reason.strip())
    st.markdown("**History of this contribution**")
    entries_view(contribution.get("audit") or [], "mod-contribution-log")


def queue_tab(token: str) -> None:
    status = st.segmented_control("Status", STATUSES, key="mod-status", required=True, default="pending",
                                  format_func=str.capitalize)
    queue = api().queue(token, status=status or "pending")
    if not queue["items"]:
        st.info(f"No {status} contributions." + (" The queue is empty — nothing to review." if status == "pending"
                                                  else ""), icon=":material/inbox:")
        return
    items = {c["id"]: c for c in queue["items"]}
    if st.session_state.get(SELECTED) not in items:
        # the box sends back a title, which an edit may have changed: the contribution shown last,
        # unless the action took it out of the queue (then the next one)
        shown = st.session_state.get(resets.showing_key("contribution"))
        st.session_state[SELECTED] = shown if shown in items else next(iter(items))
    chosen = st.selectbox(f"{queue['total']} {status} contribution{'s' * (queue['total'] != 1)}", list(items),
                          key=SELECTED, format_func=lambda cid: f"{items[cid]['record'].get('title', cid)} · {cid}")
    resets.begin("contribution", chosen)
    position = f"{list(items).index(chosen) + 1} of {queue['total']} {status}"
    preview(token, api().contribution(token, chosen), position)


def render() -> None:
    tab_title("Moderate")
    st.title("Moderate contributions", anchor=False)
    keep_in_url({})
    token = sign_in()
    if not token:
        st.caption("Moderation needs a token. Without configured tokens the API keeps moderation closed.")
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Signed in as a moderator.", width="content")
        st.button("Sign out", on_click=sign_out, type="tertiary", icon=":material/logout:")
    flash()
    if st.session_state.get(TAB_KEY) not in TABS:
        st.session_state[TAB_KEY] = TABS[0]
    queue, history, audit = st.tabs(list(TABS), key=TAB_KEY, on_change="rerun")  # only the open tab runs
    try:
        if queue.open:
            with queue:
                queue_tab(token)
        if history.open:
            with history:
                history_tab(token)
        if audit.open:
            with audit:
                entries_view(api().audit(token, limit=200), "mod-audit")
    except ApiUnavailable as exc:
        show_unavailable(exc)
    except ApiError as exc:
        if exc.status == 401:
            sign_out()
            st.error("The token is no longer accepted; sign in again.", icon=":material/lock:")
        else:
            st.error(md_escape(exc.message))

"""The moderator's record of what happened: the audit log and a contribution's history as entries
that open to a field-by-field table of what changed, and an item's earlier versions (with who
replaced each), each item one click away from the log."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from policykb.ui import resets
from policykb.ui.client import ApiError
from policykb.ui.common import api, md_escape, shorten
from policykb.ui.record_form import LABELS

TAB_KEY, HISTORY_ID = "mod-tab", "mod-history-id"
TABS = ("Queue", "Item history", "Audit log")
FLASH = "pk_mod_flash"
PAGE = 20  # audit entries per page
ACTIONS = {"submit": "submitted", "edit": "edited", "approve": "approved", "reject": "rejected",
           "unpublish": "unpublished", "publish": "published again", "restore": "restored a version",
           "purge": "deleted for good"}
CHANGES = {"update": "changed (file or restore)", "remove": "removed", "unpublish": "unpublished",
           "publish": "published again"}


def field_changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(field, before, after) for every field an action changed; a record submitted from nothing
    has every field, as "–" before."""
    def as_dict(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {} if value is None else {"value": value}

    old, new = as_dict(before), as_dict(after)
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    return [(LABELS.get(k, k.replace("_", " ")), _text(old.get(k)), _text(new.get(k))) for k in keys]


def _text(value: Any) -> str:
    if value in (None, "", []):
        return "–"
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return " ".join(text.split())


def changes_table(rows: list[tuple[str, str, str]]) -> str:
    """A Markdown table, one row per field; contributed text shown as literal text, each cell on one line."""
    lines = ["| Field | Before | After |", "|---|---|---|"]
    lines += [f"| {md_escape(f)} | {md_escape(shorten(b, 600))} | {md_escape(shorten(a, 600))} |" for f, b, a in rows]
    return "\n".join(lines)


def item_of(entry: dict[str, Any]) -> str | None:
    """The item an entry concerns (an approval's new item; the target when it is an item)."""
    if entry["target"].startswith("c-"):
        after = entry.get("after") if isinstance(entry.get("after"), dict) else {}
        return after.get("item_id") or None
    return entry["target"]


def open_history(item_id: str) -> None:
    """Callback: show `item_id` in the Item history tab."""
    st.session_state[TAB_KEY] = "Item history"
    st.session_state[HISTORY_ID] = item_id


def entries_view(entries: list[dict[str, Any]], key: str) -> None:
    """Entries newest first, each a line (when, who, what, to which title) that opens to its changes."""
    if not entries:
        st.info("Nothing has happened yet.", icon=":material/history:")
        return
    pages = max(1, -(-len(entries) // PAGE))
    page = st.session_state.get(f"{key}-page") or 1
    for entry in entries[(page - 1) * PAGE:page * PAGE]:
        when = entry["at"].replace("T", " ")[:16]
        title = entry.get("title") or entry["target"]
        line = f"{when} · {entry['actor']} · {ACTIONS.get(entry['action'], entry['action'])} · {shorten(title, 70)}"
        with st.expander(md_escape(line), key=f"{key}-entry-{entry['id']}"):
            rows = field_changes(entry.get("before"), entry.get("after"))
            st.markdown(changes_table(rows) if rows else "No field changed.")
            if entry.get("note"):
                st.markdown(f"Note: *{md_escape(entry['note'])}*")
            item_id = item_of(entry)
            if item_id:
                st.button("Open the item's history", key=f"{key}-history-{entry['id']}", on_click=open_history,
                          args=(item_id,), icon=":material/history:", type="tertiary")
    if pages > 1:
        st.pagination(pages, key=f"{key}-page", max_visible_pages=7)


def versions_frame(versions: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"version": v["version"], "replaced": v["replaced_at"].replace("T", " ")[:16],
                          "change": CHANGES.get(v["replaced_by"], v["replaced_by"]), "by": v.get("by") or "–",
                          "status then": v["status"], "title": v["title"], "passages": v["passages"]}
                         for v in versions])


def history_tab(token: str) -> None:
    """An item's earlier versions, restoring one, or deleting it for good (both after a confirmation)."""
    st.text_input("Item id", key=HISTORY_ID, placeholder="e.g. de-go-cluster",
                  help="Or open an item from the audit log (“Open the item's history”).")
    item_id = str(st.session_state.get(HISTORY_ID) or "").strip()
    resets.begin("history", item_id)
    if not item_id:
        st.caption("Every edit, removal, unpublishing and publishing of an item keeps the version it replaced. "
                   "Open an item's history from the audit log, or type its id.")
        return
    try:
        history = api().history(token, item_id)
    except ApiError as exc:
        st.warning(md_escape(exc.message), icon=":material/search_off:")
        return
    title = next((v["title"] for v in history["versions"] if v.get("title")), "")
    st.markdown(f"**{md_escape(title or item_id)}** ({md_escape(item_id)}) is {history['status']} now; "
                f"{len(history['versions'])} earlier version(s).")
    with st.popover("Delete for good…", icon=":material/delete_forever:"):
        st.caption("Deletes the item and every earlier version for real (the only deletion there is). "
                   "Type its id to confirm.")
        typed = st.text_input("Item id, to confirm", key="mod-purge-confirm-id")
        reason = st.text_input("Reason (for the audit log)", key="mod-purge-reason", max_chars=2000)
        if st.button("Delete for good", key="mod-purge", type="primary", disabled=typed.strip() != item_id):
            done(lambda: api().purge(token, item_id, reason.strip()), f"Deleted {md_escape(item_id)} and its "
                 "history for good.", "Could not delete", "history")
    if not history["versions"]:
        return
    st.dataframe(versions_frame(history["versions"]), hide_index=True, width="stretch")
    version = st.selectbox("Version to restore", [v["version"] for v in history["versions"]], key="mod-history-v")
    with st.popover(f"Restore version {version}…", icon=":material/history:"):
        reason = st.text_input("Reason (for the audit log)", key="mod-history-reason", max_chars=2000)
        if st.button(f"Confirm: restore version {version}", key="mod-history-confirm", type="primary"):
            done(lambda: api().restore(token, item_id, int(version), reason.strip()),
                 f"Restored version {version} of {md_escape(item_id)}.", "Could not restore", "history")


def done(call: Any, success: str, failure: str, kind: str, item_id: str | None = None) -> None:
    """Run an action; its outcome is said at the top of the page after a rerun, with a fresh form."""
    try:
        call()
    except ApiError as exc:
        st.session_state[FLASH] = ("error", f"{failure}: {md_escape(exc.message)}", None)
    else:
        st.session_state[FLASH] = ("ok", success, item_id)
    resets.after_action(kind)
    st.rerun()

"""What a new question, a new item and a new contribution reset: the one place that decides it.

Streamlit keeps a widget's value for as long as the widget is drawn with the same key, and the
browser sends that value back with every run: without this module a language chosen for one
question, a reason typed for one contribution or a confirmation typed for one item would carry over
to the next one. Each page says which question, item or contribution it shows now (`begin`); when
that is another one than in the last run, or after an action on it (`after_action`), the values
listed here go back to their defaults before the page draws its widgets. Widget values are set to
their default, not deleted, so that the browser shows the default as well.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import streamlit as st

from policykb.ui.record_form import FIELDS

DROP = object()  # not a widget: forget the value altogether

LANG_KEY = "pk_lang"  # the question's language, when the visitor sets it by hand

RESETS: dict[str, dict[str, Any]] = {
    # a new question is detected on its own: a language set by hand was set for the last one
    "question": {LANG_KEY: None},
    # a new item: nothing typed on the item page carries over (the page also scrolls to its top)
    "item": {},
    # a contribution in the moderator's queue: what was typed or chosen for the previous one
    "contribution": {"mod-reason": "", "mod-publication-reason": "", "pk_mod_loaded": DROP},
    # an item's history in the moderator's view
    "history": {"mod-history-reason": "", "mod-purge-confirm-id": "", "mod-purge-reason": "",
                "mod-history-v": DROP},
    # the contributor's next draft, once one is sent: an empty form, no hints or errors of the last one
    "draft": {**{f"contrib-{field}": DROP for field in FIELDS}, "pk_contrib_errors": DROP, "pk_check": DROP,
              "pk_preselected": DROP, "pk_preselected_labels": DROP, "pk_preselect": DROP},
}


def showing_key(kind: str) -> str:
    """Where the identity of what the page showed last is kept."""
    return f"pk_showing_{kind}"


def _pending_key(kind: str) -> str:
    return f"pk_reset_{kind}"


def reset(kind: str) -> None:
    """Put everything that belongs to one question, item or contribution back to its default
    (call before the widgets concerned are drawn in this run)."""
    ss = st.session_state
    for key, default in RESETS[kind].items():
        if default is DROP:
            ss.pop(key, None)
        else:
            ss[key] = default
    ss.pop(_pending_key(kind), None)


def begin(kind: str, identity: Hashable) -> bool:
    """Say which question, item or contribution the page shows now; True when it is not the one it
    showed in the last run (or an action on it asked for a fresh start), after resetting."""
    ss = st.session_state
    new = ss.get(showing_key(kind), DROP) != identity or bool(ss.get(_pending_key(kind)))
    ss[showing_key(kind)] = identity
    if new:
        reset(kind)
    return new


def after_action(kind: str) -> None:
    """An action was taken (approve, reject, publish, restore, submit): the next run starts afresh."""
    st.session_state[_pending_key(kind)] = True

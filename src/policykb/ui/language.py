"""The question's language on the Search page: what was detected, and the visitor's own choice.

Each question is detected on its own. A language set by hand holds for the question it was set for
(it is in the URL, `lang=de`, and shown as a chip); a new question is detected again
(`resets.RESETS["question"]`). The choices' labels never depend on the answer: Streamlit sends a
select box's value back as its label, and a label that changed with the next question once came back
as a value no language has ("detected: English"), which the API refused.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from policykb.language.detect import NAMES, language_name
from policykb.ui.common import md_escape
from policykb.ui.resets import LANG_KEY
from policykb.ui.state import SearchState, detect_language

AUTO = "Detect from the question"


def name(code: str | None) -> str:
    return language_name(code) if code else "unknown"


def choices() -> list[str | None]:
    """None (detect) first, then every language the API detects, by name."""
    return [None, *sorted(NAMES, key=lambda code: NAMES[code])]


def read_as(result: dict[str, Any], state: SearchState) -> str:
    """How the question was read, for the result line: "German", "German, set by hand"."""
    language = result.get("language") or {}
    used = state.lang or language.get("used") or language.get("detected")
    if not (state.q and used):
        return ""
    return name(used) + (", set by hand" if state.lang else "")


def note(result: dict[str, Any]) -> None:
    """When no model of this knowledge base reads the question's language (or keyword search cannot
    match across languages), say so before the results."""
    text = (result.get("language") or {}).get("note")
    if text:
        st.info(md_escape(text), icon=":material/translate:")


def language_box(result: dict[str, Any], state: SearchState) -> None:
    """The select box for correcting the detected language, with what was detected beside it."""
    if not state.q:
        return
    language = result.get("language") or {}
    detected = language.get("detected")
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small", key="pk-language"):
        st.selectbox("Question language", choices(), key=LANG_KEY, width=240,
                     format_func=lambda code: AUTO if code is None else name(code),
                     help="Each question's language is detected on its own. Choose one if the detection is wrong: "
                          "it holds for this question (and is in its link) until you ask another one.")
        said = f"Detected: {name(detected)}" if detected else "No language detected; read as English"
        if language.get("model"):
            said += f" · matched by the model {md_escape(language['model'])}"
        st.caption(said, width="content")


def language_chip(state: SearchState) -> tuple[str, Any, tuple[Any, ...], str] | None:
    """A removable chip for a language set by hand (as the filters have)."""
    if not state.lang:
        return None
    return f"Question in {name(state.lang)}", detect_language, (), "chip-lang"

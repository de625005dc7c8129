"""Characters no stored text keeps: control characters, bidirectional controls and invisible ones.

A title holding U+202E (right-to-left override) shows its words in another order than it is
written, U+200B splits a word invisibly, U+0000 and U+0007 break terminals and logs. Every record
goes through `clean_record` before it is validated (records.py: every file format, front matter,
sidecars, uploads and API contributions), and every passage through `clean_text` (loader.py).

Kept: tab and line breaks in multi-line text (line breaks written as LF), and the zero-width
joiner and non-joiner (U+200D, U+200C), which emoji sequences and scripts such as Persian need.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab, LF and CR; DEL; C1 controls (NEL, U+0085, is made a line break first).
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f"
# Arabic letter mark, Mongolian vowel separator, zero-width space, LRM and RLM, bidi embeddings and
# overrides, word joiner and invisible operators, bidi isolates, byte-order mark, annotation controls.
_INVISIBLE = "\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
_UNSAFE = re.compile(f"[{_CONTROLS}{_INVISIBLE}]")
_LINE_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
_ONE_LINE = re.compile(r"[\t\n]+")
MULTILINE_FIELDS = frozenset({"summary", "description", "text"})


def clean_text(text: str, multiline: bool = True) -> str:
    """`text` without unsafe characters; line breaks as LF, or (not `multiline`) tabs and line
    breaks as one space."""
    text = _UNSAFE.sub("", _LINE_BREAKS.sub("\n", text))
    return text if multiline else _ONE_LINE.sub(" ", text)


def clean_value(value: Any, multiline: bool = False) -> Any:
    """Strings cleaned, also inside lists and mappings; anything else as it is."""
    if isinstance(value, str):
        return clean_text(value, multiline)
    if isinstance(value, list):
        return [clean_value(v, multiline) for v in value]
    if isinstance(value, dict):
        return {k: clean_value(v, multiline) for k, v in value.items()}
    return value


def clean_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record (any field names) with every text cleaned: summaries and descriptions keep their
    line breaks, every other field is one line."""
    return {key: clean_value(value, str(key).lower() in MULTILINE_FIELDS) for key, value in record.items()}

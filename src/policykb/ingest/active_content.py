"""Active content in a PDF: what a viewer may run or open by itself (JavaScript, launch actions,
form submission, embedded files, rich media, XFA forms).

Uploads holding any are refused (the sandbox asks `find_active_content` after reading the
document); an ingested PDF holding any is served as a download rather than shown inline
(`security.document_response`). Every object of the file is looked at, objects inside
compressed object streams and nested dictionaries included; pypdf decodes `#xx` escapes in names,
so `/J#61vaScript` is `/JavaScript`. Plain web links (`/URI` to http, https, mailto) and go-to actions
are not active content; a link to `javascript:`, `data:` or `file:` is, and so is a structure nested too
deep to be looked into (looking stops there, so it cannot be shown harmless).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

ACTIVE_KEYS = {"/JS": "JavaScript", "/JavaScript": "JavaScript", "/EmbeddedFile": "embedded files",
               "/EmbeddedFiles": "embedded files", "/EF": "embedded files", "/RichMedia": "rich media",
               "/RichMediaContent": "rich media", "/XFA": "an XFA form"}
ACTIVE_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "a launch action", "/SubmitForm": "form submission",
                  "/ImportData": "form data import", "/GoToE": "embedded files", "/RichMediaExecute": "rich media"}
MAX_OBJECTS = 500_000  # more objects than any upload may have pages for: not looked at, counted as active
MAX_DEPTH = 50  # dictionaries and arrays nested deeper than this are not looked into: counted as active
# Link schemes a viewer may run or that reach this machine rather than the web: a link (`/URI`) to
# one of them is active content; http(s) and mailto links are not.
ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")


def find_active_content(data: bytes) -> list[str]:
    """The kinds of active content in a PDF's bytes, sorted (empty when there is none). A file
    pypdf cannot read or decrypt counts as "unreadable": it cannot be shown to be harmless."""
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return ["unreadable (encrypted)"]
        numbers = {(n, g) for g, objects in reader.xref.items() for n in objects}
        numbers |= {(n, 0) for n in reader.xref_objStm}
    except Exception:  # a hostile or broken file: whatever pypdf raises
        return ["unreadable"]
    if len(numbers) > MAX_OBJECTS:
        return ["too many objects to look at"]
    found: set[str] = set()

    def visit(value: Any, depth: int = 0) -> None:
        if depth > MAX_DEPTH:  # (it stopped looking here, and a JavaScript action 60 levels down passed)
            found.add("nesting too deep to look at")
            return
        if isinstance(value, DictionaryObject):
            found.update(kind for key, kind in ACTIVE_KEYS.items() if key in value)
            action = value.get("/S")
            if isinstance(action, str) and action in ACTIVE_ACTIONS:
                found.add(ACTIVE_ACTIONS[action])
            if action == "/URI" and _active_link(value.get("/URI")):
                found.add("a link that runs a script or opens a local file")
            if value.get("/Type") == "/EmbeddedFile":
                found.add("embedded files")
            for key, item in value.items():
                if not isinstance(item, IndirectObject):
                    visit(item, depth + 1)
        elif isinstance(value, ArrayObject):
            for item in value:
                if not isinstance(item, IndirectObject):
                    visit(item, depth + 1)

    for number, generation in sorted(numbers):
        try:
            visit(reader.get_object(IndirectObject(number, generation, reader)))
        except Exception:
            found.add("unreadable")
    try:
        visit(reader.trailer)
    except Exception:
        found.add("unreadable")
    return sorted(found)


def _active_link(target: Any) -> bool:
    """A link target (`/URI`, a PDF string or bytes) whose scheme is one of ACTIVE_SCHEMES, however
    it is spelled ("JavaScript:", " java\tscript:", "java&#x0A;script" is no scheme at all)."""
    raw = target.decode("latin-1") if isinstance(target, bytes) else str(target or "")
    folded = "".join(c for c in raw.lower() if c.isprintable() and not c.isspace())
    return folded.startswith(ACTIVE_SCHEMES)


@lru_cache(maxsize=256)
def _cached(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    return tuple(find_active_content(Path(path).read_bytes()))


def file_has_active_content(path: Path) -> bool:
    """Whether the PDF at `path` holds active content (remembered per file version)."""
    stat = path.stat()
    return bool(_cached(str(path), stat.st_mtime_ns, stat.st_size))

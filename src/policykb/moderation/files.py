"""Uploaded files: the name one is stored and offered back under, and whether an upload is a copy
of a published item's file."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

from policykb.models import from_file


def safe_name(name: str) -> str:
    """An uploaded file's name as it is stored and offered back: the last part of any path (either
    slash), NFC, letters and digits of every script kept (a Czech or Greek name stays readable),
    anything else (spaces, punctuation, control and bidi characters) one `_`; the stem at most 100
    characters and 200 UTF-8 bytes (file systems count bytes); a suffix only of ASCII letters/digits."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).rsplit("/", 1)[-1]
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^\w.-]+|_+", "_", stem).strip("._") or "document"
    stem = stem[:100].encode("utf-8")[:200].decode("utf-8", "ignore")
    return stem + (suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else "")


def published_copies(store: Any, data: bytes, item_ids: list[str]) -> set[str]:
    """The items among `item_ids` (those nearest in meaning) ingested from a file holding exactly
    these bytes (size first, then SHA-256): a document uploaded again is named as such, not only as
    a close passage. `store`: the knowledge base's store (`item_sources`)."""
    digest, copies = None, set()
    for item_id, (_, source) in store.item_sources(item_ids).items():
        path = Path(source) if from_file(source) else None
        try:
            if path is None or not path.is_file() or path.stat().st_size != len(data):
                continue
            digest = digest or hashlib.sha256(data).hexdigest()
            if hashlib.sha256(path.read_bytes()).hexdigest() == digest:
                copies.add(item_id)
        except OSError:  # (a file moved or unreadable since its ingest: not a copy anyone can tell)
            continue
    return copies

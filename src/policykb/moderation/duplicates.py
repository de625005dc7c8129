"""Pending contributions that look like the same thing as one another: the same document, the same
title, or records as close in meaning as a duplicate of a published item must be. Made for the
queue (every pending contribution of a page at once) and for one contribution's view alike, so both
name the same duplicates."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from policykb.language.text import title_key
from policykb.models import embed_text

if TYPE_CHECKING:
    from policykb.backends.backend import Backend

DUPLICATE_SIMILARITY = 0.85  # chosen from bench/duplicates.py: best F1 (recall 0.94, precision 0.95)
COMPARED = 500  # the pending contributions (the oldest) each one is compared with


def pending_duplicates(backend: Backend, contributions: list[dict[str, Any]], meaning: bool = True
                       ) -> dict[str, list[dict[str, Any]]]:
    """For each of `contributions` (stored pending contributions), the other pending contributions
    it may duplicate, oldest first, in the form of `Contributions.check`'s duplicates (`kind`:
    "contribution"). Each record is embedded once and each document read once, whatever the number
    of pairs. Without `meaning`, only the same document or the same title (the queue: no model is
    loaded and nothing embedded, where each of up to COMPARED records took ~12 ms of the model)."""
    if not contributions:
        return {}
    others = backend.store.contributions("pending", limit=COMPARED)[1]
    known = {c["id"] for c in others}
    everyone = others + [c for c in contributions if c["id"] not in known]
    vectors = np.stack([backend.embed_query(_text(c["record"])) for c in everyone]) if meaning else None
    position = {c["id"]: n for n, c in enumerate(everyone)}
    titles = [title_key(str(c["record"].get("title") or "")) for c in everyone]
    digests = _digests(everyone)
    out: dict[str, list[dict[str, Any]]] = {}
    for mine in contributions:
        me = position[mine["id"]]
        similarities = vectors[: len(others)] @ vectors[me] if vectors is not None else np.zeros(len(others))
        found = []
        for n, other in enumerate(others):
            if n == me:
                continue
            similarity, why = float(similarities[n]), None
            if digests.get(me) is not None and digests.get(me) == digests.get(n):
                why = "the same document"
            elif titles[me] and titles[me] == titles[n]:
                why = "same title"
            elif similarity >= DUPLICATE_SIMILARITY:
                why = f"{similarity:.0%} similar in meaning"
            if why:
                found.append({"id": other["id"], "kind": "contribution", "title": str(other["record"].get("title") or ""),
                              "similarity": round(1.0 if why.startswith(("the same", "same")) else similarity, 3),
                              "why": why, "passage": None, "page": None})
        out[mine["id"]] = found
    return out


def _text(record: dict[str, Any]) -> str:
    title = str(record.get("title") or "")
    body = " ".join(str(record.get(k) or "") for k in ("summary", "description")).strip()
    return embed_text(title, body or title)


def _digests(contributions: list[dict[str, Any]]) -> dict[int, str]:
    """The SHA-256 of each uploaded document (by position) that has the size of another one (only
    those can be the same document; the others are not read)."""
    sizes: dict[int, int] = {}
    for n, contribution in enumerate(contributions):
        path = Path(contribution["file_path"]) if contribution["file_path"] else None
        try:
            if path is not None and path.is_file():
                sizes[n] = path.stat().st_size
        except OSError:
            continue
    counts = Counter(sizes.values())
    digests = {}
    for n in (n for n, size in sizes.items() if counts[size] > 1):
        try:
            digests[n] = hashlib.sha256(Path(contributions[n]["file_path"]).read_bytes()).hexdigest()
        except OSError:
            continue
    return digests

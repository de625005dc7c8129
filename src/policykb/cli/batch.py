"""`policykb search --batch FILE.jsonl`: many searches from one process, a JSON line each."""

from __future__ import annotations

import io
import json
from typing import Any

import click

from policykb.errors import PolicyKBError
from policykb.kb import KnowledgeBase

BATCH_KEYS = ("id", "query", "filters", "k", "mode", "lang", "year_from", "year_to")


def run_batch(kb: KnowledgeBase, lines: io.TextIOBase) -> None:
    """`policykb search --batch`: one JSON object a line in (BATCH_KEYS), one JSON answer a line out,
    in order; a line that cannot be searched gets an answer with its error (and the error on
    stderr), and the next lines still run."""
    from policykb.search.searcher import MAX_PAGE_SIZE

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        spec: Any = None
        try:
            spec = json.loads(line)
            if not isinstance(spec, dict):
                raise ValueError("each line must be a JSON object")
            if unknown := [key for key in spec if key not in BATCH_KEYS]:  # ("q" for "query" searched nothing)
                raise ValueError(f"unknown key {str(unknown[0])[:50]!r}; a line takes {', '.join(BATCH_KEYS)}")
            size = int(spec.get("k") or 10)
            if not 1 <= size <= MAX_PAGE_SIZE:  # (the facade's message names its "size")
                raise ValueError(f"k must be between 1 and {MAX_PAGE_SIZE}")
            filters = spec.get("filters") or {}
            if not isinstance(filters, dict):
                raise ValueError('"filters" must be an object like {"territory": ["DE"]}')
            years = {k: int(spec[k]) if spec.get(k) is not None else None for k in ("year_from", "year_to")}
            result = kb.search(str(spec.get("query") or ""), mode=str(spec.get("mode") or "hybrid"),
                               filters=filters, size=size, facets=False,
                               language=str(spec["lang"]) if spec.get("lang") else None, **years)
            out: dict[str, Any] = {"id": spec.get("id", number), "total": result.total, "language": result.language,
                                   "hits": [h.to_dict() for h in result.hits]}
        except (PolicyKBError, ValueError, TypeError) as exc:
            message = exc.message if isinstance(exc, PolicyKBError) else str(exc)
            own = spec.get("id") if isinstance(spec, dict) else None  # (the caller's id, to match the answer)
            out = {"id": own if isinstance(own, (str, int)) and not isinstance(own, bool) else number,
                   "error": f"line {number}: {message}"}
            click.echo(out["error"], err=True)
        click.echo(json.dumps(out, ensure_ascii=False))

"""Rows of a knowledge-base store and the objects they hold, whatever the database: what the SQLite
`Store` and the PostgreSQL `PgStore` write for an item, a kept version, a contribution or an audit
entry, and what they make of the rows they read back. No SQL here: each store keeps its own."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

from policykb.language.terms import term_counts
from policykb.models import Item, Passage, passage_context

# The items columns a store writes (in this order: `item_values`) and reads back (`item_from_row`).
ITEM_COLUMNS = ("id", "kind", "title", "summary", "description", "region", "organisation", "start_year", "end_year",
                "links", "language", "source", "pages", "content_hash", "status", "added_at", "updated_at")
ITEM_READ = ("id", "kind", "title", "summary", "description", "region", "organisation", "start_year", "end_year",
             "links", "source", "pages")
CONTRIBUTION_COLUMNS = ("id", "status", "record", "file_name", "file_path", "client", "reason", "item_id",
                        "checks", "submitted_at", "updated_at")
AUDIT_READ = ("id", "at", "actor", "action", "target", "before", "after", "note")


def now() -> str:
    """The time stamps every store writes: UTC, ISO 8601, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def item_values(item: Item, status: str, added_at: str) -> list[Any]:
    """An item's row, in `ITEM_COLUMNS` order."""
    return [
        item.id, item.kind, item.title, item.summary, item.description, item.region, item.organisation,
        item.start_year, item.end_year, json.dumps(item.links), (item.facets.get("language") or [None])[0],
        item.source, item.pages, item.content_hash(), status, added_at, now(),
    ]


def facet_values(item: Item) -> list[tuple[str, str, str]]:
    """(item id, facet, value) rows of an item, in the order its facets list them."""
    return [(item.id, facet, value) for facet, values in item.facets.items() for value in values]


def passage_values(item: Item, hashes: Sequence[str]) -> Iterator[tuple[list[Any], dict[str, tuple[int, int]]]]:
    """Each passage's row (item id, seq, page, section, context, text, hash, length in tokens) with
    its keyword postings (`term_counts`), in passage order."""
    for passage, digest in zip(item.passages, hashes):
        context = passage_context(item.title, passage.section)
        counts, length = term_counts(context, passage.text)
        yield [item.id, passage.seq, passage.page, passage.section, context, passage.text, digest, length], counts


def item_from_row(row: Sequence[Any], facets: dict[str, list[str]]) -> Item:
    """An item (without passages) from its `ITEM_READ` columns."""
    return Item(
        id=row[0], kind=row[1], title=row[2], summary=row[3] or "", description=row[4] or "", region=row[5],
        organisation=row[6], start_year=row[7], end_year=row[8], links=json.loads(row[9] or "[]"),
        source=row[10] or "", pages=row[11], facets=facets,
    )


def version_values(item: Item, passages: list[tuple[Passage, str]]) -> tuple[str, str]:
    """A kept version's item (without passages) and passages (each with its hash), as JSON."""
    kept = [asdict(p) | {"hash": h} for p, h in passages]
    return (json.dumps(asdict(item) | {"passages": []}, ensure_ascii=False), json.dumps(kept, ensure_ascii=False))


def version_from_values(item: str, passages: str) -> Item:
    """The item a kept version holds, with its passages (`version_values` read back)."""
    data = json.loads(item)
    data["passages"] = [Passage(**{k: v for k, v in p.items() if k != "hash"}) for p in json.loads(passages)]
    return Item(**data)


def history_entry(row: Sequence[Any]) -> dict[str, Any]:
    """One line of an item's history: (version, replaced at, replaced by, status, title, passages)."""
    return {"version": row[0], "replaced_at": row[1], "replaced_by": row[2], "status": row[3], "title": row[4],
            "passages": row[5]}


def contribution_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """A contribution from its `CONTRIBUTION_COLUMNS` and then its token hash."""
    out = dict(zip((*CONTRIBUTION_COLUMNS, "token_hash"), row))
    out["record"] = json.loads(out["record"])
    out["checks"] = json.loads(out["checks"] or "{}")
    return out


PURGED_RECORD = {"title": "(purged)"}  # what a contribution holds once the item it made is purged


def contribution_changes(fields: dict[str, Any]) -> dict[str, Any]:
    """The contribution columns among `fields`, the record and the checks as JSON."""
    return {k: json.dumps(v) if k in ("record", "checks") else v for k, v in fields.items() if k in CONTRIBUTION_COLUMNS}


def audit_values(actor: str, action: str, target: str, before: Any, after: Any, note: str | None) -> list[Any]:
    """An audit row: at, actor, action, target, before and after (JSON, or None), note."""
    return [now(), actor, action, target, None if before is None else json.dumps(before),
            None if after is None else json.dumps(after), note]


def audit_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """An audit entry from its `AUDIT_READ` columns."""
    return {"id": row[0], "at": row[1], "actor": row[2], "action": row[3], "target": row[4],
            "before": json.loads(row[5]) if row[5] else None, "after": json.loads(row[6]) if row[6] else None,
            "note": row[7]}

"""Items as records, and writing them in the formats `ingest` reads back (CSV with `;`-joined lists,
JSON, JSONL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from policykb.models import Item, public_source
from policykb.taxonomy import Taxonomy


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula (OWASP)


def neutralise_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a text starting like a formula gets a leading `'`
    (numbers stay numbers)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def restore_cell(value: str) -> str:
    """The text of a CSV cell written by `neutralise_cell` (so an export can be ingested again)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def write_records(records: list[dict[str, Any]], fmt: str, out: IO[str]) -> None:
    """Records as JSON, JSONL or CSV (lists joined with `; `, cells that would start a formula neutralised)."""
    if fmt == "json":
        out.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        fields = list(records[0]) if records else ["id", "title"]
        # CRLF ends rows (RFC 4180): the writer then quotes every cell holding a CR or an LF, where
        # with "\n" alone a lone CR went out unquoted and broke the row for every reader.
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: neutralise_cell("; ".join(map(str, v)) if isinstance(v, list) else v)
                             for k, v in record.items()})


def item_record(item: Item, taxonomy: Taxonomy, home: Path, labels: bool = False) -> dict[str, Any]:
    """An item as a flat record keyed like the input files (`country`, `challenges`, ...); with
    `labels`, each facet's labels follow its ids (`country_label`, ...). `source` is the public
    form of where the item came from (never an absolute path on the server)."""
    record: dict[str, Any] = {"id": item.id, "kind": item.kind, "title": item.title, "summary": item.summary,
                              "description": item.description}
    if labels:
        record["kind_label"] = taxonomy.label("kind", item.kind)
    for name in taxonomy.names:
        if name == "kind":
            continue
        facet = taxonomy.facet(name)
        values = item.facets.get(name, [])
        record[facet.record_key] = values if facet.multi else (values[0] if values else None)
        if labels:
            names = [taxonomy.label(name, v) for v in values]
            record[f"{facet.record_key}_label"] = names if facet.multi else (names[0] if names else None)
    record.update({"region": item.region, "organisation": item.organisation, "start_year": item.start_year,
                   "end_year": item.end_year, "links": item.links, "url": item.url,
                   "source": public_source(item.source, home), "pages": item.pages})
    return record

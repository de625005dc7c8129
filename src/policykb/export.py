"""Items as records, and writing them in the formats `ingest` reads back (CSV with `;`-joined lists,
JSON, JSONL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from .models import Item, public_source
from .taxonomy import Taxonomy


def write_records(records: list[dict[str, Any]], fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        out.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        fields = list(records[0]) if records else ["id", "title"]
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: "; ".join(map(str, v)) if isinstance(v, list) else v for k, v in record.items()})


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

"""Writing records in the formats `ingest` reads back (CSV with `;`-joined lists, JSON, JSONL)."""

from __future__ import annotations

import csv
import json
from typing import IO, Any


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

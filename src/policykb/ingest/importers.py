"""Importers for public data sets: BEIR corpora and the OECD STIP Compass export.

Both produce ordinary items (validated through the taxonomy), so everything else — incremental
ingest, search, facets — works on them as on our own records.
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import yaml

from policykb.errors import InvalidRecord, PolicyKBError
from policykb.models import Problem
from policykb.taxonomy import Taxonomy
from policykb.models import Section
from policykb.ingest.records import is_web_link, record_to_item, slugify

FORMATS = ("auto", "beir", "stip")


def beir_corpus(path: Path) -> Path:
    """`corpus.jsonl` of a BEIR data set directory (or the file itself)."""
    path = Path(path)
    corpus = path / "corpus.jsonl" if path.is_dir() else path
    if not corpus.is_file():
        raise PolicyKBError(f"{path} is not a BEIR data set: no corpus.jsonl")
    return corpus


def beir_item_id(doc_id: str) -> str:
    """The item id of a BEIR document: its `_id` when that is a valid id, else a slug of it."""
    return doc_id if re.match(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$", doc_id) else "beir-" + slugify(doc_id)


def beir_records(text: str) -> Iterator[tuple[int, dict[str, Any] | InvalidRecord]]:
    """(line, record) of a BEIR corpus: `_id`, `title`, `text` become id, title, description."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict) or not doc.get("_id"):
                raise InvalidRecord("a BEIR document needs an _id")
        except json.JSONDecodeError as exc:
            yield number, InvalidRecord(f"invalid JSON: {exc.msg}")
            continue
        except InvalidRecord as exc:
            yield number, exc
            continue
        doc_id = str(doc["_id"])
        title = str(doc.get("title") or "").strip() or str(doc.get("text") or "")[:80].strip() or doc_id
        yield number, {"id": beir_item_id(doc_id),
                       "title": title, "description": str(doc.get("text") or ""), "kind": "document"}


@lru_cache(maxsize=1)
def stip_mapping() -> dict[str, Any]:
    return yaml.safe_load(resources.files("policykb").joinpath("stip_mapping.yaml").read_text(encoding="utf-8"))


def _country(code: str) -> dict[str, Any]:
    import pycountry

    mapped = stip_mapping()["countries"].get(code)
    if mapped:
        return mapped
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        raise InvalidRecord(f"unknown STIP country code {code!r}")
    return {"territory": country.alpha_2, "level": "national"}


def stip_records(data: bytes, taxonomy: Taxonomy) -> Iterator[tuple[int, dict[str, Any] | InvalidRecord]]:
    """Merged initiatives of a STIP Compass CSV export (gzip or plain), first row's line number each."""
    text = gzip.decompress(data).decode("utf-8-sig") if data[:2] == b"\x1f\x8b" else data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    needed = {"InitiativeID", "NameEnglish", "CountryCode", "InstrumentTypeLabel"}
    if not needed <= set(reader.fieldnames or []):
        raise InvalidRecord(f"not a STIP Compass export: missing columns {', '.join(sorted(needed - set(reader.fieldnames or [])))}")
    themes = [c for c in reader.fieldnames or [] if re.fullmatch(r"TH\d+", c)]
    merged: dict[str, tuple[int, list[dict[str, str]]]] = {}
    for row in reader:
        key = row["InitiativeID"].strip()
        if key:
            merged.setdefault(key, (reader.line_num, []))[1].append(row)
    for key, (line, rows) in merged.items():
        try:
            yield line, _stip_record(key, rows, themes)
        except InvalidRecord as exc:
            yield line, exc


def _stip_record(key: str, rows: list[dict[str, str]], themes: list[str]) -> dict[str, Any]:
    mapping = stip_mapping()
    first = rows[0]
    where = _country(first["CountryCode"].strip())
    instruments = list(dict.fromkeys(r["InstrumentTypeLabel"].strip() for r in rows if r["InstrumentTypeLabel"].strip()))
    theme_codes = [c for c in themes if any(r.get(c, "").strip() in ("1", "1.0") for r in rows)]
    challenges: list[str] = []
    priorities: list[str] = []
    for code in theme_codes:
        challenges += mapping["themes"].get(code, {}).get("challenge", [])
        priorities += mapping["themes"].get(code, {}).get("theme", [])
    support = [s for i in instruments for s in mapping["instruments"].get(i, [])]
    framework = bool(instruments) and all(i in mapping["framework_instruments"] for i in instruments)
    typology = "strategy-framework" if framework else {
        "national": "national-programme", "regional": "regional-programme", "european": "eu-partnership"}[where["level"]]
    name = first["NameEnglish"].strip() or first.get("NameOriginalLanguage", "").strip() or key
    original = first.get("NameOriginalLanguage", "").strip()
    acronym = first.get("Acronym", "").strip()
    title = name + (f" ({acronym})" if acronym and acronym not in name else "")
    parts = [first.get("ShortDescription", "")]
    parts += [first.get(f"Objectives{i}", "") for i in range(1, 7)]
    parts.append(first.get("Background", ""))
    for r in rows:
        instrument = " ".join(x for x in (r.get("InstrumentName", "").strip(), r.get("InstrumentDescription", "").strip()) if x)
        parts.append(instrument)
    if original and original != name:
        parts.append(f"Original name: {original}.")
    if first.get("YearlyBudgetRange", "").strip():
        parts.append(f"Yearly budget range: {first['YearlyBudgetRange'].strip()}.")
    description = "\n\n".join(dict.fromkeys(_plain(p) for p in parts if p and _plain(p)))
    # STIP links sometimes carry a note after the URL ("https://… (MJS-FCT)"): the URL is the first word.
    links = [(first.get(f"InternetLinks{i}", "").split() or [""])[0] for i in range(1, 10)]
    return {
        "id": "stip-" + key.rstrip("/").rsplit("/", 1)[-1],
        "title": title[:500],
        "summary": (_plain(first.get("ShortDescription", "")) or description[:300])[:2000],
        "description": description,
        "country": where["territory"],
        "region": where.get("region"),
        "level": where["level"],
        "challenges": list(dict.fromkeys(challenges)),
        "themes": list(dict.fromkeys(priorities)) or ["cross-sectoral"],
        "support": list(dict.fromkeys(support)),
        "typology": typology,
        "organisation": first.get("NameResponsibleOrganisation", "").strip()[:500] or None,
        "start_year": _year(first.get("StartDateYear", "")),
        "end_year": _year(first.get("EndDateYear", "")),
        "links": [u for u in dict.fromkeys(links) if is_web_link(u)],
        "language": "en",
        "stip_themes": theme_codes,
        "stip_instruments": instruments,
    }


def _plain(text: str) -> str:
    """STIP texts carry some HTML (`<br/>`, entities): plain text with line breaks instead."""
    text = re.sub(r"<br\s*/?>|</p>", "\n", text, flags=re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _year(value: str) -> int | None:
    value = value.strip()
    return int(float(value)) if value and value.replace(".", "", 1).isdigit() else None


def import_items(fmt: str, path: Path, data: bytes, source: str, taxonomy: Taxonomy, chunker: Any, result: Any) -> None:
    """Fill a loader `FileResult` with the items of a BEIR corpus or a STIP export."""
    rows = beir_records(data.decode("utf-8-sig")) if fmt == "beir" else stip_records(data, taxonomy)
    for number, record in rows:
        try:
            if isinstance(record, PolicyKBError):
                raise record
            item = record_to_item(record, source, taxonomy)
        except PolicyKBError as exc:
            result.skipped.append(Problem(source, exc.message, line=number))
            continue
        body = item.description or item.title  # a STIP description already starts with its summary
        item.passages = chunker.passages(item.title, [Section(body)])
        result.items.append(item)

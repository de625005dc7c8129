"""Structured records (YAML, JSON, JSONL, CSV) and metadata -> validated `Item`s."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Iterator

import yaml

from policykb.errors import InvalidRecord, PolicyKBError
from policykb.ingest.export import restore_cell
from policykb.language.safety import clean_record
from policykb.models import YEAR_MAX, YEAR_MIN, Item
from policykb.taxonomy import Taxonomy
from policykb.language.text import normalise, slug
from policykb.ingest.fields import ALIASES, field_key, record_fields

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
TEXT_LIMITS = {"title": 500, "summary": 2_000, "description": 100_000, "organisation": 500, "region": 200}
DEFAULT_TYPOLOGY = {"guide": "guide", "case_study": "case-study"}


MAX_DEPTH = 20  # nesting of lists and mappings in a record file (a record needs 3)


class _YAMLLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so `country: NO` stays Norway and `yes`/`on` stay text.

    No aliases (`*name`): records never need them, and nine levels of them expand a 561-byte file
    into gigabytes; no nesting deeper than MAX_DEPTH (the composer recurses)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in records",
                                              event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_YAMLLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


WEB_LINK = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:[/?#][^\s\"'<>\\`]*)?$")


def is_web_link(url: str) -> bool:
    """An http(s) URL with a plain host and no spaces, quotes, angle brackets, backslashes or
    backticks: safe to show, and to put in a link, without breaking out of it."""
    return len(url) <= 2000 and WEB_LINK.match(url) is not None


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YAMLLoader)  # noqa: S506 - a SafeLoader subclass


def load_json(text: str) -> Any:
    """JSON; nesting deep enough to exhaust Python's stack (200,000 `[`) is an InvalidRecord."""
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidRecord("JSON nested too deeply") from None


def slugify(text: str) -> str:
    """An id from a title or file name (`text.slug`: transliterated, never one constant)."""
    return slug(text)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None and str(v).strip()]
    return [v for v in re.split(r"\s*;\s*", str(value)) if v.strip()]


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise InvalidRecord(f"{key} must be text, got {type(value).__name__}")
    text = normalise(str(value)).strip()
    if len(text) > TEXT_LIMITS.get(key, 100_000):
        raise InvalidRecord(f"{key} is longer than {TEXT_LIMITS[key]} characters")
    return text


def _year(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    if value is None or str(value).strip() in ("", "null", "None"):
        return None
    try:
        number = float(str(value).strip())
        year = int(number)
    except (ValueError, OverflowError):
        raise InvalidRecord(f"{key} must be a year, got {value!r}") from None
    if number != year:
        raise InvalidRecord(f"{key} must be a whole year, got {value!r}")
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidRecord(f"{key} {year} is not a plausible year")
    return year


def record_to_item(record: dict[str, Any], source: str, taxonomy: Taxonomy, default_kind: str = "example") -> Item:
    """Validate one record; facet values are normalised through the taxonomy's synonyms."""
    if not isinstance(record, dict):
        raise InvalidRecord(f"a record must be a mapping of fields, got {type(record).__name__}")
    record, _ = record_fields(record, taxonomy)
    record = clean_record(record)  # no control, bidirectional or invisible characters in any text
    title = _text(record, "title")
    if not title:
        raise InvalidRecord("record has no title")
    item_id = str(record.get("id") or slugify(title)).strip()
    if not ID_PATTERN.match(item_id):
        raise InvalidRecord(f"id {item_id!r} must be letters, digits, '.', '_', ':' or '-' (max 200)")
    kind = taxonomy.normalise("kind", record.get("kind") or default_kind)
    facets: dict[str, list[str]] = {}
    for name in taxonomy.names:
        keys = ALIASES.get(name, (name, taxonomy.facet(name).record_key))
        raw: list[Any] = []
        for key in keys:
            raw += _as_list(record.get(key))
        if name == "kind":
            raw = [kind]
        elif name == "language" and not raw:
            raw = ["en"]
        elif name == "typology" and not raw and kind in DEFAULT_TYPOLOGY:
            raw = [DEFAULT_TYPOLOGY[kind]]
        values = taxonomy.normalise_many(name, raw)
        if len(values) > 1 and not taxonomy.facet(name).multi:
            raise InvalidRecord(f"{name} takes one value, got {', '.join(values)}")
        if values:
            facets[name] = values
    start, end = _year(record, "start_year"), _year(record, "end_year")
    if start and end and end < start:
        raise InvalidRecord(f"end_year {end} is before start_year {start}")
    links = [str(u).strip() for u in _as_list(record.get("links") or record.get("url"))]
    bad = [u for u in links if not is_web_link(u)]
    if bad:
        raise InvalidRecord(f"links must start with http:// or https:// and hold no spaces, quotes or angle "
                            f"brackets: {bad[0][:200]!r}")
    return Item(
        id=item_id,
        kind=kind,
        title=title,
        summary=_text(record, "summary"),
        description=_text(record, "description"),
        facets=facets,
        region=_text(record, "region") or None,
        organisation=_text(record, "organisation") or None,
        start_year=start,
        end_year=end,
        links=links,
        source=source,
    )


# -- record files -----------------------------------------------------------------------------


def iter_records(text: str, suffix: str) -> Iterator[tuple[int | None, Any]]:
    """(line number, raw record) pairs from a record file's text; raises PolicyKBError if unreadable."""
    if suffix in (".yaml", ".yml"):
        yield from _yaml_records(text)
    elif suffix == ".json":
        try:
            data = load_json(text)
        except json.JSONDecodeError as exc:
            raise InvalidRecord(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
        for record in _unwrap(data):
            yield None, record
    elif suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield number, load_json(line)
                except json.JSONDecodeError as exc:
                    yield number, InvalidRecord(f"invalid JSON: {exc.msg}")
                except InvalidRecord as exc:
                    yield number, exc
    elif suffix == ".csv":
        yield from _csv_records(text)
    else:  # pragma: no cover - callers dispatch on suffix
        raise InvalidRecord(f"not a record file: {suffix}")


def _unwrap(data: Any) -> list[Any]:
    if isinstance(data, dict):
        for key in ("items", "examples", "records"):
            if isinstance(data.get(key), list):
                return data[key]
        return [data]
    if isinstance(data, list):
        return data
    raise InvalidRecord("expected a list of records or a mapping")


def _yaml_records(text: str) -> Iterator[tuple[int | None, Any]]:
    try:
        node = yaml.compose(text, Loader=_YAMLLoader)
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InvalidRecord(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return
    records = _unwrap(data)
    lines: list[int | None] = [None] * len(records)
    if isinstance(node, yaml.SequenceNode):
        lines = [n.start_mark.line + 1 for n in node.value]
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(value, yaml.SequenceNode) and key.value in ("items", "examples", "records"):
                lines = [n.start_mark.line + 1 for n in value.value]
    yield from zip(lines, records)


DELIMITERS = (",", ";", "\t", "|")
_SEP_LINE = re.compile(r'^\s*"?sep=(.)"?\s*$')  # Excel's first line naming the delimiter


def csv_dialect(lines: list[str]) -> tuple[str, int]:
    """The delimiter of a CSV file (",", ";" as Excel writes in many locales, tab or "|") and how
    many lines come before its header (1 after Excel's "sep=;" line). Each candidate is tried on
    the first lines: the one whose header names a title column wins, then the one that cuts every
    row into as many cells as the header, then the one that gives the header more cells."""
    if lines and (m := _SEP_LINE.match(lines[0])):
        return m.group(1), 1
    sample = "".join(lines[:50])
    best, best_score = ",", (False, 0.0, 1)
    for delimiter in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if any(c.strip() for c in r)]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = ("title" in {field_key(h) for h in rows[0]},
                 sum(len(r) == width for r in rows[1:]) / max(1, len(rows) - 1), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best, 0


def _csv_records(text: str) -> Iterator[tuple[int | None, Any]]:
    """Rows as records, each with the line it starts on. The reader is strict: a row whose quote
    never closes (which a lenient reader would merge with every row after it) is reported as
    malformed, and reading starts again on the next line."""
    lines = re.split(r"(?<=\n)", text)
    delimiter, skip = csv_dialect(lines)
    reader = csv.reader(io.StringIO("".join(lines[skip:]), newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InvalidRecord(f"unreadable CSV header: {exc}") from None
    if "title" not in {field_key(h) for h in header}:
        raise InvalidRecord(f"CSV header has no 'title' column (columns: {', '.join(header)})")
    start = skip + reader.line_num  # lines before the current reader's text
    while start < len(lines):
        reader = csv.reader(io.StringIO("".join(lines[start:]), newline=""), delimiter=delimiter, strict=True)
        first = start + 1  # where the next row starts (1-based)
        try:
            for row in reader:
                line, first = first, start + reader.line_num + 1
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    yield line, InvalidRecord(f"row has {len(row)} cells, the header has {len(header)}")
                    continue
                yield line, {k: (restore_cell(v).strip() or None) for k, v in zip(header, row)}
            return
        except csv.Error as exc:
            yield first, InvalidRecord(f"malformed CSV row ({exc}; a quote that is never closed?)")
            start = first  # read again from the line after the one the broken row starts on


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter (between `---` lines) from a Markdown body."""
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", text, re.S)
    if not match:
        return {}, text
    try:
        meta = load_yaml(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InvalidRecord(f"invalid YAML front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise InvalidRecord("front matter must be a mapping of fields")
    return meta, text[match.end():]


__all__ = ["record_to_item", "iter_records", "parse_front_matter", "slugify", "PolicyKBError"]

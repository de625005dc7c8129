"""Plain data classes passed between the stages (loaders -> knowledge base -> search -> interfaces)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

KINDS = ("example", "guide", "case_study", "document")
# The years an item may start or end in, and a search may be bounded by: one range for records,
# contributions, the API's, the CLI's and the UI's year filters.
YEAR_MIN, YEAR_MAX = 1800, 2100


def sha256(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


@dataclass
class Section:
    """A run of text from one page (PDF) or under one heading (Markdown), as a document is read."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass
class Passage:
    """A piece of an item's text small enough for the model, with the page it came from (1-based)."""

    text: str
    page: int | None = None
    seq: int = 0
    section: str | None = None


def passage_context(title: str, section: str | None) -> str:
    """What stands before a passage's text for the model and in the FTS title column: the item's
    title, and the section heading when there is one."""
    return f"{title} — {section}" if section and section != title else title


def embed_text(context: str, text: str) -> str:
    """What the model sees for a passage: its context (item title, section heading), then the text."""
    return f"{context}\n{text}"


def passage_texts(item: Item) -> list[str]:
    """What the model sees for each passage of an item."""
    return [embed_text(passage_context(item.title, p.section), p.text) for p in item.passages]


@dataclass
class Item:
    """A policy example, guide, case study or document, with normalised facet ids."""

    id: str
    kind: str
    title: str
    summary: str = ""
    description: str = ""
    facets: dict[str, list[str]] = field(default_factory=dict)
    region: str | None = None
    organisation: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    links: list[str] = field(default_factory=list)
    source: str = ""
    pages: int | None = None
    passages: list[Passage] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        return self.links[0] if self.links else None

    def content_hash(self) -> str:
        """Changes whenever anything stored for the item changes."""
        body = asdict(self)
        return sha256(json.dumps(body, sort_keys=True, ensure_ascii=False))


@dataclass
class Problem:
    """Something skipped (or only warned about) during ingest, with where and why."""

    source: str
    reason: str
    line: int | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    embedded: int = 0
    passages: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "skipped": [{"source": p.source, "line": p.line, "reason": p.reason} for p in self.skipped],
            "warnings": [{"source": p.source, "line": p.line, "reason": p.reason} for p in self.warnings],
            "ignored": self.ignored,
            "passages_embedded": self.embedded,
            "passages_written": self.passages,
        }


@dataclass
class Hit:
    """One search result: an item with its best passage."""

    id: str
    kind: str
    title: str
    score: float
    passage: str
    page: int | None
    snippet: str
    source: str
    url: str | None
    facets: dict[str, list[str]]
    summary: str = ""
    region: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    section: str | None = None
    also: list[dict[str, Any]] = field(default_factory=list)  # other pages that may answer: {page, section}
    file: str | None = None  # the API route of the original document (a PDF's at the shown page): `document_link`

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FacetCount:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class SearchResult:
    query: str
    mode: str
    total: int
    page: int
    size: int
    hits: list[Hit]
    facets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # When nothing is relevant (total 0): the nearest items, which are *not* matches; the query's
    # words that no item contains; and the number of matches without the filters (if any were set).
    nearest: list[Hit] = field(default_factory=list)
    language: dict[str, Any] | None = None  # the question's language: detected, used, covered, note
    # The thematic facet value the question is about, if any (its labelled items count as relevant
    # within a looser cut-off, see topics.py): facet, value, label, similarity.
    topic: dict[str, Any] | None = None
    absent_terms: list[str] = field(default_factory=list)
    # those of them that are no English word either: what a typing error looks like ("clustr", not "sat")
    unknown_terms: list[str] = field(default_factory=list)
    total_without_filters: int | None = None
    # (counts only) each facet's values counted over the result set itself, items per start year
    values: dict[str, dict[str, int]] | None = None
    start_years: dict[int, int] | None = None
    undated: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "mode": self.mode,
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "hits": [h.to_dict() for h in self.hits],
            "facets": self.facets,
            "nearest": [h.to_dict() for h in self.nearest],
            "language": self.language,
            "topic": self.topic,
            "absent_terms": self.absent_terms,
            "unknown_terms": self.unknown_terms,
            "total_without_filters": self.total_without_filters,
        }


# The files an item can be made from and the API serves back (`/items/{id}/file`).
DOCUMENT_SUFFIXES = frozenset({".pdf", ".md", ".markdown", ".txt", ".text", ".html", ".htm"})


def from_file(source: str) -> bool:
    """Whether an item's source is the path of a file it was ingested from (not "contribution" or
    "contribution:<id>", a record contributed through the API, nor empty): a file of a folder
    named "contributions" is a file."""
    return bool(source) and source != "contribution" and not source.startswith("contribution:")


def document_link(item_id: str, source: str, page: int | None = None) -> str | None:
    """The API route of an item's original document, a PDF's at `page` (`#page=N`, which browsers'
    PDF viewers open at); None for an item made from a record or a contribution without a file."""
    if not from_file(source) or os.path.splitext(source)[1].lower() not in DOCUMENT_SUFFIXES:
        return None
    link = f"/items/{quote(item_id, safe='')}/file"
    return f"{link}#page={page}" if page and source[-4:].lower() == ".pdf" else link


def public_source(source: str, home: Path) -> str:
    """Where an item came from, as a user may see it: the path as it was ingested when relative
    (`ingest/examples/eu.yaml`), an uploaded document's file name, "contribution" for a record
    contributed through the API; an absolute path becomes relative to the working directory, or
    its last folder and file name."""
    if not from_file(source):
        return "contribution" if source else ""
    if not os.path.isabs(source):
        return source
    return _shown_path(source, str(home), os.getcwd())


@lru_cache(maxsize=4096)  # (each result of a search shows its source: resolving paths cost ~2.5 ms a search)
def _shown_path(source: str, home: str, cwd: str) -> str:
    path = Path(source)
    for root, keep_parent in ((Path(home).resolve() / "uploads", False), (Path(cwd), True)):
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        return str(relative) if keep_parent else path.name
    return str(Path(path.parent.name) / path.name)

"""One file in, validated items with passages out (or the reason it was skipped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from policykb.errors import PolicyKBError
from policykb.models import Item, Passage, Problem, passage_context
from policykb.taxonomy import Taxonomy
from policykb.language.safety import clean_text
from policykb.ingest.chunking import chunk_text
from policykb.ingest.importers import beir_corpus, import_items
from policykb.ingest.documents import DOCUMENT_SUFFIXES, Document, Section, first_line, load_document, sidecar_path
from policykb.ingest.fields import record_fields
from policykb.ingest.records import iter_records, record_to_item, slugify

if TYPE_CHECKING:
    from policykb.config import Settings
    from policykb.encoders.embed import Embedder

RECORD_SUFFIXES = {".yaml", ".yml", ".json", ".jsonl", ".csv"}
SUPPORTED = RECORD_SUFFIXES | DOCUMENT_SUFFIXES


@dataclass
class Chunker:
    """Cuts an item's text into passages that fit the model together with the item's title."""

    count_tokens: Callable[[str], int]
    max_tokens: int = 256
    chunk_tokens: int = 200
    overlap: int = 40

    def passages(self, title: str, sections: list[Section]) -> list[Passage]:
        out: list[Passage] = []
        for section in sections:
            heading = clean_text(section.heading, multiline=False) if section.heading else section.heading
            context = passage_context(title, heading)  # goes before the text, so it counts
            budget = max(32, min(self.chunk_tokens, self.max_tokens - self.count_tokens(context) - 4))
            text = clean_text(section.text)
            for chunk in chunk_text(text, self.count_tokens, budget, min(self.overlap, budget // 3)):
                out.append(Passage(chunk, page=section.page, seq=len(out), section=heading))
        return out


def chunker_for(embedder: Embedder, settings: Settings) -> Chunker:
    """Cuts text into passages that fit the model with their title (loads the model)."""
    return Chunker(embedder.count_tokens, embedder.max_tokens, settings.chunk_tokens, settings.chunk_overlap)


@dataclass
class FileResult:
    items: list[Item] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    failed: Problem | None = None


def is_sidecar(path: Path) -> bool:
    return path.name.endswith((".meta.yaml", ".meta.yml"))


def scan(paths: list[Path], fmt: str = "auto") -> tuple[list[Path], list[str]]:
    """Files to ingest under `paths` (sorted, sidecars excluded) and the ones ignored.

    With `fmt` "beir" each path is a BEIR data set (its corpus.jsonl); with "stip", a STIP export.
    """
    files: list[Path] = []
    ignored: list[str] = []
    for root in paths:
        root = Path(root)
        if not root.exists():
            raise PolicyKBError(f"no such file or directory: {root}")
        if fmt == "beir":
            files.append(beir_corpus(root).resolve())
            continue
        if fmt == "stip":
            if not root.is_file():
                raise PolicyKBError(f"--format stip takes the export file (.csv or .csv.gz), not {root}")
            files.append(root.resolve())
            continue
        if root.is_dir():
            candidates = sorted(
                p for p in root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        else:
            candidates = [root]
        for path in candidates:
            if is_sidecar(path):
                continue
            if path.suffix.lower() in SUPPORTED:
                files.append(path.resolve())
            else:
                ignored.append(str(path))
    return list(dict.fromkeys(files)), ignored


def extra_inputs(path: Path) -> bytes:
    """Bytes besides the file itself that change its items (the sidecar)."""
    side = sidecar_path(path)
    return side.read_bytes() if side.exists() else b""


def load_file(path: Path, data: bytes, source: str, taxonomy: Taxonomy, chunker: Chunker,
              fmt: str = "auto") -> FileResult:
    result = FileResult()
    if not data.strip():
        result.failed = Problem(source, "empty file")
        return result
    try:
        if fmt in ("beir", "stip"):
            import_items(fmt, path, data, source, taxonomy, chunker, result)
        elif path.suffix.lower() in RECORD_SUFFIXES:
            _load_records(path, data, source, taxonomy, chunker, result)
        else:
            _load_document(path, data, source, taxonomy, chunker, result)
    except PolicyKBError as exc:
        result.failed = Problem(source, exc.message)
    if result.failed is None and not result.items and not result.skipped:
        result.failed = Problem(source, "no records in the file")
    return result


def _load_records(path: Path, data: bytes, source: str, taxonomy: Taxonomy, chunker: Chunker, result: FileResult) -> None:
    from policykb.ingest.documents import decode

    text, warning = decode(data)
    if warning:
        result.warnings.append(Problem(source, warning, warning=True))
    ignored: dict[str, list[int | None]] = {}  # key as written -> lines of the records that have it
    for number, record in iter_records(text, path.suffix.lower()):
        try:
            if isinstance(record, PolicyKBError):
                raise record
            if isinstance(record, dict):
                for key in record_fields(record, taxonomy)[1]:
                    ignored.setdefault(key, []).append(number)
            item = record_to_item(record, source, taxonomy)
        except PolicyKBError as exc:
            label = "" if number else f"record #{len(result.items) + len(result.skipped) + 1}: "
            result.skipped.append(Problem(source, label + exc.message, line=number))
            continue
        body = "\n\n".join(t for t in (item.summary, item.description) if t) or item.title
        item.passages = chunker.passages(item.title, [Section(body)])
        result.items.append(item)
    if ignored:
        what = "column" if path.suffix.lower() == ".csv" else "key"
        result.warnings.append(Problem(source, ignored_message(ignored, what), warning=True))


def ignored_message(ignored: dict[str, list[int | None]], what: str = "key") -> str:
    """What the ingest report says about fields it did not read, e.g. "ignored 2 keys that are not
    fields of the record format: 'Budget' (lines 3, 9), 'Notes' (line 4)"."""
    def where(lines: list[int | None]) -> str:
        known = [n for n in lines if n]
        if not known or what == "column":
            return ""
        shown = ", ".join(map(str, known[:5])) + (", ..." if len(known) > 5 else "")
        return f" (line{'s' if len(known) > 1 else ''} {shown})"

    names = ", ".join(f"{key!r}{where(lines)}" for key, lines in ignored.items())
    count = f"{len(ignored)} {what}s that are not fields" if len(ignored) > 1 else f"1 {what} that is not a field"
    return f"ignored {count} of the record format: {names}"


def _load_document(path: Path, data: bytes, source: str, taxonomy: Taxonomy, chunker: Chunker, result: FileResult) -> None:
    item, warnings = document_item(path, data, source, taxonomy, chunker)
    result.warnings += [Problem(source, w, warning=True) for w in warnings]
    result.items.append(item)


def document_item(path: Path, data: bytes, source: str, taxonomy: Taxonomy, chunker: Chunker,
                  meta: dict[str, Any] | None = None, doc: Document | None = None) -> tuple[Item, list[str]]:
    """A document as one item with passages; `meta` (a contribution's record, given for uploads)
    wins over front matter, and an upload never reads a sidecar file; `doc`, if given, is the
    document already parsed (uploads are parsed in a bounded process, see `sandbox.py`)."""
    doc = doc or load_document(path, data, sidecar=meta is None)
    found, ignored = record_fields(doc.meta, taxonomy)  # front matter and sidecar
    warnings = list(doc.warnings)
    if ignored:
        origin = "sidecar" if path.suffix.lower() not in (".md", ".markdown") else \
            "front matter" if meta is not None else "front matter or sidecar"
        warnings.append(f"{origin}: " + ignored_message({k: [] for k in ignored}))
    given = {k: v for k, v in (meta or {}).items() if v not in (None, "", [])}
    for key in ("title", "id"):  # what the record overrides: the answer to an upload says which was used
        if found.get(key) not in (None, "") and given.get(key) not in (None, "") and \
                str(found[key]).strip() != str(given[key]).strip():
            warnings.append(f"front matter: {key} {str(found[key])[:100]!r} not used; the record's {key} "
                            f"{str(given[key])[:100]!r} is")
    meta = {**found, **given}
    meta["title"] = meta.get("title") or doc.title or first_line(doc) or path.stem
    meta["id"] = meta.get("id") or slugify(path.stem)
    meta.setdefault("kind", "document")
    if not meta.get("summary"):
        lead = " ".join(doc.sections[0].text.split())
        meta["summary"] = lead[:297] + "..." if len(lead) > 300 else lead
    item = record_to_item(meta, source, taxonomy, default_kind="document")
    item.pages = doc.pages
    item.passages = chunker.passages(item.title, doc.sections)
    return item, warnings

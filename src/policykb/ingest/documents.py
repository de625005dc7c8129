"""Documents (PDF, Markdown, plain text, HTML) -> title, metadata and page-aware sections."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidRecord
from .records import load_yaml, parse_front_matter

DOCUMENT_SUFFIXES = {".pdf", ".md", ".markdown", ".txt", ".text", ".html", ".htm"}


@dataclass
class Section:
    """A run of text from one page (PDF) or under one heading (Markdown)."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class Limits:
    """Bounds on one document: pages (PDF) and extracted characters (0: none)."""

    pages: int = 0
    chars: int = 0


@dataclass
class Document:
    title: str | None
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str | None]:
    """Text of a file, and a warning when it was not UTF-8."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        where = f"byte offset {exc.start}"
    for encoding in ("cp1252", "latin-1"):
        try:
            return data.decode(encoding), f"not valid UTF-8 ({where}); read as {encoding}"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def sidecar_path(path: Path) -> Path:
    """`NAME.meta.yaml` (or `NAME.meta.yml`) beside `NAME.pdf`; the .yaml spelling when neither exists."""
    for suffix in (".meta.yaml", ".meta.yml"):
        side = path.with_name(path.stem + suffix)
        if side.exists():
            return side
    return path.with_name(path.stem + ".meta.yaml")


def read_sidecar(path: Path) -> dict[str, Any]:
    side = sidecar_path(path)
    if not side.exists():
        return {}
    try:
        meta = load_yaml(decode(side.read_bytes())[0]) or {}
    except yaml.YAMLError as exc:
        raise InvalidRecord(f"unreadable sidecar {side.name}: {exc}") from None
    if not isinstance(meta, dict):
        raise InvalidRecord(f"sidecar {side.name} must be a mapping of fields")
    return meta


def load_document(path: Path, data: bytes, sidecar: bool = True, limits: Limits = Limits()) -> Document:
    """Parse a document's bytes; raises InvalidRecord with a reason a person understands. The
    sidecar `NAME.meta.yaml` beside `path` is read only with `sidecar` (a file being ingested;
    never an upload, whose name means nothing on this machine); `limits` bound pages and text."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        doc = _pdf(data, limits)
    else:
        text, warning = decode(data)
        if limits.chars and len(text) > limits.chars:
            raise InvalidRecord(f"the document has more than {limits.chars:,} characters of text")
        if suffix in (".md", ".markdown"):
            doc = _markdown(text)
        elif suffix in (".html", ".htm"):
            doc = _html(text)
        else:
            doc = Document(None, [Section(text)])
        if warning:
            doc.warnings.append(warning)
    if not any(s.text.strip() for s in doc.sections):
        raise InvalidRecord("no text in the document")
    if sidecar:
        doc.meta = {**doc.meta, **read_sidecar(path)}
    return doc


def first_line(doc: Document) -> str | None:
    for section in doc.sections:
        for line in section.text.splitlines():
            line = line.strip(" #*\t")
            if len(line) >= 3:
                return line[:200]
    return None


# -- PDF ------------------------------------------------------------------------------------------


def _pdf(data: bytes, limits: Limits = Limits()) -> Document:
    import io

    import pypdf
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise InvalidRecord("encrypted PDF (needs a password); decrypt it and ingest again")
        if limits.pages and len(reader.pages) > limits.pages:
            raise InvalidRecord(f"the PDF has {len(reader.pages):,} pages, more than the {limits.pages:,} accepted")
        texts, chars = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            chars += len(text)
            if limits.chars and chars > limits.chars:
                raise InvalidRecord(f"the PDF has more than {limits.chars:,} characters of text")
            texts.append(text)
        running = _running_lines(texts)
        sections = []
        for number, text in enumerate(texts, 1):
            text = "\n".join(line for line in text.splitlines() if _shape(line) not in running)
            if text.strip():
                sections.append(Section(_clean_pdf_text(text), page=number))
        title = None
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
        count = len(reader.pages)
    except InvalidRecord:
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many types on damaged files
        raise InvalidRecord(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from None
    if count == 0:
        raise InvalidRecord("PDF has no pages")
    if not sections:
        raise InvalidRecord(f"PDF has no extractable text in {count} page(s) (image-only or scanned? run OCR first)")
    return Document(title, sections, pages=count)


def _shape(line: str) -> str:
    """A line with its numbers blanked: "Page 3/6" and "Page 4/6" have one shape."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def _running_lines(pages: list[str]) -> set[str]:
    """Shapes of the lines repeated on most pages (running headers and footers, page numbers): on
    at least 60 % of the pages of a document of three pages or more."""
    if len(pages) < 3:
        return set()
    seen: dict[str, int] = {}
    for text in pages:
        for shape in {_shape(line) for line in text.splitlines() if line.strip()}:
            seen[shape] = seen.get(shape, 0) + 1
    return {shape for shape, count in seen.items() if count >= 0.6 * len(pages) and len(shape) <= 120}


def _clean_pdf_text(text: str) -> str:
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)  # re-join hyphenated line breaks
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"(?<![.!?:;\n])\n(?!\n)", " ", text)  # unwrap lines inside paragraphs


# -- Markdown -------------------------------------------------------------------------------------


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _markdown(text: str) -> Document:
    meta, body = parse_front_matter(text)
    title = None
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []

    def flush() -> None:
        chunk = "\n".join(lines).strip()
        if chunk:
            sections.append(Section(_strip_markdown(chunk), heading=heading))

    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            lines = []
            heading = _strip_markdown(match.group(2))
            if title is None and len(match.group(1)) == 1:
                title = heading
            continue
        lines.append(line)
    flush()
    return Document(title, sections, meta=meta)


def _strip_markdown(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"^\s*[-*+]\s+", "", text, flags=re.M)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    return text


# -- HTML -----------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    BLOCKS = {"p", "div", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "td"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.h1 = ""
        self._skip = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "noscript", "nav", "footer"):
            self._skip += 1
        if tag in ("title", "h1"):
            self._in = tag
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "nav", "footer"):
            self._skip = max(0, self._skip - 1)
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in == "title":
            self.title += data
            return
        if self._in == "h1":
            self.h1 += data
        self.parts.append(data)


def _html(text: str) -> Document:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    body = re.sub(r"\n\s*\n\s*", "\n\n", "".join(parser.parts)).strip()
    title = " ".join((parser.title or parser.h1).split()) or None
    return Document(title, [Section(body)])

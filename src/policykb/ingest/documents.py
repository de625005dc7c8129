"""Documents (PDF, Markdown, plain text, HTML) -> title, metadata and page-aware sections."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from policykb.errors import InvalidRecord
from policykb.models import DOCUMENT_SUFFIXES, Section
from policykb.language.text import normalise
from policykb.ingest.markdown import read_markdown
from policykb.ingest.records import load_yaml, parse_front_matter


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


# Byte-order marks of the Unicode encodings other than UTF-8 (UTF-32's first: its little-endian mark
# starts with UTF-16's); a file starting with one is read in that encoding.
BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"))


def decode(data: bytes) -> tuple[str, str | None]:
    """Text of a file, and a warning when it was not UTF-8 (a UTF-16 or UTF-32 file says so by its
    byte-order mark: read as cp1252 it was stored as "ÿþP\x00r\x00..." and searched so)."""
    for mark, encoding in BOMS:
        if data.startswith(mark):
            try:
                return data.decode(encoding), None
            except UnicodeDecodeError:
                break  # (not that encoding after all: read as below)
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
        if b"%PDF-" not in data[:1024]:  # (where its header must be; an HTML page named .pdf was "a corrupt PDF")
            head = data[:4096].lower()
            kind = " (it looks like HTML)" if b"<html" in head or b"<!doctype" in head else ""
            raise InvalidRecord(f"{path.name} is not a PDF{kind}: a PDF starts with %PDF-")
        doc = _pdf(data, limits, path.name)
    else:
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-"):  # (a PDF named .md was read as text,
            # its bytes a searchable passage)
            raise InvalidRecord(f"{path.name} is a PDF, not {suffix or 'text'}: give it the .pdf extension")
        if b"\x00" in data and not data.startswith(tuple(mark for mark, _ in BOMS)):
            raise InvalidRecord(f"{path.name} is not text (it holds binary data): send a PDF, Markdown, HTML or "
                                "plain text file")
        text, warning = decode(data)
        if limits.chars and len(text) > limits.chars:
            raise InvalidRecord(f"the document has more than {limits.chars:,} characters of text")
        if suffix in (".md", ".markdown"):
            doc = _markdown(text)
        elif suffix in (".html", ".htm"):
            doc = _html(text)
        else:
            doc = Document(None, [Section(normalise(text))])
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
                return _cut(line)
    return None


def _cut(title: str, length: int = 200) -> str:
    """A title of at most `length` characters, cut at a word boundary."""
    title = " ".join(title.split())
    if len(title) <= length:
        return title
    cut = title[:length + 1].rsplit(" ", 1)[0]
    return (cut if len(cut) > length // 2 else title[:length]).rstrip(" ,;:-") + "…"


# Titles that authoring tools write into a document's metadata or <title>: "Microsoft Word -
# Draft_v3_FINAL.docx", "Untitled", "Document1", "Slide 1", a file or path name.
_TOOL_TITLE = re.compile(
    r"^(?:microsoft (?:word|powerpoint|excel)|word|powerpoint|excel|adobe \w+|writer|impress)\s*-\s|"
    r"^(?:untitled(?: document)?|document\d*|presentation\d*|book\d*|slide \d+|layout \d+|title|no title|"
    r"unknown|default|none|null|page \d+|powerpoint presentation|word document|pdf document)$|"
    r"\.(?:docx?|dotx?|pdf|pptx?|xlsx?|od[tps]|rtf|txt|indd|qxd|tex|dvi|e?ps|html?|md|pages|key|wpd|png|jpe?g)$|"
    r"^(?:[a-z]:)?[\\/]", re.I)


def plausible_title(title: str | None, file_name: str | None = None) -> bool:
    """Whether a title taken from a document's metadata (or HTML <title>) is a real title: not an
    authoring tool's artefact or a file name (with an extension, with underscores and no spaces, or
    the document's own file name)."""
    title = " ".join((title or "").split())
    if sum(c.isalpha() for c in title) < 3 or _TOOL_TITLE.search(title):
        return False
    if "_" in title and " " not in title:
        return False
    if file_name:
        stem = Path(file_name).stem.casefold()
        if title.casefold() in (stem, Path(file_name).name.casefold()):
            return False
    return True


# -- PDF ------------------------------------------------------------------------------------------


def _pdf(data: bytes, limits: Limits = Limits(), name: str | None = None) -> Document:
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
        texts, chars, sized_pages = [], 0, []
        for page in reader.pages:
            sized: list[tuple[str, float]] = []
            text = normalise(_page_text(page, sized))
            chars += len(text)
            if limits.chars and chars > limits.chars:
                raise InvalidRecord(f"the PDF has more than {limits.chars:,} characters of text")
            texts.append(text)
            sized_pages.append(sized)
        sized = sized_pages[0] if sized_pages else []
        running = _running_lines(texts)
        sections = _sections(texts, sized_pages, running)
        title = None
        if reader.metadata and reader.metadata.title:
            title = normalise(str(reader.metadata.title)).strip() or None
        if not plausible_title(title, name):
            title = _pdf_heading(sized, running) or _first_raw_line(texts, running)
        count = len(reader.pages)
    except InvalidRecord:
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many types on damaged files
        raise InvalidRecord(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from None
    if count == 0:
        raise InvalidRecord("PDF has no pages")
    if not sections:
        if not _has_images(reader.pages):
            raise InvalidRecord(f"PDF has no text: its {count} page(s) hold no text layer and no images (blank, or "
                                "text drawn as shapes: run OCR on a rendering of it)")
        raise InvalidRecord(f"PDF has no extractable text in {count} page(s), only images (image-only or scanned? "
                            "run OCR first)")
    return Document(title, sections, pages=count)


def _has_images(pages: Any) -> bool:
    """Whether any page draws an image (an image XObject, in a form too, or an inline image); a page
    pypdf cannot list the images of counts as holding some (the OCR hint is then the safer one)."""
    for page in pages:
        try:
            if len(page.images):
                return True
        except Exception:  # pypdf raises many types on damaged resources
            return True
    return False


def _sections(texts: list[str], sized_pages: list[list[tuple[str, float]]], running: set[str]) -> list[Section]:
    """The pages cut at their headings (`pdf_sections.py`) when font sizes are known for every page
    with text; else one section per page."""
    from policykb.ingest.pdf_sections import sections

    if all(sized or not text.strip() for text, sized in zip(texts, sized_pages)):
        found = sections(sized_pages, lambda line: _shape(line) not in running,
                         lambda text: _clean_pdf_text(normalise(text)))
        if found:
            return found
    out = []
    for number, text in enumerate(texts, 1):
        text = "\n".join(line for line in text.splitlines() if _shape(line) not in running)
        if text.strip():
            out.append(Section(_clean_pdf_text(text), page=number))
    return out


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


def _page_text(page: Any, sized: list[tuple[str, float]]) -> str:
    """A page's text, and each of its lines with the largest font size in it (added to `sized`)."""
    line: list[str] = []
    size = 0.0

    def visit(text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        nonlocal size
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:  # a line ended
                sized.append(("".join(line), size))
                line.clear()
                size = 0.0
            if part.strip():
                line.append(part)
                scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) if len(tm) > 3 and len(cm) > 3 else 1.0
                size = max(size, abs(float(font_size or 0)) * (scale or 1.0))

    try:
        text = page.extract_text(visitor_text=visit) or ""
    except Exception:  # a font the visitor cannot measure: the text without sizes
        sized.clear()
        return page.extract_text() or ""
    sized.append(("".join(line), size))
    return text


def _pdf_heading(sized: list[tuple[str, float]], running: set[str]) -> str | None:
    """The title as page 1 shows it: its largest-font line near the top (with the lines right after
    it in the same size: a title set on two lines), when that font is larger than the body text's."""
    lines = [(" ".join(normalise(t).split()), s) for t, s in sized]
    lines = [(t, s) for t, s in lines if t and s > 0 and _shape(t) not in running]
    if len(lines) < 2:
        return None
    weights: dict[float, int] = {}
    for t, s in lines:
        weights[round(s, 1)] = weights.get(round(s, 1), 0) + len(t)
    body = max(weights, key=lambda s: weights[s])  # the size most of the text is set in
    top = lines[:15]
    largest = max(s for _, s in top)
    if largest < 1.15 * body:
        return None
    start = next(i for i, (_, s) in enumerate(top) if s == largest)
    parts = [top[start][0]]
    for t, s in top[start + 1: start + 3]:
        if abs(s - largest) > 0.05 or len(" ".join(parts + [t])) > 200:
            break
        parts.append(t)
    title = " ".join(parts)
    return _cut(title) if sum(c.isalpha() for c in title) >= 3 else None


def _first_raw_line(pages: list[str], running: set[str]) -> str | None:
    """The document's first line with three letters, as the page has it (before lines are joined
    into paragraphs), running headers left out."""
    for text in pages:
        for line in text.splitlines():
            if _shape(line) not in running and sum(c.isalpha() for c in line) >= 3:
                return _cut(line)
    return None


def _clean_pdf_text(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"(?<![.!?:;\n])\n(?!\n)", " ", text)  # unwrap lines inside paragraphs


# -- Markdown (`markdown.py`) --------------------------------------------------------------------


def _markdown(text: str) -> Document:
    meta, body = parse_front_matter(text)
    title, sections = read_markdown(normalise(body))
    return Document(title, sections, meta=meta)


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
    body = normalise(re.sub(r"\n\s*\n\s*", "\n\n", "".join(parser.parts)).strip())
    titles = [" ".join(normalise(t).split()) for t in (parser.title, parser.h1)]
    title = next((t for t in titles if plausible_title(t)), None)  # Word's HTML: <title>Microsoft Word - ...
    return Document(title, [Section(body)])

"""Render the fact-question documents (bench/data/fact_documents.yaml) to real PDFs: slide decks
in landscape with large headings and bullets, guides in portrait with headings and paragraphs,
every page with a running footer, and a sidecar with each document's metadata. Used by
bench/fact_questions.py and tests/test_chunking.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ROOT / "bench" / "data" / "fact_documents.yaml"
QUESTIONS = ROOT / "bench" / "data" / "fact_questions.yaml"


def documents() -> list[dict[str, Any]]:
    return yaml.safe_load(DOCUMENTS.read_text(encoding="utf-8"))


def questions() -> list[dict[str, Any]]:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def _latin1(text: str) -> str:
    return text.replace("\u20ac", "EUR").encode("latin-1", "replace").decode("latin-1")


def render(doc: dict[str, Any], folder: Path) -> Path:
    """`<folder>/<id>.pdf` and its `.meta.yaml` sidecar."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    slides = doc["kind"] == "slides"
    footer = _latin1(doc["title"])
    pages = len(doc["pages"])

    class Deck(FPDF):
        def footer(self) -> None:  # the running line of every page
            self.set_y(-14)
            self.set_font("Helvetica", size=8)
            self.cell(0, 6, f"{footer}  -  page {self.page_no()} of {pages}", align="C")

    pdf = Deck(orientation="L" if slides else "P")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)
    for blocks in doc["pages"]:
        pdf.add_page()
        for block in blocks:
            if block.startswith("# "):
                pdf.set_font("Helvetica", "B", 26 if slides else 16)
                pdf.multi_cell(0, 12 if slides else 8, _latin1(block[2:]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(4 if slides else 2)
            elif block.startswith("- "):
                pdf.set_font("Helvetica", size=18 if slides else 11)
                pdf.multi_cell(0, 10 if slides else 6, _latin1("-  " + block[2:]), new_x=XPos.LMARGIN,
                               new_y=YPos.NEXT)
                pdf.ln(1)
            else:
                pdf.set_font("Helvetica", size=18 if slides else 11)
                pdf.multi_cell(0, 10 if slides else 6, _latin1(block), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(3)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc['id']}.pdf"
    pdf.output(str(path))
    meta = {"id": doc["id"], "title": doc["title"], "kind": "guide" if doc["kind"] == "guide" else "document",
            "language": doc["language"]}
    path.with_name(f"{doc['id']}.meta.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    return path


def render_all(folder: Path) -> list[Path]:
    return [render(doc, folder) for doc in documents()]


def _field(hit: Any, name: str) -> Any:
    """A hit's field, from a Hit or from its JSON."""
    return hit[name] if isinstance(hit, dict) else getattr(hit, name)


def _folded(text: str) -> str:
    return " ".join(text.split()).lower()


def named_page(hits: list[Any], question: dict[str, Any], pages: dict[str, list[str]], depth: int = 5) -> bool:
    """Whether the question's document is among the first `depth` results and the page shown or
    one of the pages it also names (`also`) holds the answer phrase; `pages`: each document's page
    texts."""
    want = _folded(question["answer"])
    for hit in hits[:depth]:
        if _field(hit, "id") != question["doc"]:
            continue
        for number in [_field(hit, "page")] + [a["page"] for a in _field(hit, "also")]:
            if number and want in _folded(pages[question["doc"]][number - 1]):
                return True
    return False


def page_texts(folder: Path) -> dict[str, list[str]]:
    """Each rendered document's page texts, as the knowledge base reads them (by pypdf)."""
    from pypdf import PdfReader

    return {pdf.stem: [page.extract_text() or "" for page in PdfReader(pdf).pages] for pdf in sorted(folder.glob("*.pdf"))}


def answered(hits: list[Any], question: dict[str, Any], depth: int = 5) -> bool:
    """Whether the question's document is among the first `depth` results and shows a passage
    holding the answer phrase (spaces and case aside)."""
    want = _folded(question["answer"])
    return any(_field(hit, "id") == question["doc"] and want in _folded(_field(hit, "passage")) for hit in hits[:depth])

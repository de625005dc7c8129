"""Render the illustrative green-transition case study to a multi-page PDF.

Reads ``scripts/sample_case_study_green.md`` (Markdown with YAML front matter) and writes:

* ``ingest/case-studies/green-transition-case-study.pdf`` - the rendered document, with the
  PDF title metadata set, bold and larger ``#``/``##``/``###`` headings, wrapped paragraphs
  and list items, and page numbers in the footer;
* ``ingest/case-studies/green-transition-case-study.meta.yaml`` - a sidecar holding the front
  matter only (no body), so the PDF can be ingested with its facets.

fpdf2's core fonts only cover latin-1, so typographic punctuation is mapped to ASCII and any
remaining unsupported character is replaced before rendering.

Rerun from the repository root with::

    .venv/bin/python scripts/make_sample_pdf.py

(requires ``fpdf2`` and ``PyYAML``: ``.venv/bin/pip install fpdf2 pyyaml``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from fpdf import FPDF
from fpdf.enums import XPos, YPos

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "scripts" / "sample_case_study_green.md"
OUT_DIR = ROOT / "ingest" / "case-studies"
PDF_PATH = OUT_DIR / "green-transition-case-study.pdf"
META_PATH = OUT_DIR / "green-transition-case-study.meta.yaml"

ASCII_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
    "\u2022": "-", "\u2192": "->", "\u20ac": "EUR",
}
HEADING_SIZES = {1: 18.0, 2: 14.0, 3: 12.0}
BODY_SIZE = 11.0
LINE_HEIGHT = 5.5
LIST_ITEM = re.compile(r"^(?:[-*]|\d+\.)\s+")


def to_latin1(text: str) -> str:
    """Map typographic characters to ASCII and drop anything latin-1 cannot encode."""
    for char, replacement in ASCII_MAP.items():
        text = text.replace(char, replacement)
    return text.encode("latin-1", errors="replace").decode("latin-1")


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """Return the YAML front matter as a dict and the Markdown body."""
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", raw, re.DOTALL)
    if match is None:
        raise ValueError(f"{SOURCE} has no YAML front matter")
    return yaml.safe_load(match.group(1)), match.group(2)


def blocks(body: str) -> list[tuple[str, str]]:
    """Group Markdown lines into ("h1".."h3" | "li" | "p", text) blocks, joining wrapped lines."""
    result: list[tuple[str, str]] = []
    current: list[str] = []
    kind = "p"

    def flush() -> None:
        if current:
            result.append((kind, " ".join(current)))
            current.clear()

    for line in body.splitlines():
        stripped = line.strip()
        heading = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            result.append((f"h{len(heading.group(1))}", heading.group(2)))
        elif LIST_ITEM.match(stripped):
            flush()
            kind = "li"
            current.append(stripped)
        else:
            if not current:
                kind = "p"
            current.append(stripped)
    flush()
    return result


class CaseStudyPDF(FPDF):
    """A4 document with a centred page-number footer."""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("helvetica", "I", 8)
        self.cell(0, 10, f"Page {self.page_no()}/{{nb}}", align="C")


def render(meta: dict[str, Any], body: str) -> CaseStudyPDF:
    """Lay out the Markdown body, returning the finished PDF object."""
    pdf = CaseStudyPDF(format="A4")
    pdf.set_title(to_latin1(str(meta["title"])))
    pdf.set_subject(to_latin1(str(meta.get("summary", ""))))
    pdf.set_author(to_latin1(str(meta.get("organisation", ""))))
    pdf.set_keywords(to_latin1(", ".join(meta.get("challenges", []) + meta.get("themes", []))))
    pdf.set_creator("scripts/make_sample_pdf.py (fpdf2)")
    pdf.set_creation_date(datetime(2026, 11, 21, tzinfo=timezone.utc))  # fixed: reruns give the same bytes
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    for kind, text in blocks(body):
        text = to_latin1(text)
        if kind.startswith("h"):
            level = int(kind[1])
            pdf.ln(3 if level > 1 else 0)
            pdf.set_font("helvetica", "B", HEADING_SIZES[level])
            pdf.multi_cell(0, HEADING_SIZES[level] * 0.5, text.replace("**", ""), align="L",
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2)
        elif kind == "li":
            marker = LIST_ITEM.match(text)
            bullet = marker.group(0).strip() if marker else "-"
            bullet = "-" if bullet in {"-", "*"} else bullet
            pdf.set_font("helvetica", "", BODY_SIZE)
            pdf.set_x(pdf.l_margin + 4)
            pdf.cell(7, LINE_HEIGHT, bullet)
            pdf.multi_cell(0, LINE_HEIGHT, LIST_ITEM.sub("", text), markdown=True,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        else:
            pdf.set_font("helvetica", "", BODY_SIZE)
            pdf.multi_cell(0, LINE_HEIGHT, text, markdown=True,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2.5)
    return pdf


def main() -> None:
    meta, body = split_front_matter(SOURCE.read_text(encoding="utf-8"))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    render(meta, body).output(str(PDF_PATH))
    header = (
        "# Sidecar metadata for green-transition-case-study.pdf.\n"
        "# Generated by scripts/make_sample_pdf.py from scripts/sample_case_study_green.md;"
        " edit the source, not this file.\n"
    )
    META_PATH.write_text(
        header + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    print(f"wrote {PDF_PATH.relative_to(ROOT)} and {META_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

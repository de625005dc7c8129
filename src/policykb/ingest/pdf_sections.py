"""A PDF's own structure: its pages cut at their headings.

A heading is a line set in a font clearly larger than the document's body text (the size most of
its characters are set in). A slide's title, a guide's section heading: each starts a section
that holds the text up to the next heading, on its page; a section that runs on to the next page
keeps its heading there. So a slide deck becomes one small passage per slide, each with its own
title for context, and a guide's passages know their section.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from policykb.models import Section

HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body's
MAX_HEADING = 150  # characters: longer large-font text is a call-out, not a heading


def body_size(pages: list[list[tuple[str, float]]]) -> float:
    """The font size most of the document's characters are set in (0 if none is known)."""
    weights: dict[float, int] = {}
    for lines in pages:
        for text, size in lines:
            if size > 0:
                weights[round(size, 1)] = weights.get(round(size, 1), 0) + len(text.strip())
    return max(weights, key=lambda s: weights[s]) if weights else 0.0


def sections(pages: list[list[tuple[str, float]]], keep: Callable[[str], bool],
             clean: Callable[[str], str]) -> list[Section]:
    """Sections of a document's pages, given each page's lines with their font size; `keep` says
    whether a line is text (not a running header), `clean` makes a section's text."""
    body = body_size(pages)
    out: list[Section] = []
    heading: str | None = None
    for number, lines in enumerate(pages, 1):
        block: list[str] = []
        previous_was_heading = False

        def flush() -> None:
            text = clean("\n".join(block))
            if text.strip():
                out.append(Section(text, page=number, heading=heading))

        page_headings: list[str] = []
        for raw, size in lines:
            line = " ".join(raw.split())
            if not line or not keep(line):
                continue
            if body and size >= HEADING_RATIO * body and len(line) <= MAX_HEADING and _words(line):
                if previous_was_heading and heading:  # a heading set on two lines
                    heading = f"{heading} {line}"
                    page_headings[-1] = heading
                else:
                    flush()
                    block = []
                    heading = line
                    page_headings.append(line)
                previous_was_heading = True
                continue
            previous_was_heading = False
            block.append(line)
        if block:
            flush()
        elif page_headings and not any(s.page == number for s in out):  # a page that is only a heading
            out.append(Section(page_headings[-1], page=number, heading=heading))
    return out


def _words(line: str) -> bool:
    return len(re.findall(r"[^\W\d_]{2,}", line)) >= 1

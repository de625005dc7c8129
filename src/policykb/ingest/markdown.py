"""Markdown as a reader sees it: sections by heading, without the syntax of links, images,
reference definitions, autolinks, emphasis, code, bullets and quotes. Every pattern runs in linear
time on hostile lines."""

from __future__ import annotations

import re

from policykb.models import Section


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def read_markdown(body: str) -> tuple[str | None, list[Section]]:
    """A Markdown document's title (its first level-1 heading) and its sections, one per heading,
    each as a reader sees it (`strip_markdown`)."""
    title = None
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []

    def flush() -> None:
        chunk = "\n".join(lines).strip()
        if chunk:
            sections.append(Section(strip_markdown(chunk), heading=heading))

    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            lines = []
            heading = strip_markdown(match.group(2))
            if title is None and len(match.group(1)) == 1:
                title = heading
            continue
        lines.append(line)
    flush()
    return title, sections


# A link's text may hold one level of brackets ("[the [EU] call](...)"), its address one level of
# parentheses ("https://en.wikipedia.org/wiki/Cluster_(economics)") and a title ("... \"Title\")").
_LINK_TEXT = r"\[((?:[^\[\]\n]|\[[^\[\]\n]{0,500}\]){0,1000})\]"
_INLINE_LINK = re.compile(r"!?" + _LINK_TEXT + r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)")
_REFERENCE_LINK = re.compile(r"!?" + _LINK_TEXT + r"\[[^\[\]\n]*\]")  # [text][ref], [text][]
# [ref]: https://... "title" (an address, not "[Note]: words")
_REFERENCE = re.compile(r"^ {0,3}\[[^\[\]\n]+\]:[ \t]+<?[^\s<>]*[/.:#][^\s<>]*>?"
                        r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$\n?", re.M)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^\s<>]+|[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>")
# Emphasis: a run of one to three marks, text that holds no such mark (so a line of hostile "*a *a
# *a ..." costs linear time), the same run; not inside a word (snake_case_names stay).
_EMPHASIS = tuple(re.compile(rf"(?<!\w)({m}{{1,3}})(?=[^\s{m}])([^{m}\n]{{1,300}}?)(?<=[^\s{m}])\1(?!\w)")
                  for m in (r"\*", "_", "~"))


def strip_markdown(text: str) -> str:
    """A Markdown passage's text as a reader sees it: links, images (their alt text), reference
    definitions, autolinks, emphasis, code marks, list bullets and quote marks without their
    syntax; words joined by underscores (snake_case) and lone asterisks kept."""
    text = _REFERENCE.sub("", text)
    text = _INLINE_LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = text.replace("`", "")
    for _ in range(3):  # nested: **bold _and italic_**, **a *b* c**
        changed = 0
        for emphasis in _EMPHASIS:
            text, marks = emphasis.subn(r"\2", text)
            changed += marks
        if not changed:
            break
    text = re.sub(r"^\s*[-*+]\s+", "", text, flags=re.M)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    return text.strip()

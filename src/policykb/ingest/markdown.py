"""Markdown as a reader sees it: sections by heading, without the syntax of links, images,
reference definitions, autolinks, emphasis, code, bullets and quotes. Every pattern runs in linear
time on hostile lines."""

from __future__ import annotations

import re

from policykb.models import Section


def _heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and text ("## Results ##" -> (2, "Results")), else None; read without
    a backtracking pattern (one of "# a" + spaces + "#"s + spaces took cubic time)."""
    level = len(line) - len(line.lstrip("#"))
    if not 1 <= level <= 6 or len(line) == level or line[level] not in " \t":
        return None
    text = line[level:].strip()
    closed = text.rstrip("#")
    if closed != text and (not closed or closed[-1] in " \t"):  # a closing run of #s
        text = closed.rstrip()
    return (level, text) if text else None


def read_markdown(body: str) -> tuple[str | None, list[Section]]:
    """A Markdown document's title (its first level-1 heading) and its sections, one per heading,
    each as a reader sees it (`strip_markdown`); reference links only where their label is defined
    somewhere in the document."""
    labels = frozenset(m.group(1).casefold() for m in _DEFINITION.finditer(body) if _is_address(m.group(2)))
    title = None
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []

    def flush() -> None:
        chunk = "\n".join(lines).strip()
        if chunk:
            sections.append(Section(strip_markdown(chunk, labels), heading=heading))

    for line in body.splitlines():
        found = _heading(line)
        if found:
            flush()
            lines = []
            heading = strip_markdown(found[1], labels)
            if title is None and found[0] == 1:
                title = heading
            continue
        lines.append(line)
    flush()
    return title, sections


# Every pattern below reads a line in linear time: no two neighbouring parts can take the same
# characters, so a failed match does not try each way of sharing them out (tested on hostile lines).
# A link's text may hold one level of brackets ("[the [EU] call](...)"), its address one level of
# parentheses ("https://en.wikipedia.org/wiki/Cluster_(economics)") or angle brackets ("<my file.pdf>")
# and a title ("... \"Title\")").
_LINK_TEXT = r"\[((?:[^\[\]\n]|\[[^\[\]\n]{0,500}\]){0,1000})\]"
_INLINE_LINK = re.compile(r"!?" + _LINK_TEXT + r"\((?:<[^<>\n]*>|(?:[^()\s<]|\([^()\s]*\))*)"
                          r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'))?[ \t]*\)")
_REFERENCE_LINK = re.compile(r"!?" + _LINK_TEXT + r"\[([^\[\]\n]*)\]")  # [text][ref], [text][]
# [ref]: https://... "title": taken out when the address is one ("[Note]: words" stays)
_DEFINITION = re.compile(r"^ {0,3}\[([^\[\]\n]+)\]:[ \t]+(\S+)(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$\n?",
                         re.M)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^\s<>]+|[^\s<>@]+@[^\s<>@]+)>")
# Emphasis: a run of one to three marks, text that holds no such mark, the same run; not inside a
# word (snake_case_names stay) nor a path or address ("https://x.eu/_drafts_/plan").
_EMPHASIS = tuple(re.compile(rf"(?<![\w/\\])({m}{{1,3}})(?=[^\s{m}])([^{m}\n]{{1,300}}?)(?<=[^\s{m}])\1(?![\w/\\])")
                  for m in (r"\*", "_", "~"))
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+", re.M)
_QUOTE = re.compile(r"^[ \t]*>[ \t]?", re.M)


def _is_address(text: str) -> bool:
    return any(c in text for c in "/.:#")


def strip_markdown(text: str, labels: frozenset[str] = frozenset()) -> str:
    """A Markdown passage's text as a reader sees it: links, images (their alt text), reference
    links whose label is in `labels` (as `read_markdown` finds them) and definitions, autolinks,
    emphasis, code marks, list bullets and quote marks without their syntax; words joined by
    underscores (snake_case), lone asterisks and "[1][2]" with no such labels kept."""
    text = _DEFINITION.sub(lambda m: "" if _is_address(m.group(2)) else m.group(0), text)
    text = _INLINE_LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(lambda m: m.group(1) if (m.group(2) or m.group(1)).casefold() in labels
                               else m.group(0), text)
    text = _AUTOLINK.sub(lambda m: m.group(1) if "://" in m.group(1) or "." in m.group(1).rsplit("@", 1)[1]
                         else m.group(0), text)
    text = text.replace("`", "")
    for _ in range(3):  # nested: **bold _and italic_**, **a *b* c**
        changed = 0
        for emphasis in _EMPHASIS:
            text, marks = emphasis.subn(r"\2", text)
            changed += marks
        if not changed:
            break
    text = _BULLET.sub("", text)
    text = _QUOTE.sub("", text)
    return text.strip()

"""Split text into passages that fit the model, on sentence boundaries, with overlap."""

from __future__ import annotations

import re
from typing import Callable

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[]?[A-Z0-9À-Ý])")
_PARAGRAPH = re.compile(r"\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Sentences (roughly), paragraph breaks always ending one."""
    out: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            out.extend(s for s in _SENTENCE_END.split(paragraph) if s.strip())
    return out


def chunk_text(
    text: str,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap: int = 40,
) -> list[str]:
    """Greedy packing of sentences into chunks of at most `max_tokens` tokens.

    A sentence longer than a chunk is cut into word windows. Each new chunk starts with the
    last sentences of the previous one, up to `overlap` tokens, so no idea is cut in half.
    """
    pieces: list[tuple[str, int]] = []
    for sentence in split_sentences(text):
        n = count_tokens(sentence)
        if n <= max_tokens:
            pieces.append((sentence, n))
        else:
            pieces.extend(_word_windows(sentence, count_tokens, max_tokens))
    chunks: list[str] = []
    current: list[tuple[str, int]] = []
    size = 0
    for sentence, n in pieces:
        if current and size + n > max_tokens:
            chunks.append(" ".join(s for s, _ in current))
            carried: list[tuple[str, int]] = []
            carried_size = 0
            for prev in reversed(current):
                if carried_size + prev[1] > overlap or carried_size + prev[1] + n > max_tokens:
                    break
                carried.insert(0, prev)
                carried_size += prev[1]
            current, size = carried, carried_size
        current.append((sentence, n))
        size += n
    if current:
        chunks.append(" ".join(s for s, _ in current))
    return chunks


def _word_windows(sentence: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[tuple[str, int]]:
    words = sentence.split()
    out: list[tuple[str, int]] = []
    start = 0
    while start < len(words):
        end = len(words)
        # Shrink proportionally until the window fits; words rarely exceed a few tokens each.
        while True:
            window = " ".join(words[start:end])
            n = count_tokens(window)
            if n <= max_tokens or end - start <= 1:
                break
            end = start + max(1, int((end - start) * max_tokens / n * 0.95))
        out.append((window, n))
        start = end
    return out

"""Progress of a long ingest: a bar on a terminal, and elsewhere (a log, CI, a pipe) a line every
`EVERY` seconds, so that an embedding of thousands of passages is never minutes of silence."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
EVERY = 30.0  # seconds between two lines when the output is not a terminal


class Lines:
    """tqdm's `update`/`close`, as a line now and then: "embedding: 2,560 of 11,653 passages (22 %)"."""

    def __init__(self, total: int, desc: str, unit: str, stream: TextIO | None = None) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= EVERY and self.done < self.total:
            self.last = now
            share = f" ({100 * self.done // self.total} %)" if self.total else ""
            print(f"{self.desc}: {self.done:,} of {self.total:,} {self.unit}s{share}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


def bar(total: int, desc: str, unit: str, enabled: bool) -> Any:
    """A tqdm bar on a terminal, `Lines` elsewhere, or one that shows nothing (`enabled` False)."""
    if enabled and not sys.stderr.isatty():
        return Lines(total, desc, unit)
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit=unit, leave=False)


def iterate(items: list[T], desc: str, unit: str, enabled: bool) -> Iterator[T]:
    """The items, counted on a `bar` as they are taken."""
    shown = bar(len(items), desc, unit, enabled)
    try:
        for item in items:
            yield item
            shown.update(1)
    finally:
        shown.close()



"""A throwaway copy of a knowledge base for benchmarks that change it (hold items out, add copies)."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from policykb.config import Settings
from policykb.kb import KnowledgeBase


@contextmanager
def scratch_kb(home: Path, prefix: str) -> Iterator[KnowledgeBase]:
    """The knowledge base in `home`, copied to a temporary folder that is removed afterwards. Only
    the main model is kept in step: what these benchmarks measure (facet suggestions, duplicate
    warnings) uses only that one, and a home built without the multilingual model has no vectors
    for it (a write would refuse to go on)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        shutil.copytree(home, work / "kb")
        with KnowledgeBase(Settings(home=work / "kb", multilingual_model="none")) as kb:
            yield kb
    finally:
        shutil.rmtree(work, ignore_errors=True)

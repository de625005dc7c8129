"""Topics: the values of the taxonomy's thematic facets (strategic challenge, type of support,
thematic priority) as things a question can be about.

A broad question ("how do regions support cluster internationalisation?") is about a value of the
taxonomy more than about any one text: the items labelled with that value are relevant to it even
when their own wording is further from the question than a narrow match would be. Each value is
read as its label and synonyms, embedded by the model that embeds the question (so a question in
Finnish finds the value as well as an English one); the value closest to the question, when it
is close enough (`Cutoff.topic`, calibrated per model), is the question's topic. In the same way,
everyday subjects (`everyday.yaml`) tell how much a question looks like one about everyday life.

Embedding such texts takes a model a second or two (e5 reads ~20 texts a second), which a CLI
search from a cold process would pay each time: the vectors are kept in the model cache
(`POLICYKB_MODEL_CACHE`), in a file named by the model, its runtime and the texts, so any change of
either makes a new one. The file also holds the first text's vector embedded alone, and is used
only if the model still gives that one (not weights converted anew under the same name; alone,
since an int8 model's vector of a text moves a little with the batch it is in). A value's vector
from the file is the one the model gave.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

if TYPE_CHECKING:
    from policykb.encoders.embed import Embedder
    from policykb.taxonomy import Taxonomy

log = logging.getLogger("policykb")
TOPIC_FACETS = ("challenge", "support", "theme")


@dataclass(frozen=True)
class Topic:
    facet: str
    value: str
    label: str
    similarity: float

    def as_dict(self) -> dict[str, object]:
        return {"facet": self.facet, "value": self.value, "label": self.label, "similarity": round(self.similarity, 4)}


class EmbeddedTexts:
    """Texts embedded by one model at first use, the vectors kept in the model cache (module text).
    `as_queries`: embedded as questions are (e5 reads "query: " before them), for texts compared
    with questions as their like rather than as passages that answer them."""

    folder = "topics"

    def __init__(self, texts: list[str], cache: Path | None = None, as_queries: bool = False) -> None:
        self.texts = texts
        self.cache = cache  # a folder for the vectors of real models (None: none kept)
        self.as_queries = as_queries
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def vectors(self, embedder: Embedder) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                path = self._cached(embedder)
                saved = _read(path, len(self.texts) + 1, embedder.dim) if path else None
                probe = self._embed(embedder, self.texts[:1]) if path else None
                if saved is not None and probe is not None and np.allclose(saved[-1], probe[0], atol=1e-4):
                    vectors = saved[:-1]
                else:  # nothing saved, or the same name and runtime with other weights (a model converted anew)
                    vectors = (self._embed(embedder, self.texts) if self.texts
                               else np.zeros((0, embedder.dim), np.float32))
                    if path and probe is not None:
                        _write(path, np.vstack([vectors, probe]))
                self._vectors = vectors
                self._vectors.setflags(write=False)
            return self._vectors

    def _embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        if not self.as_queries:
            return embedder.encode(texts)
        return np.array([embedder.encode_query(text) for text in texts], dtype=np.float32).reshape(-1, embedder.dim)

    def _cached(self, embedder: Embedder) -> Path | None:
        """Where this model's vectors of these texts are kept; None for a model computed in numpy
        (the test embedder: nothing to save) or without a cache folder."""
        runtime = getattr(embedder, "runtime", "numpy")
        if self.cache is None or runtime == "numpy" or not self.texts:
            return None
        parts = [embedder.name, runtime, str(embedder.dim), *(["query"] if self.as_queries else []), *self.texts]
        key = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
        return self.cache / self.folder / f"{key[:24]}.npy"


class TopicIndex(EmbeddedTexts):
    """The thematic facet values of a taxonomy, embedded by one model (at first use)."""

    def __init__(self, taxonomy: Taxonomy, cache: Path | None = None) -> None:
        self.values: list[tuple[str, str, str]] = []  # (facet, value id, label)
        texts: list[str] = []
        for facet in TOPIC_FACETS:
            if facet not in taxonomy.names:
                continue
            for value in taxonomy.facet(facet).values.values():
                self.values.append((facet, value.id, value.label))
                words = [value.label, *[s for s in value.synonyms if s.lower() != value.label.lower()]]
                texts.append(f"{value.label}: {', '.join(words[1:])}" if len(words) > 1 else value.label)
        super().__init__(texts, cache)

    def closest(self, query_vector: np.ndarray, embedder: Embedder, threshold: float) -> Topic | None:
        """The value closest to the question, if its similarity reaches `threshold`."""
        vectors = self.vectors(embedder)
        if not len(vectors):
            return None
        similarity = vectors @ query_vector
        best = int(np.argmax(similarity))
        if similarity[best] < threshold:
            return None
        facet, value, label = self.values[best]
        return Topic(facet, value, label, float(similarity[best]))


class Everyday(EmbeddedTexts):
    """Everyday subjects (`everyday.yaml`: cooking, pets, the weather, sport...) embedded as
    questions: how close a question is to the nearest of them says how much it looks like a
    question about everyday life, which a model whose similarities lie close together
    (multilingual-e5-small) also finds near policy texts (`Cutoff.everyday`)."""

    folder = "everyday"

    def __init__(self, cache: Path | None = None, texts: list[str] | None = None) -> None:
        if texts is None:
            texts = yaml.safe_load(resources.files("policykb").joinpath("everyday.yaml").read_text(encoding="utf-8"))
        super().__init__(list(texts or []), cache, as_queries=True)

    def closeness(self, query_vector: np.ndarray, embedder: Embedder) -> float | None:
        """The question's similarity with the everyday subject nearest to it (None: no subjects)."""
        vectors = self.vectors(embedder)
        return float((vectors @ query_vector).max()) if len(vectors) else None


def _read(path: Path, rows: int, dim: int) -> np.ndarray | None:
    """The saved rows, if the file is there and has their shape (else they are computed again)."""
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return vectors if vectors.shape == (rows, dim) and vectors.dtype == np.float32 else None


def _write(path: Path, vectors: np.ndarray) -> None:
    """Save under a temporary name, then rename: a process reading at the same time never sees half
    a file. A cache that cannot be written is no error (the vectors are computed again next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".topics-", suffix=".npy", dir=path.parent)
    except OSError as exc:
        log.debug("topic vectors not cached in %s: %s", path.parent, exc)
        return
    try:
        with os.fdopen(handle, "wb") as out:
            np.save(out, vectors, allow_pickle=False)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        log.debug("topic vectors not cached in %s: %s", path.parent, exc)

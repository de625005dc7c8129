"""Topics: the values of the taxonomy's thematic facets (strategic challenge, type of support,
thematic priority) as things a question can be about.

A broad question ("how do regions support cluster internationalisation?") is about a value of the
taxonomy more than about any one text: the items labelled with that value are relevant to it even
when their own wording is further from the question than a narrow match would be. Each value is
read as its label and synonyms, embedded by the model that embeds the question (so a question in
Finnish finds the value as well as an English one); the value closest to the question, when it
is close enough (`Cutoff.topic`, calibrated per model), is the question's topic.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .embed import Embedder
    from .taxonomy import Taxonomy

TOPIC_FACETS = ("challenge", "support", "theme")


@dataclass(frozen=True)
class Topic:
    facet: str
    value: str
    label: str
    similarity: float

    def as_dict(self) -> dict[str, object]:
        return {"facet": self.facet, "value": self.value, "label": self.label, "similarity": round(self.similarity, 4)}


class TopicIndex:
    """The thematic facet values of a taxonomy, embedded by one model (at first use)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.values: list[tuple[str, str, str]] = []  # (facet, value id, label)
        self.texts: list[str] = []
        for facet in TOPIC_FACETS:
            if facet not in taxonomy.names:
                continue
            for value in taxonomy.facet(facet).values.values():
                self.values.append((facet, value.id, value.label))
                words = [value.label, *[s for s in value.synonyms if s.lower() != value.label.lower()]]
                self.texts.append(f"{value.label}: {', '.join(words[1:])}" if len(words) > 1 else value.label)
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def vectors(self, embedder: Embedder) -> np.ndarray:
        with self._lock:
            if self._vectors is None:
                self._vectors = embedder.encode(self.texts) if self.texts else np.zeros((0, embedder.dim), np.float32)
                self._vectors.setflags(write=False)
            return self._vectors

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

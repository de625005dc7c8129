"""Topic vectors: kept in the model cache, so a cold process does not embed the taxonomy again."""

from __future__ import annotations

import numpy as np
import pytest

from policykb.encoders.embed import HashingEmbedder
from policykb.taxonomy import Taxonomy
from policykb.topics import Everyday, TopicIndex


class CountingModel(HashingEmbedder):
    """The test embedder posing as a real model (a runtime other than numpy), counting its calls."""

    def __init__(self, runtime: str = "onnxruntime-float32") -> None:
        super().__init__()
        self.runtime = runtime
        self.calls = 0  # calls that embed the topics (not the one text that checks a saved file)
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts) > 1
        self.texts += len(texts)
        return super().encode(texts)

    def encode_query(self, text: str) -> np.ndarray:
        self.queries = getattr(self, "queries", 0) + 1
        return super().encode([f"query {text}"])[0]  # (not the text's vector as a passage)


def test_topic_vectors_are_read_back_from_the_cache_exactly(tmp_path):
    model = CountingModel()
    first = TopicIndex(Taxonomy.default(), tmp_path).vectors(model)
    embedded = model.texts
    again = TopicIndex(Taxonomy.default(), tmp_path).vectors(model)  # another process, say
    assert embedded > 30 and model.texts == embedded + 1  # read back: only the first text embedded, as a check
    assert np.array_equal(first, again) and again.dtype == np.float32
    assert len(list((tmp_path / "topics").glob("*.npy"))) == 1


def test_another_model_runtime_or_taxonomy_gets_vectors_of_its_own(tmp_path):
    taxonomy = Taxonomy.default()
    TopicIndex(taxonomy, tmp_path).vectors(CountingModel())
    TopicIndex(taxonomy, tmp_path).vectors(CountingModel("onnxruntime-int8"))
    other = TopicIndex(taxonomy, tmp_path)
    other.texts[0] += " (edited)"
    model = CountingModel()
    other.vectors(model)
    assert model.calls == 1
    assert len(list((tmp_path / "topics").glob("*.npy"))) == 3


def test_a_damaged_or_unwritable_cache_means_computing_again(tmp_path):
    model = CountingModel()
    index = TopicIndex(Taxonomy.default(), tmp_path)
    index.vectors(model)
    [saved] = (tmp_path / "topics").glob("*.npy")
    saved.write_bytes(b"not an array")
    assert np.array_equal(TopicIndex(Taxonomy.default(), tmp_path).vectors(model), index.vectors(model))
    assert model.calls == 2
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    assert TopicIndex(Taxonomy.default(), blocked).vectors(model).shape == index.vectors(model).shape
    assert model.calls == 3 and not list(tmp_path.glob(".topics-*"))


def test_the_test_embedder_writes_no_cache(tmp_path):
    TopicIndex(Taxonomy.default(), tmp_path).vectors(HashingEmbedder())
    assert not (tmp_path / "topics").exists()


def test_vectors_of_other_weights_under_the_same_name_are_computed_again(tmp_path):
    class Retrained(CountingModel):  # the same name and runtime, other vectors
        def encode(self, texts):
            return np.ascontiguousarray(super().encode(texts)[:, ::-1])

    old = TopicIndex(Taxonomy.default(), tmp_path).vectors(CountingModel())
    new_model = Retrained()
    new = TopicIndex(Taxonomy.default(), tmp_path).vectors(new_model)
    assert np.array_equal(new, new_model.encode(TopicIndex(Taxonomy.default()).texts))
    assert not np.array_equal(new, old)
    assert np.array_equal(TopicIndex(Taxonomy.default(), tmp_path).vectors(new_model), new)  # saved in its place


def test_everyday_subjects_are_embedded_as_questions_and_kept_apart(tmp_path):
    model = CountingModel()
    everyday = Everyday(tmp_path)
    vectors = everyday.vectors(model)
    assert len(everyday.texts) >= 50 and "the weather today and tomorrow" in everyday.texts
    assert model.texts == 0 and model.queries == len(everyday.texts) + 1  # as questions (and the check)
    assert np.array_equal(vectors[3], model.encode_query(everyday.texts[3]))
    assert len(list((tmp_path / "everyday").glob("*.npy"))) == 1
    again = CountingModel()
    assert np.array_equal(Everyday(tmp_path).vectors(again), vectors) and again.queries == 1  # read back
    weather = model.encode_query("the weather today and tomorrow")
    assert everyday.closeness(weather, model) == pytest.approx(1.0)
    assert Everyday(tmp_path, texts=[]).closeness(weather, model) is None

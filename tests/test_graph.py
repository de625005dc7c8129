"""The encoder graph written from numpy weights (`encoders/graph.py`): the fused form computes what
the plain one does, padded batches included."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest

from policykb.encoders import graph


def _weights(hidden: int = 32, heads: int = 4, layers: int = 2, seed: int = 7) -> graph.Weights:
    rng = np.random.default_rng(seed)

    def linear(i: int, o: int) -> tuple[np.ndarray, np.ndarray]:
        return (rng.normal(0, 0.2, (i, o)).astype(np.float32), rng.normal(0, 0.1, o).astype(np.float32))

    def norm() -> tuple[np.ndarray, np.ndarray]:
        return (1 + rng.normal(0, 0.1, hidden)).astype(np.float32), rng.normal(0, 0.1, hidden).astype(np.float32)

    weights = graph.Weights(hidden, heads, 1e-12, norm())
    for _ in range(layers):
        weights.layers.append(graph.Layer(linear(hidden, hidden), linear(hidden, hidden), linear(hidden, hidden),
                                          linear(hidden, hidden), norm(), linear(hidden, 4 * hidden),
                                          linear(4 * hidden, hidden), norm()))
    return weights


def _run(path, embeddings: np.ndarray, mask: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"embeddings": embeddings, "attention_mask": mask})[0]


@pytest.mark.parametrize("lengths", [[1], [5], [7, 3, 1], [2, 9, 9, 4]])
def test_the_fused_graph_gives_the_plain_graphs_vectors(tmp_path, lengths):
    weights = _weights()
    graph.build(weights, tmp_path / "plain.onnx")
    graph.build(weights, tmp_path / "fused.onnx", fused=True)
    rng = np.random.default_rng(len(lengths))
    embeddings = rng.normal(0, 1, (len(lengths), max(lengths), 32)).astype(np.float32)
    mask = np.array([[1] * n + [0] * (max(lengths) - n) for n in lengths], dtype=np.int64)
    plain, fused = _run(tmp_path / "plain.onnx", embeddings, mask), _run(tmp_path / "fused.onnx", embeddings, mask)
    assert fused.shape == (len(lengths), 32)
    np.testing.assert_allclose(fused, plain, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-5)
    if len(lengths) > 1:  # the padding is masked: a sequence's vector does not depend on its batch
        alone = _run(tmp_path / "fused.onnx", embeddings[:1, :lengths[0]], mask[:1, :lengths[0]])
        np.testing.assert_allclose(fused[:1], alone, atol=1e-5)


def test_the_fused_graph_has_one_attention_operator_a_layer(tmp_path):
    weights = _weights(layers=3)
    graph.build(weights, tmp_path / "plain.onnx")
    graph.build(weights, tmp_path / "fused.onnx", fused=True)
    plain, fused = (onnx.load(str(tmp_path / f"{name}.onnx")).graph.node for name in ("plain", "fused"))
    kinds = [node.op_type for node in fused]
    assert kinds.count("Attention") == 3 and kinds.count("SkipLayerNormalization") == 6
    assert "Softmax" not in kinds and "Transpose" not in kinds
    assert len(fused) < len(plain) / 3

"""A BERT-style encoder (BERT, XLM-RoBERTa: post-norm layers, GELU, mean pooling) written as an
ONNX graph from plain numpy weights, so that ONNX Runtime runs it without PyTorch.

The graph takes the summed input embeddings (word + position + token type, gathered in numpy by
the caller, so a 250k-word table never sits in memory as float32) and the attention mask, and
returns the mean-pooled, L2-normalised sentence vectors. `quantize` turns its matrices into int8
(ONNX Runtime's dynamic quantisation: activations quantised per call, weights per column).

Building needs the `onnx` package; running it needs only `onnxruntime`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

OPSET = 17  # LayerNormalization is an operator from 17 on
MICROSOFT = "com.microsoft"  # ONNX Runtime's own operators (fused attention)


@dataclass
class Layer:
    """One transformer layer's weights, matrices as (inputs, outputs)."""

    q: tuple[np.ndarray, np.ndarray]
    k: tuple[np.ndarray, np.ndarray]
    v: tuple[np.ndarray, np.ndarray]
    attention_out: tuple[np.ndarray, np.ndarray]
    attention_norm: tuple[np.ndarray, np.ndarray]
    ffn_in: tuple[np.ndarray, np.ndarray]
    ffn_out: tuple[np.ndarray, np.ndarray]
    output_norm: tuple[np.ndarray, np.ndarray]


@dataclass
class Weights:
    hidden: int
    heads: int
    eps: float
    embedding_norm: tuple[np.ndarray, np.ndarray]
    layers: list[Layer] = field(default_factory=list)


def build(weights: Weights, path: Path, fused: bool = False) -> None:
    """Write the encoder graph to `path` (float32). `fused`: each layer's attention is ONNX
    Runtime's own operator (`com.microsoft` Attention: the three projections read as one matrix,
    heads split, scaled, masked and joined inside it) and each residual sum with its layer norm one
    SkipLayerNormalization; the arithmetic is the same (vectors within 1e-6 of the plain graph's),
    in ~40 fewer operators a layer. A graph to be quantised (`quantize`) is written plain: its
    projections must stay MatMul operators to become integer ones."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = iter(range(10**9))

    def const(value: np.ndarray | float | list[int], dtype: Any = np.float32) -> str:
        name = f"c{next(counter)}"
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(kind: str, *inputs: str, **attrs: Any) -> str:
        out = f"t{next(counter)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def linear(x: str, wb: tuple[np.ndarray, np.ndarray]) -> str:
        return op("Add", op("MatMul", x, const(wb[0])), const(wb[1]))

    def norm(x: str, wb: tuple[np.ndarray, np.ndarray]) -> str:
        return op("LayerNormalization", x, const(wb[0]), const(wb[1]), axis=-1, epsilon=weights.eps)

    hidden, heads = weights.hidden, weights.heads
    # (The plain graph is written in the order it always was, so its file is byte for byte the same
    # as before the fused form existed: e5's int8 conversion too. Hence the two branches each cast
    # the mask and normalise the embeddings, rather than one shared preamble.)
    if fused:
        mask = op("Cast", "attention_mask", to=TensorProto.FLOAT)
        x = norm("embeddings", weights.embedding_norm)
        mask_index = op("Cast", "attention_mask", to=TensorProto.INT32)
        for layer in weights.layers:
            x = _fused_layer(weights, layer, x, mask_index, op, const)
    else:
        head = hidden // heads
        split_heads = const([0, 0, heads, head], np.int64)
        # attention bias: 0 where the mask is 1, a large negative number where it is 0; (B, 1, 1, L)
        mask = op("Cast", "attention_mask", to=TensorProto.FLOAT)
        bias = op("Unsqueeze", op("Mul", op("Sub", const(1.0), mask), const(-1e9)), const([1, 2], np.int64))
        x = norm("embeddings", weights.embedding_norm)
        for layer in weights.layers:
            q = op("Transpose", op("Reshape", linear(x, layer.q), split_heads), perm=[0, 2, 1, 3])
            k = op("Transpose", op("Reshape", linear(x, layer.k), split_heads), perm=[0, 2, 3, 1])
            v = op("Transpose", op("Reshape", linear(x, layer.v), split_heads), perm=[0, 2, 1, 3])
            scores = op("Add", op("Div", op("MatMul", q, k), const(math.sqrt(head))), bias)
            context = op("MatMul", op("Softmax", scores, axis=-1), v)
            context = op("Reshape", op("Transpose", context, perm=[0, 2, 1, 3]), const([0, 0, hidden], np.int64))
            x = norm(op("Add", x, linear(context, layer.attention_out)), layer.attention_norm)
            h = linear(x, layer.ffn_in)
            gelu = op("Mul", op("Mul", h, const(0.5)), op("Add", op("Erf", op("Div", h, const(math.sqrt(2.0)))),
                                                           const(1.0)))
            x = norm(op("Add", x, linear(gelu, layer.ffn_out)), layer.output_norm)
    # mean over the real tokens, then L2 normalisation
    weight = op("Unsqueeze", mask, const([2], np.int64))
    total = op("ReduceSum", op("Mul", x, weight), const([1], np.int64), keepdims=0)
    count = op("ReduceSum", weight, const([1], np.int64), keepdims=0)
    mean = op("Div", total, op("Max", count, const(1.0)))
    length = op("Sqrt", op("Max", op("ReduceSum", op("Mul", mean, mean), const([1], np.int64), keepdims=1),
                            const(1e-24)))
    nodes.append(helper.make_node("Div", [mean, length], ["sentence_embedding"]))

    graph = helper.make_graph(
        nodes, "encoder",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "tokens", hidden]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(MICROSOFT, 1)] if fused else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="policykb")
    model.ir_version = min(model.ir_version, 9)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _fused_layer(weights: Weights, layer: Layer, x: str, mask_index: str, op: Callable[..., str],
                 const: Callable[..., str]) -> str:
    """One post-norm layer in ONNX Runtime's fused operators (`build(fused=True)`)."""
    projections = np.concatenate([layer.q[0], layer.k[0], layer.v[0]], axis=1)
    biases = np.concatenate([layer.q[1], layer.k[1], layer.v[1]])
    context = op("Attention", x, const(projections), const(biases), mask_index, domain=MICROSOFT,
                 num_heads=weights.heads)

    def add_and_norm(y: str, residual: str, bias: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> str:
        return op("SkipLayerNormalization", y, residual, const(wb[0]), const(wb[1]), const(bias), domain=MICROSOFT,
                  epsilon=weights.eps)

    x = add_and_norm(op("MatMul", context, const(layer.attention_out[0])), x, layer.attention_out[1],
                     layer.attention_norm)
    h = op("BiasGelu", op("MatMul", x, const(layer.ffn_in[0])), const(layer.ffn_in[1]),  # GELU of erf: exact
           domain=MICROSOFT)
    return add_and_norm(op("MatMul", h, const(layer.ffn_out[0])), x, layer.ffn_out[1], layer.output_norm)


def quantize(source: Path, target: Path) -> None:
    """An int8 copy of the graph at `source`: every matrix multiplication by a weight becomes an
    integer one (weights int8 per output column, activations quantised on the fly)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])

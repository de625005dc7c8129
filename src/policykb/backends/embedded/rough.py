"""`RoughScan`: a flat index's vectors as 8-bit codes, scanned several times faster than the float
vectors (100,000 x 384 on one thread: 1.5-2.3 against 10 ms), each score with a bound on its error.

A vector x is stored as a scale s and codes c (int8, |c| <= 127) with x^ = s * c, and its error
e = ||x - x^|| is known exactly when the codes are made. The question q is coded the same way
with 7-bit codes, q^ = t * d (ROUNDS > 1 codes what each round left over again). The integer
product d . c is exact (ONNX Runtime's MatMulInteger, accumulating in int32), so

    |q . x - q^ . x^|  <=  |q . (x - x^)| + |(q - q^) . x^|  <=  ||q|| * e + ||q - q^|| * ||x^||

(Cauchy-Schwarz on each part), plus 1e-5 of ||q|| (e + ||x^||) for the float arithmetic on
either side. At 100,000 MiniLM vectors the bound is ~0.02 (the true error at most ~0.005), and a
caller that compares a rough score with a level reads the exact score only where the bound
straddles it (a few passages in 100,000). One round of question codes: a second narrows the bound
to ~0.007 but costs more than the exact reads it spares (SciFact questions over 100,000
passages, hybrid p50 14.9 against 16.2 ms).

Why 7-bit codes for the question: the integer product of an unsigned and a signed byte sums pairs
in 16 bits on AVX2 (`vpmaddubsw`); unsigned bytes below 128 keep every pair below 2 x 127 x 127 =
32,258, so it never saturates (a test checks the product against numpy's on the extreme codes).
The question's codes are shifted by +64 into 1..127, and the shift is taken off again with each
vector's code sum.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np

CHUNK = 16384  # vectors coded at a time (bounds the float64 working memory)
SHIFT = 64  # the question's codes (-63..63) are sent as unsigned bytes c + SHIFT
FLOAT_SLACK = 1e-5  # float32 arithmetic's share of a score, relative: far below this
ROUNDS = 1  # rounds of the question's codes: each leaves ~1/64 of what it was given
# The codes are scanned where that takes at most this share of the float product's time (the product
# read in two halves at once: product.py): the rest pays for what the codes add to a question
# (bounds, the exact scores read: ~0.3 ms at SciFact, ~0.8 ms at 100,000 vectors).
SCAN_SHARE = 0.85


class RoughScan:
    """8-bit codes of `vectors` (n x dim float32) and what their error bounds need; with `residual`,
    also 4-bit codes of what the 8-bit ones leave over (`refined`)."""

    def __init__(self, vectors: np.ndarray, residual: bool = False) -> None:
        n, dim = vectors.shape
        self.dim = dim
        self.residual = Residual(n, dim) if residual else None
        self.codes = np.empty((dim, n), dtype=np.int8)  # one column a vector: the product's layout
        self.scale = np.empty(n, dtype=np.float32)
        self.error = np.empty(n, dtype=np.float32)  # ||x - x^||
        self.norm = np.empty(n, dtype=np.float32)  # ||x^||
        self.shift = np.empty(n, dtype=np.float32)  # SHIFT x the vector's code sum (exact in float32)
        for start in range(0, n, CHUNK):
            part = np.asarray(vectors[start:start + CHUNK], dtype=np.float32)
            end = start + len(part)
            top = np.abs(part).max(axis=1)
            scale = np.where(top > 0, top / np.float32(127), np.float32(1))
            codes = np.rint(part / scale[:, None])
            np.clip(codes, -127, 127, out=codes)
            self.codes[:, start:end] = codes.T
            self.scale[start:end] = scale
            self.shift[start:end] = SHIFT * codes.sum(axis=1)
            if self.residual is not None:
                self.residual.code(start, part, codes, scale)
            codes *= scale[:, None]  # now the decoded vectors
            self.norm[start:end] = np.linalg.norm(codes, axis=1)
            codes -= part
            self.error[start:end] = np.linalg.norm(codes, axis=1)
        self._session = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self.scale.shape[0])

    @property
    def nbytes(self) -> int:
        """The memory its codes and bounds take (the 4-bit codes too)."""
        parts = (self.codes, self.scale, self.error, self.norm, self.shift)
        return sum(int(part.nbytes) for part in parts) + (self.residual.nbytes if self.residual is not None else 0)

    def appended(self, vectors: np.ndarray) -> RoughScan:
        """These codes followed by those of `vectors` (a new object: searches holding this one go
        on with it). Each vector's codes depend on it alone, so they equal codes made anew."""
        return RoughScan.joined([self, RoughScan(vectors, self.residual is not None)], self.dim)

    def kept(self, keep: np.ndarray) -> RoughScan:
        """The codes of the vectors `keep` (a mask) marks, in order (a new object)."""
        codes = np.compress(keep, self.codes, axis=1)  # (5x quicker than indexing by the mask)
        residual = None if self.residual is None else self.residual.kept(keep)
        return self._with(codes, self.scale[keep], self.error[keep], self.norm[keep], self.shift[keep], residual)

    @classmethod
    def joined(cls, parts: list[RoughScan], dim: int) -> RoughScan:
        """The codes of several parts one after the other, in one copy (an index read in batches)."""
        if not parts:
            return cls(np.zeros((0, dim), dtype=np.float32))
        out = parts[0]
        residual = None
        if all(p.residual is not None for p in parts):
            residual = Residual.joined([p.residual for p in parts if p.residual is not None])
        return out._with(np.concatenate([p.codes for p in parts], axis=1),
                         *(np.concatenate([getattr(p, name) for p in parts])
                           for name in ("scale", "error", "norm", "shift")),
                         residual)

    def _with(self, codes: np.ndarray, scale: np.ndarray, error: np.ndarray, norm: np.ndarray,
              shift: np.ndarray, residual: Residual | None = None) -> RoughScan:
        out = RoughScan.__new__(RoughScan)
        out.dim, out.codes, out.scale, out.error, out.norm, out.shift = self.dim, codes, scale, error, norm, shift
        out.residual = residual
        out._session, out._lock = self._session, threading.Lock()  # (one session serves every size)
        return out

    def scores(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every vector's rough inner product with `query` and how far the exact one may lie from it."""
        q = np.asarray(query, dtype=np.float64).reshape(self.dim)
        rough = None
        left = q
        for _ in range(ROUNDS):
            codes, scale = _round(left)
            product = self._product(codes).astype(np.float32)  # exact integer products (< 2^24)
            product -= self.shift  # (the question's shift taken off again)
            product *= np.float32(scale)
            rough = product if rough is None else rough + product
            left = left - scale * (codes.astype(np.float64) - SHIFT)
        rough *= self.scale
        size = float(np.linalg.norm(q))  # ||q|| e + ||q - q^|| ||x^||, plus FLOAT_SLACK of ||q|| (e + ||x^||)
        bound = self.error * np.float32(size * (1 + FLOAT_SLACK))
        bound += self.norm * np.float32(float(np.linalg.norm(left)) + FLOAT_SLACK * size)
        return rough, bound

    def refined(self, query: np.ndarray, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closer scores of the vectors at `entries` (needs `residual`) and their bounds: the 8-bit
        and 4-bit codes decoded and multiplied with the question itself in float64, so that only
        the 4-bit codes' own error remains, ||q|| e2 (~0.0006 for MiniLM against ~0.02 for the
        scan), plus FLOAT_SLACK of ||q|| (e2 + ||decoded||)."""
        assert self.residual is not None
        entries = np.asarray(entries, dtype=np.int64)
        q = np.asarray(query, dtype=np.float64).reshape(self.dim)
        decoded = self.codes[:, entries].T.astype(np.float64)
        decoded *= self.scale[entries].astype(np.float64)[:, None]
        decoded += self.residual.decoded(entries, self.dim)
        size = float(np.linalg.norm(q))
        bound = size * (self.residual.error[entries].astype(np.float64) * (1 + FLOAT_SLACK)
                        + FLOAT_SLACK * np.linalg.norm(decoded, axis=1))
        return (decoded @ q).astype(np.float32), bound.astype(np.float32)

    def _product(self, codes: np.ndarray) -> np.ndarray:
        if not len(self):
            return np.zeros(0, dtype=np.int64)
        return self._runner().run(None, {"q": codes.reshape(1, self.dim), "codes": self.codes})[0][0]

    def _runner(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._session is None:
                self._session = _integer_product(self.dim)
            return self._session


class Residual:
    """4-bit codes (two a byte, -7..7 stored as 1..15) of what each vector's 8-bit codes leave
    over, a scale and the error left (`error`: ||x - x^ - r^||, made in float64) per vector: 192
    more bytes a vector at 384 dimensions."""

    def __init__(self, n: int, dim: int) -> None:
        self.codes = np.empty((n, (dim + 1) // 2), dtype=np.uint8)
        self.scale = np.empty(n, dtype=np.float32)
        self.error = np.empty(n, dtype=np.float32)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scale.nbytes + self.error.nbytes)

    def code(self, start: int, part: np.ndarray, codes: np.ndarray, scale: np.ndarray) -> None:
        """Code the residuals of `part` (rows start...), given their 8-bit `codes` and `scale`."""
        end = start + len(part)
        # (in float32: its rounding, ~1e-7 of the vector's length, is far inside the bound's slack)
        left = codes * scale[:, None]
        np.subtract(part, left, out=left)
        top = np.abs(left).max(axis=1)
        rscale = np.where(top > 0, top / np.float32(7), np.float32(1)).astype(np.float32)
        small = np.rint(left / rscale[:, None])
        np.clip(small, -7, 7, out=small)
        left -= small * rscale[:, None]
        error = np.linalg.norm(left, axis=1)
        self.error[start:end] = np.nextafter(error.astype(np.float32), np.float32(np.inf))  # (rounded up)
        self.scale[start:end] = rscale
        nibbles = (small + 8).astype(np.uint8)
        if nibbles.shape[1] % 2:
            nibbles = np.hstack([nibbles, np.full((len(nibbles), 1), 8, dtype=np.uint8)])
        self.codes[start:end] = nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)

    def decoded(self, entries: np.ndarray, dim: int) -> np.ndarray:
        packed = self.codes[entries]
        small = np.empty((len(entries), 2 * packed.shape[1]), dtype=np.float64)
        small[:, 0::2] = packed & 15
        small[:, 1::2] = packed >> 4
        small -= 8
        small *= self.scale[entries].astype(np.float64)[:, None]
        return small[:, :dim]

    def kept(self, keep: np.ndarray) -> Residual:
        return Residual._of(self.codes[keep], self.scale[keep], self.error[keep])

    @staticmethod
    def joined(parts: list[Residual]) -> Residual:
        return Residual._of(*(np.concatenate([getattr(p, name) for p in parts])
                              for name in ("codes", "scale", "error")))

    @staticmethod
    def _of(codes: np.ndarray, scale: np.ndarray, error: np.ndarray) -> Residual:
        out = Residual.__new__(Residual)
        out.codes, out.scale, out.error = codes, scale, error
        return out


def _round(q: np.ndarray) -> tuple[np.ndarray, float]:
    """One round of the question's codes in -63..63, shifted into 1..127 (uint8), and their scale."""
    top = float(np.abs(q).max())
    scale = top / 63.0 if top > 0 else 1.0
    codes = np.clip(np.rint(q / scale), -63, 63)
    return (codes + SHIFT).astype(np.uint8), scale


def _integer_product(dim: int):  # type: ignore[no-untyped-def]
    """An ONNX Runtime session computing (1 x dim uint8) @ (dim x n int8) -> int32, on the models'
    default threads (two: 1.0 against 1.7 ms on one at 100,000 vectors), which do not spin after
    the call (the model's threads want the cores next)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from policykb.encoders.runtime import default_threads

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["q", "codes"], ["products"])], "rough_scan",
        [helper.make_tensor_value_info("q", TensorProto.UINT8, [1, dim]),
         helper.make_tensor_value_info("codes", TensorProto.INT8, [dim, None])],
        [helper.make_tensor_value_info("products", TensorProto.INT32, [1, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = default_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def scan_pays(rough: RoughScan, vectors: np.ndarray, product: Callable[[np.ndarray], Any], tries: int = 5) -> bool:
    """Whether scanning these codes takes at most SCAN_SHARE of the time of `product` (the float
    product of `vectors` with a question) on this machine, the quickest of `tries` runs of each,
    stored vectors as the questions. Which is quicker depends on the processor and the size. On an
    Intel Xeon with AVX-512, in searches paired in one process: at SciFact's 11,653 passages the
    scan took 0.64 ms and the product 0.48 (the scan is not kept); at 100,000 the scan took 4.8-7.6
    ms and the product 9.1-9.3, and a search with the scan was ~0.7 ms quicker even where the scan
    took 0.83 of the product's time. On an AMD EPYC (the product on one thread then) the scan spared
    ~1 ms a question at SciFact."""
    if not len(vectors):
        return False
    questions = np.ascontiguousarray(vectors[np.linspace(0, len(vectors) - 1, tries).astype(np.int64)])

    def quickest(run: Any) -> float:
        run(questions[0])  # (a first run: sessions, caches)
        best = float("inf")
        for q in questions:
            started = time.perf_counter()
            run(q)
            best = min(best, time.perf_counter() - started)
        return best

    return quickest(rough.scores) <= SCAN_SHARE * quickest(product)

"""`matvec`: a question's similarity with every vector of a matrix (a flat index's passages).

The product reads every vector once, so its time is the time to bring the matrix in from memory:
right after the question's encoding (which has pushed the vectors out of the processor's caches)
SciFact's 11,653 vectors take ~1.7 ms on one thread. numpy's BLAS runs on one thread here
(`encoders.runtime.one_blas_thread`: its spinning threads took the cores the encoder then needed),
so a large matrix is read in two halves at once instead, the second on a helper thread that
sleeps between products (a SciFact hybrid search paired in one process: -0.4 to -0.8 ms). The
helper is the process's, as BLAS's own pool is; a product that finds it busy with another
request's half reads the whole matrix itself rather than wait.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Rows from which a product is read in halves: below, handing half to the helper costs about what it
# saves (right after an encoding: 4,096 rows 0.34 ms either way, 8,192 0.63 -> 0.56 ms).
SPLIT_FROM = 8192
# The halves part at a multiple of this many rows: BLAS computes rows in small blocks and the rows
# left over at the end of a call otherwise, summing them in another order, so a half ending inside
# a block gave scores a last bit away from one product's (SciFact: 3.8e-6). Parted so, each row is
# summed as one product sums it, and the scores are the same to the bit (tests/test_product.py;
# with BLAS on one thread, as here: on several, BLAS itself parts the rows its own way).
ALIGN = 64


class _Helper:
    """One helper thread, started at the first large product. A forked child (a server's worker)
    starts its own: the parent's thread does not exist there, and a lock the parent held at the
    fork would stay held."""

    def __init__(self) -> None:
        self._reset()
        self._hooked = False

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._busy = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def product(self, matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
        if not self._busy.acquire(blocking=False):  # another request's half is on it
            return matrix @ vector
        try:
            half = len(matrix) // 2 // ALIGN * ALIGN  # (each row then summed as by one product: above)
            try:
                second = self._executor().submit(np.dot, matrix[half:], vector)
            except RuntimeError:  # (the interpreter is shutting down its thread pools)
                return matrix @ vector
            first = matrix[:half] @ vector
            return np.concatenate([first, second.result()])
        finally:
            self._busy.release()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="policykb-product")
                if not self._hooked and hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._reset)
                    self._hooked = True
            return self._pool


_HELPER = _Helper()  # (no thread until the first large product)


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`matrix @ vector` in float32: through torch's thread pool when the model has loaded torch
    (numpy's BLAS threads spinning beside torch's on a small machine stall both: p95 x3 measured
    on two cores; one pool for both does not), else in two halves at once for a large matrix on a
    machine of two cores or more."""
    torch = sys.modules.get("torch")
    if torch is not None and matrix.flags.writeable:  # (read-only: vectors read from the store, a few)
        return torch.mv(torch.from_numpy(matrix), torch.from_numpy(np.array(vector, dtype=np.float32))).numpy()
    if len(matrix) < SPLIT_FROM or (os.cpu_count() or 1) < 2:
        return matrix @ vector
    return _HELPER.product(matrix, vector)

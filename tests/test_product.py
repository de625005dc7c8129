"""The flat product: a question against every vector, in two halves at once for a large matrix."""

from __future__ import annotations

import multiprocessing
import sys
import threading

import numpy as np
import pytest

from policykb.backends.embedded import product
from policykb.backends.embedded.product import SPLIT_FROM, matvec


@pytest.fixture
def no_torch(monkeypatch):
    """numpy's path (another test may have loaded torch), with BLAS on one thread as a process that
    has loaded a model runs it (`encoders.runtime.one_blas_thread`)."""
    from threadpoolctl import threadpool_limits

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _unit(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((rows, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix, matrix[rows // 3].copy()


@pytest.mark.parametrize("rows", [1, 100, SPLIT_FROM - 1, SPLIT_FROM, SPLIT_FROM + 1, 11_653, 12_345, 30_001, 100_003])
def test_the_product_in_halves_is_the_product(no_torch, rows):
    matrix, q = _unit(rows, rows)
    got = matvec(matrix, q)
    assert got.dtype == np.float32 and got.shape == (rows,)
    assert np.array_equal(got, matrix @ q)  # to the bit: ties and cut-offs are decided the same
    assert np.allclose(got, matrix.astype(np.float64) @ q.astype(np.float64), atol=1e-5)


def test_a_large_product_uses_the_helper_thread_and_a_busy_helper_is_not_waited_for(no_torch, monkeypatch):
    matrix, q = _unit(SPLIT_FROM * 2, 7)
    names = []
    real = np.dot

    def dot(*args):
        names.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(product.np, "dot", dot)
    first = matvec(matrix, q)
    assert len(names) == 1 and names[0].startswith("policykb-product")
    with product._HELPER._busy:  # another request's half on it
        second = matvec(matrix, q)
    assert len(names) == 1  # the whole product read here, not queued
    assert np.allclose(first, second, atol=1e-6)


def test_a_product_while_the_pools_shut_down_is_read_here(no_torch, monkeypatch):
    matrix, q = _unit(SPLIT_FROM * 2, 5)
    monkeypatch.setattr(product._HELPER, "_pool", None)
    matvec(matrix, q)
    product._HELPER._pool.shutdown()  # (as at the interpreter's exit: no new work taken)
    assert np.array_equal(matvec(matrix, q), matrix @ q)
    monkeypatch.setattr(product._HELPER, "_pool", None)  # (the next test's helper is a live one)


def _in_child(queue) -> None:
    matrix, q = _unit(SPLIT_FROM * 2, 3)
    names = []
    real = np.dot
    product.np.dot = lambda *args: names.append(threading.current_thread().name) or real(*args)
    try:
        same = bool(np.array_equal(matvec(matrix, q), matrix @ q))
    finally:
        product.np.dot = real
    queue.put((same, names))


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_child_gets_a_helper_of_its_own(no_torch):
    matrix, q = _unit(SPLIT_FROM * 2, 3)
    matvec(matrix, q)  # the parent's helper thread exists now
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with product._HELPER._busy:  # forked while the parent's helper is busy with a request's half
        child = context.Process(target=_in_child, args=(queue,))
        child.start()
        child.join(60)
    assert child.exitcode == 0
    same, names = queue.get(timeout=5)
    assert same and len(names) == 1 and names[0].startswith("policykb-product")  # the child's own helper

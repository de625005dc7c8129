"""The Store's schema creation under concurrency."""
from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from policykb.store import Store


def _open(path: str, barrier, errors) -> None:  # runs in a child process
    barrier.wait()
    try:
        Store(Path(path)).close()
    except Exception as exc:  # reported to the parent, which asserts on it
        errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_home_at_once_all_succeed(tmp_path):
    # CI once failed with "table meta already exists" when two `policykb ingest` runs met a new home.
    ctx = multiprocessing.get_context("spawn")
    path = tmp_path / "kb.sqlite"
    n = 6
    barrier, errors = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open, args=(str(path), barrier, errors)) for _ in range(n)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert [proc.exitcode for proc in procs] == [0] * n
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchall() == [("0",)]
    conn.close()

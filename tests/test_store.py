"""The Store's schema creation under concurrency."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

OPEN = """
import sys, time
from pathlib import Path
from policykb.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
Store(Path(sys.argv[1])).close()
"""


def test_processes_opening_a_new_home_at_once_all_succeed(tmp_path):
    # CI once failed with "table meta already exists" when two `policykb ingest` runs met a new home.
    # Separate interpreters (not multiprocessing: its spawn re-runs whatever `__main__` is, which
    # other tests' Streamlit AppTest replaces).
    path = tmp_path / "kb.sqlite"
    start = time.time() + 3  # after every interpreter has imported policykb
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(path), str(start)], stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, errors
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchall() == [("0",)]
    conn.close()

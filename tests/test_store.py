"""The Store: schema creation under concurrency, and what a damaged database file says."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

OPEN = """
import sys, time
from pathlib import Path
from policykb.backends.embedded.store import Store
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


# -- issue 18, item 9: a damaged database file is named, with the way out -------------------------------


def damage(path, how: str) -> None:
    """Make `path` (a knowledge base's SQLite file) unreadable: `garbage` (not a database at all) or
    `pages` (the header intact, the items table's root page overwritten)."""
    if how == "garbage":
        path.write_bytes(b"this is not a database at all " * 200)
        return
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size:root * page_size] = b"\x0d" + b"\xff" * (page_size - 1)
    path.write_bytes(bytes(data))


def test_a_file_that_is_not_a_database_is_named_with_the_way_out(tmp_path):
    from policykb.errors import StoreDamaged
    from policykb.backends.embedded.store import Store

    path = tmp_path / "kb" / "kb.sqlite"
    Store(path).close()
    damage(path, "garbage")
    with pytest.raises(StoreDamaged) as refused:
        Store(path)
    assert refused.value.message.startswith(f"{path} is damaged (file is not a database); policykb cannot read it. "
                                            f"Restore the knowledge base from a backup: policykb --home {path.parent} "
                                            "restore BACKUP_FOLDER")

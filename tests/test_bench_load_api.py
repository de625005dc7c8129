"""bench/load_api.py runs end to end (hashing embedder, a few requests): it had stopped working
unnoticed when moderator tokens had to be 16 characters or more."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .test_ui import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_the_load_check_answers_every_search_and_approves_a_contribution(tmp_path):
    environ = {**os.environ, "POLICYKB_MODEL": "hashing", "POLICYKB_MULTILINGUAL_MODEL": "none"}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load_api.py"), "--requests", "24", "--clients", "3",
                           "--approve", "--home", str(tmp_path / "kb"), "--port", str(free_port())],
                          capture_output=True, text=True, env=environ, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "24 searches, 3 clients, 1 worker(s), approval during load: yes" in done.stdout
    assert "errors:                0\n" in done.stdout, done.stdout

"""Every benchmark script still starts: its imports resolve and it prints its usage (a moved
module had left bench/language_detection.py failing at its first line unnoticed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py")  # (not the helper modules the scripts import)
                 if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8"))


def test_there_are_scripts_to_check():
    assert len(SCRIPTS) >= 20 and ROOT / "bench" / "language_detection.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_a_benchmark_script_starts_and_prints_its_usage(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout.lower(), done.stdout[:500]

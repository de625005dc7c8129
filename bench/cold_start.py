"""Cold start and memory: a CLI search from a cold process, the API from its start to /health ok
and to its first answer, the first search of each route against a warm one, and the API's
resident memory after warm-up.

    .venv/bin/python bench/cold_start.py --home index [--home /tmp/kb-stip] [--runs 3]

Every process runs `python -m policykb.cli.main` with this interpreter, so `PYTHONPATH=OTHER/src`
measures another checkout of the code with the same installed packages (a before/after pair).
The processes may write their compiled modules (PYTHONDONTWRITEBYTECODE is dropped), as a user's
would: otherwise every start compiles the modules changed since the last write (~0.15 s).
Besides the wall-clock time, the API's CPU seconds from its start to its first answer: a figure
that varies less from run to run on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

# (route, path, parameters): one question of each kind a user may ask first, none of them a
# question the server's warm-up asks itself. `similar` is filled in with an item of the base.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("english (hybrid)", "/search", {"q": "how do regions help cluster SMEs go international?"}),
    ("italian", "/search", {"q": "come aiutano le regioni le piccole imprese a esportare?"}),
    ("lithuanian", "/search", {"q": "kaip regionai padeda mažoms įmonėms eksportuoti?"}),
    ("greek", "/search", {"q": "πώς βοηθούν οι περιφέρειες τις μικρές επιχειρήσεις να εξάγουν;"}),
    ("one word", "/search", {"q": "vouchers"}),
    ("keyword", "/search", {"q": "innovation vouchers for small firms", "mode": "keyword"}),
    ("semantic", "/search", {"q": "turning manufacturing waste into new products", "mode": "semantic"}),
    ("filtered", "/search", {"q": "digital skills for cluster managers", "territory": "DE", "level": "national"}),
    ("counts", "/counts", {"q": "green transition of industry"}),
    ("similar", "/items/{id}/similar", {"k": 5}),
]
CLI_QUESTIONS = {"english": "how do regions help cluster SMEs go international?",
                 "german": "Wie fördern Regionen die Internationalisierung von Clustern?"}


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environment() -> dict[str, str]:
    env = {**os.environ, "POLICYKB_QUERY_CACHE": "0"}  # a repeated question is embedded again, as a new one is
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0.0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    for child in [pid, *map(int, children)]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def cli_search(home: Path, question: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "policykb.cli.main", "--home", str(home), "search", question, "--k", "3"],
                   check=True, stdout=subprocess.DEVNULL, env=environment())
    return time.perf_counter() - t0


def wait_healthy(base: str, server: subprocess.Popen, limit: float = 300) -> None:
    end = time.perf_counter() + limit
    while time.perf_counter() < end:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped with status {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=60).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit("the server never said ok")


def timed_get(base: str, path: str, params: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    r = httpx.get(base + path, params=params, timeout=120)
    elapsed = time.perf_counter() - t0
    r.raise_for_status()
    return elapsed


def api_run(home: Path, port: int, repeats: int) -> dict[str, Any]:
    """One server from start to warm: seconds to /health ok and to the first answer, the first and
    the warm (median of `repeats`) time of each route, resident memory after that."""
    base = f"http://127.0.0.1:{port}"
    env = environment()
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "policykb.cli.main", "--home", str(home), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_healthy(base, server)
        healthy = time.perf_counter() - t0
        item = httpx.get(f"{base}/search", params={"q": "", "size": 1}, timeout=60).json()["hits"][0]["id"]
        first: dict[str, float] = {}
        warm: dict[str, float] = {}
        answered, cpu = None, 0.0
        for name, path, params in ROUTES:
            first[name] = timed_get(base, path.format(id=item), params)
            if answered is None:
                answered, cpu = time.perf_counter() - t0, cpu_seconds(server.pid)
        for name, path, params in ROUTES:
            warm[name] = statistics.median(timed_get(base, path.format(id=item), params) for _ in range(repeats))
        return {"healthy": healthy, "answered": answered, "cpu": cpu, "first": first, "warm": warm, "rss": rss_mb(server.pid)}
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, action="append", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5, help="Warm repeats of each route (median).")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        print(f"load average at start: {' '.join(f.read().split()[:3])}")
    for home in args.home:
        print(f"\n{home}")
        for label, question in CLI_QUESTIONS.items():
            times = [cli_search(home, question) for _ in range(args.runs)]
            print(f"  CLI search from a cold process ({label}): median {statistics.median(times):.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in times)})")
        runs = [api_run(home, args.port, args.repeats) for _ in range(args.runs)]
        for key, what in (("healthy", "API start to /health ok"), ("answered", "API start to first answer"),
                          ("cpu", "API CPU seconds, start to first answer")):
            values = [r[key] for r in runs]
            print(f"  {what}: median {statistics.median(values):.2f} s (runs {', '.join(f'{v:.2f}' for v in values)})")
        rss = [r["rss"] for r in runs]
        print(f"  API resident memory after warm-up and {len(ROUTES) * (1 + args.repeats)} requests: median "
              f"{statistics.median(rss):.0f} MB (runs {', '.join(f'{v:.0f}' for v in rss)})")
        print(f"  {'route':<18} {'first (ms, median of runs)':>28} {'warm (ms)':>10} {'first/warm':>11}")
        for name, _, _ in ROUTES:
            first = statistics.median(r["first"][name] for r in runs) * 1000
            warm = statistics.median(r["warm"][name] for r in runs) * 1000
            print(f"  {name:<18} {first:>28.0f} {warm:>10.0f} {first / warm:>11.1f}")
    with open("/proc/loadavg") as f:
        print(f"\nload average at end: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()

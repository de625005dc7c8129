"""Cold start of the API (process start to first search answer) and its resident memory.

    .venv/bin/python bench/cold_start.py --home index [--home /tmp/kb-stip] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    total = 0.0
    for child in [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                text=True).stdout.split())]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, action="append", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    for home in args.home:
        starts, memory = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            server = subprocess.Popen([str(ROOT / ".venv/bin/policykb"), "--home", str(home), "serve", "--port",
                                       str(args.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        r = httpx.get(f"http://127.0.0.1:{args.port}/search",
                                      params={"q": "cluster support for SMEs"}, timeout=60)
                        if r.status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
                starts.append(time.perf_counter() - t0)
                for q in ("green hydrogen", "innovation vouchers", "regional cluster programme"):
                    httpx.get(f"http://127.0.0.1:{args.port}/search", params={"q": q}, timeout=60)
                memory.append(rss_mb(server.pid))
            finally:
                server.terminate()
                server.wait(10)
        print(f"{home}: cold start to first answer median {statistics.median(starts):.1f} s "
              f"(runs {', '.join(f'{s:.1f}' for s in starts)}); resident memory after 4 searches "
              f"median {statistics.median(memory):.0f} MB")


if __name__ == "__main__":
    main()

"""Load check of the HTTP API on loopback: concurrent clients, a fixed number of requests.

Builds (or reuses) a knowledge base from ingest/, starts `policykb serve` on 127.0.0.1, sends
searches from several client threads (a mix of modes, filters and pages; optionally one
contribution approved in the middle), and prints throughput, latency percentiles and errors.

    .venv/bin/python bench/load_api.py --requests 400 --clients 8 [--workers 2] [--home /tmp/kb]
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from policykb.ui.client import ApiClient, ApiUnavailable

TOKEN = secrets.token_urlsafe(24)  # a moderator's (the API refuses tokens under 16 characters)

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    {"q": "how do regions help cluster SMEs go international?"},
    {"q": "innovation vouchers", "territory": ["NL", "AT", "IE"]},
    {"q": "green transition circular economy", "mode": "semantic"},
    {"q": "cluster management excellence label", "mode": "keyword"},
    {"q": "", "challenge": "digital", "page": 2},
    {"q": "staff exchange between clusters", "level": "european", "size": 20},
    {"q": "hydrogen", "theme": "renewable-energy"},
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--home", type=Path, default=None, help="knowledge base (default: a temporary one)")
    parser.add_argument("--approve", action="store_true", help="approve a contribution while the load runs")
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="policykb-load-")) / "kb"
    cli = [str(ROOT / ".venv" / "bin" / "policykb"), "--home", str(home)]
    subprocess.run([*cli, "ingest", str(ROOT / "ingest"), "--keep-going"], check=True, stdout=subprocess.DEVNULL)
    env = {**os.environ, "POLICYKB_MODERATOR_TOKENS": f"bench:{TOKEN}"}
    server = subprocess.Popen([*cli, "serve", "--port", str(args.port), "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{args.port}"
    try:
        with ApiClient(base, timeout=2) as client:
            try:
                cold = client.wait_until_healthy(60, running=lambda: server.poll() is None, interval=0.2)
            except ApiUnavailable as exc:
                sys.exit(str(exc))
        httpx.get(f"{base}/search", params={"q": "warm up", "mode": "semantic"}, timeout=30)

        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        jobs = itertools.islice(itertools.cycle(QUERIES), args.requests)

        def client() -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                while True:
                    with lock:
                        params = next(jobs, None)
                    if params is None:
                        return
                    t0 = time.perf_counter()
                    try:
                        response = http.get("/search", params=params)
                        ok = response.status_code == 200
                    except httpx.HTTPError as exc:
                        ok, response = False, exc
                    elapsed = time.perf_counter() - t0
                    with lock:
                        latencies.append(elapsed)
                        if not ok:
                            errors.append(str(getattr(response, "status_code", response)))

        def approve() -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                receipt = http.post("/contributions", json={"title": "Load-test vouchers", "country": "LT"}).json()
                response = http.post(f"/moderation/contributions/{receipt['id']}/approve",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
                if response.status_code != 200:
                    errors.append(f"approve {response.status_code}")

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        if args.approve:
            threads.append(threading.Thread(target=approve))
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(10)

    ms = [x * 1000 for x in latencies]
    print(f"policykb API load check: {len(ms)} searches, {args.clients} clients, {args.workers} worker(s), "
          f"approval during load: {'yes' if args.approve else 'no'}")
    print(f"  cold start to healthy: {cold:.1f} s")
    print(f"  throughput:            {len(ms) / wall:.1f} requests/s")
    print(f"  latency ms:            p50 {statistics.median(ms):.1f} · p95 {percentile(ms, 95):.1f} · "
          f"p99 {percentile(ms, 99):.1f} · max {max(ms):.1f}")
    print(f"  errors:                {len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else ""))


if __name__ == "__main__":
    main()

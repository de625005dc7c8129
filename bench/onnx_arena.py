"""ONNX Runtime's memory arena: batch encoding speed and resident memory, with the arena given
back after each `encode` call (the product), kept (ONNX Runtime's default) or switched off.

    .venv/bin/python bench/onnx_arena.py [--model all-MiniLM-L6-v2] [--rounds 2]

Each setting runs in a fresh process, alternating, `--rounds` times; each process encodes 256
passages of 60-200 tokens twice (the ingest pipeline's call size) and prints its times and its
resident memory after them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = ("given back", "kept", "off")


def child(model: str, setting: str) -> None:
    import onnxruntime as ort

    if setting == "off":
        original = ort.InferenceSession.__init__

        def without_arena(self, path, options=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            options.enable_cpu_mem_arena = False
            original(self, path, options, *args, **kwargs)

        ort.InferenceSession.__init__ = without_arena  # type: ignore[method-assign]
    from policykb.encoders.embed import load_embedder

    encoder = load_embedder(model)
    if setting != "given back":
        encoder._give_back = None  # type: ignore[attr-defined]  # runs without the shrinkage option
    texts = [f"Passage {i} about cluster policy, regional development and SMEs. " * (4 + i % 12) for i in range(256)]
    encoder.encode(texts[:4])
    times = []
    for _ in range(2):
        start = time.perf_counter()
        encoder.encode(texts)
        times.append(time.perf_counter() - start)
    rss = next(int(line.split()[1]) // 1024 for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    print(f"{sum(times):.3f} {rss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, args.child)
        return
    results: dict[str, list[tuple[float, int]]] = {s: [] for s in SETTINGS}
    for _ in range(args.rounds):
        for setting in SETTINGS:
            out = subprocess.run([sys.executable, __file__, "--model", args.model, "--child", setting],
                                 capture_output=True, text=True, check=True).stdout.split()
            results[setting].append((float(out[0]), int(out[1])))
    print(f"{args.model}, 2 x 256 passages per process, {args.rounds} processes per setting")
    print("| arena | seconds (median) | runs | resident MB after |\n|---|---|---|---|")
    for setting, runs in results.items():
        print(f"| {setting} | {statistics.median(t for t, _ in runs):.1f} | "
              f"{', '.join(f'{t:.1f}' for t, _ in runs)} | {statistics.median(m for _, m in runs):.0f} |")


if __name__ == "__main__":
    main()

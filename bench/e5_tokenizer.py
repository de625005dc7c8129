"""multilingual-e5-small's tokenizer: the `tokenizers` library's Unigram (tokenizer.json in the
model cache) against the plain-Python one (`encoders/unigram.py`): load time, memory, time per
passage on a knowledge base's passages, and whether the ids agree.

    .venv/bin/python bench/e5_tokenizer.py --home index

Each tokenizer is loaded in a fresh process (its memory is what the process gains).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def rss_mb() -> int:
    return next(int(line.split()[1]) // 1024 for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmRSS:"))


def child(kind: str, home: Path) -> None:
    from policykb.encoders.e5file import E5File, E5Inputs, package_file
    from policykb.encoders.runtime import default_cache

    model = E5File.open(package_file("x"))
    tables = model.embedding_tables()
    texts = ["passage: " + r[0] for r in sqlite3.connect(home / "kb.sqlite").execute("SELECT text FROM passages")]
    before = rss_mb()
    start = time.perf_counter()
    if kind == "library":
        from tokenizers import Tokenizer

        folder = next(default_cache().glob("multilingual-e5-small-int8-*"))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    else:
        from policykb.encoders.unigram import UnigramTokenizer

        pieces = model.pieces()
        tokenizer = UnigramTokenizer([p for p, _ in pieces], [s for _, s in pieces], model.special["unk"])
    loaded = time.perf_counter() - start
    inputs = E5Inputs(tokenizer, model.normalisation, model.special, *tables)
    start = time.perf_counter()
    ids = [inputs.ids(t) for t in texts]
    per_passage = (time.perf_counter() - start) / len(texts)
    print(json.dumps({"load": loaded, "memory": rss_mb() - before, "per_passage": per_passage, "ids": ids}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--child", choices=["library", "python"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.home)
        return
    runs = {kind: json.loads(subprocess.run([sys.executable, __file__, "--home", str(args.home), "--child", kind],
                                            capture_output=True, text=True, check=True).stdout)
            for kind in ("library", "python")}
    print("| tokenizer | load (s) | memory (MB) | per passage (ms, first time each word) |\n|---|---|---|---|")
    for kind, run in runs.items():
        print(f"| {kind} | {run['load']:.2f} | {run['memory']} | {run['per_passage'] * 1000:.2f} |")
    same = runs["library"]["ids"] == runs["python"]["ids"]
    print(f"ids of the {len(runs['library']['ids'])} passages identical: {same}")


if __name__ == "__main__":
    main()

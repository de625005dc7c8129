"""Questions in nine EU languages about items of the sample corpus: hit@5, MRR@10 and how often the
result set is empty, per language and per search mode.

    .venv/bin/policykb --home /tmp/kb-sample ingest ingest/
    .venv/bin/python bench/multilingual.py --home /tmp/kb-sample [--questions bench/data/multilingual_questions.yaml]

The questions (`bench/data/multilingual_questions.yaml`) were written for this project: the same
eight questions in English, German, French, Italian, Spanish, Polish, Dutch, Portuguese and Swedish.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policykb.config import Settings  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402

MODES = ("hybrid", "semantic", "keyword")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a knowledge base of the sample corpus")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "data" / "multilingual_questions.yaml")
    args = parser.parse_args()
    questions = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    languages = [k for k in questions[0] if k != "expected"]
    with KnowledgeBase(Settings(home=args.home)) as kb:
        print(f"models {' + '.join(s.key for s in kb.spaces)}; {len(questions)} questions per language")
        print(f"{'language':<10}" + "".join(f"{m + ' hit@5/MRR@10/empty':>34}" for m in MODES))
        totals = {m: [0.0, 0.0, 0, 0] for m in MODES}
        for language in languages:
            cells = []
            for mode in MODES:
                hits = mrr = empty = 0.0
                for q in questions:
                    result = kb.search(q[language], mode=mode, size=10, facets=False)
                    ranked = [h.id for h in result.hits]
                    expected = set(q["expected"])
                    hits += any(i in expected for i in ranked[:5])
                    mrr += next((1 / r for r, i in enumerate(ranked, 1) if i in expected), 0.0)
                    empty += result.total == 0
                n = len(questions)
                cells.append(f"{hits / n:>8.2f} {mrr / n:>6.2f} {int(empty):>3} of {n}")
                if language != "en":
                    totals[mode][0] += hits
                    totals[mode][1] += mrr
                    totals[mode][2] += int(empty)
                    totals[mode][3] += n
            print(f"{language:<10}" + "".join(f"{c:>34}" for c in cells))
        print(f"{'non-en':<10}" + "".join(
            f"{t[0] / t[3]:>8.2f} {t[1] / t[3]:>6.2f} {t[2]:>3} of {t[3]}".rjust(34) for t in totals.values()))


if __name__ == "__main__":
    main()

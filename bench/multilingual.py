"""The same questions in all 24 official EU languages about items of the sample corpus: per
language and search mode, hit@5 (an expected item among the first five), MRR@10, how often the
result set is empty, and how much of what the English question finds the translated question
finds too (the share of the English question's top 10 that the translated question's result set
holds: result sets should not shrink in translation).

    .venv/bin/policykb --home /tmp/kb-sample ingest ingest/
    .venv/bin/python bench/multilingual.py --home /tmp/kb-sample [--modes hybrid,semantic] [--split all]

The questions (`bench/data/multilingual_questions.yaml`) were written for this project; questions
marked `heldout` were written after the encoders and the routing were chosen, and are reported
apart (`--split tuned|heldout|all`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import mean

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from policykb.config import Settings  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402

MODES = ("hybrid", "semantic", "keyword")
SIZE = 1000  # deep enough to hold any result set of the sample corpus


def evaluate(kb: KnowledgeBase, questions: list[dict], languages: list[str], mode: str) -> dict[str, dict]:
    """Per language: hit@5, MRR@10, empty result sets, share of the English top 10 held."""
    english = [kb.search(q["en"], mode=mode, size=10, facets=False) for q in questions]
    out = {}
    for language in languages:
        hits, mrr, empty, held, sizes = [], [], 0, [], []
        for q, en in zip(questions, english):
            result = kb.search(q[language], mode=mode, size=SIZE, facets=False)
            ranked = [h.id for h in result.hits]
            expected = set(q["expected"])
            hits.append(any(i in expected for i in ranked[:5]))
            mrr.append(next((1 / r for r, i in enumerate(ranked[:10], 1) if i in expected), 0.0))
            empty += result.total == 0
            sizes.append(result.total / max(en.total, 1))
            top = [h.id for h in en.hits]
            if top:
                held.append(len(set(top) & set(ranked)) / len(top))
        out[language] = {"hit5": mean(hits), "mrr": mean(mrr), "empty": empty, "n": len(questions),
                         "held": mean(held) if held else 1.0, "size": mean(sizes), "model": kb.search(questions[0][language], mode=mode,
                                                                                   size=1, facets=False).language}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a knowledge base of the sample corpus")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "data" / "multilingual_questions.yaml")
    parser.add_argument("--modes", default="hybrid,semantic,keyword")
    parser.add_argument("--split", choices=("tuned", "heldout", "all"), default="all")
    args = parser.parse_args()
    questions = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    splits = {"tuned": [q for q in questions if not q.get("heldout")],
              "heldout": [q for q in questions if q.get("heldout")]}
    splits["all"] = questions
    chosen = ["tuned", "heldout"] if args.split == "all" else [args.split]
    languages = [k for k in questions[0] if k not in ("expected", "heldout")]
    with KnowledgeBase(Settings(home=args.home)) as kb:
        print(f"models {' + '.join(s.key for s in kb.spaces)}")
        for mode in args.modes.split(","):
            for split in chosen:
                rows = evaluate(kb, splits[split], languages, mode)
                n = len(splits[split])
                print(f"\n{mode}, {split} questions ({n} per language): hit@5, MRR@10, empty sets, share of the "
                      "English top 10 held, set size / the English set's, model")
                for language, r in rows.items():
                    model = (r["model"] or {}).get("model", "")
                    print(f"  {language:<4} {r['hit5']:5.2f} {r['mrr']:5.2f} {r['empty']:>3} of {n}  {r['held']:5.2f}  "
                          f"{r['size']:5.2f}  {model}")
                others = [r for language, r in rows.items() if language != "en"]
                print(f"  {'non-en':<6}{mean(r['hit5'] for r in others):5.2f} {mean(r['mrr'] for r in others):5.2f} "
                      f"{sum(r['empty'] for r in others):>3} of {n * len(others)}  "
                      f"{mean(r['held'] for r in others):5.2f}  {mean(r['size'] for r in others):5.2f}  (lowest held: "
                      f"{min(r['held'] for r in others):.2f}, {min(others, key=lambda r: r['held'])['model']['used']})")


if __name__ == "__main__":
    main()

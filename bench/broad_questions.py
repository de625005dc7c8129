"""Broad questions over the sample corpus: for each strategic challenge and each type of support of
the taxonomy, three questions whose relevant items are the items labelled with that value
(`bench/data/broad_questions.yaml`; the third question of each value was kept aside while the
cut-offs were chosen and is reported apart). Per mode: the result set's size, its recall against
the labelled items, and the precision of its first ten results. Then the off-topic questions
(in English and ten other languages, `bench/data/offtopic_questions.yaml`, and a second set written
after the cut-off that reads everyday subjects was chosen, `offtopic_questions_heldout.yaml`): how
many get a non-empty result set (should be none).

    .venv/bin/policykb --home /tmp/kb-sample ingest ingest/
    .venv/bin/python bench/broad_questions.py --home /tmp/kb-sample [--modes hybrid,semantic,keyword]

Labels are a floor for relevance, not the whole of it: an item not labelled "Internationalisation"
can still answer a question about it, so precision is a lower bound.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from statistics import mean, median

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from policykb.config import Settings  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402

SIZE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a knowledge base of the sample corpus")
    parser.add_argument("--modes", default="hybrid,semantic,keyword")
    parser.add_argument("--show", action="store_true", help="print each question's figures")
    args = parser.parse_args()
    values = yaml.safe_load((ROOT / "bench/data/broad_questions.yaml").read_text(encoding="utf-8"))
    off_topic = {split: yaml.safe_load((ROOT / f"bench/data/{name}.yaml").read_text(encoding="utf-8"))
                 for split, name in (("tuned", "offtopic_questions"), ("held out", "offtopic_questions_heldout"))}
    with KnowledgeBase(Settings(home=args.home)) as kb:
        print(f"models {' + '.join(s.key for s in kb.spaces)}; {len(kb.facet_index)} items")
        labelled = {(v["facet"], v["value"]): {kb.facet_index.ids[i] for i in
                    kb.facet_index.mask({v["facet"]: [v["value"]]}).nonzero()[0]} for v in values}
        print(f"\n{'mode':<9}{'split':<9}{'questions':>10}{'set median':>11}{'set mean':>9}{'recall':>8}"
              f"{'P@10':>7}{'topic':>7}")
        for mode in args.modes.split(","):
            rows: dict[str, list[tuple[int, float, float, bool]]] = {"tuned": [], "heldout": []}
            for v in values:
                relevant = labelled[(v["facet"], v["value"])]
                for i, question in enumerate(v["questions"]):
                    result = kb.search(question, mode=mode, size=SIZE, facets=False)
                    found = [h.id for h in result.hits]
                    top = found[:10]
                    precision = sum(i in relevant for i in top) / len(top) if top else 0.0
                    recall = len(relevant & set(found)) / len(relevant)
                    rows["heldout" if i == 2 else "tuned"].append((result.total, recall, precision,
                                                                   bool(getattr(result, "topic", None))))
                    if args.show:
                        print(f"   {mode:<9}{result.total:>4} {recall:5.2f} {precision:5.2f}  {question}  "
                              f"{(getattr(result, 'topic', None) or {}).get('label', '')}")
            for split, r in rows.items():
                print(f"{mode:<9}{split:<9}{len(r):>10}{median(x[0] for x in r):>11.0f}{mean(x[0] for x in r):>9.1f}"
                      f"{mean(x[1] for x in r):>8.2f}{mean(x[2] for x in r):>7.2f}{sum(x[3] for x in r):>7}")
        print("\noff-topic questions with a non-empty result set (should be 0):")
        for split, questions in off_topic.items():
            for mode in args.modes.split(","):
                leaks = [(code, q[code]) for q in questions for code in q
                         if kb.search(q[code], mode=mode, size=1, facets=False).total]
                print(f"  {split:<9}{mode:<9}{len(leaks)} of {sum(len(q) for q in questions)}  {leaks[:6]}")
        question = "how do regions support cluster internationalisation?"
        counts = {mode: kb.search(question, mode=mode, size=1, facets=False).total for mode in args.modes.split(",")}
        print(f"\n{question!r}: " + ", ".join(f"{m} {n}" for m, n in counts.items()))


if __name__ == "__main__":
    main()

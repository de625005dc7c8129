"""Facet suggestions measured on labels set by someone else: the OECD STIP Compass import.

20 % of the initiatives (fixed seed) are held out: a copy of the knowledge base hides them (one
write), then each held-out initiative's title and description ask for suggestions, as a
contributor's draft would. Per facet: precision@1 (the first suggestion is a true label),
precision@3 (share of the suggestions shown that are true labels), recall@3 (share of the true
labels among them) and coverage (drafts that get a suggestion at all), against two baselines: the
majority values of the training items, and a keyword rule (a value whose label or synonym occurs
in the text). Variants of the vote (weight power, minimum confidence, neighbours) are measured too.

    .venv/bin/policykb --home /tmp/kb-stip ingest --format stip ../shared/data/stip-compass-2021.csv.gz
    .venv/bin/python bench/suggestions.py --stip-home /tmp/kb-stip
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_kb  # noqa: E402
from policykb.models import embed_text  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from policykb.search.searcher import Searcher  # noqa: E402
from policykb.search.suggest import vote  # noqa: E402

FACETS = ("challenge", "theme", "support", "level", "typology", "stip_theme", "stip_instrument")
VARIANTS = {  # name: (neighbours, power, min_confidence)
    "vote k=10, weight sim (before)": (10, 1.0, 0.25),
    "vote k=10, weight sim^4 (default)": (10, 4.0, 0.25),
    "vote k=20, weight sim^4": (20, 4.0, 0.25),
    "vote k=20, weight sim^4, min 0.15": (20, 4.0, 0.15),
    "vote k=5": (5, 1.0, 0.25),
}


def scores(suggested: list[str], truth: set[str]) -> tuple[float, float, float, bool]:
    top = suggested[:3]
    hits = len(set(top) & truth)
    return (float(bool(top) and top[0] in truth), hits / len(top) if top else 0.0, hits / len(truth), bool(top))


def keyword_rule(kb: KnowledgeBase, facet: str, text: str) -> list[str]:
    """Values whose label or a synonym occurs in the text (longest names first)."""
    found = []
    lowered = f" {re.sub(r'[^a-z0-9]+', ' ', text.lower())} "
    for value in kb.taxonomy.facet(facet).values.values():
        names = [value.label, *value.synonyms]
        if any(f" {re.sub(r'[^a-z0-9]+', ' ', n.lower()).strip()} " in lowered for n in names if len(n) > 3):
            found.append(value.id)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stip-home", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--share", type=float, default=0.2)
    args = parser.parse_args()
    with scratch_kb(args.stip_home, "pk-suggest-") as kb:
        run(kb, args.seed, args.share)


def run(kb: KnowledgeBase, seed: int, share: float) -> None:
    ids = sorted(kb.facet_index.ids)
    held = set(random.Random(seed).sample(ids, int(len(ids) * share)))
    items = kb.store.get_items(ids)
    with kb.writing() as change:  # hide the held-out initiatives: the knowledge base is the rest
        for item_id in held:
            change.removed += kb.store.passage_ids(item_id)
            kb.store.set_status(item_id, "unpublished")
        change.changed = True
    train = [i for i in ids if i not in held]
    majority = {f: [v for v, _ in Counter(v for i in train for v in items[i].facets.get(f, [])).most_common(3)]
                for f in FACETS}
    deepest = max(k for k, _, _ in VARIANTS.values())
    rows: dict[str, dict[str, list[tuple[float, float, float, bool]]]] = {}
    by_confidence: list[tuple[float, bool]] = []  # every default suggestion: confidence, right?
    for item_id in sorted(held):
        item = items[item_id]
        text = (item.description or item.summary)[:4000]
        neighbours = Searcher(kb.backend).neighbours(embed_text(item.title, text or item.title), deepest)
        facets_of = kb.store.get_items([i for i, _ in neighbours])
        for facet in FACETS:
            truth = set(item.facets.get(facet, []))
            if not truth:
                continue
            values_of = {i: it.facets.get(facet, []) for i, it in facets_of.items()}
            for name, (k, power, floor) in VARIANTS.items():
                ranked = vote(neighbours[:k], values_of, power=power, min_confidence=floor)
                if "(default)" in name:
                    by_confidence += [(confidence, value in truth) for value, confidence in ranked]
                suggested = [v for v, _ in ranked]
                rows.setdefault(name, {}).setdefault(facet, []).append(scores(suggested, truth))
            rows.setdefault("majority baseline", {}).setdefault(facet, []).append(scores(majority[facet], truth))
            rule = keyword_rule(kb, facet, f"{item.title} {text}")
            rows.setdefault("keyword-rule baseline", {}).setdefault(facet, []).append(scores(rule[:3], truth))
    print(f"held out {len(held)} of {len(ids)} initiatives (seed {seed}); figures per facet over the held-out "
          "initiatives that have a label in it")
    print(f"{'facet':<16}{'labelled':>9}  {'method':<36}{'P@1':>6}{'P@3':>6}{'R@3':>6}{'coverage':>10}")
    for facet in FACETS:
        for method, by_facet in rows.items():
            values = by_facet.get(facet, [])
            if not values:
                continue
            n = len(values)
            p1, p3, r3 = (sum(v[i] for v in values) / n for i in range(3))
            covered = sum(v[3] for v in values) / n
            print(f"{facet:<16}{n:>9}  {method:<36}{p1:>6.2f}{p3:>6.2f}{r3:>6.2f}{covered:>10.2f}")
        print()
    print("precision of the default suggestions by confidence (all facets):")
    for low, high in ((0.25, 0.5), (0.5, 0.75), (0.75, 1.01)):
        inside = [right for confidence, right in by_confidence if low <= confidence < high]
        if inside:
            print(f"  {low:.2f}-{min(high, 1):.2f}: {sum(inside) / len(inside):.2f} of {len(inside)} suggestions right")


if __name__ == "__main__":
    main()

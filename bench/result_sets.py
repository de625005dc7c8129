"""Result sets judged from outside: OECD's own labels in the STIP Compass import, and the
off-topic / on-topic questions of tests/test_relevance.py over the sample corpus.

    .venv/bin/policykb --home /tmp/kb-stip ingest --format stip ../shared/data/stip-compass-2021.csv.gz
    .venv/bin/python bench/result_sets.py --stip-home /tmp/kb-stip [--sample-home index]

STIP: each query is an instrument-type name or a theme name as OECD writes it (the label of a
`stip_instrument` or `stip_theme` value, shortened where OECD's name is a description); the items
OECD labelled with that value are the relevant ones. For each mode: the set's size, precision
(labelled items in the set / set) and recall (labelled items in the set / labelled items).
A name can match items OECD did not label with it (a voucher scheme filed under "grants"), so
precision is a floor, not an exact figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policykb.config import Settings  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from policykb.search.searcher import Searcher  # noqa: E402

MODES = ("hybrid", "semantic", "keyword")
# (query, facet, value): instrument types and themes, in OECD's words.
STIP_QUERIES = [
    ("innovation vouchers", "stip_instrument", "innovation-vouchers"),
    ("tax incentives for R&D and innovation", "stip_instrument",
     "tax-or-social-contributions-relief-for-firms-investing-in-r-"),
    ("loans and credits for innovation in firms", "stip_instrument", "loans-and-credits-for-innovation-in-firms"),
    ("networking and collaborative platforms", "stip_instrument", "networking-and-collaborative-platforms"),
    ("equity financing", "stip_instrument", "equity-financing"),
    ("centres of excellence grants", "stip_instrument", "centres-of-excellence-grants"),
    ("procurement programmes for R&D and innovation", "stip_instrument",
     "procurement-programmes-for-r-d-and-innovation"),
    ("fellowships and postgraduate scholarships", "stip_instrument",
     "fellowships-and-postgraduate-loans-and-scholarships"),
    ("debt guarantees and risk sharing schemes", "stip_instrument", "debt-guarantees-and-risk-sharing-schemes"),
    ("dedicated support to research infrastructures", "stip_instrument",
     "dedicated-support-to-research-infrastructures"),
    ("cluster policies", "stip_theme", "TH47"),
]


def set_of(kb: KnowledgeBase, query: str, mode: str) -> set[str]:
    searcher = Searcher(kb.backend)
    mask = searcher.relevant(query, mode)
    return {searcher.facets.ids[i] for i in mask.nonzero()[0].tolist()}


def labelled(kb: KnowledgeBase, facet: str, value: str) -> set[str]:
    return {r["id"] for r in kb.export(filters={facet: [value]})}


def stip(home: Path) -> None:
    with KnowledgeBase(Settings(home=home)) as kb:
        print(f"STIP Compass import: {kb.stats()['items']} items")
        print(f"{'query':<48}{'labelled':>9}" + "".join(f"{m + ' size/P/R':>24}" for m in MODES))
        sums = {m: [0.0, 0.0, 0] for m in MODES}
        for query, facet, value in STIP_QUERIES:
            truth = labelled(kb, facet, value)
            cells = []
            for mode in MODES:
                found = set_of(kb, query, mode)
                hit = len(found & truth)
                precision = hit / len(found) if found else 0.0
                recall = hit / len(truth) if truth else 0.0
                sums[mode][0] += precision
                sums[mode][1] += recall
                sums[mode][2] += len(found)
                cells.append(f"{len(found):>8} {precision:6.2f} {recall:6.2f}")
            print(f"{query[:47]:<48}{len(truth):>9}" + "".join(f"{c:>24}" for c in cells))
        n = len(STIP_QUERIES)
        print(f"{'mean':<48}{'':>9}" + "".join(
            f"{sums[m][2] / n:>8.0f} {sums[m][0] / n:6.2f} {sums[m][1] / n:6.2f}" for m in MODES))


def topics(home: Path) -> None:
    from tests.test_relevance import OFF_TOPIC, ON_TOPIC

    with KnowledgeBase(Settings(home=home)) as kb:
        print(f"\nSample corpus: {kb.stats()['items']} items")
        print(f"{'mode':<10}{'off-topic with results':>24}{'on-topic empty':>16}{'on-topic: item in set':>23}"
              f"{'on-topic median size':>22}")
        for mode in MODES:
            off = sum(1 for q in OFF_TOPIC if kb.search(q, mode=mode, facets=False).total)
            sizes, found, empty = [], 0, 0
            for q, expected in ON_TOPIC:
                result = kb.search(q, mode=mode, size=100, facets=False)
                sizes.append(result.total)
                empty += result.total == 0
                found += expected in {h.id for h in result.hits}
            sizes.sort()
            print(f"{mode:<10}{f'{off} of {len(OFF_TOPIC)}':>24}{f'{empty} of {len(ON_TOPIC)}':>16}"
                  f"{f'{found} of {len(ON_TOPIC)}':>23}{sizes[len(sizes) // 2]:>22}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stip-home", type=Path, help="A knowledge base holding the STIP Compass import.")
    parser.add_argument("--sample-home", type=Path, help="A knowledge base holding the sample corpus (ingest/).")
    args = parser.parse_args()
    if args.stip_home:
        stip(args.stip_home)
    if args.sample_home:
        topics(args.sample_home)


if __name__ == "__main__":
    main()

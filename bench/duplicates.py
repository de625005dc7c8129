"""Duplicate warnings measured: reworded copies of STIP initiatives (should be flagged as
duplicates of their original) mixed with near-but-different initiatives (should not be flagged).

Built by this script from the STIP Compass import, never by hand: in a copy of the knowledge base,
N initiatives stay published as originals and N others are hidden (they play new contributions).
Each original gives one reworded draft, in turn: its title in the original language instead of the
English one, a shortened description (its first two sentences), or another acronym with the text
cut to its first half. Each hidden initiative is near-but-different: it shares its country and an
instrument type with a published one, and it is its own programme. A draft is warned about when
the contribution desk's check lists a duplicate; for the originals' copies the warning is right
when it names the original. The curve varies the similarity threshold of the warning.

    .venv/bin/python bench/duplicates.py --stip-home /tmp/kb-stip [--pairs 300]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_kb  # noqa: E402
from policykb.moderation.contributions import DUPLICATE_SIMILARITY  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from policykb.models import Item  # noqa: E402
from policykb.search.searcher import Searcher  # noqa: E402

THRESHOLDS = (0.70, 0.75, 0.80, 0.85, 0.88, 0.90, 0.92, 0.95)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s.strip()]


def reworded(item: Item, turn: int) -> tuple[str, dict[str, str]]:
    """(how, draft): a rewording of the item as another contributor might send it."""
    text = item.description or item.summary
    original = re.search(r"Original name: (.+?)\.(?:\s|$)", text)
    acronym = re.search(r"\s\(([^()]{2,20})\)$", item.title)
    body = " ".join(s for s in sentences(text) if not s.startswith(("Original name:", "Yearly budget")))
    if turn % 3 == 0 and original:
        return "title in the original language", {"title": original.group(1), "summary": body[:2000]}
    if turn % 3 == 1 or not acronym:
        return "shortened description", {"title": item.title, "summary": " ".join(sentences(body)[:2])}
    plain = item.title[: acronym.start()].strip()
    other = "".join(w[0] for w in plain.split() if w[:1].isalpha()).upper()[:6] or "NEW"
    return "another acronym, half the text", {"title": f"{plain} ({other}-2)", "summary": body[: len(body) // 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stip-home", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with scratch_kb(args.stip_home, "pk-dups-") as kb:
        run(kb, args.pairs, args.seed)


def run(kb: KnowledgeBase, pairs: int, seed: int) -> None:
    rng = random.Random(seed)
    ids = sorted(kb.facet_index.ids)
    items = kb.store.get_items(ids)
    key = {i: (items[i].facets.get("territory", [""])[0], tuple(items[i].facets.get("stip_instrument", [])[:1]))
           for i in ids}
    by_key: dict[tuple, list[str]] = {}
    for i in ids:
        by_key.setdefault(key[i], []).append(i)
    shuffled = ids[:]
    rng.shuffle(shuffled)
    hidden: list[str] = []
    for i in shuffled:  # near-but-different: another published initiative shares country and instrument
        if len(hidden) < pairs and key[i][1] and len(by_key[key[i]]) >= 3:
            hidden.append(i)
            by_key[key[i]].remove(i)
    originals = [i for i in shuffled if i not in set(hidden)][:pairs]
    with kb.writing() as change:
        for item_id in hidden:
            change.removed += kb.store.passage_ids(item_id)
            kb.store.set_status(item_id, "unpublished")
        change.changed = True
    desk = kb.contributions
    positives, negatives, kinds = [], [], {}
    for turn, original in enumerate(originals):
        how, draft = reworded(items[original], turn)
        checks = desk.check(draft)["duplicates"]
        score = max([d["similarity"] for d in checks if d["id"] == original] + [similarity(desk, draft, original)])
        positives.append((score, [d["id"] for d in checks]))
        kinds.setdefault(how, []).append(original in {d["id"] for d in checks})
    for item_id in hidden:
        item = items[item_id]
        draft = {"title": item.title, "summary": (item.description or item.summary)[:2000]}
        negatives.append(max([s for _, s in Searcher(kb.backend).neighbours(draft_text(draft), 10)] + [0.0]))
    flagged_neg = sum(1 for s in negatives if s >= DUPLICATE_SIMILARITY)
    found = sum(1 for score, _ in positives if score >= DUPLICATE_SIMILARITY)
    print(f"{len(originals)} reworded copies of published initiatives, {len(hidden)} near-but-different ones")
    print(f"default warning (exact title, or similarity >= {DUPLICATE_SIMILARITY}): recall {found / len(positives):.2f}, "
          f"precision {found / max(1, found + flagged_neg):.2f}, false alarms on {flagged_neg} of {len(negatives)}")
    for how, right in kinds.items():
        print(f"  {how:<34} {sum(right)} of {len(right)} flagged")
    print(f"{'threshold':>10}{'recall':>8}{'precision':>11}{'false alarms':>14}")
    for t in THRESHOLDS:
        tp = sum(1 for score, _ in positives if score >= t)
        fp = sum(1 for s in negatives if s >= t)
        print(f"{t:>10.2f}{tp / len(positives):>8.2f}{tp / max(1, tp + fp):>11.2f}{fp:>14}")


def draft_text(draft: dict[str, str]) -> str:
    from policykb.models import embed_text

    return embed_text(draft["title"], draft.get("summary") or draft["title"])


def similarity(desk, draft: dict[str, str], original: str) -> float:  # noqa: ANN001
    """The draft's similarity with the original (1.0 for the same title), wherever it ranks."""
    if draft["title"].strip().lower() == desk.kb.store.get_items([original])[original].title.strip().lower():
        return 1.0
    return dict(Searcher(desk.backend).neighbours(draft_text(draft), 10)).get(original, 0.0)


if __name__ == "__main__":
    main()

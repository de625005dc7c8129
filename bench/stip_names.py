"""Cross-language search judged by OECD's data: STIP Compass initiatives whose original-language
name differs from the English one are searched by that original name against their English text.

The script takes the initiatives from the STIP export with the product's own importer, leaves the
original name out of each record (the importer normally adds it to the description), writes them
as records, and ingests them into a fresh knowledge base per model. Each original name is a query;
the initiative it names is the answer. hit@5 and MRR@10 per query language (as detected) and mode.

And the other direction: each of those initiatives as an item written in its original language
(the original name as its only text), queried by its English name.

    .venv/bin/python bench/stip_names.py ../shared/data/stip-compass-2021.csv.gz [--initiatives 1500]
        [--configs "both (default: by language),MiniLM + USE v3 (the earlier default)"]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from policykb.config import Settings  # noqa: E402
from policykb.ingest.importers import stip_records  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from policykb.language.detect import EU_LANGUAGES, detect  # noqa: E402
from policykb.taxonomy import Taxonomy  # noqa: E402

CONFIGS = {  # label: the settings that make it
    "all-MiniLM-L6-v2 only": {"model": "all-MiniLM-L6-v2", "multilingual_model": "none"},
    "USE v3 only": {"model": "use-multilingual"},
    "MiniLM + USE v3 (the earlier default)": {"multilingual_model": "use-multilingual"},
    "multilingual-e5-small only": {"model": "multilingual-e5-small"},
    "both (default: by language)": {},
}
MODES = ("hybrid", "semantic", "keyword")


def records(export: Path, count: int, seed: int) -> tuple[list[dict], dict[str, str]]:
    """`count` initiatives (all those with an original name that differs, then others as
    distractors), without their original names; and {record id: original name}."""
    named, others = [], []
    for _, record in stip_records(export.read_bytes(), Taxonomy.default()):
        if not isinstance(record, dict):
            continue
        found = re.search(r"Original name: (.+?)\.(?:\n|$)", record["description"])
        if found:
            record["description"] = record["description"].replace(found.group(0), "").strip()
            named.append((record, found.group(1).strip()))
        else:
            others.append(record)
    rng = random.Random(seed)
    rng.shuffle(named)
    rng.shuffle(others)
    chosen = named[: count // 2]
    kept = [r for r, _ in chosen] + others[: count - len(chosen)]
    return kept, {r["id"]: name for r, name in chosen if len(name.split()) >= 2}


def foreign_records(kept: list[dict], names: dict[str, str]) -> tuple[list[dict], dict[str, str]]:
    """The other direction: each named initiative as an item written in its original language (its
    original name is all its text, `language` as detected), queried by its English name."""
    items, queries = [], {}
    by_id = {r["id"]: r for r in kept}
    for item, name in names.items():
        code = detect(name)
        items.append({"id": item, "kind": "policy", "title": name, "summary": name, "country": by_id[item]["country"],
                      **({"language": code} if code else {})})
        queries[item] = by_id[item]["title"]
    return items, queries


def evaluate(kb: KnowledgeBase, queries: dict[str, str], languages: dict[str, str]) -> None:
    """Print hit@5 / MRR@10 per language group and mode."""
    table: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for item, query in queries.items():
        for mode in MODES:
            ranked = [h.id for h in kb.search(query, mode=mode, size=10, facets=False).hits]
            hit = float(item in ranked[:5])
            mrr = next((1 / r for r, i in enumerate(ranked, 1) if i == item), 0.0)
            table[(languages[item], mode)].append((hit, mrr))
            table[("all", mode)].append((hit, mrr))
    print(f"{'language':<10}{'queries':>8}" + "".join(f"{m:>18}" for m in MODES))
    counts = {language: len(table[(language, "hybrid")]) for language, mode in table if mode == "hybrid"}
    for language in sorted(counts, key=lambda l_: (l_ != "all", -counts[l_])):
        cells = []
        for mode in MODES:
            rows = table[(language, mode)]
            cells.append(f"{sum(h for h, _ in rows) / len(rows):.2f} / {sum(m for _, m in rows) / len(rows):.2f}")
        eu = "*" if language in EU_LANGUAGES else " "
        print(f"{language:<9}{eu}{counts[language]:>8}" + "".join(f"{c:>18}" for c in cells), flush=True)
    eu_languages = [lang_ for lang_ in counts if lang_ in EU_LANGUAGES and lang_ != "en"]
    cells = []
    for mode in MODES:
        per = [sum(h for h, _ in table[(lang_, mode)]) / len(table[(lang_, mode)]) for lang_ in eu_languages]
        cells.append(f"{sum(per) / len(per):.2f}" if per else "-")
    print(f"{'EU mean':<10}{len(eu_languages):>8}" + "".join(f"{c:>18}" for c in cells)
          + "   (hit@5 averaged over the EU languages other than English, * above)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export", type=Path)
    parser.add_argument("--initiatives", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--configs", default="both (default: by language)", help="which of: " + "; ".join(CONFIGS))
    args = parser.parse_args()
    kept, names = records(args.export, args.initiatives, args.seed)
    foreign, english = foreign_records(kept, names)
    work = Path(tempfile.mkdtemp(prefix="pk-stip-names-"))
    try:
        (work / "en").mkdir()
        (work / "en" / "initiatives.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in kept),
                                                      encoding="utf-8")
        (work / "xx").mkdir()
        (work / "xx" / "names.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in foreign),
                                                encoding="utf-8")
        languages = {item: detect(name) or "?" for item, name in names.items()}
        print(f"{len(kept)} initiatives, {len(names)} queried by their original name")
        for number, (label, config) in enumerate(CONFIGS.items()):
            if label not in args.configs.split(","):
                continue
            with KnowledgeBase(Settings(home=work / str(number), **config)) as kb:
                kb.ingest([work / "en"])
                print(f"\n{label}: original name -> English initiative; hit@5 / MRR@10 per query language", flush=True)
                evaluate(kb, names, languages)
            with KnowledgeBase(Settings(home=work / f"{number}-xx", **config)) as kb:
                kb.ingest([work / "xx"])
                print(f"\n{label}: English name -> item written in the original language ({len(foreign)} items); "
                      "per item language", flush=True)
                evaluate(kb, english, languages)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

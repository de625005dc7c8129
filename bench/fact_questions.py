"""Fact questions over long PDFs: does the passage shown for the answering document hold the
answer? Renders the documents of bench/data/fact_documents.yaml (slide decks and a guide about
fictional programmes, in English, German, French and Spanish) to PDF, adds them to a copy of a
knowledge base of the sample corpus, asks the questions of bench/data/fact_questions.yaml (in
English and other languages) and counts a question as answered when, among the first five
results, the document's result shows a passage holding the answer phrase (hit@5); and, apart,
when the page shown or one of the pages the result also names (`also`) holds it. Reported for
English and other languages, for the questions kept aside (`heldout`) and for each batch written
later (`batch`: written before the changes of that day and kept aside from them).

    .venv/bin/policykb --home /tmp/kb-sample ingest ingest/
    .venv/bin/python bench/fact_questions.py --home /tmp/kb-sample [--mode hybrid] [--show]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from policykb.config import Settings  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from tests.fact_pdfs import answered, named_page, page_texts, questions, render_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="a knowledge base of the sample corpus (copied)")
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--show", action="store_true", help="print each question with the passage shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "kb"
        shutil.copytree(args.home, home)
        docs = Path(tmp) / "facts"
        render_all(docs)
        with KnowledgeBase(Settings(home=home)) as kb:
            ingested = kb.ingest([docs])
            print(f"models {' + '.join(s.key for s in kb.spaces)}; {ingested.added} documents added, "
                  f"{sum(len(kb.get(p.stem)['passages']) for p in docs.glob('*.pdf'))} passages")
            rows = []
            named = []
            pages = page_texts(docs)
            for q in questions():
                result = kb.search(q["q"], mode=args.mode, size=5, facets=False)
                ok = answered(result.hits, q)
                rows.append((q, ok))
                named.append((q, named_page(result.hits, q, pages)))
                if args.show:
                    shown = next((h for h in result.hits if h.id == q["doc"]), None)
                    also = "".join(f" [also p. {a['page']}]" for a in shown.also) if shown else ""
                    where = (f"p. {shown.page}: {' '.join(shown.passage.split())[:150]}{also}" if shown
                             else "document not in top 5")
                    print(f"{'ok ' if ok else 'NO '} [{q['lang']}] {q['q']}\n      {where}")
    show(f"hit@5 with the answer in the shown passage ({args.mode})", rows)
    show(f"hit@5 with the answer on the page shown or on a page the result also names ({args.mode})", named)


def show(heading: str, rows: list[tuple[dict, bool]]) -> None:
    groups = {
        "English": [ok for q, ok in rows if q["lang"] == "en"],
        "other languages": [ok for q, ok in rows if q["lang"] != "en"],
        "English, held out": [ok for q, ok in rows if q["lang"] == "en" and q.get("heldout")],
        "other languages, held out": [ok for q, ok in rows if q["lang"] != "en" and q.get("heldout")],
    }
    for batch in sorted({str(q["batch"]) for q, _ in rows if q.get("batch")}):
        groups[f"written {batch}"] = [ok for q, ok in rows if str(q.get("batch")) == batch]
    print(f"\n{heading}:")
    for name, oks in groups.items():
        print(f"  {name:<28}{mean(oks) if oks else 0:6.2f}  ({sum(oks)} of {len(oks)})")

if __name__ == "__main__":
    main()

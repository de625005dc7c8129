"""Language detection of short questions: the product's detector (`policykb.language.detect`: a
question mostly made of common English words is English; else lingua's low-accuracy mode on its
words without names) against lingua alone (both modes) and langdetect (if installed).

Sets: the multilingual evaluation questions (bench/data/multilingual_questions.yaml, 23 languages:
lingua has no Maltese), the on-topic English questions of the relevance tests, SciFact's 300 test
claims (English scientific sentences, where a wrong guess sends a question to the wrong model), and
short questions that name something, in English and the other 23 languages
(bench/data/short_questions.yaml, kept aside from the detector's last change).

    .venv/bin/python bench/language_detection.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policykb.language import detect as lang  # noqa: E402
from tests.test_relevance import ON_TOPIC  # noqa: E402


def sets() -> dict[str, list[tuple[str, str]]]:
    questions = yaml.safe_load((ROOT / "bench/data/multilingual_questions.yaml").read_text(encoding="utf-8"))
    multilingual = [(code, text) for q in questions for code, text in q.items()
                    if code not in ("expected", "heldout", "mt")]  # (lingua has no Maltese)
    scifact = ROOT.parent / "shared/data/beir-scifact"
    test = {line.split("\t")[0] for line in (scifact / "qrels/test.tsv").read_text().splitlines()[1:]}
    claims = [json.loads(line) for line in (scifact / "queries.jsonl").read_text().splitlines()]
    short = yaml.safe_load((ROOT / "bench/data/short_questions.yaml").read_text(encoding="utf-8"))
    return {"multilingual questions": multilingual, "English questions (relevance tests)":
            [("en", q) for q, _ in ON_TOPIC], "SciFact claims (English)": [("en", c["text"]) for c in claims
                                                                          if c["_id"] in test],
            "short questions naming something, English": [("en", q["q"]) for q in short if q["lang"] == "en"],
            "short questions naming something, other": [(q["lang"], q["q"]) for q in short if q["lang"] != "en"]}


def lingua(high_accuracy: bool):  # -> a detector function
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, c.upper()) for c in lang.EU_LANGUAGES + lang.OTHER_LANGUAGES + lang.UNSERVED
             if hasattr(IsoCode639_1, c.upper())]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
    detector = (builder if high_accuracy else builder.with_low_accuracy_mode()).build()

    def detect(text: str) -> str | None:
        if len(text.split()) < lang.MIN_WORDS:
            return None
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else None

    return detect


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    detectors = {"policykb (English words, then lingua's low-accuracy mode on the text without names)": lang.detect,
                 "lingua alone, low accuracy": lingua(False), "lingua alone, high accuracy": lingua(True)}
    try:
        from langdetect import DetectorFactory, detect as langdetect

        DetectorFactory.seed = 0
        detectors["langdetect"] = lambda t: langdetect(t)[:2]
    except ImportError:
        pass
    for name, detect in detectors.items():
        started = time.perf_counter()
        detect("warm up the detector")
        print(f"\n{name}   (first call, loading: {time.perf_counter() - started:.1f} s)")
        for label, rows in sets().items():
            started = time.perf_counter()
            guesses = [(code, detect(text)) for code, text in rows]
            ms = (time.perf_counter() - started) * 1000 / len(rows)
            right = sum(code == guess for code, guess in guesses)
            wrong = Counter(f"{code}->{guess}" for code, guess in guesses if code != guess)
            print(f"  {label:<38} {right:>3} of {len(rows)} right  {ms:5.1f} ms each  "
                  + ", ".join(f"{k} x{n}" for k, n in wrong.most_common(6)))


if __name__ == "__main__":
    main()

"""The language of a question, detected offline (lingua, models inside its wheel), and which
languages an embedding model matches across.

A search reports the language it detected (or the one the user forced); when the model does not
cover that language, the answer says so, instead of failing in silence.
"""

from __future__ import annotations

import re
from functools import lru_cache

# The 24 official EU languages (ISO 639-1).
EU_LANGUAGES = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv",
                "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv")
# The other languages the multilingual encoder covers: detected too, so that the original names of
# policies from Turkey, Korea, Japan or China (STIP Compass holds many) reach the model that reads them.
OTHER_LANGUAGES = ("ar", "ja", "ko", "ru", "th", "tr", "zh")
# What each shipped model matches a question in, against English text (measured in BENCHMARKS.md,
# "Across languages"; the languages from the model's documentation).
MODEL_LANGUAGES = {
    "all-MiniLM-L6-v2": frozenset({"en"}),
    "use-multilingual-v3": frozenset({"en", "de", "fr", "it", "es", "pl", "nl", "pt", *OTHER_LANGUAGES}),
}
NAMES = {"bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
         "es": "Spanish", "et": "Estonian", "fi": "Finnish", "fr": "French", "ga": "Irish", "hr": "Croatian",
         "hu": "Hungarian", "it": "Italian", "lt": "Lithuanian", "lv": "Latvian", "mt": "Maltese", "nl": "Dutch",
         "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "sk": "Slovak", "sl": "Slovenian", "sv": "Swedish",
         "ar": "Arabic", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "th": "Thai", "tr": "Turkish",
         "zh": "Chinese"}
MIN_WORDS = 2  # one word says too little about its language
# Another language is reported only when the detector is surer of it than of English by this much:
# English scientific claims full of Latin and Greek terms were read as French or German (4 of
# SciFact's 300), while real questions in other languages beat English by 0.48 or more
# (`bench/language_detection.py`).
ENGLISH_MARGIN = 0.3
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # Thai, kana, CJK, Hangul


@lru_cache(maxsize=1)
def _detector():  # -> lingua.LanguageDetector | None
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:  # an install without it: no detection, searches go on
        return None
    codes = [getattr(IsoCode639_1, code.upper()) for code in EU_LANGUAGES + OTHER_LANGUAGES
             if hasattr(IsoCode639_1, code.upper())]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


@lru_cache(maxsize=1024)  # a filter click or the next page asks the same question again
def detect(text: str) -> str | None:
    """The ISO 639-1 code of the text's language among the EU languages (and the other ones the
    multilingual encoder covers), or None when the text is too short to tell (one word; scripts
    written without spaces need two characters of theirs) or no detector is installed."""
    unspaced = sum(1 for c in text if _UNSPACED.match(c))
    if len(text.split()) < MIN_WORDS and unspaced < 2:
        return None
    detector = _detector()
    if detector is None:
        return None
    values = detector.compute_language_confidence_values(text)
    if not values or values[0].value <= 0:
        return None
    english = next((v.value for v in values if v.language.iso_code_639_1.name == "EN"), 0.0)
    if values[0].value - english < ENGLISH_MARGIN:  # in doubt, English (most of what is asked and written)
        return "en"
    return values[0].language.iso_code_639_1.name.lower()


def covered(model: str, language: str | None) -> bool | None:
    """Whether the model matches questions in `language` (None when nobody knows)."""
    languages = MODEL_LANGUAGES.get(model)
    return None if languages is None or language is None else language in languages

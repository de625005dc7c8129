"""One text-normalisation step for everything that is indexed, embedded or asked, and the ASCII
fold that matching uses.

`normalise` is applied to what every loader reads (PDF pages, Markdown, HTML, plain text, the text
fields of records from YAML, JSON, CSV, front matter, sidecars and uploads) and to every query:

- Unicode NFKC: ligatures (U+FB01 "ﬁ" -> "fi"), full-width and compatibility forms, no-break spaces;
- a line-end hyphenation is joined: always after a soft hyphen, and after a hyphen only where the
  halves do not form separate words ("digitali-/sation" -> "digitalisation", "cross-/border" stays
  "cross-border"; see `_join`);
- format characters (Unicode category Cf: soft hyphens, zero-width spaces and joiners, bidi
  controls, byte-order marks) and control characters other than white space are dropped;
- Unicode hyphens and dashes become "-", typographic quotes become ' and ".

What is stored and shown keeps its letters ("Łódź" stays "Łódź"); only matching folds them to
ASCII (`fold`, with AnyAscii's transliteration table: "Łódź" -> "Lodz", "Ærø" -> "Aero", "Львів" ->
"L'viv"), in the keyword tokenizer (`bm25.py`), facet values (`taxonomy.py`), field names
(`ingest/records.py`) and ids (`slug`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

HYPHENS = {0x2010: "-", 0x2011: "-"}  # hyphen, non-breaking hyphen (NFKC keeps both)
DASHES_AND_QUOTES = {
    **{c: "-" for c in (0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63)},  # dashes, minus
    **{c: "'" for c in (0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0x2035)},
    **{c: '"' for c in (0x201C, 0x201D, 0x201E, 0x201F, 0x2033, 0x2036)},
}
_HYPHEN = re.compile("[" + "".join(map(chr, HYPHENS)) + "]")
_DASH_OR_QUOTE = re.compile("[" + "".join(map(chr, DASHES_AND_QUOTES)) + "]")
_SOFT_BREAK = re.compile(r"\u00ad[ \t]*(?:\r?\n[ \t]*)?")  # a soft hyphen, and the line break after it
_HARD_BREAK = re.compile(r"(\w+)-[ \t]*\r?\n[ \t]*(\w+)")  # word-hyphen, line break, word
_KEEP_CONTROLS = frozenset("\t\n\v\f\r")  # control characters that are white space
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
MIN_WORD_COUNT = 100  # how often a word must occur in the word list to count as a word of its own


def _drop_invisible(text: str) -> str:
    """Without format characters (Cf) and control characters (Cc) other than white space."""
    if text.isascii():
        return _ASCII_CONTROLS.sub("", text)
    drop = {ord(c): None for c in set(text)
            if unicodedata.category(c) in ("Cf", "Cc") and c not in _KEEP_CONTROLS}
    return text.translate(drop) if drop else text


def normalise(text: str) -> str:
    """The text as it is stored, embedded and matched (see the module's docstring)."""
    if not text:
        return text
    # (each step runs only on text holding what it changes: most stored text is normalised already)
    if not text.isascii():
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        if "\u00ad" in text:
            text = _SOFT_BREAK.sub("", text)
        if _HYPHEN.search(text):
            text = text.translate(HYPHENS)
    if "-" in text and "\n" in text:
        text = _HARD_BREAK.sub(_join, text)
    text = _drop_invisible(text)
    return text if text.isascii() or not _DASH_OR_QUOTE.search(text) else text.translate(DASHES_AND_QUOTES)


def title_key(title: str) -> str:
    """A title as titles are compared (a duplicate's "same title", published or pending): `normalise`d,
    case-folded ("VINNVÄXT" -> "vinnväxt", "Straße" -> "strasse"), NFKC again (case folding can undo
    it), white space collapsed to single spaces and trimmed."""
    key = normalise(title or "").casefold()
    if not key.isascii() and not unicodedata.is_normalized("NFKC", key):
        key = unicodedata.normalize("NFKC", key)
    return " ".join(key.split())


def _join(match: re.Match[str]) -> str:
    """A word broken by a hyphen at a line end: one word again ("digitali-/sation"), unless the
    hyphen belongs there: a one-letter part ("e-/commerce"), digits ("COVID-/19"), a capital after
    it ("Baden-/Württemberg"), or two words of their own whose joined form is not a word
    ("cross-/border"; but "co-/operation" -> "cooperation")."""
    left, right = match.group(1), match.group(2)
    kept = f"{left}-{right}"
    if len(left) < 2 or len(right) < 2 or not (left + right).isalpha():
        return kept
    if right[0].isupper() and not left.isupper():
        return kept
    joined = (left + right).lower()
    if _known(joined, 1) or not (_known(left.lower(), MIN_WORD_COUNT) and _known(right.lower(), MIN_WORD_COUNT)):
        return left + right
    return kept


@lru_cache(maxsize=1)
def _words() -> dict[str, int]:
    """English words with how often they occur (pyspellchecker's list, loaded when first needed).

    Read from the package's file, in half the time its `SpellChecker` takes (which also counts
    letters and lengths for its corrections: 0.15 s of every server's start); the same words and
    counts, since the file's words are lower case (a test compares the two)."""
    import gzip
    import json
    from importlib.resources import files

    try:
        data = gzip.decompress(files("spellchecker").joinpath("resources", "en.json.gz").read_bytes()).decode()
    except (OSError, ModuleNotFoundError):  # a release that keeps its list elsewhere: ask it
        data = ""
    if not data.islower():  # (upper case: the library sums the counts of the words it folds)
        from spellchecker import SpellChecker

        return dict(SpellChecker(language="en", case_sensitive=False).word_frequency.dictionary)
    words: dict[str, int] = json.loads(data)
    return words


def english_word(word: str) -> bool:
    """A common English word (lower case): how a question's language is told from its words."""
    return _known(word, 50)


def _known(word: str, at_least: int) -> bool:
    """Whether `word` (lower case) is an English word: in the word list as spelled, or as its
    American twin (the list is American: "organisation" is known as "organization")."""
    from policykb.language.spelling import american

    words = _words()
    return words.get(word, 0) >= at_least or words.get(american(word), 0) >= at_least


@lru_cache(maxsize=50_000)
def _fold_letter(c: str) -> str:
    """A letter or digit in ASCII for matching: its letters and digits by AnyAscii ("ł" -> "l",
    "æ" -> "ae", "ß" -> "ss", "ь" -> ""), or itself when the table has nothing for it."""
    ascii_form = anyascii(c)
    kept = "".join(ch for ch in ascii_form if ch.isalnum())
    return kept if kept or ascii_form else c


def fold_word(word: str) -> str:
    """A run of letters and digits folded to ASCII letters and digits (see `_fold_letter`), lower case."""
    if word.isascii():
        return word.lower()
    word = unicodedata.normalize("NFKC", word)
    if "\u03bc" in word and any(c.isascii() for c in word):  # the micro sign in a unit: "5μm" -> "5um", not "5mm"
        word = word.replace("\u03bc", "u")
    return "".join(_fold_letter(c) if not c.isascii() else c for c in word).lower()


def fold(text: str) -> str:
    """Any text in ASCII for matching (AnyAscii's transliteration), lower case."""
    return anyascii(text).lower() if not text.isascii() else text.lower()


TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(?:\s[^<>]{0,300})?/?>")  # an HTML tag, <b> to <img src=...>


def slug(text: str, length: int = 80) -> str:
    """An id made from a title or a file name: transliterated to ASCII, lower case, words joined by
    "-" ("Łódź textile cluster" -> "lodz-textile-cluster", "Кластер ІТ-компаній Львова" ->
    "klaster-it-kompaniy-lvova"), cut at a word boundary; when nothing transliterates, a short
    hash of the text ("item-" and 10 hex digits), never one constant for every such title. Markup
    tags are not words of it ("<b>Export</b> vouchers" -> "export-vouchers", not "b-export-b-...")."""
    ascii_form = anyascii(normalise(TAG.sub(" ", text))).lower().replace("'", "").replace("`", "")
    out = re.sub(r"[^a-z0-9]+", "-", ascii_form).strip("-")
    if len(out) > length:
        cut = out[:length + 1]
        out = cut[:cut.rfind("-")] if "-" in cut[1:] else out[:length]
        out = out.strip("-")
    return out or "item-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]

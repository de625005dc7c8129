"""The words of a question that keyword search uses: function words of the question's language
left out (of any of the EU's 24 languages, not only English), and the literal terms (acronyms,
codes, names written with capitals or digits, quoted phrases) that a user means letter for letter.

Function words come from the `stopwordsiso` package (23 EU languages; a short Maltese list is
written here), compared without accents, so a question in French that names a programme keeps
only the programme's name and its content words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Words an English question is made of besides its subject (kept short and deliberate: the English
# lists of stopword packages hold content words such as "ai", "research" or "value").
ENGLISH = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not of
    off on once only or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what
    when where which while who whom whose why will with would you your yours other others also may might
    much many
    must shall us via whether etc eg ie please tell show give find list""".split()
)
# Maltese (not in stopwordsiso): articles, prepositions, conjunctions, pronouns, question words.
MALTESE = frozenset(
    """il l in is ix iz iċ id it ir in-n ta tal tad tat tas tax taċ taż fil fl fis fit fid fix għal għall
    għat għas mill minn ma mal mat mas max bil b bl bis bit u jew imma li ġo fuq taħt bejn wara qabel
    sa lejn dwar kif kemm x xi xiex fejn meta min liema għaliex għala hu huwa hi hija huma aħna intom
    dan din dawn dak dik dawk kien kienet kienu hemm hawn ukoll biss""".split()
)
# A literal term: two capitals or more (SME, SMEs, ERDF, R&D, KETs), or a digit with letters or
# other digits (H2020, S3, 2021-2027), or anything in double quotes.
_LITERAL = re.compile(r"\b[\w&./-]*\w\b")
_QUOTED = re.compile(r'"([^"]+)"')


def fold(word: str) -> str:
    """Lower case without accents (for comparing with function-word lists written either way)."""
    if word.isascii():  # (most words a question's passages hold: 3x quicker)
        return word.lower()
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=64)
def function_words(language: str | None) -> frozenset[str]:
    """Function words of a language (folded), English's for English or an unknown language."""
    if language in (None, "en"):
        return frozenset(fold(w) for w in ENGLISH)
    if language == "mt":
        return frozenset(fold(w) for w in MALTESE)
    try:
        import stopwordsiso
    except ImportError:  # pragma: no cover - a declared dependency
        return frozenset()
    if not stopwordsiso.has_lang(language):
        return frozenset()
    return frozenset(fold(w) for w in stopwordsiso.stopwords(language))


@lru_cache(maxsize=64)
def skipped_words(language: str | None) -> frozenset[str]:
    """The function words left out of a question in `language`: English's and that language's."""
    return function_words(None) | function_words(language)


def content_words(query: str, language: str | None = None) -> list[str]:
    """Lower-cased query words without English function words and, for a question in another
    language, without that language's function words too (distinct, in order)."""
    words = [w.lower() for w in _TOKEN.findall(query)]
    skip = skipped_words(language)
    return list(dict.fromkeys(w for w in words if fold(w) not in skip))


def has_content(query: str, language: str | None = None) -> bool:
    """Whether a question holds a word to search for: one of two characters or more that is not a
    function word, or an acronym or code ("R&D", "5G"; not "OR"). "k", "é", "ab" asked in German,
    "what is it" and "' OR 1=1 --" hold none: the multilingual model finds some passages near
    anything (such a question found 27-52 of 78 items), and a lone digit is in many passages."""
    if any(len(w) > 1 for w in content_words(query, language)):
        return True
    skip = skipped_words(language)
    return any(len(span) > 1 and fold(span) not in skip for span in literal_words(query))


def literal_words(query: str) -> list[str]:
    """The spans of a query meant letter for letter: acronyms and codes, and quoted phrases."""
    spans = [m.group(1) for m in _QUOTED.finditer(query)]
    for m in _LITERAL.finditer(_QUOTED.sub(" ", query)):
        span = m.group()
        capitals = sum(c.isupper() for c in span)
        digits = any(c.isdigit() for c in span)
        if capitals >= 2 and capitals * 2 >= sum(c.isalpha() for c in span) or digits and len(span) > 1:
            spans.append(span)
    return list(dict.fromkeys(spans))

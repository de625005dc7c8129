"""British and American spellings of a word read as one word by keyword search.

The keyword tokenizer (`bm25.py`) maps every word, on the index side and the query side alike, to
its British spelling (the sample corpus's) before stemming: "organization" -> "organisation",
"program" -> "programme", "center" -> "centre", "labor" -> "labour", "license" -> "licence",
"analyze" -> "analyse", "hemoglobin" -> "haemoglobin". One canonical form means one term, so BM25's
statistics stay coherent and "No item contains: program" cannot happen when items say "programme".
British text is left as it is (its tokens stay FTS5's), except the verb "license", which becomes
the noun "licence" (American English spells both "license").

Rules, then a table of words that no rule covers (and `american`, the way back, used to look a
British word up in an American word list). Words come in lower case ASCII (`text.fold_word`).
"""

from __future__ import annotations

import re
from functools import lru_cache

# -ize/-ization -> -ise/-isation, with at least three letters before it ("size", "prize" and
# "seize" are spelled so in both); -lyze -> -lyse.
_IZE = re.compile(r"^([a-z]{3,})iz(e|es|ed|ing|er|ers|ation|ations|ational|able)$")
_ISE = re.compile(r"^([a-z]{3,})is(e|es|ed|ing|er|ers|ation|ations|ational|able)$")
_LYZE = re.compile(r"^([a-z]+)lyz(e|es|ed|ing|er|ers)$")
_LYSE = re.compile(r"^([a-z]+)lys(e|es|ed|ing|er|ers)$")

# -or -> -our in these words (with any prefix: "discolored", "unfavorable") and only before these
# endings ("laboratory", "humorous", "colorectal" and "vigorous" are spelled so in both).
_OUR_ROOTS = ("lab|col|fav|behavi|neighb|hon|harb|flav|rum|hum|vap|vig|tum|od|sav|savi|endeav|arm|parl|"
              "clam|val|rig|splend|cand|ard|demean|glam")
_OUR_ENDINGS = "s|ed|ing|er|ers|ful|fully|less|able|ably|al|ally|ism|ist|ists|ite|ites|itism|hood|hoods"
_OR = re.compile(rf"^([a-z]*?)({_OUR_ROOTS})or({_OUR_ENDINGS})?$")
_OUR = re.compile(rf"^([a-z]*?)({_OUR_ROOTS})our({_OUR_ENDINGS})?$")

# -er -> -re: centre, theatre and fibre with any prefix, metre and litre as units, the rest alone.
_ER = re.compile(r"^((?:[a-z]*?)(?:cent|theat|fib)|(?:kilo|centi|milli|micro|nano|deci)?(?:met|lit)|"
                 r"calib|sab|somb|meag|spect|scept|lust|lacklust|goit|mit|och|sepulch)er(s|ed|ing)?$")
_RE = re.compile(r"^((?:[a-z]*?)(?:cent|theat|fib)|(?:kilo|centi|milli|micro|nano|deci)?(?:met|lit)|"
                 r"calib|sab|somb|meag|spect|scept|lust|lacklust|goit|mit|och|sepulch)r(e|es|ed|ing)$")
_RE_ENDINGS = {None: "e", "s": "es", "ed": "ed", "ing": "ing"}
_ER_ENDINGS = {"e": "", "es": "s", "ed": "ed", "ing": "ing"}

# Word beginnings and endings, mostly medical (ae/oe in British English).
PREFIXES = (
    ("hemo", "haemo"), ("hemat", "haemat"), ("anem", "anaem"), ("anesth", "anaesth"), ("pediatr", "paediatr"),
    ("orthoped", "orthopaed"), ("gynec", "gynaec"), ("esophag", "oesophag"), ("estrog", "oestrog"),
    ("estrad", "oestrad"), ("edem", "oedem"), ("etiolog", "aetiolog"), ("leukem", "leukaem"),
    ("paleo", "palaeo"), ("archeolog", "archaeolog"), ("encycloped", "encyclopaed"), ("sulf", "sulph"),
    ("skeptic", "sceptic"), ("celiac", "coeliac"), ("cesarean", "caesarean"),
)
_US_BEGINNINGS = tuple(us for us, _ in PREFIXES)
_EMIA = re.compile(r"(?<![ao])emia(s)?$")  # ischemia -> ischaemia
_EMIC = re.compile(r"(isch|glyc|an|septic|bacter|leuk|ur|vir|tox|lipid|cholesterol|kal|natr|calc)emic(s)?$")
_AEMIA = re.compile(r"aemia(s)?$")
_AEMIC = re.compile(r"(isch|glyc|an|septic|bacter|leuk|ur|vir|tox|lipid|cholesterol|kal|natr|calc)aemic(s)?$")
_OEA = (("rrhea", "rrhoea"), ("pnea", "pnoea"))  # diarrhea, dyspnea


def _inflected(pairs: dict[str, str], endings: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {us + a: uk + b for us, uk in pairs.items() for a, b in endings}


# American -> British words that no rule covers.
WORDS: dict[str, str] = {
    "program": "programme", "programs": "programmes",
    **_inflected({"catalog": "catalogu", "dialog": "dialogu", "analog": "analogu", "monolog": "monologu",
                  "prolog": "prologu", "epilog": "epilogu", "travelog": "travelogu"},
                 (("", "e"), ("s", "es"), ("ed", "ed"), ("ing", "ing"))),
    **_inflected({"defens": "defenc", "offens": "offenc", "pretens": "pretenc", "licens": "licenc"},
                 (("e", "e"), ("es", "es"))),
    "defenseless": "defenceless",
    "gray": "grey", "grays": "greys", "grayish": "greyish", "grayer": "greyer",
    **_inflected({"mold": "mould", "plow": "plough", "smolder": "smoulder"},
                 (("", ""), ("s", "s"), ("ed", "ed"), ("ing", "ing"), ("ings", "ings"), ("y", "y"))),
    "artifact": "artefact", "artifacts": "artefacts", "aluminum": "aluminium", "jewelry": "jewellery",
    "judgment": "judgement", "judgments": "judgements", "acknowledgment": "acknowledgement",
    "acknowledgments": "acknowledgements", "skillful": "skilful", "skillfully": "skilfully", "willful": "wilful",
    "fueled": "fuelled", "fueling": "fuelling", "dialed": "dialled", "dialing": "dialling",
    "counselor": "counsellor", "counselors": "counsellors", "counseling": "counselling", "counseled": "counselled",
    "practicing": "practising", "practiced": "practised", "fetus": "foetus", "fetuses": "foetuses",
    "fetal": "foetal", "mustache": "moustache", "pajamas": "pyjamas", "cozy": "cosy",
    "maneuver": "manoeuvre", "maneuvers": "manoeuvres", "maneuvered": "manoeuvred", "maneuvering": "manoeuvring",
    "maneuverable": "manoeuvrable",
}
BRITISH_WORDS = {uk: us for us, uk in WORDS.items()}


@lru_cache(maxsize=200_000)
def british(word: str) -> str:
    """The British spelling of a lower-case word (itself if it has no other)."""
    if len(word) < 4 or not word.isalpha():
        return word
    if word in WORDS:
        return WORDS[word]
    if word.startswith(_US_BEGINNINGS):
        for us, uk in PREFIXES:
            if word.startswith(us):
                word = uk + word[len(us):]
                break
    # (each pattern is tried only on words holding the letters it needs: most words hold none)
    if "iz" in word and (m := _IZE.match(word)):
        return f"{m[1]}is{m[2]}"
    if "lyz" in word and (m := _LYZE.match(word)):
        return f"{m[1]}lys{m[2]}"
    if "or" in word and (m := _OR.match(word)):
        return f"{m[1]}{m[2]}our{m[3] or ''}"
    if "er" in word and (m := _ER.match(word)):
        return f"{m[1]}r{_RE_ENDINGS[m[2]]}"
    if "emi" in word:
        if m := _EMIC.search(word):
            return f"{word[:m.start()]}{m[1]}aemic{m[2] or ''}"
        if m := _EMIA.search(word):
            return f"{word[:m.start()]}aemia{m[1] or ''}"
    for us, uk in _OEA:
        if word.endswith(us):
            return word[: -len(us)] + uk
    return word


@lru_cache(maxsize=50_000)
def american(word: str) -> str:
    """The American spelling of a lower-case British word (itself if it has no other)."""
    if len(word) < 4 or not word.isalpha():
        return word
    if word in BRITISH_WORDS:
        return BRITISH_WORDS[word]
    for us, uk in PREFIXES:
        if word.startswith(uk):
            word = us + word[len(uk):]
            break
    if m := _ISE.match(word):
        return f"{m[1]}iz{m[2]}"
    if m := _LYSE.match(word):
        return f"{m[1]}lyz{m[2]}"
    if m := _OUR.match(word):
        return f"{m[1]}{m[2]}or{m[3] or ''}"
    if m := _RE.match(word):
        return f"{m[1]}er{_ER_ENDINGS[m[2]]}"
    if m := _AEMIC.search(word):
        return f"{word[:m.start()]}{m[1]}emic{m[2] or ''}"
    if m := _AEMIA.search(word):
        return f"{word[:m.start()]}emia{m[1] or ''}"
    for us, uk in _OEA:
        if word.endswith(uk):
            return word[: -len(uk)] + us
    return word

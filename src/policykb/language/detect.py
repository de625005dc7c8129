"""The language of a question, detected offline (lingua, models inside its wheel), and which
languages an embedding model matches across.

A search reports the language it detected (or the one the user forced); when the model does not
cover that language, the answer says so, instead of failing in silence. A question goes to the
English model only when English is what its words say; anything else goes to the multilingual one.
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
    "multilingual-e5-small": frozenset({*EU_LANGUAGES, *OTHER_LANGUAGES}),
}
NAMES = {"bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
         "es": "Spanish", "et": "Estonian", "fi": "Finnish", "fr": "French", "ga": "Irish", "hr": "Croatian",
         "hu": "Hungarian", "it": "Italian", "lt": "Lithuanian", "lv": "Latvian", "mt": "Maltese", "nl": "Dutch",
         "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "sk": "Slovak", "sl": "Slovenian", "sv": "Swedish",
         "ar": "Arabic", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "th": "Thai", "tr": "Turkish",
         "zh": "Chinese"}
# Detected so as to be recognised, not served: Latin is what placeholder text ("lorem ipsum dolor
# sit amet") is written in, and no question about policy is.
UNSERVED = ("la",)
UNSERVED_NAMES = {"la": "Latin"}
MIN_WORDS = 2  # one word says too little about its language
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # Thai, kana, CJK, Hangul
_WORD = re.compile(r"\S+")


def language_name(code: str | None) -> str:
    """The English name of a language code the detector may report ("la": Latin), else the code."""
    return NAMES.get(code or "") or UNSERVED_NAMES.get(code or "") or str(code)


@lru_cache(maxsize=1)
def _detector():  # -> lingua.LanguageDetector | None
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:  # an install without it: no detection, searches go on
        return None
    codes = [getattr(IsoCode639_1, code.upper()) for code in EU_LANGUAGES + OTHER_LANGUAGES + UNSERVED
             if hasattr(IsoCode639_1, code.upper())]
    # The low-accuracy mode (trigrams only) loads in a second and a few MB where the full one took
    # tens of seconds and 600 MB; English, which decides the model, is told by its words (`_english`).
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_low_accuracy_mode().build()


def without_names(text: str) -> str:
    """The words that tell a question's language: names (capitalised after the first word), codes
    and numbers left out, as long as two words remain ("Combien d'argent reçoit le programme
    Euroclusters ?" is French, whatever the programme's name looks like)."""
    words = _WORD.findall(text)

    def in_name(i: int) -> bool:  # "de" in "Valle de Luna", "von" in "Ursula von der Leyen"
        return (0 < i < len(words) - 1 and words[i] in NAME_PARTICLES and words[i - 1][:1].isupper()
                and (words[i + 1][:1].isupper() or (words[i + 1] in NAME_PARTICLES and in_name(i + 1))))

    kept = [w for i, w in enumerate(words)
            if not (i and w[:1].isupper()) and not any(c.isdigit() for c in w) and any(c.isalpha() for c in w)
            and not in_name(i)]
    return " ".join(kept) if len(kept) >= MIN_WORDS else text


NAME_PARTICLES = frozenset("de del della di da du des van von der den y".split())  # between a name's words


# Maltese function words that no other EU language writes the same way (articles joined to
# prepositions, conjunctions, question words).
_MALTESE_MARKERS = frozenset("""tal tad tax fl ta' f' taċ taż tal- fis fid fil għal għall għat għas għan għar mill minn
    bil bl imma ġo fuq taħt bejn wara qabel lejn dwar kif kemm xiex fejn liema għaliex għala huwa hija huma aħna
    intom dawk kien kienet kienu hemm hawn ukoll biss jkun ħafna""".split())
# Maltese articles joined to their noun by a hyphen ("tat-teknoloġija", "lin-negozji", "fil-qasam"):
# counted only so ("tat", "Lin" alone are English words and names).
_MALTESE_JOINED = re.compile(r"(?<![\w-])(?:ta[tlsdrnxżċ]|lil|lill|lin|bil|fil|mill|għall|għat|għal)-[^\W\d_]")
SURE = 0.55  # detector confidence from which a question is taken to be written in its language
ANY = 0.2  # ... under which it is taken to be in none of the detector's languages (1 of 391 translated questions)


@lru_cache(maxsize=1024)  # a filter click or the next page asks the same question again
def identify(text: str) -> tuple[str | None, float]:
    """The ISO 639-1 code of the text's language among the EU languages (and the other ones the
    multilingual encoder covers), read from its words without its names, and the detector's
    confidence (0-1; real questions in a language score 0.6 or more, typing errors and nonsense
    less); (None, 0) when the text is too short to tell (one word; scripts written without spaces
    need two characters of theirs) or no detector is installed."""
    unspaced = sum(1 for c in text if _UNSPACED.match(c))
    if len(text.split()) < MIN_WORDS and unspaced < 2:
        return None, 0.0
    detector = _detector()
    if detector is None:
        return None, 0.0
    if not unspaced and _maltese(text):
        return "mt", 1.0
    share = 0.0 if unspaced else _english(text)
    if share >= ENGLISH_WORDS:
        return "en", share
    values = detector.compute_language_confidence_values(text if unspaced else without_names(text))
    values = [v for v in values if v.value > 0]
    if values and values[0].language.iso_code_639_1.name == "EN" and share < SOME_ENGLISH:
        values = values[1:]  # a guess of English without English words: the next guess
    if values and values[0].value < ANY:
        # the detector's best guess among languages that are all unlike the text: a Swahili question
        # was "Finnish" (0.05) and answered as such; in no language surely, the multilingual model
        # reads it (a guess after a set-aside Latin one has its own bar, NEXT_GUESS; an elided article's
        # language chosen below among the others may be a weaker guess: "l'innovation ..." is French)
        return None, 0.0
    if values and values[0].language.iso_code_639_1.name not in ELIDING and _elides(text):
        # an elided article is French, Italian or Irish: "l'innovation ouverte en Europe" (read as German)
        values = [v for v in values if v.language.iso_code_639_1.name in ELIDING] or values
    if not values:
        return None, 0.0
    code, confidence = values[0].language.iso_code_639_1.name.lower(), float(values[0].value)
    if code in UNSERVED and confidence < SURE:
        # Not surely Latin: a question in a served language written without its accents ("poles de
        # competitivite", French, read as Latin 0.40) is in none surely, rather than sent to the
        # English model as placeholder text with a note about questions in "la"
        return None, 0.0
    if code in UNSERVED and not _placeholder(text):
        # Latin by its letters but not in placeholder words: English with Latin-rooted terms when half
        # its words are English ("Hypocretin neurones induce panicprone state in rats."), else a short
        # question in a served language ("Norges nationale program for innovationsklynger", Danish)
        if share >= LATINATE_ENGLISH:
            return "en", share
        values = [v for v in values[1:] if v.language.iso_code_639_1.name.lower() not in UNSERVED
                  and not (v.language.iso_code_639_1.name == "EN" and share < SOME_ENGLISH)]
        if not values or values[0].value < NEXT_GUESS:
            return None, 0.0  # (in no language surely: the multilingual model reads it)
        code, confidence = values[0].language.iso_code_639_1.name.lower(), float(values[0].value)
    return code, confidence


# The words placeholder text ("lorem ipsum") is made of: the classic passages (Cicero's "Sed ut
# perspiciatis..." and "At vero eos..." too) and the vocabulary of the usual generators. Text the
# detector reads as Latin is taken as Latin only when at least half of its words are among them (no
# policy question is written in Latin).
PLACEHOLDER_WORDS = frozenset("""a ac accumsan ad adipiscing aenean aliqua aliquam aliquet aliquip amet anim ante arcu
    at auctor augue aute bibendum blandit cillum commodo condimentum congue consectetur consequat convallis cras
    culpa cupidatat cursus dapibus deserunt diam dictum dictumst dignissim do dolor dolore donec dui duis ea egestas
    eget eiusmod eleifend elementum elit enim erat eros esse est et etiam eu euismod ex excepteur exercitation fames
    faucibus felis fermentum feugiat fringilla fugiat fusce gravida habitant habitasse hac hendrerit iaculis id
    imperdiet in incididunt integer interdum ipsum irure justo labore laboris laborum lacinia lacus laoreet lectus
    leo libero ligula lobortis lorem luctus maecenas magna malesuada massa mattis mauris metus mi minim molestie
    mollis morbi nam nec neque netus nibh nisi nisl non nostrud nulla nullam nunc occaecat odio officia orci ornare
    pariatur pellentesque pharetra phasellus placerat platea porta porttitor posuere potenti praesent pretium proin
    proident pulvinar purus quam qui quis quisque reprehenderit rhoncus risus rutrum sagittis sapien scelerisque sed
    sem semper senectus sint sit sodales sollicitudin sunt suscipit suspendisse tellus tempor tempus tincidunt tortor
    tristique turpis ullamco ullamcorper ultrices ultricies urna ut varius vel velit veniam venenatis vestibulum vitae
    vivamus viverra voluptate volutpat vulputate ab accusamus accusantium adipisci alias animi aperiam architecto
    asperiores aspernatur assumenda atque aut autem beatae blanditiis consequatur consequuntur corrupti cum cumque
    debitis delectus deleniti dicta dignissimos distinctio dolorem doloremque dolores doloribus dolorum ducimus eaque
    earum eius eligendi eos error eum eveniet excepturi expedita explicabo facere facilis fuga fugit harum hic iste
    itaque iusto illo impedit incidunt inventore ipsa ipsam laudantium magnam magni maiores maxime minima minus
    modi molestiae molestias mollitia natus necessitatibus nemo nesciunt nihil nobis numquam obcaecati occaecati
    odit officiis omnis optio perferendis perspiciatis placeat porro possimus praesentium provident quae quaerat
    quam quas quasi quia quibusdam quidem quis quisquam quo quod quos ratione recusandae reiciendis rem repellat
    repellendus reprehenderit repudiandae rerum saepe sapiente sequi similique soluta tempora temporibus tenetur
    totam ullam unde vero veritatis voluptas voluptatem voluptates voluptatibus voluptatum""".split())


def _placeholder(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text.lower())
    return bool(words) and 2 * sum(w in PLACEHOLDER_WORDS for w in words) >= len(words)


ENGLISH_WORDS = 0.7  # a question with this share of English words is English, whatever it names
SOME_ENGLISH = 0.3  # below this share the detector's English guess is not believed
LATINATE_ENGLISH = 0.5  # from this share, text the detector reads as (non-placeholder) Latin is English
NEXT_GUESS = 0.05  # the least confidence of the detector's next guess after a Latin one is set aside


# Function words of other EU languages that an English word list holds only through names and
# borrowed phrases ("de" 98,568 times, "la", "le", "ont"): they do not make a question English
# ("Combien de clusters ont obtenu le label ..." was read as English: 0.7 of its words were "English").
NOT_ENGLISH = frozenset("""de la le les des du au aux et ou est sont ont pour dans avec sur par que qui ce cette ces
    leur leurs nous vous ils elles el los las del della delle dei degli di il gli lo una uno che si ci sono
    como pero sus su muy der das dem den und ist sind mit von zu auf ein eine nicht auch het een och att som
    og af ikke er en""".split())
# An elided article or pronoun joined to the next word by an apostrophe, as French, Italian and
# Irish write it ("l'innovation", "d'impresa", "qu'il", "dell'Unione", "d'fhoireann"): English puts
# its apostrophe the other way round ("what's", "don't", "we're"), and "o'clock" keeps its "o". Only
# before a lower-case word: "Côte d'Ivoire", "Valle d'Aosta", "D'Arcy" are names in an English question.
_ELIDED = re.compile(r"(?<![^\W\d_])([^\W\d_]{1,5})['’](?!(?i:s|t|re|ll|ve|d|m)\b)(?=[^\W\d_]{2})")
ELIDING = frozenset({"FR", "IT", "GA"})  # (the detector's names of the languages that write `_ELIDED`)
LATIN_IN_ENGLISH = frozenset({"minimis", "facto", "jure", "novo"})  # "de minimis aid" is English


def _english(text: str) -> float:
    """The share of the text's words (names left out) that are common English words, function
    words of other languages (`NOT_ENGLISH`) not among them. A first word that is neither an English
    word nor a function word of any EU language, followed by a lower-case English word that is no
    function word either, is a name too ("Nordvale budget", "Nordhessen budget": English questions
    that were read as Swedish; not "Observatório do Emprego", whose "do" is Portuguese too)."""
    from policykb.language.text import english_word

    elided = 0

    def elide(match: re.Match[str]) -> str:  # an elided word counts as a word that is not English
        nonlocal elided
        if _is_elision(match):
            elided += 1
            return " "
        return match.group(0)

    tokens = re.findall(r"[^\W\d_]+", _ELIDED.sub(elide, without_names(text)))
    words = [w.lower() for w in tokens]
    if len(tokens) > 1 and tokens[0] == re.findall(r"[^\W\d_]+", text)[0] and tokens[0][:1].isupper() \
            and tokens[1].islower() and english_word(words[1]) and not _function_word(words[1]) \
            and not english_word(words[0]) and not _function_word(words[0]):
        words = words[1:]  # (not "Estratégia Nacional para as Florestas": "para" is Portuguese too)
    english = [english_word(w) and (w not in NOT_ENGLISH or (w == "de" and i + 1 < len(words) and words[i + 1]
                                                             in LATIN_IN_ENGLISH)) for i, w in enumerate(words)]
    return sum(english) / (len(words) + elided) if words else 0.0


def _elides(text: str) -> bool:
    return any(_is_elision(m) for m in _ELIDED.finditer(text))


def _is_elision(match: re.Match[str]) -> bool:
    """Not "o'clock" or "O'Brien"; not before a name ("Côte d'Ivoire")."""
    return match.group(1).lower() != "o" and match.string[match.end()].islower()


@lru_cache(maxsize=4096)
def _function_word(word: str) -> bool:
    """A function word of one of the EU languages (lower case)."""
    from policykb.language.words import fold, function_words

    return any(fold(word) in function_words(code) for code in EU_LANGUAGES)


def _maltese(text: str) -> bool:
    """Maltese, which the detector does not know: a letter only Maltese writes (ċ ġ ħ) with one of
    its function words, or two of its function words."""
    lower = text.lower()
    words = re.findall(r"[\w']+", lower.replace("-", " "))
    known = sum(w in _MALTESE_MARKERS for w in words) + len(_MALTESE_JOINED.findall(lower))
    return known >= 2 or (known >= 1 and any(c in lower for c in "ċġħ"))


def detect(text: str) -> str | None:
    """The language of a text (see `identify`), or None."""
    return identify(text)[0]


@lru_cache(maxsize=1024)
def plain_english_term(text: str) -> bool:
    """A question too short to tell its language (one word) that the English model reads as it is:
    a common English word ("vouchers", "hydrogen") or an acronym or code ("SME", "R&D", "H2020").
    Sent to the multilingual model, such a word finds half the knowledge base (its similarities
    are close together); a word of another language ("Innovationsgutscheine") still goes there."""
    from policykb.language.text import english_word
    from policykb.language.words import literal_words

    if identify(text)[0] is not None:
        return False
    words = _WORD.findall(text)
    if len(words) != 1:
        return False
    if literal_words(text) == [words[0].strip("\"'.,;:?!()")]:
        return True
    letters = re.findall(r"[^\W\d_]+", text)
    return bool(letters) and all(english_word(w.lower()) for w in letters)


@lru_cache(maxsize=1024)
def doubtful(text: str) -> bool:
    """A question that may be no question at all: written in a language no policy question is
    (placeholder Latin), or one lower-case word in no language the detector is sure of ("zzzz",
    "qwerty"); a name, an acronym or a code alone is not judged."""
    code, _ = identify(text)
    if code in UNSERVED:
        return True
    words = [w for w in _WORD.findall(text) if any(c.isalpha() for c in w)]
    if len(words) != 1 or not words[0].islower():
        return False
    detector = _detector()
    if detector is None:
        return False
    values = detector.compute_language_confidence_values(words[0])
    return not values or values[0].value < SURE


def written_in(text: str, language: str | None) -> bool:
    """Whether the text is surely written in `language` (the detector says so with confidence, or
    the user chose the language): then its words unknown to an English knowledge base are words of
    that language, not misspellings."""
    if language in (None, "en") or language in UNSERVED:
        return False  # placeholder Latin's words are not read as another language's: "sit" alone would match
    code, confidence = identify(text)
    return code != language or confidence >= SURE


def covered(model: str, language: str | None) -> bool | None:
    """Whether the model matches questions in `language` (None when nobody knows)."""
    languages = MODEL_LANGUAGES.get(model)
    return None if languages is None or language is None else language in languages

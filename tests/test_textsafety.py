"""Control, bidirectional and invisible characters never reach a stored text, whatever the input path."""

from __future__ import annotations

import csv
import json

import pytest

HOSTILE = "Cluster\u0000 vouchers\u0007 for \u202eSMEs\u200b\u2066 abroad\u2069\ufeff"
CLEAN = "Cluster vouchers for SMEs abroad"


@pytest.mark.parametrize("raw, multiline, expected", [
    (HOSTILE, False, CLEAN),
    ("line one\r\nline two\rthree\u2028four\x85five", True, "line one\nline two\nthree\nfour\nfive"),
    ("tab\tand\nbreak", False, "tab and break"),
    ("tab\tand\nbreak\x1b[31m", True, "tab\tand\nbreak[31m"),
    ("\u200e\u200fRLM and LRM\u061c", False, "RLM and LRM"),
    ("Zürich – ŁÓDŹ, 東京, مرحبا, family 👨\u200d👩\u200d👧, می\u200cخواهم", False,
     "Zürich – ŁÓDŹ, 東京, مرحبا, family 👨\u200d👩\u200d👧, می\u200cخواهم"),  # joiners letters need stay
])
def test_clean_text(raw, multiline, expected):
    from policykb.language.safety import clean_text

    assert clean_text(raw, multiline=multiline) == expected


def test_clean_record_cleans_every_text_value_and_leaves_the_rest():
    from policykb.language.safety import clean_record

    record = {"title": HOSTILE, "summary": "one\u202e\ntwo", "challenges": ["green\u200b", "digital"],
              "start_year": 2019, "links": ["https://example.org/\u202eevil"], "description": None}
    assert clean_record(record) == {"title": CLEAN, "summary": "one\ntwo", "challenges": ["green", "digital"],
                                    "start_year": 2019, "links": ["https://example.org/evil"], "description": None}


def hostile_inputs(folder):
    folder.mkdir()
    row = {"id": "csv-item", "title": HOSTILE, "summary": "Summary\u202e text", "organisation": "Agency\u0007"}
    with open(folder / "rows.csv", "w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([list(row), list(row.values())])
    (folder / "items.json").write_text(json.dumps([{**row, "id": "json-item"}]), encoding="utf-8")
    (folder / "items.jsonl").write_text(json.dumps({**row, "id": "jsonl-item"}) + "\n", encoding="utf-8")
    (folder / "items.yaml").write_text(  # (YAML allows such characters only as escapes)
        '- id: yaml-item\n  title: "Cluster\\0 vouchers\\a for \\u202eSMEs\\u200b\\u2066 abroad\\u2069\\ufeff"\n'
        '  summary: "Summary\\u202e text"\n  organisation: "Agency\\a"\n', encoding="utf-8")
    (folder / "guide.md").write_text(
        '---\nid: md-item\ntitle: "Cluster\\0 vouchers\\a for \\u202eSMEs\\u200b\\u2066 abroad\\u2069\\ufeff"\n'
        'summary: "Summary\\u202e text"\norganisation: "Agency\\a"\n---\n# Guide\n\nText\u202e of the\u200b guide.\n',
        encoding="utf-8")


def test_every_ingest_path_stores_clean_text(kb, tmp_path):
    hostile_inputs(tmp_path / "in")
    report = kb.ingest([tmp_path / "in"])
    assert report.skipped == [] and sorted(report.added) == ["csv-item", "json-item", "jsonl-item", "md-item",
                                                             "yaml-item"]
    for item_id in report.added:
        item = kb.get(item_id)
        assert (item["title"], item["summary"], item["organisation"]) == (CLEAN, "Summary text", "Agency"), item_id
    assert kb.get("md-item")["passages"][0]["text"] == "Text of the guide."

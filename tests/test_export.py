"""Record writers: CSV cells a spreadsheet would run as formulas are neutralised, and read back as written."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from policykb.service.api import create_app
from policykb.ingest.export import write_records
from policykb.kb import KnowledgeBase

FORMULAS = ['=HYPERLINK("http://evil.example","x")', '@SUM(1+1)*cmd|" /C calc"!A0', "+1+1", "-2+3",
            "\tTAB at the start", "\rCR at the start"]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_cells_that_start_a_formula_are_neutralised(value):
    out = io.StringIO()
    write_records([{"id": "x", "title": value, "themes": [value, "digital"], "start_year": -5, "summary": "a = b"}],
                  "csv", out)
    row = csv_rows(out.getvalue())[0]
    assert row["title"] == "'" + value
    assert row["themes"] == "'" + value + "; digital"
    assert (row["id"], row["summary"], row["start_year"]) == ("x", "a = b", "-5")  # numbers and other text as they are


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_exports_keep_the_text_as_it_is(fmt):
    out = io.StringIO()
    write_records([{"id": "x", "title": FORMULAS[0]}], fmt, out)
    assert json.loads(out.getvalue().splitlines()[0] if fmt == "jsonl" else out.getvalue()) in (
        {"id": "x", "title": FORMULAS[0]}, [{"id": "x", "title": FORMULAS[0]}])


def test_a_contributed_formula_leaves_the_api_neutralised_and_comes_back_as_written(settings, corpus, kb, tmp_path):
    kb.ingest([corpus])
    token = "a-long-moderator-token"
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings.model_copy(update={"moderator_tokens": [token]}))) as client:
        for title in FORMULAS[:3]:
            receipt = client.post("/contributions", json={"title": title, "summary": "Cluster vouchers.",
                                                          "organisation": "-Agency"}).json()
            assert client.post(f"/moderation/contributions/{receipt['id']}/approve", headers=auth).status_code == 200
        exported = client.get("/export", params={"format": "csv"}).text
    rows = [r for r in csv_rows(exported) if r["organisation"] == "'-Agency"]
    assert sorted(r["title"] for r in rows) == sorted("'" + t for t in FORMULAS[:3])
    # An export can be ingested again (here into a new knowledge base): the neutralising quote is not text.
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "export.csv").write_text(exported, encoding="utf-8")
    with KnowledgeBase(settings.model_copy(update={"home": tmp_path / "kb2"})) as other:
        report = other.ingest([tmp_path / "again"])
        assert report.skipped == [] and sorted(report.added) == sorted(r["id"] for r in csv_rows(exported))
        again = {other.get(r["id"])["title"]: other.get(r["id"])["organisation"] for r in rows}
    assert again == {t: "-Agency" for t in FORMULAS[:3]}

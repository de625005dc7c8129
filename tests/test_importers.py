"""BEIR and STIP Compass importers on slices of the real files in ../shared/data."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest

from policykb.ingest.importers import stip_mapping

from .conftest import SHARED_DATA

STIP = SHARED_DATA / "stip-compass-2021.csv.gz"
SCIFACT = SHARED_DATA / "beir-scifact"
pytestmark = pytest.mark.skipif(not STIP.exists(), reason="../shared/data is not beside the repo")


@pytest.fixture
def stip_slice(tmp_path):
    """The header and the first 400 rows of the real export, gzipped again."""
    with gzip.open(STIP, "rt", encoding="utf-8", newline="") as fh:
        lines = [next(fh) for _ in range(1)]
        reader = csv.reader(fh)
        rows = [next(reader) for _ in range(400)]
    out = io.StringIO()
    out.write(lines[0])
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = tmp_path / "stip-slice.csv.gz"
    path.write_bytes(gzip.compress(out.getvalue().encode("utf-8")))
    header = next(csv.reader(io.StringIO(lines[0])))
    return path, [dict(zip(header, r)) for r in rows]


def test_stip_slice_is_merged_per_initiative_and_mapped(kb, stip_slice):
    path, rows = stip_slice
    report = kb.ingest([path], fmt="stip")
    initiatives = {r["InitiativeID"] for r in rows}
    assert report.skipped == [] and len(report.added) == len(initiatives)
    # Independent check of the Cluster policies filter (TH47) against the raw rows.
    clusters = {"stip-" + r["InitiativeID"].rsplit("/", 1)[-1] for r in rows if r["TH47"] in ("1", "1.0")}
    found = kb.search("", filters={"stip_theme": ["Cluster policies"]}, size=1000)
    assert {h.id for h in found.hits} == clusters and found.total == len(clusters) > 0
    # Every initiative keeps all its instrument types, and they map onto our support facet.
    first_id = rows[0]["InitiativeID"]
    instruments = {r["InstrumentTypeLabel"] for r in rows if r["InitiativeID"] == first_id and r["InstrumentTypeLabel"]}
    record = kb.get("stip-" + first_id.rsplit("/", 1)[-1])
    labels = set(record["facet_labels"]["stip_instrument"])
    assert labels == instruments
    expected_support = {s for i in instruments for s in stip_mapping()["instruments"][i]}
    assert set(record["support"]) == expected_support
    assert record["country"] == ["LU"] and record["level"] == "national" and record["language"] == "en"
    assert not any("<br" in kb.get(h.id)["description"] for h in kb.search("", size=1000, facets=False).hits)
    again = kb.ingest([path], fmt="stip")
    assert (again.added, again.updated, again.embedded) == ([], [], 0)


def test_every_instrument_type_and_country_is_mapped():
    with gzip.open(STIP, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        instruments, countries = set(), set()
        for row in reader:
            instruments.add(row["InstrumentTypeLabel"])
            countries.add(row["CountryCode"])
    assert instruments - {""} == set(stip_mapping()["instruments"])
    from policykb.ingest.importers import _country

    assert all(_country(code)["territory"] for code in countries)


def test_not_a_stip_file_is_a_clear_skip(kb, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("title,country\nA,DE\n")
    report = kb.ingest([path], fmt="stip")
    assert report.skipped[0].reason.startswith("not a STIP Compass export: missing columns CountryCode")


@pytest.mark.skipif(not SCIFACT.exists(), reason="../shared/data is not beside the repo")
def test_beir_slice(kb, tmp_path):
    root = tmp_path / "scifact"
    root.mkdir()
    lines = (SCIFACT / "corpus.jsonl").read_text().splitlines()[:50]
    (root / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    report = kb.ingest([root], fmt="beir")
    assert report.skipped == [] and len(report.added) == 50
    first = json.loads(lines[0])
    item = kb.get(first["_id"])
    assert item["title"] == first["title"] and item["kind"] == "document"
    assert " ".join(p["text"] for p in item["passages"]).startswith(first["text"][:100].strip())

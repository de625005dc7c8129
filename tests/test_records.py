import pytest

from policykb.errors import InvalidRecord, UnknownFacetValue
from policykb.ingest.records import iter_records, parse_front_matter, record_to_item
from policykb.taxonomy import Taxonomy

TAX = Taxonomy.default()


def test_record_is_normalised():
    item = record_to_item(
        {"title": "Vouchers", "country": "Germany; AT", "level": "Regional", "challenges": ["digitalisation"],
         "support_types": "vouchers;coaching", "start_year": "2015", "links": "https://a.example"},
        "f.csv", TAX,
    )
    assert item.id == "vouchers"
    assert item.facets == {
        "territory": ["DE", "AT"], "level": ["regional"], "challenge": ["digital"],
        "support": ["vouchers", "advisory"], "kind": ["example"], "language": ["en"],
    }
    assert (item.start_year, item.links) == (2015, ["https://a.example"])


@pytest.mark.parametrize(
    "record, message",
    [
        ({"summary": "x"}, "record has no title"),
        ({"title": "x", "id": "has space"}, "id 'has space' must be"),
        ({"title": "x", "start_year": "soon"}, "start_year must be a year"),
        ({"title": "x", "start_year": 2020, "end_year": 2010}, "end_year 2010 is before start_year 2020"),
        ({"title": "x", "level": ["national", "regional"]}, "level takes one value"),
        ({"title": "x", "links": ["ftp://x"]}, "links must start with http"),
        ({"title": "x", "links": ["https://example.com/>)[x](javascript:alert(10)"]}, "no spaces, quotes or angle brackets"),
        ({"title": "x", "links": ["https://example.com/a b"]}, "no spaces, quotes or angle brackets"),
    ],
)
def test_invalid_records(record, message):
    with pytest.raises(InvalidRecord, match=message):
        record_to_item(record, "f.yaml", TAX)


def test_unknown_facet_value_in_record():
    with pytest.raises(UnknownFacetValue, match="'greem' for challenge; did you mean 'green'"):
        record_to_item({"title": "x", "challenges": ["greem"]}, "f.yaml", TAX)


def test_yaml_records_carry_line_numbers():
    text = "- title: A\n  level: national\n- title: B\n"
    assert list(iter_records(text, ".yaml")) == [(1, {"title": "A", "level": "national"}), (3, {"title": "B"})]


def test_json_wrapped_and_jsonl_records():
    assert list(iter_records('{"items": [{"title": "A"}]}', ".json")) == [(None, {"title": "A"})]
    rows = list(iter_records('{"title": "A"}\n\n{bad\n', ".jsonl"))
    assert rows[0] == (1, {"title": "A"})
    assert rows[1][0] == 3 and isinstance(rows[1][1], InvalidRecord)


def test_csv_reports_malformed_row_with_line():
    text = "title,country\nA,DE\nB,FR,extra\nC,AT\n"
    rows = list(iter_records(text, ".csv"))
    assert rows[0] == (2, {"title": "A", "country": "DE"})
    assert rows[1][0] == 3 and "row has 3 cells, the header has 2" in str(rows[1][1])
    assert rows[2] == (4, {"title": "C", "country": "AT"})


@pytest.mark.parametrize("text", [
    "title;country;summary\nA;DE;Cells, with commas\nB;FR;\n",  # Excel in German, French, Italian... locales
    "sep=;\ntitle;country;summary\nA;DE;Cells, with commas\nB;FR;\n",  # Excel's line naming the delimiter
    "title\tcountry\tsummary\nA\tDE\tCells, with commas\nB\tFR\t\n",  # tab-separated
    "Title|Country|Summary\nA|DE|Cells, with commas\nB|FR|\n",
    "title,country,summary\nA,DE,\"Cells, with commas\"\nB,FR,\n",
])
def test_csv_delimiter_is_detected(text):
    rows = list(iter_records(text, ".csv"))
    offset = 1 if text.startswith("sep=") else 0
    assert [(line - offset, {k.lower(): v for k, v in row.items()}) for line, row in rows] == [
        (2, {"title": "A", "country": "DE", "summary": "Cells, with commas"}),
        (3, {"title": "B", "country": "FR", "summary": None})]


def test_csv_with_semicolons_in_cells_stays_comma_separated():
    text = "title,challenges,support\nA,green;digital,funding;networking\nB,skills,training\n"
    assert [row for _, row in iter_records(text, ".csv")] == [
        {"title": "A", "challenges": "green;digital", "support": "funding;networking"},
        {"title": "B", "challenges": "skills", "support": "training"}]


def test_csv_title_column_in_any_case():
    assert list(iter_records("Title,Country\nA,DE\n", ".csv")) == [(2, {"Title": "A", "Country": "DE"})]


def test_csv_needs_title_column():
    with pytest.raises(InvalidRecord, match="no 'title' column"):
        list(iter_records("name\nx\n", ".csv"))


def test_front_matter():
    meta, body = parse_front_matter("---\ntitle: T\nkind: guide\n---\n# Body\n")
    assert meta == {"title": "T", "kind": "guide"} and body == "# Body\n"
    assert parse_front_matter("# no front matter") == ({}, "# no front matter")


def test_yaml_no_is_norway_not_false():
    rows = list(iter_records("- title: A\n  country: NO\n  flag: yes\n  ok: true\n", ".yaml"))
    assert rows == [(1, {"title": "A", "country": "NO", "flag": "yes", "ok": True})]
    assert record_to_item(rows[0][1], "f.yaml", TAX).facets["territory"] == ["NO"]


def test_stip_text_loses_its_html():
    from policykb.ingest.importers import _plain

    assert _plain("Two <b>clusters</b> were renewed.<br/>Next&nbsp;year: 6 &amp; more.") == \
        "Two clusters were renewed.\nNext\xa0year: 6 & more."

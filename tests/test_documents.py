import re
from pathlib import Path

import pytest

from policykb.errors import InvalidRecord
from policykb.ingest.documents import decode, load_document


def test_markdown_sections_and_front_matter(tmp_path):
    path = tmp_path / "g.md"
    text = "---\nkind: guide\n---\n# The Title\n\nIntro **bold** [link](http://x).\n\n## Part two\n\n- item one\n"
    doc = load_document(path, text.encode())
    assert doc.title == "The Title" and doc.meta == {"kind": "guide"}
    assert [(s.heading, s.text) for s in doc.sections] == [("The Title", "Intro bold link."), ("Part two", "item one")]



@pytest.mark.parametrize("markdown, text", [
    # a link's text was cut at a bracket, its address at a parenthesis
    ("Read [Cluster (economics)](https://en.wikipedia.org/wiki/Cluster_(economics)) first.", "Read Cluster (economics) first."),
    ('The [the [EU] call](https://x.eu "The call") closes.', "The the [EU] call closes."),
    ("See ![logo of the cluster](logo.png) and [ECCP][1] or [ECCP][].\n[1]: https://eccp.eu\n[eccp]: /eccp",
     "See logo of the cluster and ECCP or ECCP."),
    ("Studies show [1][2]; use a[i][j] for cells.", "Studies show [1][2]; use a[i][j] for cells."),  # (no such labels)
    ("Open [the plan](<my plan.pdf>) or https://x.eu/_drafts_/plan.", "Open the plan or https://x.eu/_drafts_/plan."),
    ("Partners.\n[1]: https://example.org/ref\n[eccp]: <https://eccp.eu> \"ECCP\"\n[Note]: keep this",
     "Partners.\n[Note]: keep this"),
    ("Write to <info@cluster.eu> or see <https://example.org/a>.", "Write to info@cluster.eu or see https://example.org/a."),
    ("**Budget:** EUR 5m, *per* firm, ~~old~~ **bold _and italic_** ***both***", "Budget: EUR 5m, per firm, old bold and italic both"),
    ("snake_case_name, 2 * 3 * 4 and a * b stay", "snake_case_name, 2 * 3 * 4 and a * b stay"),
    ("- item *one*\n> quoted `code`", "item one\nquoted code"),
])
def test_markdown_reads_as_a_reader_sees_it(tmp_path, markdown, text):
    assert load_document(tmp_path / "g.md", f"# T\n\n{markdown}\n".encode()).sections[0].text == text


HOSTILE = {  # each took quadratic or cubic time in a first version: minutes at these sizes
    "emphasis": "*a " * 100_000, "underscores": "_a " * 100_000, "strikethrough": "~~a " * 80_000,
    "link text": "[a](" * 80_000, "brackets": "[[a]" * 80_000,
    "reference definition": "[a]: " + "." * 200_000 + "<", "autolink": "<a@" + "a." * 100_000,
    "blank lines": "\n" * 200_000 + "x", "link title": "[a](x" + " " * 200_000,
    "heading": "# a" + " " * 20_000 + "#" * 20_000 + " " * 20_000 + "x",
}


def test_hostile_markdown_is_read_in_linear_time(tmp_path):
    """Every pattern must finish on lines built to make a backtracking pattern try every split: in
    a child process, so that a regression fails after a minute instead of hanging the suite (the
    linear patterns take well under a second for all of them together)."""
    import subprocess
    import sys

    script = tmp_path / "hostile.py"
    script.write_text(f"from policykb.ingest.markdown import read_markdown\nfor text in {list(HOSTILE.values())!r}:\n"
                      "    read_markdown(text)\nprint('done')\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "done", done.stderr[-2000:]


@pytest.mark.parametrize("line", ["# Results ##", "## Results", "#Results", "####### Seven", "# Sharp # C#", "#   "])
def test_markdown_headings(line):
    from policykb.ingest.markdown import _heading

    assert _heading(line) == {"# Results ##": (1, "Results"), "## Results": (2, "Results"),
                              "# Sharp # C#": (1, "Sharp # C#")}.get(line)

def test_html_text_and_title(tmp_path):
    page = "<html><head><title>Policy page</title><style>p{}</style></head><body><h1>H</h1><p>First.</p>" \
           "<script>var x;</script><p>Second &amp; last.</p></body></html>"
    doc = load_document(tmp_path / "p.html", page.encode())
    assert doc.title == "Policy page"
    assert doc.sections[0].text == "H\n\nFirst.\n\nSecond & last."


def test_sidecar_overrides(tmp_path):
    (tmp_path / "n.meta.yaml").write_text("title: From sidecar\nkind: case_study\n")
    doc = load_document(tmp_path / "n.txt", b"Plain text body.")
    assert doc.meta == {"title": "From sidecar", "kind": "case_study"}


def test_non_utf8_text_falls_back_with_warning(tmp_path):
    doc = load_document(tmp_path / "w.txt", "Coopération régionale".encode("cp1252"))
    assert doc.sections[0].text == "Coopération régionale"
    assert doc.warnings == ["not valid UTF-8 (byte offset 4); read as cp1252"]


def test_decode_utf8_bom():
    assert decode("\ufeffhé".encode("utf-8")) == ("hé", None)


def test_pdf_pages_and_metadata_title(tmp_path, make_pdf):
    path = make_pdf(tmp_path / "d.pdf", ["First page text.", None, "Third page on vouchers."], title="Meta title")
    doc = load_document(path, path.read_bytes())
    assert doc.title == "Meta title" and doc.pages == 3
    assert [(s.page, s.text.strip()) for s in doc.sections] == [(1, "First page text."), (3, "Third page on vouchers.")]


@pytest.mark.parametrize(
    "kind, message",
    [
        ("corrupt", "corrupt or unreadable PDF"),
        ("truncated", "corrupt or unreadable PDF"),
        ("image-only", "PDF has no extractable text in 2 page(s), only images (image-only or scanned? run OCR first)"),
        ("drawing-only", "PDF has no text: its 2 page(s) hold no text layer and no images (blank, or text drawn as shapes"),
        ("blank-page", "PDF has no text: its 1 page(s) hold no text layer and no images (blank, or text drawn as shapes"),
        ("encrypted", "encrypted PDF"),
        ("blank", "no text in the document"),
    ],
)
def test_bad_documents_raise_clear_errors(tmp_path, make_pdf, kind, message):
    path = tmp_path / "bad.pdf"
    if kind == "corrupt":
        path.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    elif kind == "truncated":
        full = make_pdf(tmp_path / "full.pdf", ["Some text"]).read_bytes()
        path.write_bytes(full[: len(full) // 3])
    elif kind == "image-only":
        make_pdf(path, [None, None], scanned=True)
    elif kind == "drawing-only":
        make_pdf(path, [None, None])
    elif kind == "blank-page":
        from fpdf import FPDF

        blank = FPDF()
        blank.add_page()
        blank.output(str(path))
    elif kind == "encrypted":
        make_pdf(path, ["Secret text"], password="pw")
    else:
        path = tmp_path / "blank.txt"
        path.write_bytes(b"   \n\n")
    with pytest.raises(InvalidRecord, match=re.escape(message)):
        load_document(Path(path), path.read_bytes())


def test_running_headers_and_footers_are_dropped_from_pdf_passages(make_pdf, tmp_path):
    bodies = ["Governance: a steering committee sets priorities.", "Internationalisation: trade missions to Japan.",
              "Green transition: firms measure their carbon footprint.", "Monitoring: count export contracts."]
    pages = [f"Regional cluster handbook - draft\n{body}\nPage {n}/4" for n, body in enumerate(bodies, 1)]
    doc = load_document(Path("h.pdf"), make_pdf(tmp_path / "h.pdf", pages).read_bytes())
    assert [s.text for s in doc.sections] == bodies and [s.page for s in doc.sections] == [1, 2, 3, 4]
    short = load_document(Path("s.pdf"), make_pdf(tmp_path / "s.pdf", pages[:2]).read_bytes())
    assert "Page 1/4" in short.sections[0].text  # two pages are too few to tell a running line from text


def _pdf_with_sizes(path: Path, lines: list[tuple[str, int]], title: str | None = None) -> Path:
    """A one-page PDF whose lines are set in the given font sizes (points)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.add_page()
    for text, size in lines:
        pdf.set_font("Helvetica", size=size)
        pdf.cell(0, size * 0.6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


BODY = [("Garment makers in the valley send offcuts to a shared sorting line where they are", 11),
        ("shredded into fibre for insulation panels and new yarn; the cluster manager", 11),
        ("brokers contracts between the makers and two spinning mills.", 11)]


@pytest.mark.parametrize("lines, metadata, expected", [
    ([("Textile recycling hub", 16)] + BODY, None, "Textile recycling hub"),  # not glued to the paragraph
    ([("Textile recycling hub", 11)] + BODY, None, "Textile recycling hub"),  # one size: the first line
    ([("Annual report 2024 | Northvale region", 9), ("Textile recycling hub", 20)] + BODY, None,
     "Textile recycling hub"),  # a small line above: the largest font wins
    ([("A cluster-led green transition and circular", 18), ("economy programme", 18)] + BODY, None,
     "A cluster-led green transition and circular economy programme"),  # a title set on two lines
    ([("Tourism innovation lab", 16)] + BODY, "Microsoft Word - Draft_v3_FINAL.docx", "Tourism innovation lab"),
    ([("Tourism innovation lab", 16)] + BODY, "Untitled", "Tourism innovation lab"),
    ([("Tourism innovation lab", 16)] + BODY, "Mountain tourism lab: final report", "Mountain tourism lab: final report"),
])
def test_pdf_title_from_the_page_when_metadata_has_none_worth_showing(tmp_path, lines, metadata, expected):
    path = _pdf_with_sizes(tmp_path / "doc.pdf", lines, metadata)
    assert load_document(path, path.read_bytes()).title == expected


@pytest.mark.parametrize("title, plausible", [
    ("Microsoft Word - Draft_v3_FINAL.docx", False), ("Microsoft PowerPoint - deck", False),
    ("Draft_v3_FINAL", False), ("report-final.pdf", False), ("Untitled document", False), ("Document1", False),
    ("Slide 1", False), ("C:\\Users\\ann\\report", False), ("/home/ann/report", False), ("", False), ("-", False),
    ("cluster-report", False),  # the document's own file name
    ("Cluster policy in Europe", True), ("S3: smart specialisation", True), ("R&D vouchers 2024", True),
])
def test_plausible_title(title, plausible):
    from policykb.ingest.documents import plausible_title

    assert plausible_title(title, "cluster-report.pdf") is plausible


def test_html_title_written_by_word_gives_way_to_the_heading(tmp_path):
    page = ("<html><head><title>Microsoft Word - notes.docx</title></head><body><h1>North Sea hydrogen network</h1>"
            "<p>The network links electro&shy;lyser makers and steel&shy;works.</p></body></html>")
    doc = load_document(tmp_path / "p.html", page.encode())
    assert doc.title == "North Sea hydrogen network"
    assert doc.sections[0].text == "North Sea hydrogen network\n\nThe network links electrolyser makers and steelworks."


@pytest.mark.parametrize("name, data, text", [
    ("a.txt", "ﬁnancial inter\u00ad\nnationalisation\u200b".encode(), "financial internationalisation"),
    ("a.md", "---\ntitle: T\n---\nﬁnancial digitali\u2010\nsation\n".encode(), "financial digitalisation"),
])
def test_documents_are_normalised(tmp_path, name, data, text):
    assert load_document(tmp_path / name, data).sections[0].text.strip() == text


@pytest.mark.parametrize("name, data, message", [
    # a review: a PDF named .md became a searchable passage of "%PDF-1.3 ... obj <<", and an HTML page named
    # .pdf was called a corrupt PDF
    ("report.md", b"%PDF-1.3\n1 0 obj << /Type /Catalog >>\nendobj\n", "report.md is a PDF, not .md: give it the .pdf"),
    ("page.pdf", b"<!DOCTYPE html><html><body>Cluster vouchers</body></html>", "page.pdf is not a PDF (it looks like HTML)"),
    ("notes.txt", b"Cluster\x00\x01\x02 vouchers", "notes.txt is not text (it holds binary data)"),
])
def test_a_file_whose_name_lies_about_its_content_is_refused(name, data, message):
    with pytest.raises(InvalidRecord, match=re.escape(message)):
        load_document(Path(name), data, sidecar=False)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_unicode_text_with_a_byte_order_mark_is_read_in_its_encoding(encoding):
    """A UTF-16 file was read as cp1252: "ÿþProgramme..." was stored and searched."""
    text = "Programme d'innovation régionale pour les pôles"
    data = text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode("utf-16-be")
    doc = load_document(Path("note.txt"), data, sidecar=False)
    assert (doc.sections[0].text, doc.warnings) == (text, [])

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
        ("image-only", "no extractable text in 2 page(s)"),
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
        make_pdf(path, [None, None])
    elif kind == "encrypted":
        make_pdf(path, ["Secret text"], password="pw")
    else:
        path = tmp_path / "blank.txt"
        path.write_bytes(b"   \n\n")
    with pytest.raises(InvalidRecord, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_document(Path(path), path.read_bytes())


def test_running_headers_and_footers_are_dropped_from_pdf_passages(make_pdf, tmp_path):
    bodies = ["Governance: a steering committee sets priorities.", "Internationalisation: trade missions to Japan.",
              "Green transition: firms measure their carbon footprint.", "Monitoring: count export contracts."]
    pages = [f"Regional cluster handbook - draft\n{body}\nPage {n}/4" for n, body in enumerate(bodies, 1)]
    doc = load_document(Path("h.pdf"), make_pdf(tmp_path / "h.pdf", pages).read_bytes())
    assert [s.text for s in doc.sections] == bodies and [s.page for s in doc.sections] == [1, 2, 3, 4]
    short = load_document(Path("s.pdf"), make_pdf(tmp_path / "s.pdf", pages[:2]).read_bytes())
    assert "Page 1/4" in short.sections[0].text  # two pages are too few to tell a running line from text

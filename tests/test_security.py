"""Regression tests for the attacks and operator mistakes of the public-opening probe (issue
"Safe to open to the public"): each failed on the code before its fix."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from policykb.service.api import create_app
from policykb.config import Settings
from policykb.errors import ConfigError
from policykb.kb import KnowledgeBase
from policykb.service.security import client_address, moderator_tokens

from .test_ui import free_port

MOD = "alice:a-long-moderator-token"
AUTH = {"Authorization": "Bearer a-long-moderator-token"}
RECORD = {"title": "Baltic cluster export vouchers", "summary": "Vouchers pay SMEs for trade fair visits.",
          "country": "LT", "challenges": ["internationalisation"]}


@pytest.fixture
def built(settings, corpus):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
    return settings


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    """`policykb serve` in its own process, as an operator runs it; returns once it answers."""
    from policykb.ui.client import ApiClient

    server = subprocess.Popen([sys.executable, "-m", "policykb.cli.main", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with ApiClient(f"http://127.0.0.1:{port}", timeout=2) as client:
        client.wait_until_healthy(60, running=lambda: server.poll() is None)
    return server


def client_for(settings: Settings, **overrides) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"moderator_tokens": [MOD], **overrides})))


# -- 1. moderator tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [["mod:"], ["alice:"], ["short"], [":"], ["bob:a-long-moderator-token", MOD]])
def test_empty_short_or_repeated_tokens_stop_the_server(built, tokens):
    with pytest.raises(ConfigError, match="POLICYKB_MODERATOR_TOKENS"):
        create_app(built.model_copy(update={"moderator_tokens": tokens}))


def test_serve_refuses_a_short_token_with_a_clean_message(built):
    env = {**os.environ, "POLICYKB_MODERATOR_TOKENS": "alice:", "POLICYKB_HOME": str(built.home),
           "POLICYKB_MODEL": "hashing"}
    done = subprocess.run([sys.executable, "-m", "policykb.cli.main", "serve", "--port", str(free_port())], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert "the token of moderator 'alice' has 0 characters; use at least 16" in done.stderr + done.stdout


def test_name_and_token_split_at_the_first_colon(built):
    assert moderator_tokens(["alice:pa:ss-and-more-characters"]) == {"pa:ss-and-more-characters": "alice"}
    with client_for(built, moderator_tokens=["alice:pa:ss-and-more-characters"]) as client:
        assert client.get("/moderation/contributions", headers={"Authorization": "Bearer pa:ss-and-more-characters"}
                          ).status_code == 200
        assert client.get("/moderation/contributions", headers={"Authorization": "Bearer ss-and-more-characters"}
                          ).status_code == 401
        assert client.get("/moderation/contributions").status_code == 401


# -- 2. whose address counts for the rate limit ----------------------------------------------------


def test_forwarded_for_is_believed_only_from_trusted_proxies():
    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"6.6.6.6, 10.0.0.7")]}
    assert client_address(scope, []) == "127.0.0.1"
    from policykb.service.security import trusted_networks

    assert client_address(scope, trusted_networks(["127.0.0.1"])) == "10.0.0.7"  # the hop the proxy saw
    assert client_address(scope, trusted_networks(["127.0.0.0/8", "10.0.0.0/8"])) == "6.6.6.6"
    assert client_address({"client": ("8.8.8.8", 1), "headers": scope["headers"]},
                          trusted_networks(["127.0.0.1"])) == "8.8.8.8"  # not a proxy: its header is ignored


@pytest.mark.embedded_only  # a served API or ingest in a child process, which reads its store from the environment
def test_spoofed_forwarded_for_does_not_escape_the_rate_limit_of_a_served_api(built):
    port = free_port()
    env = {**os.environ, "POLICYKB_HOME": str(built.home), "POLICYKB_MODEL": "hashing",
           "POLICYKB_CONTRIBUTIONS_PER_HOUR": "3"}
    server = serve(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        statuses = [httpx.post(f"{base}/contributions", json={**RECORD, "title": f"Spoof {i}"},
                               headers={"X-Forwarded-For": f"203.0.113.{i}"}, timeout=30).status_code
                    for i in range(5)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert statuses == [201, 201, 201, 429, 429]
    with KnowledgeBase(built) as kb:
        assert {c["client"] for c in kb.store.contributions("pending", 10, 0)[1]} == {"127.0.0.1"}


def test_the_ui_gives_each_visitor_their_own_bucket_when_the_api_trusts_it(settings, corpus):
    from policykb.ui.client import ApiClient

    from .test_ui import running_api

    trusted = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"], "contributions_per_hour": 1,
                                          "moderator_tokens": [MOD]})
    with running_api(trusted, corpus) as url, ApiClient(url) as ui:
        ui.submit({**RECORD, "title": "First visitor"}, on_behalf_of="198.51.100.7")
        ui.submit({**RECORD, "title": "Second visitor"}, on_behalf_of="198.51.100.8")  # not the first's limit
        with pytest.raises(Exception, match="at most 1 contributions per hour"):
            ui.submit({**RECORD, "title": "First again"}, on_behalf_of="198.51.100.7")
    with KnowledgeBase(trusted) as kb:
        assert sorted(c["client"] for c in kb.store.contributions("pending", 10, 0)[1]) == [
            "198.51.100.7", "198.51.100.8"]


# -- 3. content types a foreign page cannot send -----------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_contributions_need_json_or_multipart(built, content_type):
    with client_for(built) as client:
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post("/contributions", content=json.dumps(RECORD).encode(), headers=headers)
        assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
        assert client.get("/moderation/contributions", headers=AUTH).json()["total"] == 0


# -- issue 18, item 3: a foreign web page cannot write through its visitors' browsers ------------------


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # sandboxed frames, data: pages
    {"Origin": "http://testserver.evil.example"},
    {"Origin": "https://ui.example:8443"},  # an allowed origin on another port is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # a sibling host cannot be told apart from a hostile one without Origin
])
def test_cross_origin_writes_are_refused(built, headers):
    form = {"data": {"metadata": json.dumps(RECORD)}, "files": {"file": ("a.txt", b"Cluster trade missions.")}}
    with client_for(built, cors_origins=["https://ui.example"]) as client:
        receipt = client.post("/contributions", json=RECORD).json()  # (no Origin: not a browser)
        refused = [client.post("/contributions", headers=headers, **form),
                   client.post("/contributions", headers=headers, json=RECORD),
                   client.post("/contributions/check", headers=headers, json=RECORD),
                   client.post(f"/moderation/contributions/{receipt['id']}/approve", headers={**headers, **AUTH}),
                   client.patch(f"/moderation/contributions/{receipt['id']}", headers={**headers, **AUTH},
                                json={"title": "Changed"})]
        assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(403, "cross_origin")] * 5
        assert client.get("/moderation/contributions", headers=AUTH).json()["total"] == 1
        assert client.get("/moderation/contributions/" + receipt["id"], headers=AUTH).json()["status"] == "pending"
        assert client.get("/search", params={"q": "cluster"}, headers=headers).status_code == 200  # reads stay open


@pytest.mark.parametrize("headers", [
    {},  # curl, scripts, the UI's server-side client
    {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},  # the API's own origin
    {"Origin": "http://TESTSERVER:80"},
    {"Origin": "https://ui.example", "Sec-Fetch-Site": "cross-site"},  # listed in POLICYKB_CORS_ORIGINS
    {"Sec-Fetch-Site": "same-origin"},
])
def test_same_origin_and_allowed_origin_writes_work(built, headers):
    with client_for(built, cors_origins=["https://ui.example"]) as client:
        response = client.post("/contributions", data={"metadata": json.dumps(RECORD)}, headers=headers,
                               files={"file": ("a.txt", b"Cluster trade missions.")})
        assert response.status_code == 201, response.text


# -- 4. hidden items do not leak -------------------------------------------------------------------


def test_stats_count_only_what_the_public_sees(built):
    with client_for(built) as client:
        before = client.get("/stats").json()
        client.post("/moderation/items/at-upper-austria/unpublish", json={"reason": "x"}, headers=AUTH)
        after = client.get("/stats").json()
    assert (before["territories"], after["territories"]) == (5, 4)  # AT had only that item
    assert "unpublished" not in after and after["items"] == before["items"] - 1


def test_a_contribution_cannot_probe_for_hidden_ids(built):
    with client_for(built) as client:
        client.post("/moderation/items/de-vouchers/unpublish", json={"reason": "x"}, headers=AUTH)
        hidden = client.post("/contributions", json={**RECORD, "id": "de-vouchers"})
        free = client.post("/contributions", json={**RECORD, "id": "no-such-item"})
        assert hidden.status_code == free.status_code == 422
        assert hidden.json() == free.json()  # the same answer whether the id exists or not
        made = client.post("/contributions", json=RECORD).json()
        record = client.get(f"/moderation/contributions/{made['id']}", headers=AUTH).json()["record"]
        assert record["id"].startswith("baltic-cluster-export-vouchers-")


# -- 5. contributed files are never rendered on the API's origin ------------------------------------


def test_uploaded_html_is_downloaded_never_rendered(built):
    page = b"<html><head><title>Trade missions</title></head><body><script>alert(1)</script>" \
           b"<p>Cluster trade missions to Japan for SMEs.</p></body></html>"
    with client_for(built) as client:
        receipt = client.post("/contributions", data={"metadata": json.dumps(RECORD)},
                              files={"file": ("page.html", page, "text/html")}).json()
        preview = client.get(f"/moderation/contributions/{receipt['id']}/file", headers=AUTH)
        item_id = client.post(f"/moderation/contributions/{receipt['id']}/approve", headers=AUTH).json()["item_id"]
        served = client.get(f"/items/{item_id}/file")
        for response in (preview, served):
            assert response.status_code == 200 and response.content == page
            assert response.headers["content-type"] == "application/octet-stream"
            assert response.headers["content-disposition"].startswith("attachment")
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "default-src 'none'" in response.headers["content-security-policy"]
        for path in ("/search?q=cluster", "/stats", "/items/nope"):
            headers = client.get(path).headers
            assert headers["x-content-type-options"] == "nosniff" and "default-src 'none'" in \
                headers["content-security-policy"]


# -- issue 18, item 14: PDFs with active content are refused at upload, downloaded when ingested -------


def raw_pdf(catalog: bytes = b"", page: bytes = b"", extra: list[bytes] | None = None) -> bytes:
    """A one-page PDF with text, written by hand: `catalog` and `page` go into those dictionaries,
    `extra` objects are numbered from 6 on."""
    text = b"BT /F1 12 Tf 20 700 Td (Cluster export vouchers for Baltic SMEs.) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> " + page + b" >>",
               b"<< /Length %d >>stream\n" % len(text) + text + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", *(extra or [])]
    return pdf_file(objects, b"1.6")


def pdf_file(objects: list[bytes], version: bytes) -> bytes:
    """A PDF of these objects (numbered from 1, the first the catalog) with its cross-reference table."""
    out, offsets = bytearray(b"%PDF-" + version + b"\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pypdf_pdf(with_: str) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from pypdf.actions import JavaScript

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw_pdf())))
    if with_ == "script":
        writer.add_open_action(JavaScript("app.alert('hello');"))
    else:
        writer.add_attachment("invoice.exe", b"MZ not really a program")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


ACTIVE_PDFS = {
    "open-action-javascript": (raw_pdf(catalog=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
                               "JavaScript"),
    "escaped-name": (raw_pdf(catalog=b"/OpenAction << /S /J#61vaScript /JS 6 0 R >>",
                             extra=[b"<< /Length 12 >>stream\napp.alert(1)\nendstream"]), "JavaScript"),
    "page-launch": (raw_pdf(page=b"/AA << /O << /S /Launch /F (calc.exe) >> >>"), "a launch action"),
    "document-script": (pypdf_pdf("script"), "JavaScript"),
    "embedded-file": (pypdf_pdf("attachment"), "embedded files"),
    "submit-form": (raw_pdf(catalog=b"/OpenAction << /S /SubmitForm /F (https://evil.example/) >>"),
                    "form submission"),
    # a review: a script action 60 dictionaries down passed (looking stopped at 50 levels, silently)
    "deep-javascript": (raw_pdf(catalog=b"/OpenAction " + b"<< /S /GoTo /D [3 0 R /Fit] /Next " * 60
                                + b"<< /S /JavaScript /JS (app.alert(1)) >>" + b" >>" * 60), "nesting too deep"),
    "javascript-link": (raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] "
                                     b"/A << /S /URI /URI (  JavaScript:app.alert%281%29) >> >>]"), "a link that runs"),
    "file-link": (raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] "
                               b"/A << /S /URI /URI (file:///etc/passwd) >> >>]"), "a link that runs"),
}


@pytest.mark.parametrize("case", sorted(ACTIVE_PDFS))
def test_uploads_with_active_content_are_refused(built, case):
    data, kind = ACTIVE_PDFS[case]
    with client_for(built) as client:
        response = client.post("/contributions", data={"metadata": json.dumps(RECORD)},
                               files={"file": ("offer.pdf", data, "application/pdf")})
        assert response.status_code == 422, response.text
        assert f"the PDF holds active content ({kind}" in response.json()["error"]["message"]
        assert client.get("/moderation/contributions", headers=AUTH).json()["total"] == 0


def test_a_plain_pdf_with_links_and_a_go_to_is_accepted_and_shown_inline(built):
    plain = raw_pdf(catalog=b"/OpenAction [3 0 R /Fit]",
                    page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] "
                         b"/A << /S /URI /URI (https://example.org/) >> >>]")
    with client_for(built) as client:
        receipt = client.post("/contributions", data={"metadata": json.dumps(RECORD)},
                              files={"file": ("plain.pdf", plain, "application/pdf")})
        assert receipt.status_code == 201, receipt.text
        item_id = client.post(f"/moderation/contributions/{receipt.json()['id']}/approve", headers=AUTH).json()["item_id"]
        served = client.get(f"/items/{item_id}/file")
        assert served.headers["content-disposition"].startswith("inline")


def test_an_ingested_pdf_with_active_content_is_served_as_a_download(settings, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scripted.pdf").write_bytes(ACTIVE_PDFS["open-action-javascript"][0])
    (folder / "scripted.meta.yaml").write_text("id: scripted\ntitle: Scripted guide\n")
    (folder / "plain.pdf").write_bytes(raw_pdf())
    (folder / "plain.meta.yaml").write_text("id: plain\ntitle: Plain guide\n")
    with KnowledgeBase(settings) as kb:
        assert kb.ingest([folder]).skipped == []
    with client_for(settings) as client:
        scripted, plain = client.get("/items/scripted/file"), client.get("/items/plain/file")
    assert scripted.status_code == plain.status_code == 200
    assert scripted.headers["content-disposition"].startswith("attachment")
    assert plain.headers["content-disposition"].startswith("inline")


# -- 6. one upload never freezes the API -------------------------------------------------------------


def many_pages(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def inflating_pdf(chars: int) -> bytes:
    """A small PDF whose one page's compressed content stream draws `chars` characters of text."""
    import zlib

    text = b"BT /F1 8 Tf 10 10 Td (" + b"cluster " * (chars // 8) + b") Tj ET"
    stream = zlib.compress(text, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>stream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    return pdf_file(objects, b"1.4")


ANCHORS = ("---\ntitle: Bomb\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
           "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
           "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n---\n# Bomb\n\nText.\n").encode()


@pytest.mark.parametrize("name, data, reason", [
    ("pages.pdf", many_pages(5000), "the PDF has 5,000 pages, more than the 500 accepted"),
    ("stream.pdf", inflating_pdf(2_000_000), "more than 1,000,000 characters of text"),
    ("bomb.md", ANCHORS, "aliases (*name) are not allowed"),
])
def test_hostile_uploads_are_refused_quickly_with_a_short_reason(built, name, data, reason):
    with client_for(built) as client:
        started = time.monotonic()
        response = client.post("/contributions", data={"metadata": json.dumps(RECORD)}, files={"file": (name, data)})
        assert response.status_code == 422 and reason in response.json()["error"]["message"]
        assert len(response.text) < 1000 and time.monotonic() - started < 15


def test_a_document_that_reads_too_slowly_is_stopped(built):
    with client_for(built, upload_parse_seconds=0.3) as client:
        response = client.post("/contributions", data={"metadata": json.dumps(RECORD)},
                               files={"file": ("slow.pdf", inflating_pdf(900_000))})
        assert response.status_code == 422 and "took longer than 0.3 s to read" in response.json()["error"]["message"]


def test_health_answers_while_an_upload_is_being_refused(built):
    app = create_app(built.model_copy(update={"moderator_tokens": [MOD]}))
    slow = inflating_pdf(1_200_000)  # seconds of text extraction, then refused: over the character limit

    async def scenario() -> tuple[float, int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                assert (await client.get("/health")).status_code == 200  # indexes and connections loaded first
                upload = asyncio.create_task(client.post(
                    "/contributions", data={"metadata": json.dumps(RECORD)}, files={"file": ("slow.pdf", slow)},
                    timeout=120))
                await asyncio.sleep(0.3)  # the upload is being read now
                started = time.monotonic()
                health = await client.get("/health")
                waited = time.monotonic() - started
                assert health.status_code == 200 and not upload.done()
                return waited, (await upload).status_code

    waited, status = asyncio.run(scenario())
    assert waited < 1.0 and status == 422


# -- issue 18, item 1: a flood of uploads never freezes the API ---------------------------------------


def test_health_and_search_answer_while_a_flood_of_uploads_is_in_flight(built):
    env = {**os.environ, "POLICYKB_HOME": str(built.home), "POLICYKB_MODEL": "hashing",
           "POLICYKB_TRUSTED_PROXIES": "127.0.0.1", "POLICYKB_UPLOAD_PARSE_SECONDS": "3",
           "POLICYKB_CONTRIBUTIONS_PER_HOUR": "1000"}
    port = free_port()
    # more text to extract than a fast processor reads within the parse deadline (with 1,200,000
    # characters, one upload of four was already refused for its length a second in on a Xeon)
    hostile = inflating_pdf(6_000_000)

    async def flood() -> tuple[list[tuple[int, str | None, float]], int, float, float]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as client:
            async def upload(n: int) -> tuple[int, str | None, float]:
                started = time.monotonic()
                response = await client.post(
                    "/contributions", data={"metadata": json.dumps(RECORD)}, files={"file": ("slow.pdf", hostile)},
                    headers={"X-Forwarded-For": f"198.51.100.{n % 40}"})  # 40 clients, some twice
                return response.status_code, response.headers.get("retry-after"), time.monotonic() - started

            uploads = [asyncio.create_task(upload(n)) for n in range(45)]
            await asyncio.sleep(1.0)  # every upload has reached the server by now
            in_flight = sum(not u.done() for u in uploads)
            started = time.monotonic()
            assert (await client.get("/health")).status_code == 200
            health_seconds = time.monotonic() - started
            started = time.monotonic()
            # (one word: a question of several would first load the language detector, seconds, flood or not)
            assert (await client.get("/search", params={"q": "vouchers"})).status_code == 200
            search_seconds = time.monotonic() - started
            return list(await asyncio.gather(*uploads)), in_flight, health_seconds, search_seconds

    server = serve(env, port)
    try:
        outcomes, in_flight, health_seconds, search_seconds = asyncio.run(flood())
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert health_seconds < 1.0 and search_seconds < 1.0, (health_seconds, search_seconds)
    admitted = [o for o in outcomes if o[0] == 422]  # parsed in the sandbox, refused as too slow to read
    refused = [o for o in outcomes if o[0] in (429, 503)]
    assert len(admitted) == 4 and in_flight == 4 and len(refused) == 41, [o[0] for o in outcomes]
    assert all(o[1] is not None and int(o[1]) > 0 for o in refused)  # Retry-After: when to come back
    assert max(o[2] for o in refused) < min(o[2] for o in admitted)  # refused at once, not queued behind them


def test_uploads_trickled_slowly_lose_their_slot_after_the_read_deadline(built):
    """A review: four uploads sent at 2 kB/s held every slot with no time limit, and every other
    contribution got 503 for as long as they lasted."""
    env = {**os.environ, "POLICYKB_HOME": str(built.home), "POLICYKB_MODEL": "hashing",
           "POLICYKB_TRUSTED_PROXIES": "127.0.0.1", "POLICYKB_CONTRIBUTIONS_PER_HOUR": "1000",
           "POLICYKB_UPLOAD_READ_SECONDS": "1"}
    port = free_port()
    boundary = "trickle-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{json.dumps(RECORD)}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n').encode()

    async def scenario() -> tuple[list[int], int, int]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            async def trickle(n: int) -> int:
                async def body():  # (a first chunk, then nothing for longer than the deadline)
                    yield head
                    await asyncio.sleep(4)
                    yield f"Cluster vouchers.\r\n--{boundary}--\r\n".encode()
                try:
                    response = await client.post("/contributions", content=body(), headers={
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                        "X-Forwarded-For": f"198.51.100.{n // 2}"})
                    return response.status_code
                except httpx.HTTPError:  # (the server may answer and close before the body is sent)
                    return 408
            trickles = [asyncio.create_task(trickle(n)) for n in range(4)]
            await asyncio.sleep(0.5)
            during = (await client.post("/contributions", json=RECORD, headers={"X-Forwarded-For": "203.0.113.9"})).status_code
            await asyncio.sleep(1.5)
            after = (await client.post("/contributions", json=RECORD, headers={"X-Forwarded-For": "203.0.113.9"})).status_code
            return list(await asyncio.gather(*trickles)), during, after

    server = serve(env, port)
    try:
        statuses, during, after = asyncio.run(scenario())
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (during, after) == (503, 201)  # every slot held, then freed by the deadline, not by the trickles
    assert statuses == [408] * 4


def test_a_client_gone_mid_upload_is_told_so_not_logged_as_an_error():
    from starlette.requests import ClientDisconnect

    from policykb.errors import UploadTimeout
    from policykb.service.limits import UploadGate

    async def gone() -> None:
        raise ClientDisconnect()

    with pytest.raises(UploadTimeout, match="the connection closed before the contribution arrived"):
        asyncio.run(UploadGate(1, 1).arrive(gone()))


def test_failed_uploads_count_against_the_rate_limit_of_a_client(built):
    with client_for(built, contributions_per_hour=3) as client:
        for _ in range(3):
            assert client.post("/contributions", data={"metadata": json.dumps(RECORD)},
                               files={"file": ("bad.pdf", b"%PDF-1.4 broken")}).status_code == 422
        for refused in (client.post("/contributions", json=RECORD),
                        client.post("/contributions", data={"metadata": "{"})):  # counted before it is read
            assert refused.status_code == 429 and 3590 <= int(refused.headers["retry-after"]) <= 3600
        assert client.get("/moderation/contributions", headers=AUTH).json()["total"] == 0


# -- 7. malformed bodies are 4xx, not 500 ------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"title": "\xff\xfe bad"}', b"[" * 100_000, b'{"title": ' + b"[" * 50_000])
def test_undecodable_or_deeply_nested_bodies_are_refused(built, body):
    with client_for(built) as client:
        response = client.post("/contributions", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_record"
        if body.startswith(b"["):  # the same nesting in a multipart form's metadata field
            files = {"file": ("a.txt", b"Some text about clusters.")}
            response = client.post("/contributions", data={"metadata": body.decode()}, files=files)
            assert response.status_code == 422 and "nested too deeply" in response.json()["error"]["message"]


# -- 8. an upload never reads a sidecar from the server's disk ---------------------------------------


def test_uploads_ignore_sidecars_in_the_working_directory(built, make_pdf, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.meta.yaml").write_text("summary: planted by someone else\nchallenges: [green]\n")
    pdf = make_pdf(tmp_path / "upload-source.pdf", ["Cluster export vouchers for Baltic SMEs."])
    with client_for(built) as client:
        receipt = client.post("/contributions", data={"metadata": json.dumps({"title": "Mine", "country": "LT"})},
                              files={"file": ("good.pdf", pdf.read_bytes(), "application/pdf")}).json()
        item_id = client.post(f"/moderation/contributions/{receipt['id']}/approve", headers=AUTH).json()["item_id"]
        item = client.get(f"/items/{item_id}").json()
    assert item["summary"] != "planted by someone else" and item["challenges"] == []


# -- 9 and 10. hostile record files are skipped, the good ones ingested -------------------------------


def test_deep_or_aliased_record_files_are_skipped_and_the_rest_ingested(kb, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.yaml").write_text("- {id: good, title: A good cluster programme}\n")
    (folder / "deep.json").write_text("[" * 200_000)
    (folder / "deep.yaml").write_text("[" * 5_000)
    (folder / "lines.jsonl").write_text('{"id": "fine", "title": "Fine line"}\n' + "[" * 200_000 + "\n")
    (folder / "bomb.yaml").write_text(
        "- title: x\n  summary: &a [a, a, a, a, a, a, a, a, a]\n  description: &b [*a, *a, *a, *a, *a, *a, *a]\n")
    report = kb.ingest([folder])
    assert sorted(report.added) == ["fine", "good"]
    reasons = {Path(p.source).name: p.reason for p in report.skipped}
    assert reasons["deep.json"] == "JSON nested too deeply"
    assert "nested deeper than 20 levels" in reasons["deep.yaml"]
    assert "aliases (*name) are not allowed" in reasons["bomb.yaml"]
    assert [(p.line, p.reason) for p in report.skipped if p.source.endswith("lines.jsonl")] == [
        (2, "JSON nested too deeply")]


def test_a_csv_quote_that_never_closes_is_a_malformed_row_not_a_merge(kb, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,title,summary\nbroken,Broken row,"never closed\ngood,Good row,fine\nalso,Also good,"a, b"\n')
    report = kb.ingest([path])
    assert sorted(report.added) == ["also", "good"]
    assert [(p.line, p.reason.split(" (")[0]) for p in report.skipped] == [(2, "malformed CSV row")]
    assert kb.get("good")["title"] == "Good row"


# -- 13. an approval (or unpublishing) is one transaction ---------------------------------------------


@pytest.mark.parametrize("step", ["write_item", "update_contribution", "audit"])
def test_an_approval_that_fails_at_any_step_leaves_nothing_half_done(kb, corpus, monkeypatch, step):
    kb.ingest([corpus])
    desk = kb.contributions
    receipt = desk.submit(dict(RECORD), None, client="c")

    def killed(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"killed in {step}")

    monkeypatch.setattr(kb.store, step, killed)
    with pytest.raises(RuntimeError, match=f"killed in {step}"):
        desk.approve(receipt["id"], actor="alice")
    monkeypatch.undo()
    assert desk.view(receipt["id"])["status"] == "pending"
    assert kb.search("Baltic", mode="keyword").total == 0 and kb.stats()["items"] == 5
    assert [a["action"] for a in desk.audit_log(receipt["id"])] == ["submit"]
    assert kb.check()["status"] == "ok"
    assert desk.approve(receipt["id"], actor="alice")["status"] == "approved"  # and it can be approved now
    assert kb.search("Baltic", mode="keyword").total == 1


def test_unpublishing_and_its_audit_entry_commit_together(kb, corpus, monkeypatch):
    kb.ingest([corpus])
    desk = kb.contributions

    def killed(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed in audit")

    monkeypatch.setattr(kb.store, "audit", killed)
    with pytest.raises(RuntimeError):
        desk.unpublish("de-vouchers", "outdated", actor="alice")
    monkeypatch.undo()
    assert kb.store.item_status("de-vouchers") == "published" and kb.check()["status"] == "ok"
    assert desk.audit_log("de-vouchers") == []


# -- 11. writers take turns; prune removes only what a file owns ------------------------------------


def records_file(path: Path, ids: range, tag: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps({"id": f"r{i}", "title": f"Programme {i} from {tag}",
                                          "summary": f"cluster support number {i}"}) for i in ids))
    return path


@pytest.mark.embedded_only  # a served API or ingest in a child process, which reads its store from the environment
def test_two_ingests_at_once_keep_the_one_owner_rule(settings, tmp_path):
    a = records_file(tmp_path / "a" / "a.jsonl", range(0, 1500), "a")
    b = records_file(tmp_path / "b" / "b.jsonl", range(1450, 2950), "b")  # r1450..r1499 in both
    env = {**os.environ, "POLICYKB_HOME": str(settings.home), "POLICYKB_MODEL": "hashing"}
    runs = [subprocess.Popen([sys.executable, "-m", "policykb.cli.main", "ingest", str(folder), "--keep-going"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for folder in (a.parent, b.parent)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    added = sorted(int(line.split("added ")[1].split(",")[0]) for out in outputs for line in out.splitlines()
                   if line.startswith("added "))
    assert added == [1450, 1500], outputs  # the later one finds the 50 shared ids taken
    assert sum(out.count("is already used by") for out in outputs) == 50
    with KnowledgeBase(settings) as kb:
        assert kb.stats()["items"] == 2950 and kb.check()["status"] == "ok"
        owner = kb.get("r1460")["source"]
        (owner_folder := (a.parent if owner.endswith("a.jsonl") else b.parent))
        other = b if owner_folder == a.parent else a
        other.unlink()  # the file that lost the race goes: prune must not take the winner's items
        kb.ingest([other.parent], prune=True)
        assert kb.get("r1460")["source"] == owner and kb.check()["status"] == "ok"
        assert kb.stats()["items"] == 1500


def test_check_notices_a_file_listing_an_item_it_does_not_own(kb, corpus, tmp_path):
    kb.ingest([corpus])
    extra = records_file(tmp_path / "x" / "x.jsonl", range(3), "x")
    kb.ingest([extra])
    with kb.store.transaction():  # what racing writers used to leave behind
        kb.store.upsert_file(str(extra), "stale", 1, ["r0", "r1", "r2", "de-vouchers"])
    result = kb.check()
    assert result["status"] == "inconsistent" and result["files_disagreeing"] == [f"{extra}: de-vouchers"]


# -- 12. searches see one generation while others write ----------------------------------------------


@pytest.mark.embedded_only  # a served API or ingest in a child process, which reads its store from the environment
def test_searches_on_two_api_processes_while_a_third_publishes_and_unpublishes(settings, corpus):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        kb.ingest([records_file(corpus.parent / "more" / "more.jsonl", range(300), "more")])
    env = {**os.environ, "POLICYKB_HOME": str(settings.home), "POLICYKB_MODEL": "hashing"}
    ports = [free_port(), free_port()]
    servers = [serve(env, port) for port in ports]
    toggler = None
    try:
        for port in ports:  # the first question of several words loads the language detector: tens of
            # seconds on a busy machine, which is not what this test measures
            assert httpx.get(f"http://127.0.0.1:{port}/search", params={"q": "cluster support"},
                             timeout=300).status_code == 200
        script = ("import sys\nfrom policykb.config import Settings\nfrom policykb.kb import KnowledgeBase\n"
                  "with KnowledgeBase(Settings()) as kb:\n"
                  "    for n in range(100_000):\n"
                  "        kb.set_published(['r%d' % (n % 7), 'de-vouchers', 'fr-es-green'][n % 3], n % 2 == 1)\n")
        toggler = subprocess.Popen([sys.executable, "-c", script], env=env)
        failures, count = [], 0
        queries = [{"q": "cluster support"}, {"q": "vouchers", "mode": "semantic"}, {"q": "programme", "mode": "keyword"},
                   {"q": "cluster", "territory": "DE"}, {"q": ""}]
        while count < 300:
            port = ports[count % 2]
            params = queries[count % len(queries)]
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/search", params=params, timeout=30)
                if response.status_code != 200:
                    failures.append((response.status_code, response.text[:200]))
                else:
                    body = response.json()
                    assert len(body["hits"]) <= body["total"]
            except (httpx.HTTPError, ValueError) as exc:
                failures.append((type(exc).__name__, str(exc)[:200]))
            count += 1
        assert toggler.poll() is None  # it was writing all along
    finally:
        for process in [*servers, *([toggler] if toggler else [])]:
            process.terminate()
            process.wait(timeout=10)
    assert failures == []
    with KnowledgeBase(settings) as kb:
        for published in (False, True, False, True):  # the next writes clear what the killed writer left
            kb.set_published("eu-exchange", published)
        assert kb.check()["status"] == "ok"
        assert [p.name for p in settings.home.iterdir() if p.name.endswith(".tmp")] == []


# == issue 18: safe under a crowd ====================================================================

# -- 12. only valid addresses in X-Forwarded-For make a rate-limit bucket ----------------------------


@pytest.mark.parametrize("header", [b"garbage-1", b"6.6.6.6, garbage-2", b"300.1.1.1", b"1.2.3.4:5678", b"",
                                    b"10.0.0.7, ::ffff:zz"])
def test_a_forwarded_for_that_is_not_an_address_falls_back_to_the_peer(header):
    from policykb.service.security import trusted_networks

    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", header)]}
    assert client_address(scope, trusted_networks(["127.0.0.1"])) == "127.0.0.1"


def test_forwarded_addresses_are_written_one_way():
    from policykb.service.security import trusted_networks

    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"2001:DB8:0:0::1")]}
    assert client_address(scope, trusted_networks(["127.0.0.1"])) == "2001:db8::1"  # one bucket per address


# -- 13. a moderator token must be what an HTTP header can carry --------------------------------------


@pytest.mark.parametrize("entry", ["alice:pässwort-long-enough-123", "alice:a long token with spaces",
                                   "alice:tab\there-and-more-chars"])
def test_a_token_an_http_header_cannot_carry_stops_the_server(built, entry):
    with pytest.raises(ConfigError, match="printable ASCII"):
        create_app(built.model_copy(update={"moderator_tokens": [entry]}))

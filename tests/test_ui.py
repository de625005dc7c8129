"""The Streamlit UI with `AppTest`, against a real API (uvicorn in a thread) over a tmp_path knowledge base."""

from __future__ import annotations

import json
import re
import socket
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from streamlit.testing.v1 import AppTest

from policykb.service.api import create_app
from policykb.config import Settings
from policykb.kb import KnowledgeBase
from policykb.ui.client import ApiClient, ApiUnavailable
from policykb.ui.common import bold_text, md_escape

TOKEN = "tok-for-the-ui-tests"
ALL_TITLES = ["Cluster internationalisation vouchers", "Cluster staff exchange scheme", "Going abroad guide",
              "Green textile cluster partnership", "Upper Austria cluster programme"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_api(settings: Settings, corpus: Path) -> Iterator[str]:
    """Ingest `corpus`, serve the API on a free loopback port in a thread, yield its base URL."""
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="policykb-test-api", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        with ApiClient(base, timeout=2) as client:
            client.wait_until_healthy(30, running=thread.is_alive)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def ui_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"moderator_tokens": [f"tester:{TOKEN}"]})


@pytest.fixture
def api_url(ui_settings: Settings, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with running_api(ui_settings, corpus) as base:
        monkeypatch.setenv("POLICYKB_UI_API_URL", base)
        yield base


def _app(name: str) -> None:
    from policykb.ui.app import main

    main(name)


def open_page(name: str, **params: str | list[str]) -> AppTest:
    """Run the app with `name` as the opening page and `params` in the URL."""
    at = AppTest.from_function(_app, args=(name,), default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def scrolls(at: AppTest) -> int:
    """How many scripts in the page scroll it to its top."""
    return sum("scrollTo" in h.value for h in at.html)


def titles(at: AppTest) -> list[str]:
    return [link.proto.label for link in at.page_link if link.proto.page == "item"]


def open_group(at: AppTest, facet: str) -> AppTest:
    """Open a facet's filter group, as a click on it does (a closed group's values are not drawn)."""
    if not [w for w in at.get("button_group") if w.key == f"f_{facet}"]:
        at.session_state[f"fx-{facet}"] = True
        ok(at.run())
    return at


def pills(at: AppTest, facet: str) -> list[str]:
    return list(open_group(at, facet).pills(key=f"f_{facet}").options)


# -- Search ---------------------------------------------------------------------------------------


def test_empty_query_browses_everything_with_counts(api_url):
    at = ok(open_page("search"))
    assert titles(at) == ALL_TITLES
    assert at.markdown[0].value.startswith("Browsing **5** items in title order")
    assert at.text_input(key="q").proto.placeholder.startswith("e.g. how do regions")
    assert pills(at, "kind") == ["Policy example · 4", "Smart guide · 1"]
    assert pills(at, "territory")[0] == "European Union · 2"
    assert [b.proto.label for b in at.get("download_button")] == ["CSV", "JSON"]


def test_filter_changes_counts_url_and_chips(api_url):
    at = ok(open_page("search"))
    at.pills(key="f_challenge").set_value(["internationalisation"]).run()
    ok(at)
    assert titles(at) == ["Cluster internationalisation vouchers", "Cluster staff exchange scheme",
                          "Going abroad guide"]
    assert pills(at, "kind") == ["Policy example · 2", "Smart guide · 1"]
    assert pills(at, "territory") == ["European Union · 2", "Germany · 1"]
    assert "Internationalisation · 3" in pills(at, "challenge")  # own facet: counts without its own filter
    assert at.query_params == {"challenge": "internationalisation"}
    chip = at.button(key="chip-challenge-internationalisation")
    assert chip.label == "Internationalisation"
    chip.click().run()
    assert titles(ok(at)) == ALL_TITLES and at.query_params == {}


def test_shared_link_restores_query_mode_and_filters(api_url):
    at = ok(open_page("search", q="trade missions", mode="keyword", territory="Germany"))
    assert at.text_input(key="q").value == "trade missions"
    assert at.segmented_control(key="mode").value == "keyword"
    assert at.pills(key="f_territory").value == ["DE"]  # the label in the link became the id
    assert titles(at) == ["Cluster internationalisation vouchers"]
    assert any("<mark>trade</mark> <mark>missions</mark>" in h.value for h in at.html)
    assert at.query_params == {"q": "trade missions", "mode": "keyword", "territory": "DE"}


def test_no_results_suggests_the_filter_to_remove(api_url):
    at = ok(open_page("search", territory="DE", challenge="green"))
    assert "No items" in at.info[0].value
    suggestions = [b.label for b in at.button if b.key.startswith("suggest-")]
    assert suggestions == ["Remove Territory: Germany → 2 results",
                           "Remove Strategic challenge: Green transition → 1 result"]
    at.button(key="suggest-territory-DE").click().run()
    assert titles(ok(at)) == ["Green textile cluster partnership", "Upper Austria cluster programme"]


def test_unknown_filter_value_in_a_link_is_dropped_with_a_warning(api_url):
    at = ok(open_page("search", territory=["Narnia", "AT"]))
    assert "Ignored the filter “Narnia”: it is not one of the territory values" in at.warning[0].value
    assert titles(at) == ["Upper Austria cluster programme"] and at.query_params == {"territory": "AT"}


def test_paging_and_pdf_page_links(ui_settings, corpus, make_pdf, monkeypatch):
    records = "".join(f"- {{id: extra-{i:02d}, title: Extra cluster scheme {i:02d}, country: IT}}\n" for i in range(8))
    (corpus / "more.yaml").write_text(records, encoding="utf-8")
    make_pdf(corpus / "docs" / "hydrogen.pdf", ["Cover page.", "Hydrogen valley roadmap for cluster firms."])
    (corpus / "docs" / "hydrogen.meta.yaml").write_text("title: Hydrogen valley roadmap\nkind: guide\n")
    with running_api(ui_settings, corpus) as base:
        monkeypatch.setenv("POLICYKB_UI_API_URL", base)
        at = ok(open_page("search"))
        assert at.markdown[0].value.startswith("Browsing 1–10 of **14** items")
        at.pagination[0].set_value(2).run()
        assert ok(at).markdown[0].value.startswith("Browsing 11–14 of **14** items")
        assert at.query_params == {"page": "2"}
        at.text_input(key="q").input("hydrogen valley").run()  # a new query starts again at page 1
        hit = ok(at)
        assert titles(hit)[0] == "Hydrogen valley roadmap"
        # relative to the UI's own address (streamed through it), so it works from any machine
        # (which page the card shows is the search's choice; the link opens the PDF at that page)
        assert any(re.search(r"\[p\. (\d)\]\(documents/hydrogen#page=\1\)", m.value) for m in hit.markdown)


# -- Item -----------------------------------------------------------------------------------------


def test_item_page_shows_record_facets_passages_and_similar(api_url):
    at = ok(open_page("item", id="de-vouchers"))
    assert at.title[0].value == "Cluster internationalisation vouchers"
    assert at.markdown[0].value == ":blue-badge[Policy example] · Germany · National · since 2015"  # as its card
    table = next(m.value for m in at.markdown if m.value.startswith("| Facet"))
    for row in ("| Territory | Germany |", "| Strategic challenge | Internationalisation, SME growth and scale\\-up |",
                "| Typology | National programme |", "| Years | since 2015 |"):
        assert row in table
    assert [b.proto.url for b in at.link_button] == ["https://example.org/de-vouchers"]
    assert not any(s.value.startswith("Passages") for s in at.subheader)  # a record: its text is shown once
    assert titles(at) == ["Cluster staff exchange scheme", "Going abroad guide"]  # only those over the floor


def test_no_close_match_says_so_and_sets_the_nearest_items_apart(api_url):
    at = ok(open_page("search", q="zebra quagga", mode="semantic"))
    assert at.info[0].value.startswith("**No close match** for “zebra quagga”")
    assert "No item contains “zebra”, “quagga” — try another word." in " ".join(m.value for m in at.markdown)
    at = ok(open_page("search", q="zebra quaga", mode="semantic"))  # (English words are not called misspelt)
    assert ("No item contains “zebra”, “quaga” — check the spelling of “quaga”, or try another word."
            in " ".join(m.value for m in at.markdown))
    assert any(m.value.startswith("**Nearest items — not matches.**") for m in at.markdown)
    assert len(titles(at)) == 3 and not [b for b in at.get("download_button")]  # nothing to download


@pytest.mark.parametrize("view", ["item", "document"])
def test_item_and_document_pages_for_an_unknown_id(api_url, view):
    at = ok(open_page(view, id="nope"))  # (the document page said "This item has no document", with a link back)
    assert [w.value for w in at.warning] == ["There is no published item with id “nope”. It may have been unpublished "
                                             "or the link may be mistyped."]
    assert "Back to the item" not in [link.proto.label for link in at.page_link]


# -- Insights -------------------------------------------------------------------------------------


def test_insights_charts_follow_the_filters(api_url):
    at = ok(open_page("insights"))
    assert [(m.label, m.value) for m in at.metric][:2] == [("Items", "5"), ("Countries", "5")]
    assert {s.value for s in at.header} >= {"By country", "By strategic challenge", "By type of support",
                                               "By start year"}
    charts = [h.value for h in at.html if 'class="pk-bars"' in h.value or 'class="pk-years"' in h.value]
    assert len(charts) == 4 and not at.get("vega_lite_chart")  # plain HTML: no chart library to load
    support = charts[2]  # every label whole and its number beside its bar
    assert support.startswith('<ul class="pk-bars" aria-label="Items by type of support">')
    assert '<span class="pk-label">Networking and matchmaking</span>' in support
    assert 'style="width: 85.0%"></span><span class="pk-n">3</span>' in support  # the longest bar, then its number
    assert '<li title="2019: 2 items" aria-label="2019: 2 items">' in charts[3]  # start years
    open_group(at, "territory").pills(key="f_territory").set_value(["EU"]).run()
    assert [(m.label, m.value) for m in ok(at).metric][:2] == [("Items", "2"), ("Countries", "1")]
    assert at.query_params == {"territory": "EU"}


def test_insights_for_a_question_nothing_matches_says_so(api_url):
    """Issue 19, 7: a nonsense question and no filters was answered "No items match these filters"."""
    at = ok(open_page("insights", q="zebra quagga", mode="keyword"))
    assert at.info[0].value.startswith("**Nothing in the knowledge base matches “zebra quagga”**")
    assert "filters" not in at.info[0].value.split("**")[1]
    with_filter = ok(open_page("insights", q="zebra quagga", mode="keyword", territory="DE"))
    assert with_filter.info[0].value.startswith("**No item matches “zebra quagga” with these filters.**")


# -- Contribute -----------------------------------------------------------------------------------


def test_contribute_shows_errors_next_to_fields(api_url):
    at = ok(open_page("contribute"))
    at.number_input(key="contrib-start_year").set_value(2020)
    at.number_input(key="contrib-end_year").set_value(2010)
    at.button[-1].click().run()  # "Submit for review"
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in ok(at).error]  # as displayed (Markdown unescaped)
    assert "A title is required." in errors and "The end year is before the start year." in errors


def test_contribute_live_hints_then_submit_and_status(api_url):
    at = ok(open_page("contribute"))
    at.text_input(key="contrib-title").input("Cluster internationalisation vouchers").run()
    assert ok(at).warning[0].value.startswith("Possible duplicate (same title): **Cluster internationalisation")
    assert any(c.value.startswith("Matching passage: “Vouchers that help") for c in at.caption)
    support = ok(at).multiselect(key="contrib-support").value
    assert "vouchers" in support  # likely (high confidence): added for the contributor
    at.multiselect(key="contrib-support").set_value([v for v in support if v != "vouchers"]).run()
    assert "vouchers" not in ok(at).multiselect(key="contrib-support").value  # removed stays removed
    possible = [b for b in at.button if b.key and b.key.startswith("suggest-")]
    assert possible and all(b.label.endswith(("· likely", "· possible")) for b in possible)
    possible[0].click().run()  # a click adds one
    assert ok(at)
    at.text_input(key="contrib-title").input("Baltic export vouchers").run()
    at.multiselect(key="contrib-country").set_value(["LT"])
    at.button[-1].click().run()
    ok(at)
    assert "your contribution was received" in at.success[0].value
    status_url = at.code[0].value
    assert "?status=c-" in status_url and "&token=" in status_url
    params = dict(part.split("=", 1) for part in status_url.split("?", 1)[1].split("&"))
    status = ok(open_page("contribute", **params))
    assert any("is **pending**" in m.value for m in status.markdown)
    assert "**Baltic export vouchers**" in [m.value for m in status.markdown]  # its title, not only its id
    assert not status.text_input  # the status alone, no empty form under it


def test_a_corrected_field_loses_its_error_at_once(api_url):
    """Issue 19, 12: a corrected link kept its old error until the form was sent again."""
    at = ok(open_page("contribute"))
    at.text_input(key="contrib-title").input("Baltic export vouchers")
    at.text_area(key="contrib-links").input("www.example.org")
    at.button(key="contrib-submit").click().run()
    assert any("Links must start with http" in e.value for e in ok(at).error)
    at.text_area(key="contrib-links").input("https://www.example.org").run()
    assert not ok(at).error


def test_the_status_link_stays_in_the_address(api_url):
    """Issue 19, 6: "Check the status now" opened /contribute without the status id and token."""
    receipt = httpx.post(f"{api_url}/contributions", json={"title": "Baltic export vouchers"}).json()
    at = ok(open_page("contribute", status=receipt["id"], token=receipt["token"]))
    assert at.query_params == {"status": receipt["id"], "token": receipt["token"]}
    assert any("is **pending**" in m.value for m in at.markdown)


def test_contribute_with_a_pdf_upload(api_url, make_pdf, tmp_path):
    pdf = make_pdf(tmp_path / "roadmap.pdf", ["Cover.", "Hydrogen valley roadmap for cluster firms."])
    at = ok(open_page("contribute"))
    at.text_input(key="contrib-title").input("Hydrogen valley roadmap")
    at.selectbox(key="contrib-kind").select("guide")
    at.file_uploader[0].set_value(("roadmap.pdf", pdf.read_bytes(), "application/pdf"))
    at.button[-1].click().run()
    assert "your contribution was received" in ok(at).success[0].value
    headers = {"Authorization": f"Bearer {TOKEN}"}
    queued = httpx.get(f"{api_url}/moderation/contributions", headers=headers).json()["items"][0]
    assert (queued["file_name"], queued["record"]["kind"]) == ("roadmap.pdf", "guide")
    httpx.post(f"{api_url}/moderation/contributions/{queued['id']}/approve", headers=headers).raise_for_status()
    found = ok(open_page("search", q="hydrogen valley", mode="keyword"))
    assert titles(found)[0] == "Hydrogen valley roadmap"
    assert any(re.search(r"\[p\. (\d)\]\(documents/[\w-]+#page=\1\)", m.value) for m in found.markdown)


def test_contribute_upload_names_front_matter_keys_that_were_not_read(api_url):
    at = ok(open_page("contribute"))
    at.text_input(key="contrib-title").input("Cluster exchange notes")
    text = "---\nCountry: EE\nauthor: Mari\n---\nNotes on staff exchanges between clusters.\n"
    at.file_uploader[0].set_value(("notes.md", text.encode(), "text/markdown"))
    at.button[-1].click().run()
    assert "your contribution was received" in ok(at).success[0].value
    note = "front matter: ignored 1 key that is not a field of the record format: 'author'"
    assert f"Your document: {md_escape(note)}" in [w.value for w in at.warning]


# -- Moderate -------------------------------------------------------------------------------------


def sign_in(token: str) -> AppTest:
    at = ok(open_page("moderate"))
    at.text_input(key="mod-token-input").input(token)
    return at.button[0].click().run()


# -- API down -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["search", "item", "insights", "contribute", "moderate"])
def test_every_page_says_when_the_api_is_down(name, monkeypatch):
    monkeypatch.setenv("POLICYKB_UI_API_URL", f"http://127.0.0.1:{free_port()}")
    at = open_page(name, id="de-vouchers") if name == "item" else open_page(name)
    if name == "moderate":
        at = sign_in(TOKEN)
    ok(at)
    assert any("not reachable" in e.value and "make run" not in e.value for e in at.error), [e.value for e in at.error]
    assert any("make run" in c.value for c in at.caption)  # for the people who run the site, behind an expander
    if name == "contribute":
        assert not at.text_input  # issue 19, 12: no lone Title field above the error


def test_thin_entry_points_run_the_package_app(api_url):
    ui = Path(__file__).resolve().parents[1] / "ui"
    at = AppTest.from_file(str(ui / "streamlit_app.py"), default_timeout=30).run()
    assert ok(at).title[0].value == "Search policy examples"
    assert (ui / "streamlit_app.py").read_text().count("\n") < 8
    server = (ui / "app.py").read_text()  # what `streamlit run ui/app.py` serves (browser test: it runs)
    assert "st.App(" in server and "routes=routes()" in server and server.count("\n") < 12


def test_waiting_for_an_api_that_never_answers_gives_up_with_a_clear_error():
    with ApiClient(f"http://127.0.0.1:{free_port()}", timeout=0.2) as client:
        with pytest.raises(ApiUnavailable, match="not healthy after"):
            client.wait_until_healthy(0.3)


# -- Contributed text is literal text --------------------------------------------------------------

XSS_TITLE = "XSS test <img src=x onerror=alert(1)> cluster **bold** [click](javascript:alert(11)) :red[red]"
XSS_LINK = "https://example.com/>)[x](javascript:alert(10)"
FORMATTING = ("**bold**", "[click](", ":red[", "<img", "](javascript")


def shown_text(at: AppTest) -> list[str]:
    """Every Markdown source the page hands to Streamlit (titles, text, alerts, link labels), with
    the characters it escapes taken out: what is left is what Markdown would act on."""
    out = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "success", "info", "warning",
                                "error")
           for e in getattr(at, kind)]
    return [re.sub(r"\\.", "", text) for text in out + [link.proto.label for link in at.page_link]]


def test_contributed_text_is_shown_as_literal_text_everywhere(api_url):
    refused = httpx.post(f"{api_url}/contributions", json={"title": XSS_TITLE, "links": [XSS_LINK]})
    assert refused.status_code == 422 and "no spaces, quotes or angle brackets" in refused.json()["error"]["message"]
    httpx.post(f"{api_url}/contributions", json={
        "title": XSS_TITLE, "summary": "A **bold** [click](javascript:alert(1)) cluster summary :red[red]",
        "organisation": "<b>Org</b> **x**", "links": ["https://example.com/ok"]}).raise_for_status()
    escaped = md_escape(XSS_TITLE)

    at = ok(sign_in(TOKEN))  # the moderator's preview
    assert at.header[0].value == escaped
    assert not [t for t in shown_text(at) if any(f in t for f in FORMATTING)]
    at.button(key="mod-approve").click().run()
    assert ok(at).success[0].value.startswith(f"Approved “{escaped}”")

    found = ok(open_page("search", q="XSS test cluster", mode="keyword"))  # the result card
    assert titles(found) == [escaped]
    assert not [t for t in shown_text(found) if any(f in t for f in FORMATTING)]

    item_id = httpx.get(f"{api_url}/search", params={"q": "XSS test", "mode": "keyword"}).json()["hits"][0]["id"]
    item = ok(open_page("item", id=item_id))
    assert item.title[0].value == escaped
    assert not [t for t in shown_text(item) if any(f in t for f in FORMATTING)]
    assert "Source: [https\\://example\\.com/ok](<https://example.com/ok>)" in [c.value for c in item.caption]


@pytest.mark.parametrize("text, shown", [
    ("Vouchers for SMEs", "**Vouchers for SMEs**"),
    # a review: a summary with a blank line showed "**" at both ends (one pair cannot span paragraphs)
    ("Vouchers for SMEs.\n\n  Second paragraph ", "**Vouchers for SMEs\\.**\n\n**Second paragraph**"),
    (" two  spaces \n", "**two spaces**"),  # (a space inside the pair breaks it too)
    ("\n\n", ""),
])
def test_a_summary_is_bold_paragraph_by_paragraph(text, shown):
    assert bold_text(text) == shown


def test_years_in_the_wrong_order_keep_the_page_usable(api_url):
    at = ok(open_page("search", year_from="2020", year_to="2000"))
    assert at.number_input(key="year_from").value == 2020 and pills(at, "territory")  # the sidebar is there
    assert "is after “To” (2000)" in at.sidebar.warning[0].value
    assert any("Browsing" in m.value for m in at.markdown)  # the results, without the years
    at.button(key="years-clear").click().run()
    assert not ok(at).sidebar.warning and at.number_input(key="year_from").value is None


def test_a_refused_search_keeps_the_filters_and_offers_a_way_back(api_url):
    # more values of one filter than the API takes (50): a link can say anything
    at = ok(open_page("search", q="cluster", territory=[f"X{n}" for n in range(60)]))
    assert "This search could not be run" in at.error[0].value
    assert "List should have at most" not in " ".join(e.value for e in at.error)  # not the API's words
    assert [e.label for e in at.sidebar.expander][:3] == [  # the facets' names, not "Level", "Challenge"
        "Territory · 60 selected", "Territorial level", "Strategic challenge"]
    assert at.number_input(key="year_from") is not None and len(at.sidebar.expander) >= 1
    at.button(key="recover-clear-all").click().run()
    assert not ok(at).error and at.text_input(key="q").value == ""


def test_developer_details_stay_hidden_until_asked_for(api_url):
    at = ok(open_page("search", q="trade missions", mode="keyword"))
    assert not at.get("popover") and at.toggle(key="pk_developer").value is False
    at.toggle(key="pk_developer").set_value(True).run()
    assert ok(at).get("popover")  # scores and ids, on request
    item = ok(open_page("item", id="de-vouchers"))
    assert "| Id |" not in next(m.value for m in item.markdown if m.value.startswith("| Facet"))


def test_filters_say_what_the_look_alike_facets_mean(api_url):
    from policykb.ui.filters import FACET_HELP

    at = ok(open_page("search"))
    shown = [c.value for c in at.sidebar.caption]
    assert FACET_HELP["kind"] in shown and FACET_HELP["challenge"] in shown  # (the open groups)


def test_a_year_out_of_range_is_named_as_such(api_url):
    at = ok(open_page("contribute"))
    at.text_input(key="contrib-title").input("Vouchers")
    at.number_input(key="contrib-start_year").set_value(1700)
    at.number_input(key="contrib-end_year").set_value(2010)
    at.button[-1].click().run()
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in ok(at).error]
    assert "Start year 1700 is not a year between 1800 and 2100." in errors
    assert not any("before the start year" in e for e in errors)


def test_turning_a_page_scrolls_back_to_the_top_of_the_results(api_url):
    at = ok(open_page("search", q="cluster", mode="keyword"))
    assert not scrolls(at)
    for n in range(12):
        httpx.post(f"{api_url}/contributions", json={"title": f"Cluster programme {n}", "country": "LT"})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for item in httpx.get(f"{api_url}/moderation/contributions", headers=headers).json()["items"]:
        httpx.post(f"{api_url}/moderation/contributions/{item['id']}/approve", headers=headers).raise_for_status()
    at = ok(open_page("search", q="cluster programme", mode="keyword"))
    assert not scrolls(at) and "1–10 of" in " ".join(m.value for m in at.markdown)
    at.query_params["page"] = "2"  # the pager's link: the same search, its next page
    ok(at.run())
    assert "11–" in " ".join(m.value for m in at.markdown)
    assert scrolls(at) == 1


def test_each_result_has_a_heading_for_screen_readers(api_url):
    at = ok(open_page("search", q="trade missions", mode="keyword"))
    headings = [h.value for h in at.html if 'class="pk-sr-only"' in h.value]
    assert headings == ['<h2 class="pk-sr-only">1. Cluster internationalisation vouchers</h2>',
                        '<h2 class="pk-sr-only">2. Going abroad guide</h2>']  # under the page's h1, no h3 first


def test_similar_item_titles_carry_their_full_title_as_a_tooltip(api_url):
    at = ok(open_page("item", id="de-vouchers"))
    links = [link.proto for link in at.page_link if link.proto.page == "item"]
    assert links and all(link.help == link.label.replace("\\", "") for link in links)

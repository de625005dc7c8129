"""The Search page with `AppTest` against a real API: the question's language (detected per question,
set by hand per question, in the URL), long questions, stable addresses, the phone's filter control."""

from __future__ import annotations

from .test_ui import api_url, ok, open_page, titles, ui_settings  # noqa: F401 - fixtures

GERMAN = "Wie unterstützen Regionen Cluster beim Export?"


def summary(at) -> str:  # noqa: ANN001
    return next(m.value for m in at.markdown if " for “" in m.value or m.value.startswith("Browsing"))


def test_a_language_set_by_hand_is_in_the_url_shown_and_holds_for_its_question_only(api_url):
    """Issue 19, 1: a language chosen by hand stuck to later questions and was not in the URL."""
    at = ok(open_page("search", q="cluster vouchers"))
    box = at.selectbox(key="pk_lang")
    assert box.value is None and box.options[0] == "Detect from the question"
    box.select("lt").run()
    assert ok(at).query_params["lang"] == "lt"  # in the link
    assert at.button(key="chip-lang").label == "Question in Lithuanian"  # and in view
    assert summary(at).endswith("(hybrid, Lithuanian, set by hand)")
    at.text_input(key="q").input(GERMAN).run()  # a new question is detected on its own
    assert "lang" not in ok(at).query_params and at.selectbox(key="pk_lang").value is None
    assert not [b for b in at.button if b.key == "chip-lang"]
    assert not [m for m in at.markdown if "set by hand" in m.value]
    assert any(c.value.startswith("Detected: German") for c in at.caption)


def test_a_shared_link_with_a_language_keeps_it_and_a_chip_removes_it(api_url):
    at = ok(open_page("search", q="cluster vouchers", lang="de"))
    assert at.selectbox(key="pk_lang").value == "de" and summary(at).endswith("(hybrid, German, set by hand)")
    at.button(key="chip-lang").click().run()
    assert "lang" not in ok(at).query_params and at.selectbox(key="pk_lang").value is None


def test_a_language_the_api_does_not_know_in_a_link_is_ignored(api_url):
    at = ok(open_page("search", q="cluster vouchers", lang="detected: English"))
    assert not at.error and at.selectbox(key="pk_lang").value is None and "lang" not in at.query_params


def test_a_question_over_the_limit_is_refused_as_by_the_api(api_url):
    """Issue 19, 12: 2,000 characters were cut to 1,000 silently; then cut and said so, while the API and
    the CLI refuse such a question (the README: "refused by every interface"). Typed or in a link."""
    question = ("cluster vouchers for trade missions " * 60)[:2000]
    at = ok(open_page("search"))
    at.text_input(key="q").input(question).run()
    refused = ("Your question has 2,000 characters; a question may have 1,000 at most. Shorten it to search.")
    assert [e.value for e in at.error] == [refused] and not titles(at)
    assert at.text_input(key="q").proto.max_chars == 0  # no counter over the question (phones)
    linked = open_page("search", q="a" * 1200)
    assert [e.value for e in linked.error] == [refused.replace("2,000", "1,200")] and not titles(linked)
    at.text_input(key="q").input(question[:1000]).run()
    assert not at.error and titles(at) and len(summary(ok(at))) < 200  # (echoed short)


def test_back_to_search_is_an_address_of_its_own(api_url):
    """Issue 19, 11: "Back to search" was a bare `?q=...` that a new tab resolved against /item."""
    at = ok(open_page("search", q="trade missions", mode="keyword"))
    item = ok(open_page("item", id="de-vouchers"))
    back = next(link.proto for link in item.page_link if link.proto.label == "Back to search")
    assert back.page == "search"  # `search?...`, never `?...`
    assert ok(open_page("item", id="de-vouchers")).page_link[0].proto.page == "search"
    assert at.query_params == {"q": "trade missions", "mode": "keyword"}


def test_the_filters_control_is_labelled_and_closes_on_phones_after_a_choice(api_url):
    """Issue 19, 9: the only way into the filters on a phone was an unlabelled », and the filters
    stayed over the results after each choice."""
    at = ok(open_page("search"))
    assert any('[data-testid="stExpandSidebarButton"]::after { content: "Filters";' in h.value for h in at.html)
    assert not [h for h in at.html if "stSidebarCollapseButton" in h.value]  # nothing chosen yet
    at.pills(key="f_challenge").set_value(["internationalisation"]).run()
    assert any('content: "Filters (1)"' in h.value for h in ok(at).html)
    closing = [h.value for h in at.html if "stSidebarCollapseButton" in h.value]
    assert len(closing) == 1 and "window.innerWidth < 768" in closing[0]
    at.run()  # the same filters again: nothing to close
    assert not [h for h in ok(at).html if "stSidebarCollapseButton" in h.value]


def test_the_years_chip_says_when_the_years_are_not_applied(api_url):
    """Issue 19, 12: the chip said "2020–2000" although those years were not applied."""
    at = ok(open_page("search", year_from="2020", year_to="2000"))
    assert at.button(key="chip-years").label == "Years 2020–2000 (not applied)"
    assert titles(at)  # the results, without the years


def test_a_closed_filter_group_keeps_its_filter(api_url):
    """Closed groups are not drawn (a page's lighter for it): what was chosen in one stays in force."""
    at = ok(open_page("search", territory="EU"))
    assert titles(at) == ["Cluster staff exchange scheme", "Going abroad guide"]
    assert at.pills(key="f_territory").value == ["EU"]
    at.session_state["fx-territory"] = False  # the visitor closes the group
    ok(at.run())
    assert not [w for w in at.get("button_group") if w.key == "f_territory"]
    assert titles(at) == ["Cluster staff exchange scheme", "Going abroad guide"]
    assert at.query_params == {"territory": "EU"} and at.button(key="chip-territory-EU")
    at.run()  # and again, once Streamlit has forgotten the undrawn widget
    assert ok(at).query_params == {"territory": "EU"} and titles(at) == ["Cluster staff exchange scheme",
                                                                          "Going abroad guide"]


def test_the_download_and_the_charts_ask_for_the_language_set_by_hand():
    """The page's results were searched with `lang`, but the download (/export) and Insights
    (/counts) were asked without it: they described the detected language's set."""
    import httpx

    from policykb.ui.client import ApiClient
    from policykb.ui.state import SearchState

    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, json={"total": 0, "hits": []}) if request.url.path != "/export" \
            else httpx.Response(200, content=b"[]")

    state = SearchState(q="Klusteripolitiikka", filters={"territory": ["FI"]}, lang="en")
    with ApiClient("http://api", transport=httpx.MockTransport(answer)) as client:
        client.search(state.query())
        client.counts(state.query())
        client.export(state.query(), "json")
    assert [(url.path, url.params.get("lang"), url.params.get("territory")) for url in asked] == [
        ("/search", "en", "FI"), ("/counts", "en", "FI"), ("/export", "en", "FI")]

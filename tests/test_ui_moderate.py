"""The Moderate page with `AppTest` against a real API: queue, preview, edit, approve, reject, publication,
item history, audit log; and that nothing typed for one contribution or item carries over to the next."""

from __future__ import annotations

import httpx
from streamlit.testing.v1 import AppTest

from policykb.kb import KnowledgeBase

from .test_ui import TOKEN, api_url, ok, scrolls, sign_in, ui_settings  # noqa: F401 - fixtures

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def submit(api_url: str, title: str, **fields: object) -> str:
    response = httpx.post(f"{api_url}/contributions", json={"title": title, "country": "LT", **fields})
    response.raise_for_status()
    return response.json()["id"]


def tab(at: AppTest, name: str) -> AppTest:
    """Open a tab as a click on it does (the tabs keep their state, and only the open one runs)."""
    at.session_state["mod-tab"] = name
    return ok(at.run())


def log_lines(at: AppTest) -> list[str]:
    """The audit entries shown, newest first, as their one-line labels (Markdown unescaped)."""
    return [e.label.replace("\\", "") for e in at.expander if " · " in e.label]


def test_moderation_rejects_a_wrong_token(api_url):
    at = ok(sign_in("wrong"))
    assert "not accepted" in at.error[0].value


def test_moderator_edits_rejects_and_approves(api_url):
    for title in ("Baltic export vouchers", "Spam offer"):
        submit(api_url, title)
    at = ok(sign_in(TOKEN))
    assert at.selectbox(key="mod-selected").label == "2 pending contributions"
    queue = at.selectbox(key="mod-selected")
    queue.select_index(next(i for i, o in enumerate(queue.options) if o.startswith("Spam offer"))).run()
    at.button(key="mod-reject").click().run()
    assert "needs a reason" in ok(at).error[0].value
    at.text_input(key="mod-reason").input("Advertising, not a policy.")
    at.button(key="mod-reject").click().run()
    assert "Rejected “Spam offer”" in ok(at).success[0].value
    at.multiselect(key="mod-challenges").set_value(["internationalisation"])
    at.button(key="mod-save").click().run()
    assert ok(at).success[0].value == "Changes saved."
    at.button(key="mod-approve").click().run()
    assert "it is published and searchable now" in ok(at).success[0].value
    assert "No pending contributions" in at.info[0].value
    lines = log_lines(tab(at, "Audit log"))
    assert [line.split(" · ")[1:] for line in lines[:4]] == [
        ["tester", "approved", "Baltic export vouchers"], ["tester", "edited", "Baltic export vouchers"],
        ["tester", "rejected", "Spam offer"], ["contributor", "submitted", "Spam offer"]]
    hits = httpx.get(f"{api_url}/search", params={"q": "Baltic export vouchers", "challenge": "internationalisation",
                                                  "mode": "keyword"}, timeout=60).json()["hits"]
    assert hits[0]["title"] == "Baltic export vouchers"


def test_after_an_action_the_next_contribution_starts_afresh_and_is_named(api_url):
    """Issue 19, 3: the reason typed for one contribution was pre-filled into the next one's field,
    the confirmation was off-screen, and nothing said the buttons were now another contribution's."""
    titles = {"Spam offer", "Baltic export vouchers"}
    for title in titles:
        submit(api_url, title)
    at = ok(sign_in(TOKEN))
    first = at.header[0].value
    (other,) = titles - {first}
    assert at.caption[1].value.startswith("1 of 2 pending · c-")
    at.text_input(key="mod-reason").input("Advertising, not a policy.")
    at.button(key="mod-reject").click().run()
    assert ok(at).success[0].value.startswith(f"Rejected “{first}”")
    assert scrolls(at) == 1  # to the confirmation, at the top
    assert at.header[0].value == other and at.caption[1].value.startswith("1 of 1 pending · c-")
    assert at.text_input(key="mod-reason").value == ""  # not the reason given for the first one
    assert f"**Reject “{other}”**" in [m.value for m in at.markdown]
    assert any(m.value.startswith(f"**Approve “{other}”**") for m in at.markdown)


def test_duplicate_warnings_are_made_when_the_moderator_looks(api_url, make_pdf, tmp_path):
    """Issue 19, 4: two pending contributions of the same PDF warn of each other, and once one is
    approved the other's preview names the published item (the warnings of its submission had none)."""
    pdf = make_pdf(tmp_path / "roadmap.pdf", ["Cover.", "Hydrogen valley roadmap for cluster firms."]).read_bytes()
    titles = {"Hydrogen valley roadmap": "Hydrogen valley roadmap", "Roadmap (copy)": "Roadmap \\(copy\\)"}
    for title in titles:
        httpx.post(f"{api_url}/contributions", data={"metadata": f'{{"title": "{title}", "kind": "guide"}}'},
                   files={"file": ("roadmap.pdf", pdf)}).raise_for_status()
    at = ok(sign_in(TOKEN))
    first = at.header[0].value
    (other,) = set(titles.values()) - {first}
    assert [w.value for w in at.warning] == [
        f"Possible duplicate of the pending contribution **{other}** (the same document)"]
    at.button(key="mod-approve").click().run()
    assert ok(at).header[0].value == other
    warnings = [w.value for w in at.warning]
    assert warnings and warnings[0].startswith(f"Possible duplicate of the published item **{first}**")


def test_a_pending_duplicate_is_one_click_away(api_url):
    ids = {submit(api_url, "Export vouchers for Baltic clusters"), submit(api_url, "export vouchers for  baltic clusters")}
    at = ok(sign_in(TOKEN))
    shown = at.selectbox(key="mod-selected").value
    assert "(same title)" in at.warning[0].value
    at.button(key="mod-dup-0").click().run()
    assert ok(at).selectbox(key="mod-selected").value == (ids - {shown}).pop()
    assert "(same title)" in at.warning[0].value


def test_moderators_can_unpublish_an_approved_item_and_read_the_audit(api_url):
    submit(api_url, "Baltic export vouchers")
    at = ok(sign_in(TOKEN))
    at.button(key="mod-approve").click().run()
    at.segmented_control(key="mod-status").set_value("approved").run()
    assert "**Published.** It is searchable now." in [m.value for m in ok(at).markdown]
    assert "Open the published item" in [link.proto.label for link in at.page_link]
    at.text_input(key="mod-publication-reason").input("Outdated programme")
    at.button(key="mod-publication-confirm").click().run()
    assert ok(at).success[0].value == "Unpublished “Baltic export vouchers”."
    assert httpx.get(f"{api_url}/search", params={"q": "Baltic", "mode": "keyword"}, timeout=60).json()["total"] == 0
    assert any(m.value.startswith("**Unpublished.**") for m in at.markdown)
    assert at.text_input(key="mod-publication-reason").value == ""  # issue 19, 5: not pre-filled into "Publish again"
    at = tab(at, "Audit log")
    lines = log_lines(at)
    assert lines[0].endswith("· tester · unpublished · Baltic export vouchers")
    tables = [m.value for m in at.markdown if m.value.startswith("| Field")]
    assert tables[0] == "| Field | Before | After |\n|---|---|---|\n| status | published | unpublished |"
    assert "| item id | – | baltic\\-export\\-vouchers\\-" in tables[1]  # the approval
    assert "Note: *Outdated programme*" in [m.value for m in at.markdown]


def test_the_audit_log_reads_field_by_field_and_links_to_the_items_history(api_url):
    """Issue 19, 5: a submission showed as a raw Python dict, "what changed" was cut, and an item's
    history needed its id typed although the log shows titles."""
    submit(api_url, "Baltic export vouchers", summary="Vouchers for trade fairs.", challenges=["internationalisation"])
    at = ok(sign_in(TOKEN))
    at.button(key="mod-approve").click().run()
    at = tab(ok(at), "Audit log")
    tables = [m.value for m in at.markdown if m.value.startswith("| Field")]
    submitted = tables[-1].splitlines()
    assert submitted[:2] == ["| Field | Before | After |", "|---|---|---|"]
    assert "| Title | – | Baltic export vouchers |" in submitted
    assert "| Strategic challenges | – | internationalisation |" in submitted
    assert not [t for t in tables if "{'" in t or '{"' in t]  # no dict anywhere
    item_id = httpx.get(f"{api_url}/search", params={"q": "Baltic", "mode": "keyword"}, timeout=60).json()["hits"][0]["id"]
    next(b for b in at.button if b.label == "Open the item's history").click().run()
    assert ok(at).session_state["mod-tab"] == "Item history"
    assert at.text_input(key="mod-history-id").value == item_id
    assert f"({item_id.replace('-', chr(92) + '-')}) is published now" in " ".join(m.value for m in at.markdown)


def test_moderators_see_an_items_history_with_who_and_restore_a_version(api_url, ui_settings, corpus):
    httpx.post(f"{api_url}/moderation/items/eu-exchange/unpublish", json={"reason": "x"}, headers=HEADERS)
    at = tab(ok(sign_in(TOKEN)), "Item history")
    at.text_input(key="mod-history-id").input("eu-exchange").run()
    assert "is unpublished now; 1 earlier version(s)." in " ".join(m.value for m in ok(at).markdown)
    assert at.session_state["mod-tab"] == "Item history"  # Enter in the id box stays on this tab
    table = at.dataframe[0].value
    assert (list(table["change"]), list(table["by"]), list(table["title"])) == (
        ["unpublished"], ["tester"], ["Cluster staff exchange scheme"])  # the moderator, not "unpublish"
    # version 1 holds the content it has now (only the status changed): nothing to restore, said so
    at.text_input(key="mod-history-reason").input("undo")
    at.button(key="mod-history-confirm").click().run()
    assert ok(at).error[0].value == ("Could not restore: version 1 of 'eu\\-exchange' is its content already\\: "
                                     "nothing to restore")
    assert list(at.dataframe[0].value["by"]) == ["tester"]  # (it kept one more identical version)
    # the file changes: the content the unpublished item had is version 2 now, and restoring it works
    records = corpus / "examples" / "records.yaml"
    records.write_text(records.read_text().replace("Short exchanges", "Week-long exchanges"))
    with KnowledgeBase(ui_settings) as kb:
        kb.ingest([corpus])
    at = tab(ok(sign_in(TOKEN)), "Item history")  # (a new session: the page reads the history afresh)
    at.text_input(key="mod-history-id").input("eu-exchange").run()
    at.selectbox(key="mod-history-v").select(2).run()
    at.text_input(key="mod-history-reason").input("undo")
    at.button(key="mod-history-confirm").click().run()
    assert ok(at).success[0].value == "Restored version 2 of eu\\-exchange."
    assert at.text_input(key="mod-history-reason").value == ""
    versions = httpx.get(f"{api_url}/items/eu-exchange/history", headers=HEADERS).json()["versions"]
    assert [v["replaced_by"] for v in versions] == ["update", "update", "unpublish"] and versions[0]["by"] == "tester"
    httpx.post(f"{api_url}/moderation/items/eu-exchange/publish", json={}, headers=HEADERS).raise_for_status()
    assert httpx.get(f"{api_url}/items/eu-exchange").json()["summary"].startswith("Short exchanges")  # restored


def test_moderators_delete_an_item_for_good_only_after_typing_its_id(api_url):
    at = tab(ok(sign_in(TOKEN)), "Item history")
    at.text_input(key="mod-history-id").input("eu-exchange").run()
    assert ok(at).button(key="mod-purge").disabled
    at.text_input(key="mod-purge-confirm-id").input("eu-exchange").run()
    at.button(key="mod-purge").click().run()
    assert ok(at).success[0].value == "Deleted eu\\-exchange and its history for good."
    assert httpx.get(f"{api_url}/items/eu-exchange").status_code == 404


def test_moderator_preview_rows_stay_whole_with_line_breaks_in_a_description(api_url):
    submit(api_url, "Multi-line", description="First line.\nSecond | line.\n\nThird line.")
    at = ok(sign_in(TOKEN))
    table = next(m.value for m in at.markdown if m.value.startswith("| Field | Value"))
    rows = table.splitlines()
    assert all(r.startswith("|") and r.endswith("|") for r in rows)  # every field on its own table row
    assert not any(r.startswith("| Description") for r in rows)
    # the description as the published item's page shows it: line breaks kept, markup literal
    assert "First line\\.\nSecond \\| line\\.\n\nThird line\\." in [m.value for m in at.markdown]


def test_an_edited_title_keeps_its_contribution_in_view(api_url):
    """The queue's select box sends back the title it showed; after an edit of that title the page
    stays on the contribution edited (it used to fall back to the first of the queue)."""
    submit(api_url, "Alpha vouchers")
    submit(api_url, "Beta vouchers")
    at = ok(sign_in(TOKEN))
    at.selectbox(key="mod-selected").select_index(1).run()
    chosen = ok(at).selectbox(key="mod-selected").value
    at.text_input(key="mod-title").input("Gamma vouchers")
    at.button(key="mod-save").click().run()
    assert ok(at).success[0].value == "Changes saved."
    assert at.selectbox(key="mod-selected").value == chosen and at.header[0].value == "Gamma vouchers"

"""The CLI: clean errors, JSON shapes, batch search, and help that stays honest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from policykb.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
HIT_KEYS = {"id", "kind", "title", "score", "passage", "page", "source", "url", "facets", "snippet"}


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--home", str(tmp_path / "kb"), "--model", "hashing", *args], input=input)

    return invoke


def test_ingest_then_search_json(run, corpus):
    result = run("ingest", str(corpus))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("added 5, updated 0, unchanged 0, removed 0, skipped 0")
    out = run("search", "vouchers", "--json", "--territory", "Germany")
    data = json.loads(out.output)
    assert data["total"] == 1 and data["hits"][0]["id"] == "de-vouchers"
    assert HIT_KEYS <= set(data["hits"][0])
    assert data["hits"][0]["facets"]["territory"] == ["DE"]
    assert set(data["facets"]) == {"territory", "level", "challenge", "theme", "support", "typology", "kind", "language",
                                   "stip_theme", "stip_instrument"}


def test_a_document_result_names_its_other_pages(run, corpus, make_pdf):
    from .test_api import ROADMAP

    make_pdf(corpus / "roadmap.pdf", ROADMAP, title="Hydrogen roadmap")
    assert run("ingest", str(corpus)).exit_code == 0
    out = run("search", "hydrogen vouchers for feasibility studies").output
    assert "    p. 2 · corpus/roadmap.pdf" in out and out.count("    also p. ") == 1, out
    also = out.split("    also ")[1].splitlines()[0]
    named = re.fullmatch(r"p\. (\d), p\. (\d)", also)
    assert named and len(set(named.groups())) == 2 and set(named.groups()) < {"1", "3", "4"}, also


@pytest.mark.parametrize("query, line", [
    ("zebra quagga", "No item contains: zebra, quagga.\n"),  # English words: no spelling is in doubt
    ("zebra quaga", "No item contains: zebra, quaga (check the spelling of quaga).\n"),
])
def test_only_words_in_no_english_word_list_are_called_misspelt(run, corpus, query, line):
    """A review: "Who sat on the programme board?" was answered "No item contains: sat (check the spelling)"."""
    assert run("ingest", str(corpus)).exit_code == 0
    assert line in run("search", query, "--mode", "semantic").output


def test_punctuation_alone_finds_nothing(run, corpus):
    assert run("ingest", str(corpus)).exit_code == 0
    assert run("search", "?!", "--k", "1").output == '0 result(s) for "?!" (hybrid), page 1\nNo close match.\n'



def test_ingest_exit_status_on_skipped_input(run, corpus):
    (corpus / "bad.csv").write_text("title,level\nX,planetary\n")
    result = run("ingest", str(corpus))
    assert result.exit_code == 1
    assert "bad.csv:2: unknown value 'planetary' for level" in result.output
    assert run("ingest", str(corpus), "--keep-going").exit_code == 0


def test_batch_search(run, corpus, tmp_path):
    run("ingest", str(corpus))
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"id": "q1", "query": "textile", "filters": {"challenge": ["green"]}, "k": 2, "mode": "keyword"})
        + "\n" + json.dumps({"id": "q2", "query": "x", "filters": {"territory": ["Narnia"]}})
        + "\n" + json.dumps({"id": "q3", "query": "x", "filters": ["DE"]})
        + "\n" + json.dumps({"id": "q4", "query": None, "year_from": "x"})
        + "\n" + json.dumps({"id": "q5", "query": None, "k": 50})
        + "\n" + json.dumps({"id": "q6", "query": "Innovationsgutscheine für kleine Firmen", "lang": "de"})
        + "\n" + json.dumps({"id": "q7", "query": "cluster", "lang": "xx"})
        + "\n" + json.dumps({"id": "q8", "q": "vouchers"})  # (read as no query: every item, as if asked)
        + "\n" + json.dumps({"id": "q9", "query": "vouchers", "k": 100000})
        + "\n" + "{not json" + "\n" + json.dumps({"id": ["odd"], "k": -1}) + "\n"
    )
    result = run("search", "--batch", str(batch))
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [h["id"] for h in lines[0]["hits"]] == ["fr-es-green"] and lines[0]["id"] == "q1"
    assert "unknown value 'Narnia' for territory" in lines[1]["error"]
    assert lines[2]["error"] == 'line 3: "filters" must be an object like {"territory": ["DE"]}'
    assert lines[3]["error"].startswith("line 4: invalid literal for int()")
    assert len(lines[4]["hits"]) == 5 and lines[4]["total"] == 5  # a null query browses
    assert lines[0]["total"] == 1 and set(lines[0]["language"]) >= {"detected", "used", "model"}
    assert lines[5]["language"]["used"] == "de" and lines[5]["total"] == len(lines[5]["hits"])
    assert lines[6]["error"].startswith("line 7: unknown language 'xx'")
    assert lines[7]["error"] == ("line 8: unknown key 'q'; a line takes id, query, filters, k, mode, lang, "
                                 "year_from, year_to")
    assert lines[8]["error"] == "line 9: k must be between 1 and 1000"  # (it named the facade's "size")
    # an error answers with the line's own id, so that answers can be matched to questions (else its number)
    assert [line["id"] for line in lines] == ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", 10, 11]


def test_show_similar_facets_stats_taxonomy_export(run, corpus):
    run("ingest", str(corpus))
    shown = json.loads(run("show", "guide-abroad", "--json").output)
    assert shown["kind"] == "guide" and [p["section"] for p in shown["passages"]] == ["Missions", "Monitoring"]
    similar = json.loads(run("similar", "de-vouchers", "--json", "--k", "2").output)
    assert len(similar) == 2 and "de-vouchers" not in {h["id"] for h in similar}
    facets = json.loads(run("facets", "--json", "--level", "national").output)
    printed = run("facets", "--level", "national").output
    assert "Strategic challenge [challenge]: " in printed and "[stip_theme]" not in printed  # (no STIP data: no line)
    assert {v["value"]: v["count"] for v in facets["challenge"]["values"]} == {"internationalisation": 1, "sme-growth": 1}
    stats = json.loads(run("stats", "--json").output)
    assert (stats["items"], stats["by_kind"]) == (5, {"example": 4, "guide": 1})
    assert "vouchers" in run("taxonomy", "support").output
    csv_out = run("export", "--format", "csv", "--territory", "AT").output
    assert csv_out.splitlines()[1].startswith("1,,at-upper-austria,example,Upper Austria cluster programme")


@pytest.mark.integration
def test_search_facets_and_export_take_the_same_forced_language(tmp_path, corpus):
    """--lang was a search option only: `export --lang` failed ("No such option '--lang'. Did you
    mean '--language'?", the items' language filter) and `facets` counted the detected language's set."""
    runner = CliRunner()
    env = {"POLICYKB_MULTILINGUAL_MODEL": "use-multilingual"}

    def run(*args: str):
        out = runner.invoke(cli, ["--home", str(tmp_path / "kb"), "--model", "hashing", *args], env=env)
        assert out.exit_code == 0, out.output
        return out.output

    run("ingest", str(corpus))
    question = "Förderung für Cluster beim Export"
    found = {}
    for lang in (["--lang", "en"], []):
        searched = json.loads(run("search", question, "--k", "100", "--json", *lang))
        ids = [h["id"] for h in searched["hits"]]
        assert [r["id"] for r in json.loads(run("export", "--query", question, "--format", "json", *lang))] == ids
        assert run("facets", question, *lang).splitlines()[0] == f"{len(ids)} item(s)" and searched["total"] == len(ids)
        found[bool(lang)] = ids
    assert found[True] != found[False]


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "missing"], "Error: no item with id 'missing'"),
        (["search", "x", "--challenge", "greem"],
         "Error: unknown value 'greem' for challenge; did you mean 'green' (Green transition)?"),
        (["search", "x", "--territory", "Atlantis"], "did you mean 'AL' (Albania)?"),  # (an id alone: why AL?)
        (["search", "x", "--territory", "Austira"], "did you mean 'AT' (Austria), 'AU' (Australia)"),
        (["search", "x", "--year-from", "2020", "--year-to", "2000"], "Error: year_from 2020 is after year_to 2000"),
    ],
)
def test_errors_are_clean_messages(run, corpus, args, message):
    run("ingest", str(corpus))
    result = run(*args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["search", "cluster"], ["facets", "cluster"], ["export", "--format", "json"],
                                     ["similar", "de-vouchers"]])
@pytest.mark.parametrize("option, year, message", [
    ("--year-from", "99999", "Error: year_from 99999 is not a year between 1800 and 2100"),
    ("--year-to", "1799", "Error: year_to 1799 is not a year between 1800 and 2100"),
])
def test_every_year_option_is_bounded_as_the_api_bounds_it(run, corpus, command, option, year, message):
    run("ingest", str(corpus))
    result = run(*command, option, year)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_missing_model_names_the_setting(tmp_path, corpus):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "kb"), "--model", "no-such-model", "ingest", str(corpus)])
    assert result.exit_code == 1
    assert "embedding model 'no-such-model' is not available offline: POLICYKB_MODEL" in result.output


def test_invalid_environment_setting_is_a_clean_error(monkeypatch):
    monkeypatch.setenv("POLICYKB_CANDIDATES", "5")
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 2 and "invalid setting: POLICYKB_CANDIDATES" in result.output
    assert "Traceback" not in result.output


COMMANDS = sorted(cli.commands)
SUBCOMMANDS = [[name, sub] for name, group in sorted(cli.commands.items())
               for sub in sorted(getattr(group, "commands", {}))]


@pytest.mark.parametrize("command", [[c] for c in COMMANDS] + SUBCOMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_moderation_from_the_cli(run, corpus, settings, tmp_path):
    run("ingest", str(corpus))
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        receipt = kb.contributions.submit({"title": "Baltic vouchers", "country": "LT"}, None, client="c")
    assert receipt["id"] in run("moderate", "queue").output
    assert "approved" in run("moderate", "approve", receipt["id"], "--as", "alice").output
    assert json.loads(run("search", "Baltic", "--mode", "keyword", "--json").output)["total"] == 1
    item_id = json.loads(run("search", "Baltic", "--mode", "keyword", "--json").output)["hits"][0]["id"]
    assert run("moderate", "unpublish", item_id, "--reason", "test", "--as", "bob").output == f"{item_id}: unpublished\n"
    audit = json.loads(run("moderate", "audit", "--json").output)
    assert [(a["actor"], a["action"]) for a in audit] == [("bob", "unpublish"), ("alice", "approve"),
                                                          ("contributor", "submit")]
    missing = run("moderate", "approve", "c-nope")
    assert missing.exit_code == 1 and "Error: no contribution 'c-nope'" in missing.output


def test_moderate_queue_marks_duplicates_of_pending_contributions(run, corpus, tmp_path):
    """As `moderate show` lists them (the queue marked only duplicates of published items)."""
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    run("ingest", str(corpus))
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        first = kb.contributions.submit({"title": "Baltic vouchers"}, None, client="c")["id"]
        second = kb.contributions.submit({"title": "baltic  Vouchers", "summary": "Trade fairs."}, None, client="c")["id"]
        third = kb.contributions.submit({"title": "Seaweed farming pilot"}, None, client="c")["id"]
    lines = run("moderate", "queue").output.splitlines()
    assert {line.split()[0]: line.endswith("(1 possible duplicate(s))") for line in lines[1:]} == {
        first: True, second: True, third: False}
    assert f"possible duplicate: {first} (1.00) Baltic vouchers" in run("moderate", "show", second).output


@pytest.mark.parametrize(("command", "status"), [("unpublish", "unpublished"), ("publish", "published")])
def test_moderate_unpublish_or_publish_again_is_a_clean_error(run, corpus, command, status):
    run("ingest", str(corpus))
    if command == "unpublish":
        assert run("moderate", "unpublish", "de-vouchers", "--as", "alice").exit_code == 0
    before = run("moderate", "audit", "--json").output
    again = run("moderate", command, "de-vouchers", "--reason", "again", "--as", "bob")
    assert (again.exit_code, again.output) == (1, f"Error: item 'de-vouchers' is already {status}: nothing to {command}\n")
    assert run("moderate", "audit", "--json").output == before


def test_readme_mentions_every_command_and_its_policykb_lines_parse():
    readme = (ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert f"policykb {command}" in readme or f"policykb --home index {command}" in readme, command
    for line in re.findall(r"^\s*(?:\$ )?policykb (.+)$", readme, re.M):
        args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', line.split(" > ")[0].split(" | ")[0])]
        result = CliRunner().invoke(cli, [*args, "--help"] if args[0] != "--help" else args)
        assert result.exit_code == 0, (line, result.output)


def test_readme_names_every_subcommand():
    """`policykb moderate edit` was missing beside the API's PATCH: each group's line in the README
    lists its subcommands."""
    readme = (ROOT / "README.md").read_text()
    for name, sub in SUBCOMMANDS:
        listed = re.findall(rf"^policykb {name} \S+.*#\s*\w+: (.+)$", readme, re.M)
        assert listed and sub in re.split(r",\s*", listed[0]), (name, sub)


def test_readme_names_every_setting():
    from policykb.config import Settings

    readme = (ROOT / "README.md").read_text()
    assert [n for n in Settings.model_fields if f"POLICYKB_{n.upper()}" not in readme] == []


def test_readme_make_targets_exist():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"^\s*make (\w+)", readme, re.M)):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make run" in readme and "make test" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


# -- issue 18, item 5: a purge of an ingested item leaves a consistent knowledge base ------------------


def test_purging_an_ingested_item_keeps_the_knowledge_base_consistent(run, corpus):
    records = corpus / "examples" / "records.yaml"
    assert run("ingest", str(corpus)).exit_code == 0
    assert run("purge", "de-vouchers", "--reason", "spam", "--yes").exit_code == 0
    checked = run("check")
    assert checked.exit_code == 0, checked.output
    # The file changes elsewhere: the purged record stays out, and the report says so.
    records.write_text(records.read_text().replace("Short exchanges", "Week-long exchanges"))
    again = run("ingest", str(corpus))
    assert again.exit_code == 0 and again.output.startswith("added 0, updated 1, unchanged 3, removed 0, skipped 0")
    assert f"warning {records}: id 'de-vouchers' was purged on " in again.output
    assert "not ingested again while its record is unchanged" in again.output
    assert run("show", "de-vouchers").exit_code == 1
    for command in (("ingest", str(corpus), "--prune"), ("reindex",), ("check",)):
        assert run(*command).exit_code == 0, (command, run(*command).output)
    # The record itself changes: it is ingested again.
    records.write_text(records.read_text().replace("through trade missions", "through trade missions abroad"))
    back = run("ingest", str(corpus))
    assert back.exit_code == 0 and back.output.startswith("added 1, updated 0, unchanged 4")
    assert "purged" not in back.output and run("check").exit_code == 0


# -- issue 18, item 9: a damaged database gives a clear message, and restore mends it --------------------


@pytest.mark.parametrize("how", ["garbage", "pages"])
def test_a_damaged_database_names_the_file_and_restore_mends_it(run, corpus, tmp_path, how):
    from .test_store import damage

    path = tmp_path / "kb" / "kb.sqlite"
    assert run("ingest", str(corpus)).exit_code == 0
    assert run("backup", str(tmp_path / "backup")).exit_code == 0
    damage(path, how)
    for command in (("check",), ("stats",), ("search", "cluster vouchers"), ("search", "vouchers", "--mode", "keyword"),
                    ("serve", "--port", "1")):
        result = run(*command)
        assert result.exit_code == 1 and "Traceback" not in result.output, (command, result.output)
        assert f"Error: {path} is damaged (" in result.output, (command, result.output)
        assert f"Restore the knowledge base from a backup: policykb --home {path.parent} restore" in result.output
    restored = run("restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    assert "the damaged database was moved aside to" in restored.output
    assert run("check").exit_code == 0 and json.loads(run("stats", "--json").output)["items"] == 5
    assert len(list(path.parent.glob("kb.sqlite.damaged-*"))) >= 1


@pytest.mark.parametrize("args, message", [
    (["reject", "{id}", "--reason", "x" * 2001, "--as", "alice"],
     "Error: a reason has at most 2000 characters (this one has 2001)\n"),
    (["reject", "{id}", "--reason", "spam", "--as", ""], "Error: the moderator's name (recorded in the audit log) is empty\n"),
    (["approve", "{id}", "--as", "a" * 101],
     "Error: the moderator's name (recorded in the audit log) has 101 characters; at most 100\n"),
    (["unpublish", "de-vouchers", "--as", "al\tice"],
     "Error: the moderator's name (recorded in the audit log) holds a control character\n"),
    (["audit", "--target", "nope"], "Error: no contribution, item or audit entry has the id 'nope'\n"),
])
def test_moderation_commands_refuse_what_the_api_refuses(run, corpus, tmp_path, args, message):
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    run("ingest", str(corpus))
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        pending = kb.contributions.submit({"title": "Baltic vouchers", "country": "LT"}, None, client="c")["id"]
    result = run("moderate", *[a.format(id=pending) for a in args])
    assert (result.exit_code, result.output) == (1, message)
    assert json.loads(run("moderate", "queue", "--json").output)["items"][0]["status"] == "pending"


def test_moderate_edit_changes_a_pending_contribution(run, corpus, tmp_path):
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    run("ingest", str(corpus))
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        pending = kb.contributions.submit({"title": "Baltic vouchers", "country": "LT", "region": "Kaunas"}, None,
                                          client="c")["id"]
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"summary": "Vouchers for trade fairs.", "themes": ["tourism"]}))
    result = run("moderate", "edit", pending, "--set", "title=Baltic export vouchers", "--set", "challenges=green",
                 "--set", "challenges=digital", "--set", "support=vouchers; networking", "--set", "start_year=2021",
                 "--set", "region=", "--json", str(changes), "--as", "alice")
    assert (result.exit_code, result.output) == (0, f"edited {pending}: challenges, region, start_year, summary, "
                                                    "support, themes, title\n")
    record = json.loads(run("moderate", "show", pending, "--json").output)["record"]
    assert {k: v for k, v in record.items() if k != "id"} == {
        "title": "Baltic export vouchers", "country": "LT", "kind": "example", "summary": "Vouchers for trade fairs.",
        "themes": ["tourism"], "challenges": ["green", "digital"], "support": ["vouchers", "networking"],
        "start_year": 2021}
    audit = json.loads(run("moderate", "audit", "--target", pending, "--json").output)
    assert [(a["actor"], a["action"]) for a in audit] == [("alice", "edit"), ("contributor", "submit")]
    stdin = run("moderate", "edit", pending, "--json", "-", "--as", "bob", input='{"level": "national"}')
    assert stdin.exit_code == 0 and json.loads(run("moderate", "show", pending, "--json").output)["record"]["level"] \
        == "national"


@pytest.mark.parametrize("args, message", [
    (["--set", "colour=red"], "Error: unknown field 'colour'; a contribution's fields are title, kind, summary, "
                              "description, country, region, level, challenges, themes, support, typology, "
                              "organisation, start_year, end_year, links, language, id\n"),
    (["--set", "title"], "Error: --set takes key=value, got 'title'\n"),
    (["--set", "challenges=greem"], "Error: unknown value 'greem' for challenge; did you mean 'green'"),
    (["--set", "start_year=soon"], "Error: start_year must be a year, got 'soon'\n"),
    (["--json", "-"], "Error: --json: the changes must be a JSON object of fields, got list\n"),
    ([], "Error: nothing to change: give --set key=value or --json FILE\n"),
])
def test_moderate_edit_errors_are_clean(run, corpus, tmp_path, args, message):
    from policykb.config import Settings
    from policykb.kb import KnowledgeBase

    run("ingest", str(corpus))
    with KnowledgeBase(Settings(home=tmp_path / "kb", model="hashing")) as kb:
        pending = kb.contributions.submit({"title": "Baltic vouchers"}, None, client="c")["id"]
    result = run("moderate", "edit", pending, *args, input="[1]")
    assert result.exit_code == 1 and result.output.startswith(message) and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["search", "innovation vouchers"], ["stats"], ["show", "x"], ["facets"],
                                     ["moderate", "queue"], ["export"], ["check"]])
def test_a_folder_without_a_knowledge_base_is_an_error_not_an_empty_one(run, tmp_path, command):
    result = run(*command)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no knowledge base in {tmp_path / 'kb'}: build one with `policykb --home")
    assert not (tmp_path / "kb").exists()  # (nothing made there)


def test_ingest_makes_the_knowledge_base_where_there_is_none(run, corpus, tmp_path):
    assert run("ingest", str(corpus)).exit_code == 0
    assert run("stats").exit_code == 0 and (tmp_path / "kb" / "kb.sqlite").is_file()

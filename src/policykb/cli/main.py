"""`policykb` command line: each command is a thin wrapper over one `KnowledgeBase` method."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click
from pydantic import ValidationError

from policykb.config import Settings
from policykb.ingest.export import write_records
from policykb.cli.common import LazyKB, handle_errors, pass_kb, print_facets, print_hit, print_json, print_no_match
from policykb.cli.admin import ADMIN_COMMANDS
from policykb.cli.batch import run_batch
from policykb.cli.eval import evaluate
from policykb.cli.moderation import history, moderate, purge
from policykb.language.detect import language_name
from policykb.search.parts import MODES

FILTER_OPTIONS = ("territory", "level", "challenge", "theme", "support", "typology", "kind", "language",
                  "stip_theme", "stip_instrument")


def filter_options(fn: Callable) -> Callable:
    """The facet filters (repeatable, OR-ed within a facet, AND-ed across) and the year range."""
    for name in reversed(FILTER_OPTIONS):
        fn = click.option(f"--{name.replace('_', '-')}", name, multiple=True, metavar="VALUE",
                          help=f"Only items with this {name} (id, label or synonym); repeat for OR.")(fn)
    fn = click.option("--year-to", type=int, help="Only items active in or before this year (items without any "
                      "year are left out).")(fn)
    fn = click.option("--year-from", type=int, help="Only items active in or after this year (one with a start year "
                      "and no end year is still running; items without any year are left out).")(fn)
    return fn


def collect_filters(kwargs: dict[str, Any]) -> dict[str, list[str]]:
    return {name: list(kwargs.pop(name)) for name in FILTER_OPTIONS if kwargs.get(name)}


# the question's language, for every command that runs a search (search, facets, export: one set)
lang_option = click.option("--lang", metavar="CODE", help="The question's language (ISO 639-1, e.g. de); detected when "
                           "absent. Not the --language filter, which is the items' language.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="POLICYKB_HOME",
              help="Knowledge-base directory [default: $POLICYKB_HOME, then ./index].")
@click.option("--model", envvar="POLICYKB_MODEL", help="Embedding model name or local path [default: all-MiniLM-L6-v2].")
@click.version_option(package_name="policykb")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, model: str | None) -> None:
    """policykb: search cluster and innovation policy examples, guides and case studies by meaning.

    \b
    Example:
      policykb ingest ingest/
      policykb search "how do regions help cluster SMEs go international?" --level regional
    """
    logging.basicConfig(level=logging.WARNING, format="policykb: %(message)s")
    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    if model:
        overrides["model"] = model
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"POLICYKB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.UsageError(f"invalid setting: {problems}") from None
    ctx.obj = ctx.with_resource(LazyKB(settings))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--prune", is_flag=True, help="Remove items whose files under PATHS are gone.")
@click.option("--keep-going", is_flag=True, help="Exit with status 0 even if some input was skipped.")
@click.option("--format", "fmt", type=click.Choice(["auto", "beir", "stip"]), default="auto", show_default=True,
              help="auto: by file type; beir: BEIR data set directories; stip: OECD STIP Compass CSV exports.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_kb
@handle_errors
def ingest(lazy: LazyKB, paths: tuple[Path, ...], prune: bool, keep_going: bool, fmt: str, as_json: bool) -> None:
    """Add or update items from record files (YAML, JSON, JSONL, CSV) and documents (PDF, Markdown, text, HTML).

    Unchanged files are not read again and unchanged passages are never embedded twice.

    \b
    Example:
      policykb ingest ingest/ --prune
      policykb ingest --format stip ../shared/data/stip-compass-2021.csv.gz
      policykb ingest --format beir ../shared/data/beir-scifact
    """
    report = lazy.kb.ingest(list(paths), prune=prune, progress=True, fmt=fmt)
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(
            f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
            f"removed {len(report.removed)}, skipped {len(report.skipped)} "
            f"({report.embedded} passages embedded)"
        )
        for problem in report.skipped:
            click.echo(f"  skipped {problem}", err=True)
        for problem in report.warnings:
            click.echo(f"  warning {problem}", err=True)
        if report.ignored:
            click.echo(f"  ignored {len(report.ignored)} file(s) of unsupported type: {', '.join(report.ignored[:5])}"
                       + (" ..." if len(report.ignored) > 5 else ""), err=True)
    if report.skipped and not keep_going:
        sys.exit(1)


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True, help="Ranking.")
@click.option("--k", "size", type=click.IntRange(1, 1000), default=10, show_default=True, help="Results per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Page of results.")
@filter_options
@click.option("--facets", "show_facets", is_flag=True, help="Also print facet counts.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@lang_option
@click.option("--batch", type=click.File("r"), metavar="FILE.jsonl",
              help='Run one search per line: {"id", "query", "filters": {facet: [values]}, "k", "mode", "lang"}; '
                   'prints one line each: {"id", "total", "language", "hits"} or {"id", "error"}.')
@pass_kb
@handle_errors
def search(lazy: LazyKB, query: str, mode: str, size: int, page: int, show_facets: bool, as_json: bool,
           lang: str | None, batch: io.TextIOBase | None, year_from: int | None, year_to: int | None,
           **kwargs: Any) -> None:
    """Search by meaning and keywords, narrowed by facet filters. An empty QUERY browses.

    \b
    Example:
      policykb search "innovation vouchers for SMEs" --challenge digital --territory DE --territory AT
      policykb search --batch queries.jsonl > results.jsonl
    """
    filters = collect_filters(kwargs)
    if batch is not None:
        run_batch(lazy.kb, batch)
        return
    result = lazy.kb.search(query, mode=mode, filters=filters, year_from=year_from, year_to=year_to,
                            page=page, size=size, facets=show_facets or as_json, language=lang)
    if as_json:
        print_json(result.to_dict())
        return
    if result.language and result.language.get("note"):
        click.echo(result.language["note"])
    label = f'for "{query}" ' if query else ""
    language = result.language or {}
    if mode != "keyword" and language.get("model") not in (None, lazy.kb.model):  # the second encoder answered
        used = language.get("used")  # (none: a language not told, one word or not surely any: "in None" was printed)
        label += (f"in {language_name(used)}, " if used else "") + f"matched by {language['model']} "
    click.echo(f"{result.total} result(s) {label}({mode}), page {page}")
    for rank, hit in enumerate(result.hits, (page - 1) * size + 1):
        print_hit(rank, hit.to_dict())
    if query and not result.total:
        print_no_match(result.to_dict())
    if show_facets:
        print_facets(result.facets)


@cli.command()
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@pass_kb
@handle_errors
def show(lazy: LazyKB, item_id: str, as_json: bool) -> None:
    """Show one item with its facets and passages.

    \b
    Example:
      policykb show eu-clusterxchange
    """
    record = lazy.kb.get(item_id)
    if as_json:
        print_json(record)
        return
    click.echo(click.style(record["title"], bold=True) + f"  ({record['kind']}, id={record['id']})")
    for key in ("summary", "organisation", "region", "start_year", "end_year", "url", "source", "pages"):
        if record.get(key):
            click.echo(f"{key}: {record[key]}")
    for facet, labels in record["facet_labels"].items():
        click.echo(f"{facet}: {', '.join(labels)}")
    if record["description"]:
        click.echo("\n" + record["description"])
    click.echo(f"\n{len(record['passages'])} passage(s)")
    for p in record["passages"]:
        page = f"p. {p['page']}: " if p["page"] else ""
        click.echo(f"  [{p['seq']}] {page}{p['text'][:160]}{'…' if len(p['text']) > 160 else ''}")


@cli.command()
@click.argument("item_id")
@click.option("--k", type=click.IntRange(1, 100), default=5, show_default=True, help="How many.")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@pass_kb
@handle_errors
def similar(lazy: LazyKB, item_id: str, k: int, as_json: bool, year_from: int | None, year_to: int | None,
            **kwargs: Any) -> None:
    """Items most similar in meaning to ITEM_ID (only those over the similarity floor).

    \b
    Example:
      policykb similar de-go-cluster --k 3
    """
    hits = lazy.kb.similar(item_id, k=k, filters=collect_filters(kwargs), year_from=year_from, year_to=year_to)
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    if not hits:
        click.echo("No item is close enough in meaning to count as similar.")
    for rank, hit in enumerate(hits, 1):
        print_hit(rank, hit.to_dict())


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True, help="Ranking.")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
@lang_option
@pass_kb
@handle_errors
def facets(lazy: LazyKB, query: str, mode: str, as_json: bool, lang: str | None, year_from: int | None,
           year_to: int | None, **kwargs: Any) -> None:
    """Facet value counts, for everything or for a QUERY and filters.

    \b
    Example:
      policykb facets --territory DE
    """
    result = lazy.kb.search(query, mode=mode, filters=collect_filters(kwargs), year_from=year_from,
                            year_to=year_to, size=1, facet_size=300, language=lang)
    if as_json:
        print_json(result.facets)
    else:
        click.echo(f"{result.total} item(s)")
        print_facets(result.facets)


@cli.command()
@click.argument("facet", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the taxonomy as JSON.")
@pass_kb
@handle_errors
def taxonomy(lazy: LazyKB, facet: str | None, as_json: bool) -> None:
    """List facets and their allowed values (ids, labels, synonyms).

    \b
    Example:
      policykb taxonomy support
    """
    from policykb.taxonomy import Taxonomy

    described = Taxonomy.default().describe(facet)
    if as_json:
        print_json(described)
        return
    for f in described:
        kind = "several values" if f["multi"] else "one value"
        click.echo(f"{f['name']} ({f['label']}; record key `{f['record_key']}`, {kind}): {len(f['values'])} values")
        if f["name"] in ("territory", "language") and not facet:
            click.echo("  ISO codes, e.g. " + ", ".join(v["id"] for v in f["values"][:12]) + " … (EU for European level)")
            continue
        for v in f["values"]:
            syn = f"  (also: {', '.join(v['synonyms'])})" if v["synonyms"] else ""
            click.echo(f"  {v['id']:<26} {v['label']}{syn}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_kb
@handle_errors
def stats(lazy: LazyKB, as_json: bool) -> None:
    """Counts of items, passages and files; they change only when content changes.

    \b
    Example:
      policykb stats --json
    """
    data = lazy.kb.stats()
    if as_json:
        print_json(data)
        return
    kinds = ", ".join(f"{k} {n}" for k, n in data["by_kind"].items())
    click.echo(f"items: {data['items']} ({kinds})\npassages: {data['passages']}\nfiles: {data['files']}\n"
               f"territories: {data['territories']}\nmodel: {data['model']}\ngeneration: {data['generation']}")
    if "multilingual_model" in data:
        click.echo(f"multilingual model: {data['multilingual_model']}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write [default: stdout].")
@click.option("--query", default="", help="Only items matching this search.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@filter_options
@lang_option
@pass_kb
@handle_errors
def export(lazy: LazyKB, fmt: str, output: io.TextIOBase, query: str, mode: str, lang: str | None,
           year_from: int | None, year_to: int | None, **kwargs: Any) -> None:
    """Export items as CSV, JSON or JSONL, in the same record format `ingest` reads.

    \b
    Example:
      policykb export --format csv --challenge green -o green.csv
    """
    records = lazy.kb.export(query, mode=mode, filters=collect_filters(kwargs), year_from=year_from, year_to=year_to,
                             language=lang)
    write_records(records, fmt, output)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--workers", type=click.IntRange(1, 32), default=1, show_default=True, help="Worker processes.")
@pass_kb
@handle_errors
def serve(lazy: LazyKB, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) over the knowledge base.

    \b
    Example:
      policykb --home index serve --port 8000
    """
    import os

    from policykb.service.security import moderator_tokens, trusted_networks
    from policykb.warmup import WarmUp

    moderator_tokens(lazy.settings.moderator_tokens)  # a bad token or proxy stops here, with its reason
    trusted_networks(lazy.settings.trusted_proxies)
    lazy.kb.store.stats()  # so does a damaged database (the rest of it is read at each request)
    warming = WarmUp()
    if workers == 1:  # the models load while the web framework is imported (the app waits for them)
        warming.start(lazy.kb, lazy.settings.warm_up)
    import uvicorn

    from policykb.service.api import create_app

    click.echo(f"policykb API on http://{host}:{port}/ (docs at http://{host}:{port}/docs)")
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from any local peer; the
    # app decides whom to believe (POLICYKB_TRUSTED_PROXIES).
    try:
        if workers == 1:
            uvicorn.run(create_app(lazy.settings, kb=lazy.kb, warming=warming), host=host, port=port,
                        log_level="warning", proxy_headers=False)
            return
        # Workers are separate processes: they read their settings from the environment.
        os.environ["POLICYKB_HOME"] = str(lazy.settings.home)
        os.environ["POLICYKB_MODEL"] = lazy.settings.model
        uvicorn.run("policykb.service.api:app_factory", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", proxy_headers=False)
    finally:
        warming.stop()  # before the knowledge base closes


cli.add_command(moderate)
cli.add_command(history)
cli.add_command(purge)
for command in ADMIN_COMMANDS:
    cli.add_command(command)
cli.add_command(evaluate)


def main() -> None:
    cli(prog_name="policykb")


if __name__ == "__main__":  # pragma: no cover
    main()

"""Operator commands: rebuild and check the indexes, back up, restore and migrate a knowledge base."""

from __future__ import annotations

from pathlib import Path

import click

from policykb.cli.common import LazyKB, handle_errors, pass_kb, print_json


@click.command()
@pass_kb
@handle_errors
def reindex(lazy: LazyKB) -> None:
    """Embed passages that lack a vector for the current model and rebuild the vector and keyword indexes.

    \b
    Example:
      POLICYKB_MODEL=/models/my-model policykb reindex
    """
    result = lazy.kb.reindex()
    click.echo(f"index rebuilt: {result['passages']} passages ({result['embedded']} embedded)")


@click.command()
@click.option("--sample", default=20, show_default=True, help="Passages whose keyword postings are checked.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_kb
@handle_errors
def check(lazy: LazyKB, sample: int, as_json: bool) -> None:
    """Check that the store, the vector index and the keyword index agree; exit status 1 if not.

    \b
    Example:
      policykb check --sample 1000
    """
    data = lazy.kb.check(sample=sample)
    if as_json:
        print_json(data)
    else:
        click.echo(f"status: {data['status']}\ngeneration: {data['generation']} (vector index: "
                   f"{data['index_generation']})\npassages: {data['passages']}, vectors: {data['vectors']}\n"
                   f"keyword postings of {data['keyword_checked']} passages checked, disagreeing: "
                   f"{', '.join(map(str, data['keyword_disagreeing'])) or 'none'}\n"
                   f"items their file does not own: {', '.join(data['files_disagreeing']) or 'none'}\n"
                   f"items of contributions not approved: {', '.join(data['contributions_disagreeing']) or 'none'}")
        if data.get("problem"):
            click.echo(f"problem: {data['problem']}")
        if "multilingual_vectors" in data:
            click.echo(f"multilingual vector index: generation {data['multilingual_index_generation']}, "
                       f"vectors: {data['multilingual_vectors']}")
    if data["status"] != "ok":
        raise SystemExit(1)


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the backup's description as JSON.")
@pass_kb
@handle_errors
def backup(lazy: LazyKB, target: Path, as_json: bool) -> None:
    """Back up the knowledge base into a new folder TARGET: a consistent copy of the database (made
    with SQLite's online backup, safe while the API and ingests write) and the uploaded documents.

    \b
    Example:
      policykb --home index backup /backups/policykb-2026-11-29
    """
    info = lazy.kb.backup(target)
    if as_json:
        print_json(info)
        return
    click.echo(f"backed up generation {info['generation']}: {info['items']} published and {info['unpublished']} "
               f"hidden item(s), {info['passages']} passages -> {target}")


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_kb
@handle_errors
def restore(lazy: LazyKB, source: Path, as_json: bool) -> None:
    """Replace the knowledge base (--home) with the backup in SOURCE; the vector index is rebuilt
    from the stored vectors, and running API processes see the restored state at their next request.
    A damaged database is moved aside first (kb.sqlite.damaged-<time>; restart the API after that).

    \b
    Example:
      policykb --home index restore /backups/policykb-2026-11-29
    """
    from policykb.backends.embedded.backup import set_aside_if_damaged

    aside = set_aside_if_damaged(Path(lazy.settings.home))
    if aside is not None:
        click.echo(f"the damaged database was moved aside to {aside}; restart running API processes after this",
                   err=True)
    result = lazy.kb.restore(source)
    if as_json:
        print_json(result)
        return
    click.echo(f"restored generation {result['generation']}: {result['items']} item(s), {result['passages']} "
               f"passages, {result['vectors']} vectors")


@click.command()
@click.option("--to", "target", required=True,
              help="The knowledge base to copy into: a new (or empty) folder, or an empty PostgreSQL database "
                   "(postgresql://user@host:port/name).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_kb
@handle_errors
def migrate(lazy: LazyKB, target: str, as_json: bool) -> None:
    """Copy the knowledge base (--home, or POLICYKB_DATABASE_URL) into another, empty one, either way
    between a folder and a PostgreSQL database: items, passages, cached vectors,
    contributions, audit log and item versions, ids kept, so both answer alike; then check both
    (exit status 1 if either check fails). Nothing is embedded again.

    \b
    Example:
      policykb --home index migrate --to postgresql://policykb@db.example.org/policykb
    and back into a folder:
      POLICYKB_DATABASE_URL=postgresql://policykb@db.example.org/policykb policykb migrate --to ./index-copy
    """
    from policykb.backends import is_database_url

    result = lazy.kb.migrate(target if is_database_url(target) else Path(target))
    if as_json:
        print_json(result)
    else:
        tables = ", ".join(f"{n} {table}" for table, n in result["tables"].items() if n)
        shown = target.split("@")[-1] if is_database_url(target) else target  # no password on screen
        click.echo(f"copied to {shown} (generation {result['generation']}): {tables}\n"
                   f"check: source {result['check']['source']}, target {result['check']['target']}")
    if set(result["check"].values()) != {"ok"}:
        raise SystemExit(1)


ADMIN_COMMANDS = [reindex, check, backup, restore, migrate]

"""`policykb moderate ...`: the moderation desk from the command line (same methods as the API)."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from policykb.cli.common import LazyKB, handle_errors, pass_kb, print_json
from policykb.moderation.rules import LIST_FIELDS

ACTOR = click.option("--as", "actor", default=lambda: getpass.getuser(), show_default="your user name",
                     help="Name recorded in the audit log.")


@click.group()
def moderate() -> None:
    """Review contributions: queue, show, edit, approve, reject; unpublish or publish items; audit log.

    \b
    Example:
      policykb moderate queue
      policykb moderate approve c-1a2b3c4d5e6f --as alice
    """


@moderate.command()
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "all"]), default="pending",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_kb
@handle_errors
def queue(lazy: LazyKB, status: str, as_json: bool) -> None:
    """List contributions.

    \b
    Example:
      policykb moderate queue --status all
    """
    result = lazy.kb.contributions.queue(None if status == "all" else status, limit=1000)
    if as_json:
        print_json(result)
        return
    click.echo(f"{result['total']} contribution(s)")
    for c in result["items"]:
        dupes = f"  ({len(c['checks'].get('duplicates', []))} possible duplicate(s))" if c["checks"].get("duplicates") else ""
        click.echo(f"  {c['id']}  {c['status']:<8}  {c['submitted_at']}  {c['record'].get('title', '')}{dupes}")


@moderate.command()
@click.argument("contribution_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_kb
@handle_errors
def show(lazy: LazyKB, contribution_id: str, as_json: bool) -> None:
    """Show one contribution with its checks and history.

    \b
    Example:
      policykb moderate show c-1a2b3c4d5e6f
    """
    view = lazy.kb.contributions.view(contribution_id)
    if as_json:
        print_json(view)
        return
    click.echo(f"{view['id']} ({view['status']}) submitted {view['submitted_at']}")
    for key, value in view["record"].items():
        click.echo(f"  {key}: {value}")
    if view["file_name"]:
        click.echo(f"  file: {view['file_name']}")
    for facet, values in view["checks"].get("suggestions", {}).items():
        click.echo(f"  suggested {facet}: {', '.join(v['label'] for v in values)}")
    for d in view["checks"].get("duplicates", []):
        click.echo(f"  possible duplicate: {d['id']} ({d['similarity']:.2f}) {d['title']}")
    _print_audit(view["audit"])


@moderate.command()
@click.argument("contribution_id")
@click.option("--set", "settings", metavar="KEY=VALUE", multiple=True,
              help="A field's new value (repeatable); an empty value clears the field. A list field (country, "
              "challenges, themes, support, links) takes its values from repeated --set or separated by ';'.")
@click.option("--json", "changes_file", type=click.File("r", encoding="utf-8"),
              help="The changes as a JSON object of fields (- reads standard input); --set wins over it.")
@ACTOR
@pass_kb
@handle_errors
def edit(lazy: LazyKB, contribution_id: str, settings: tuple[str, ...], changes_file: Any, actor: str) -> None:
    """Change fields of a pending contribution before approving it (audited, before and after).

    \b
    Example:
      policykb moderate edit c-1a2b3c4d5e6f --set title="Baltic export vouchers" --set challenges="green;digital"
    """
    changes = _read_changes(changes_file) if changes_file is not None else {}
    changes.update(_set_changes(settings))
    if not changes:
        raise click.ClickException("nothing to change: give --set key=value or --json FILE")
    lazy.kb.contributions.edit(contribution_id, changes, actor)
    click.echo(f"edited {contribution_id}: {', '.join(sorted(changes))}")


def _read_changes(stream: Any) -> dict[str, Any]:
    try:
        changes = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise click.ClickException(f"--json: not a JSON object of fields ({exc.__class__.__name__})") from None
    if not isinstance(changes, dict):
        raise click.ClickException(f"--json: the changes must be a JSON object of fields, got {type(changes).__name__}")
    return changes


def _set_changes(settings: tuple[str, ...]) -> dict[str, Any]:
    """`--set key=value` options as record changes: a list field's values from repeated options or
    separated by ';' (as in a CSV cell), a year as a number, an empty value clearing the field."""
    changes: dict[str, Any] = {}
    for setting in settings:
        key, equals, value = setting.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key:
            raise click.ClickException(f"--set takes key=value, got {setting[:100]!r}")
        if key in LIST_FIELDS:
            values = [v.strip() for v in value.split(";") if v.strip()]
            changes[key] = [*(changes.get(key) or []), *values] if key in changes else values
        elif key in ("start_year", "end_year") and value.isdigit():
            changes[key] = int(value)
        else:
            changes[key] = value
    return changes


@moderate.command()
@click.argument("contribution_id")
@ACTOR
@pass_kb
@handle_errors
def approve(lazy: LazyKB, contribution_id: str, actor: str) -> None:
    """Publish a contribution: searchable at once.

    \b
    Example:
      policykb moderate approve c-1a2b3c4d5e6f --as alice
    """
    view = lazy.kb.contributions.approve(contribution_id, actor)
    click.echo(f"approved {contribution_id}: item {view['item_id']} is published")


@moderate.command()
@click.argument("contribution_id")
@click.option("--reason", required=True, help="Shown to the contributor.")
@ACTOR
@pass_kb
@handle_errors
def reject(lazy: LazyKB, contribution_id: str, reason: str, actor: str) -> None:
    """Reject a contribution with a reason.

    \b
    Example:
      policykb moderate reject c-1a2b3c4d5e6f --reason "Please add a source link."
    """
    lazy.kb.contributions.reject(contribution_id, reason, actor)
    click.echo(f"rejected {contribution_id}")


@moderate.command()
@click.argument("item_id")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@ACTOR
@pass_kb
@handle_errors
def unpublish(lazy: LazyKB, item_id: str, reason: str, actor: str) -> None:
    """Hide an item from every search (it stays in the store).

    \b
    Example:
      policykb moderate unpublish de-go-cluster --reason outdated
    """
    click.echo(f"{item_id}: {lazy.kb.contributions.unpublish(item_id, reason, actor)['status']}")


@moderate.command()
@click.argument("item_id")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@ACTOR
@pass_kb
@handle_errors
def publish(lazy: LazyKB, item_id: str, reason: str, actor: str) -> None:
    """Show a hidden item again.

    \b
    Example:
      policykb moderate publish de-go-cluster
    """
    click.echo(f"{item_id}: {lazy.kb.contributions.unpublish(item_id, reason, actor, publish_again=True)['status']}")


@moderate.command()
@click.option("--target", help="Only this contribution or item id.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_kb
@handle_errors
def audit(lazy: LazyKB, target: str | None, limit: int, as_json: bool) -> None:
    """Who did what, when, before and after.

    \b
    Example:
      policykb moderate audit --target de-go-cluster
    """
    entries = lazy.kb.contributions.audit_log(target, limit)
    if as_json:
        print_json(entries)
    else:
        _print_audit(entries)


def _print_audit(entries: list[dict[str, Any]]) -> None:
    for e in entries:
        note = f" — {e['note']}" if e.get("note") else ""
        click.echo(f"  {e['at']}  {e['actor']:<12} {e['action']:<9} {e['target']}{note}")


@moderate.command()
@click.argument("item_id")
@click.argument("version", type=click.IntRange(1))
@click.option("--reason", default="", help="Why (kept in the audit log).")
@ACTOR
@pass_kb
@handle_errors
def restore(lazy: LazyKB, item_id: str, version: int, reason: str, actor: str) -> None:
    """Make an earlier VERSION of an item its content again (see `policykb history ITEM_ID`).

    \b
    Example:
      policykb moderate restore de-go-cluster 2 --reason "the edit was wrong"
    """
    lazy.kb.contributions.restore(item_id, version, actor, reason)
    click.echo(f"{item_id}: version {version} restored")


@click.command()
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_kb
@handle_errors
def history(lazy: LazyKB, item_id: str, as_json: bool) -> None:
    """The earlier versions of an item: each edit, removal, unpublishing and publishing keeps one.

    \b
    Example:
      policykb history de-go-cluster
    """
    data = lazy.kb.contributions.history(item_id)
    if as_json:
        print_json(data)
        return
    click.echo(f"{item_id}: {data['status']} now, {len(data['versions'])} earlier version(s)")
    for v in data["versions"]:
        click.echo(f"  {v['version']:>3}  {v['replaced_at'][:16].replace('T', ' ')}  replaced by {v['replaced_by']:<9} "
                   f"{v['status'] or '':<11} {v['title']}  ({v['passages']} passages)")


@click.command()
@click.argument("item_id")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@ACTOR
@pass_kb
@handle_errors
def purge(lazy: LazyKB, item_id: str, reason: str, yes: bool, actor: str) -> None:
    """Delete an item and all its earlier versions for real (the only real deletion; audited).

    \b
    Example:
      policykb purge spam-offer-1a2b3c --reason "spam" --yes
    """
    if not yes:
        click.confirm(f"Delete {item_id} and its history for good?", abort=True)
    result = lazy.kb.contributions.purge(item_id, actor, reason)
    click.echo(f"{item_id}: purged ({result['purged_versions']} earlier version(s))")

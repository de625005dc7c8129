"""Pieces every CLI module shares: clean errors, the lazily opened knowledge base, JSON output."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import click

from policykb.config import Settings
from policykb.errors import PolicyKBError
from policykb.kb import KnowledgeBase
from policykb.backends import DATABASE
from policykb.backends.embedded.index import MANIFEST
from policykb.backends.embedded.store import damaged, is_damage


def handle_errors(fn: Callable) -> Callable:
    """Domain errors become a clean `Error: ...` line and exit status 1, never a traceback; so
    does a damaged database file, met at any query (with the way to restore it)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PolicyKBError as exc:
            raise click.ClickException(exc.message) from None
        except sqlite3.DatabaseError as exc:
            lazy = next((a for a in args if isinstance(a, LazyKB)), None)
            if lazy is None or not is_damage(exc):
                raise
            raise click.ClickException(damaged(Path(lazy.settings.home) / "kb.sqlite", exc).message) from None

    return wrapper


CREATING = frozenset({"ingest", "restore"})  # the commands that may make a knowledge base in an empty folder
KEPT = (DATABASE, MANIFEST)  # what a knowledge base's folder holds (a PostgreSQL one: the manifest)


class LazyKB:
    """Opens the knowledge base only for commands that need it (`--help` and `taxonomy` do not).
    Only `ingest` and `restore` make one where there is none: any other command given a folder
    without one (a typo in --home, the wrong working directory) stops with that message instead of
    answering from a new, empty knowledge base ("No item contains: ...")."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kb: KnowledgeBase | None = None

    def __enter__(self) -> LazyKB:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._kb is not None:
            self._kb.close()

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            home = Path(self.settings.home)
            context = click.get_current_context(silent=True)
            command = context.info_name if context is not None else None
            if (self.settings.database_url is None and command not in CREATING
                    and not any((home / name).is_file() for name in KEPT)):
                raise PolicyKBError(
                    f"no knowledge base in {home}: build one with `policykb --home {home} ingest <files or "
                    "folders>`, or point --home (POLICYKB_HOME) at the folder that holds kb.sqlite",
                    {"setting": "POLICYKB_HOME", "home": str(home)})
            self._kb = KnowledgeBase(self.settings)
        return self._kb


pass_kb = click.make_pass_decorator(LazyKB)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def marked(snippet: str) -> str:
    bold = sys.stdout.isatty()
    text = re.sub(r"<mark>(.*?)</mark>", (lambda m: click.style(m.group(1), bold=True)) if bold else r"*\1*", snippet)
    return html.unescape(text)


def print_hit(rank: int, hit: dict[str, Any]) -> None:
    facets = hit["facets"]
    where = ", ".join(facets.get("territory", [])) or "-"
    tags = " · ".join(x for x in (hit["kind"], where, ", ".join(facets.get("level", []))) if x)
    click.echo(f"\n{rank:>2}. {click.style(hit['title'], bold=sys.stdout.isatty())}  [{tags}]  id={hit['id']}")
    page = f"p. {hit['page']} · " if hit.get("page") else ""
    click.echo(f"    {page}{display_path(hit['source'])}  (score {hit['score']:.4f})")
    click.echo("    " + marked(hit["snippet"]))
    if hit.get("also"):
        click.echo("    also " + ", ".join(f"p. {a['page']}" + (f" ({a['section']})" if a.get("section") else "")
                                     for a in hit["also"]))


def print_no_match(result: dict[str, Any]) -> None:
    """What to try when nothing is relevant: misspelt words, filters, and the nearest items,
    which are listed as what they are (not matches)."""
    click.echo("No close match.")
    if result.get("absent_terms"):  # (the spelling is in doubt only for words in no English word list: not "sat")
        unknown = result.get("unknown_terms") or []
        hint = f" (check the spelling of {', '.join(unknown)})" if unknown else ""
        click.echo("No item contains: " + ", ".join(result["absent_terms"]) + hint + ".")
    if result.get("total_without_filters"):
        click.echo(f"{result['total_without_filters']} match(es) without the filters.")
    if result.get("nearest"):
        click.echo("Nearest items (not matches):")
        for hit in result["nearest"]:
            click.echo(f"  - {hit['title']}  id={hit['id']}  (score {hit['score']:.4f})")


def display_path(source: str) -> str:
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source


def print_facets(facets: dict[str, Any]) -> None:
    """Each facet's values with their counts; a facet no item uses (STIP's without STIP data) is left out."""
    for name, facet in facets.items():
        if not facet["values"]:
            continue
        values = ", ".join(f"{'*' if v['selected'] else ''}{v['label']} ({v['count']})" for v in facet["values"])
        more = " …" if facet["truncated"] else ""
        click.echo(f"\n{facet['label']} [{name}]: {values or '-'}{more}")

"""Pieces every CLI module shares: clean errors, the lazily opened knowledge base, JSON output."""

from __future__ import annotations

import json
from functools import wraps
from typing import Any, Callable

import click

from .config import Settings
from .errors import PolicyKBError
from .kb import KnowledgeBase


def handle_errors(fn: Callable) -> Callable:
    """Domain errors become a clean `Error: ...` line and exit status 1, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PolicyKBError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


class LazyKB:
    """Opens the knowledge base only for commands that need it (`--help` and `taxonomy` do not)."""

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
            self._kb = KnowledgeBase(self.settings)
        return self._kb


pass_kb = click.make_pass_decorator(LazyKB)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))

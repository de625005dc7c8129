"""The package's structure: no import cycles between modules, and each layer imports only from the
layers below it (the README's module map). Imports under TYPE_CHECKING and inside functions count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Bottom to top. A module may import its own layer and any layer listed before it.
LAYERS = [
    ("policykb.errors", "policykb.config", "policykb.models", "policykb.language", "policykb.progress"),
    ("policykb.taxonomy", "policykb.topics", "policykb.encoders"),
    ("policykb.backends",),
    ("policykb.ingest",),
    ("policykb.search",),
    ("policykb.moderation", "policykb.warmup"),
    ("policykb.kb",),
    ("policykb.evaluation", "policykb.service", "policykb.ui"),
    ("policykb.cli",),
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "policykb").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules a module imports (a package's `__init__` for `from package import x`
    unless x is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in known else base)
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _layer(module: str) -> int:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to the README's module map)")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_each_layer_imports_only_layers_below_it():
    graph = _graph()
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if m != "policykb" and d != "policykb" and _layer(d) > _layer(m))
    assert upward == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_cycle_finder(graph, expected):
    assert _cycles(graph) == expected


def test_the_finder_sees_imports_of_every_kind(tmp_path):
    """Relative, absolute, inside functions and under TYPE_CHECKING: all are arrows."""
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nfrom policykb import kb\nif TYPE_CHECKING:\n"
                      "    from policykb.search.searcher import Searcher\ndef f():\n    from .b import x\n")
    known = {"policykb.kb", "policykb.search.searcher", "policykb.search.b", "policykb.search.m"}
    assert _imports("policykb.search.m", module, known) == {"policykb.kb", "policykb.search.searcher",
                                                            "policykb.search.b"}

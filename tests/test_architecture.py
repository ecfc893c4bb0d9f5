"""The import graph of the package: no circle, and arrows only one way between layers.

extractors → facts ← model ← rules, all of them above a base of shared modules
(diagnostics, source text, reading files, configuration). Every import counts, the
ones inside functions included: a lazy import is still an arrow."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "stackaudit"

# What each layer may import besides itself.
BASE = {"diagnostics", "source", "reading", "policy", "config", "bounds", "paths"}
ALLOWED = {
    "base": {"base"},
    "facts": {"base"},
    "invocation": {"facts", "base"},
    "extractors": {"invocation", "facts", "base"},
    "model": {"invocation", "facts", "base"},
    "rules": {"model", "facts", "base"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("stackaudit", *parts)).removesuffix(".__init__")
        found[name] = path
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    target = child if child in modules else node.module
                    if target in modules and target != name:
                        edges[name].add(target)
            elif isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names if a.name in modules and a.name != name}
    return edges


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in ALLOWED:
        return parts[1]
    if len(parts) == 2 and parts[1] in BASE:
        return "base"
    return "top"  # the run, the command line, the formatters: they may use everything


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted({*edges, *(t for targets in edges.values() for t in targets)}):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def _back_arrows(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        for target in targets
        if layer(source) in ALLOWED
        and layer(target) != layer(source)
        and layer(target) not in ALLOWED[layer(source)]
    )


def test_arrows_go_one_way() -> None:
    assert _back_arrows(_graph()) == []


def test_the_checks_see_a_circle_and_a_back_arrow() -> None:
    made_up = {
        "stackaudit.facts.a": {"stackaudit.model.b"},
        "stackaudit.model.b": {"stackaudit.facts.a", "stackaudit.diagnostics"},
        "stackaudit.rules.c": {"stackaudit.model.b", "stackaudit.engine"},
    }
    assert _cycles(made_up) == [["stackaudit.facts.a", "stackaudit.model.b"]]
    assert _back_arrows(made_up) == [
        "stackaudit.facts.a -> stackaudit.model.b",
        "stackaudit.rules.c -> stackaudit.engine",
    ]
    assert "stackaudit.model.stack" in _graph()["stackaudit.rules.sa101_ws_origin_wildcard"]

"""Which branch of an ``if`` in Python code is the development one.

The same reading as the shell's (``invocation.shellwords.classify_test``), for the
tests Python settings modules write: a flag named for development (``if DEBUG:``,
``if settings.LOCAL_MODE:``, ``if not TESTING:``) or a setting compared with a value that
names a setup (``if ENV == "dev":``, ``if os.environ["ENV"] != "production":``,
``if MODE in ("local", "test"):``). Anything else names neither."""

from __future__ import annotations

import ast
from typing import Literal

from stackaudit.policy import is_development_name, is_production_name

Kind = Literal["development", "production"]
_FLIP: dict[Kind, Kind] = {"development": "production", "production": "development"}


def branch_kinds(test: ast.expr) -> tuple[Kind | None, Kind | None]:
    """What the ``if`` body and its ``else`` select: development, production, or None
    when the test names neither."""
    kind = _kind(test)
    return kind, (_FLIP[kind] if kind is not None else None)


def _kind(test: ast.expr) -> Kind | None:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _kind(test.operand)
        return _FLIP[inner] if inner is not None else None
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        # Every operand must hold: one that selects development makes it a dev path.
        kinds = {_kind(value) for value in test.values}
        return "development" if "development" in kinds else None
    name = _flag_name(test)
    if name is not None:
        return "development" if is_development_name(name) else None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _comparison(test.left, test.ops[0], test.comparators[0])
    return None


def _flag_name(node: ast.expr) -> str | None:
    """The identifier a truth test reads: ``DEBUG``, ``settings.LOCAL_MODE``,
    ``config["TESTING"]``, ``os.getenv("DEV")``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value if isinstance(node.slice.value, str) else None
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        function = node.func
        called = function.attr if isinstance(function, ast.Attribute) else ""
        if called in ("getenv", "get") and isinstance(node.args[0].value, str):
            return node.args[0].value
    return None


def _comparison(left: ast.expr, op: ast.cmpop, right: ast.expr) -> Kind | None:
    values = _strings(right) or _strings(left)
    if not values:
        return None
    if all(is_development_name(value) for value in values):
        kind: Kind = "development"
    elif all(is_production_name(value) for value in values):
        kind = "production"
    else:
        return None
    if isinstance(op, (ast.Eq, ast.In, ast.Is)):
        return kind
    if isinstance(op, (ast.NotEq, ast.NotIn, ast.IsNot)):
        return _FLIP[kind]
    return None


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        found = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        if found and len(found) == len(node.elts) and all(isinstance(v, str) for v in found):
            return [str(v) for v in found]
    return []

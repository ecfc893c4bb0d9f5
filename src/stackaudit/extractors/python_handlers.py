"""How a Tornado handler's methods keep out a visitor who has not logged in.

Tornado calls ``prepare()`` and then the method named after the HTTP verb
(tornado/web.py ``RequestHandler._execute``); a WebSocket handler's ``get`` runs the
handshake and then ``open()``. A method protects itself with ``@tornado.web.authenticated``
(tornado/web.py ``authenticated``: no ``current_user`` → redirect to the login URL or
403) or by testing the user itself (``if not self.current_user: raise HTTPError(403)``).
Which class answers which verb, through the project's base classes, is for the model
(``model.handlers``); here each method is read once, on its own."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from stackaudit.diagnostics import Span
from stackaudit.facts.python import USER_READERS, HandlerGuard, HandlerMethod

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

AUTHENTICATED = "tornado.web.authenticated"
# The methods Tornado runs for a request (``SUPPORTED_METHODS``), ``prepare`` before
# them, and a WebSocket handler's ``open`` after the handshake.
ENTRY_METHODS = frozenset(
    {"get", "head", "post", "put", "delete", "patch", "options", "prepare", "open"}
)
# Decorators that change how a method runs, not who may run it.
_NEUTRAL_DECORATORS = frozenset(
    {
        "tornado.gen.coroutine",
        "tornado.web.addslash",
        "tornado.web.removeslash",
        "functools.wraps",
        "staticmethod",
        "classmethod",
        "typing.override",
        "typing_extensions.override",
    }
)
_MAX_NODES = 20_000

Qualify = Callable[[ast.expr], str | None]


def handler_method(node: FunctionNode, span: Span, qualify: Qualify) -> HandlerMethod | None:
    """The method as a handler runs it; None for a method that neither Tornado calls nor
    reads the user (it cannot decide who is served)."""
    guard = _decorator_guard(node, qualify)
    user_names = _user_names(node)
    reads_user = False
    calls: list[str] = []
    tests_calls: list[str] = []
    for test in _tests(node):
        for sub in _walk(test):
            called = _self_call(sub)
            if called is not None:
                tests_calls.append(called)
        if not guard and _reads_user(test, user_names):
            guard = "checks-user"
    for sub in _walk(node):
        called = _self_call(sub)
        if called is not None:
            calls.append(called)
        if not reads_user and _is_user_read(sub):
            reads_user = True
    if not (guard or reads_user or node.name in ENTRY_METHODS):
        return None
    return HandlerMethod(
        node.name,
        span,
        guard,
        reads_user,
        tuple(dict.fromkeys(calls)),
        tuple(dict.fromkeys(tests_calls)),
    )


def _decorator_guard(node: FunctionNode, qualify: Qualify) -> HandlerGuard:
    guard: HandlerGuard = ""
    for decorator in node.decorator_list:
        qual = qualify(decorator)
        if qual == AUTHENTICATED:
            return "authenticated"
        if (
            qual is None
            and isinstance(decorator, ast.Name)
            and decorator.id
            in (
                "staticmethod",
                "classmethod",
            )
        ):
            continue
        if qual not in _NEUTRAL_DECORATORS:
            # A project or library decorator may check the user: not judged.
            guard = "decorated"
    return guard


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk``, bounded: a generated method of huge size is read in part."""
    for count, sub in enumerate(ast.walk(node)):
        if count >= _MAX_NODES:
            return
        yield sub


def _tests(node: FunctionNode) -> Iterator[ast.expr]:
    """The conditions the method branches on (``if``, ``while``, ``assert``, ``x if c
    else y``, comprehension filters), nested functions excluded: they run later, if
    ever."""
    todo: list[ast.AST] = list(node.body)
    seen = 0
    while todo and seen < _MAX_NODES:
        current = todo.pop()
        seen += 1
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(current, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            yield current.test
        elif isinstance(current, ast.comprehension):
            yield from current.ifs
        todo.extend(ast.iter_child_nodes(current))


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _self_call(node: ast.AST) -> str | None:
    """``self.name(...)``: the name."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and _is_self(node.func.value)
    ):
        return node.func.attr
    return None


def _is_user_read(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and _is_self(node.value):
        return node.attr == "current_user" and isinstance(node.ctx, ast.Load)
    called = _self_call(node)
    return called in USER_READERS


def _user_names(node: FunctionNode) -> set[str]:
    """Local names bound to the user (``user = self.current_user``), however the value
    is spelled around the read (``await``, ``json.loads(...)``)."""
    found: set[str] = set()
    for sub in _walk(node):
        if (
            isinstance(sub, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
            and sub.value is not None
            and any(_is_user_read(part) for part in _walk(sub.value))
        ):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found


def _reads_user(test: ast.expr, user_names: set[str]) -> bool:
    return any(
        _is_user_read(sub) or (isinstance(sub, ast.Name) and sub.id in user_names)
        for sub in _walk(test)
    )

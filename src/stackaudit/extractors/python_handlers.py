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
# What a method that reads the user names in its source (``current_user``,
# ``get_current_user``, ``get_secure_cookie``/``get_signed_cookie``).
_USER_WORDS = ("current_user", "_cookie")

Qualify = Callable[[ast.expr], str | None]


def handler_method(
    node: FunctionNode, span: Span, qualify: Qualify, text: str
) -> HandlerMethod | None:
    """The method as a handler runs it; None for a method that neither Tornado calls nor
    reads the user (it cannot decide who is served). ``text`` is the method's source:
    a helper that does not name the user is not read at all."""
    may_read_user = any(word in text for word in _USER_WORDS)
    if node.name not in ENTRY_METHODS and not may_read_user:
        return None
    guard = _decorator_guard(node, qualify)
    calls: list[str] = []
    tests: list[ast.expr] = []
    assignments: list[ast.Assign | ast.AnnAssign | ast.NamedExpr] = []
    reads_user = False
    for sub in _walk(node):
        if isinstance(sub, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            tests.append(sub.test)
        elif isinstance(sub, ast.comprehension):
            tests.extend(sub.ifs)
        elif isinstance(sub, ast.Call):
            called = _self_call(sub)
            if called is not None:
                calls.append(called)
                reads_user = reads_user or called in USER_READERS
        elif isinstance(sub, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            if may_read_user:
                assignments.append(sub)
        elif not reads_user and may_read_user and _is_user_read(sub):
            reads_user = True
    tests_calls = [c for test in tests for sub in _walk(test) if (c := _self_call(sub))]
    if not guard and reads_user:
        user_names = _user_names(assignments)
        if any(_reads_user(test, user_names) for test in tests):
            guard = "checks-user"
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


def _user_names(assignments: list[ast.Assign | ast.AnnAssign | ast.NamedExpr]) -> set[str]:
    """Local names bound to the user (``user = self.current_user``), however the value
    is spelled around the read (``await``, ``json.loads(...)``)."""
    found: set[str] = set()
    for sub in assignments:
        if sub.value is not None and any(_is_user_read(part) for part in _walk(sub.value)):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found


def _reads_user(test: ast.expr, user_names: set[str]) -> bool:
    return any(
        _is_user_read(sub) or (isinstance(sub, ast.Name) and sub.id in user_names)
        for sub in _walk(test)
    )

"""Literal strings given to secret-named slots in a Python module (``PythonSecret``).

A slot is named by what it is written into: a variable or class attribute
(``SECRET_KEY = "..."``, Django settings, a Flask config class), an attribute
(``app.secret_key = "..."``), an item (``app.config["SECRET_KEY"] = "..."``), a keyword
argument (Starlette ``SessionMiddleware(app, secret_key="...")``, ``app.add_middleware(
SessionMiddleware, secret_key="...")``, ``app.config.update(SECRET_KEY="...")``,
``redis.Redis(password="...")``), a dictionary key written in capitals as settings are
(Django ``DATABASES = {"default": {"PASSWORD": "..."}}``; lowercase keys are data more
often than settings), and the key argument of ``jwt.encode``/``jwt.decode`` (PyJWT and
python-jose both take ``(payload, key, ...)``).

A default of an environment lookup (``os.getenv("SECRET_KEY", "dev")``,
``os.environ.get``/``setdefault``, python-decouple's ``config("X", default=...)``,
environs' ``env.str("X", default=...)``) and the default of a pydantic ``BaseSettings``
field are kept as fallbacks: they hold whenever the variable is not set where the app
is deployed.

The module is only walked, never run: a value built at run time is not a literal and
is left alone."""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator

from stackaudit.extractors.python_analysis import Positions
from stackaudit.extractors.textscan import search_pattern
from stackaudit.facts.common import Word
from stackaudit.facts.secrets import PythonSecret, names_url, secret_kind
from stackaudit.source import SourceFile

# Cheap test before a parse: a name `facts.secrets.secret_kind` calls a secret (found by
# its secret word, in any case) followed, on its line, by what writes a non-empty literal
# string into it (`= "`, `: "`, `", "` of an environment default, `default="`), a JWT
# call, or a URL with user information. Few words: `key` stands for `api_key`, `apiKey`,
# `PRIVATE_KEY`, `SIGNING_KEY`... (`_names_a_secret` decides), and `pass` alone would
# stop at every pass statement, so `PASS` as a last word is looked for after `_`. RE2
# runs it in one linear pass (0.1 s over a 55 MB library tree, where a backtracking
# case-insensitive alternation took 4.5 s).
_CANDIDATE = search_pattern(
    r"(?:secret|passw|_pass|token|key)([a-z0-9_]*)['\"\]]*[ \t]*(?::[^=\n]{0,60})?"
    r"(?:=|:|,(?:[ \t]*default[ \t]*=)?)[ \t]*[rbuf]{0,2}(?:'[^']|\"[^\"])"
    r"|jwt\.(?:en|de)code\("
    r"|://[^\s'\"/@]*:[^\s'\"/@]*@",
    ignore_case=True,
)
_ENV_LOOKUPS = frozenset({"getenv", "os.getenv", "os.environ.get", "environ.get"})
_ENV_SETDEFAULT = frozenset({"os.environ.setdefault", "environ.setdefault"})
# Lookups whose default is a keyword: python-decouple `config`, environs/django-environ.
_DEFAULT_KEYWORD_LOOKUPS = frozenset({"config", "env", "env.str"})
_JWT_CALLS = frozenset({"jwt.encode", "jwt.decode"})
_SETTINGS_BASES = frozenset({"BaseSettings"})


def may_hold_secret(text: str) -> bool:
    return next(_candidates(text), None) is not None


def _candidates(text: str) -> Iterator[int]:
    """Offsets where a literal secret may be written."""
    for found in _CANDIDATE.finditer(text):
        name_end = found.end(1)
        if name_end < 0 or _names_a_secret(text, found.start(), name_end):
            yield found.start()


def _names_a_secret(text: str, at: int, end: int) -> bool:
    """Whether the identifier around ``text[at:end]`` is a secret's name, in its own
    case (``apiKey``, ``DB_PASS``; not ``token_type`` nor ``tokenizer``)."""
    start = at
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
        if at - start > 128:
            return True  # an absurd name: let the parse decide
    return secret_kind(text[start:end]) is not None


def find_secrets(source: SourceFile, tree: ast.Module) -> list[PythonSecret]:
    """The literal secrets of a module. Only statements and expressions spanning a line
    the pre-scan pointed at are walked: a large module with one candidate costs a walk
    of the few nodes around that line, not of the whole tree."""
    lines: list[int] = []
    line, previous = 1, 0
    for at in _candidates(source.text):
        line += source.text.count("\n", previous, at)
        previous = at
        if not lines or lines[-1] != line:
            lines.append(line)
    finder = _Finder(Positions(source, source.text, None), lines)
    return list(finder.module(tree))


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _slot(target: ast.expr) -> str | None:
    """The name a value is written under: a variable, an attribute, a string item."""
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return _string(target.slice)
    return None


def _is_settings_class(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = _dotted(base)
        if name is not None and name.rsplit(".", 1)[-1] in _SETTINGS_BASES:
            return True
    return False


class _Finder:
    def __init__(self, positions: Positions, lines: list[int]) -> None:
        self.pos = positions
        self.lines = lines

    def _spans_a_candidate(self, node: ast.AST) -> bool:
        first = getattr(node, "lineno", None)
        if first is None:
            return True  # no position (the module, operators, contexts): look inside
        last = getattr(node, "end_lineno", None) or first
        index = bisect.bisect_left(self.lines, first)
        return index < len(self.lines) and self.lines[index] <= last

    def module(self, tree: ast.Module) -> Iterator[PythonSecret]:
        # An explicit stack, not recursion: a hostile module may nest very deep.
        stack: list[tuple[ast.AST, bool]] = [(tree, False)]
        while stack:
            node, in_settings = stack.pop()
            yield from self._node(node, in_settings)
            child_settings = isinstance(node, ast.ClassDef) and _is_settings_class(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                child_settings = False
            elif not isinstance(node, ast.ClassDef):
                child_settings = in_settings
            stack.extend(
                (child, child_settings)
                for child in ast.iter_child_nodes(node)
                if self._spans_a_candidate(child)
            )

    def _node(self, node: ast.AST, in_settings: bool) -> Iterator[PythonSecret]:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                yield from self._assigned(target, node.value, "assigned", fallback=False)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            how = "settings field default" if in_settings else "assigned"
            yield from self._assigned(node.target, node.value, how, fallback=in_settings)
        elif isinstance(node, ast.Call):
            yield from self._call(node)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=False):
                name = _string(key)
                if name is not None and name.isupper():
                    yield from self._found(name, value, "dictionary key", fallback=False)

    def _assigned(
        self, target: ast.expr, value: ast.expr, how: str, *, fallback: bool
    ) -> Iterator[PythonSecret]:
        name = _slot(target)
        if name is not None:
            yield from self._found(name, value, how, fallback=fallback)

    def _call(self, node: ast.Call) -> Iterator[PythonSecret]:
        callee = _dotted(node.func)
        for keyword in node.keywords:
            if keyword.arg is not None:
                yield from self._found(keyword.arg, keyword.value, "keyword", fallback=False)
        if callee in _JWT_CALLS:
            key = node.args[1] if len(node.args) >= 2 else None
            key = key or next((k.value for k in node.keywords if k.arg == "key"), None)
            if key is not None:
                yield from self._found(
                    callee, key, "signing key", fallback=False, kind="the JWT signing key"
                )
            return
        variable = _string(node.args[0]) if node.args else None
        if variable is None:
            return
        default: ast.expr | None = None
        if callee in _ENV_LOOKUPS or callee in _ENV_SETDEFAULT:
            default = node.args[1] if len(node.args) >= 2 else None
            default = default or next((k.value for k in node.keywords if k.arg == "default"), None)
        elif callee in _DEFAULT_KEYWORD_LOOKUPS:
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
        if default is not None:
            yield from self._found(variable, default, "environment default", fallback=True)

    def _found(
        self,
        name: str,
        value: ast.expr,
        how: str,
        *,
        fallback: bool,
        kind: str | None = None,
    ) -> Iterator[PythonSecret]:
        literal = _string(value)
        if literal is None:
            return
        kind = kind or secret_kind(name) or ("a URL" if names_url(name) else None)
        if kind is None:
            return
        word = Word(literal, self.pos.node_span(value))
        yield PythonSecret(name, kind, word, how, fallback)

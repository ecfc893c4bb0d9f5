"""One walk over a Python module's ``ast``: names resolved through imports and scopes,
argument values evaluated, and every recognised call handed to the fact builders.

Why ``ast`` and not libcst: detection needs names, values and positions, which ``ast``
gives directly (every node carries its line, column and end position); libcst parses
~10x slower and needs a metadata pass for positions (~2x more, DESIGN.md, measured on
the panel/bokeh/tornado/fastapi sources). libcst's format-preserving tree is used where
it pays, to build Python fixes, and only when fixing (``stackaudit.pyfix``).

Scoping follows Python: module and class bodies run in order, so a name means what it
was last bound to *above* the use; function bodies run later, so they are walked after
the enclosing scope is complete and see its final bindings. A name bound twice where
one binding is conditional (``if``/``try``/loops) is unknown. A local ``def serve()``
or an assignment shadows an import, so it never matches a framework API.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from msgspec import Struct, field
from msgspec.structs import replace

from stackaudit.diagnostics import Span
from stackaudit.extractors import python_login as login
from stackaudit.extractors import python_names as names
from stackaudit.extractors.python_branches import branch_kinds
from stackaudit.extractors.python_build import Builder
from stackaudit.extractors.python_handlers import handler_method
from stackaudit.extractors.python_state import process_local_state
from stackaudit.facts.app import PanelUserCheck
from stackaudit.facts.asgi import AppRateLimit
from stackaudit.facts.common import Word
from stackaudit.facts.cors import CorsPolicy
from stackaudit.facts.python import (
    CallSite,
    CheckOriginFlaw,
    CookieRead,
    HandlerMethod,
    HandlerRoute,
    KeywordValue,
    LibraryCall,
    PendingPythonFacts,
    PermissiveCheckOrigin,
    PythonClass,
    PythonModule,
    PythonWord,
    PyValue,
    RouteTable,
    ServerRoutes,
    WebSocketEndpoint,
    python_word,
)
from stackaudit.source import SourceFile

if TYPE_CHECKING:
    from stackaudit.invocation.shellwords import Token

# A ``str.format`` field jupyter-server-proxy fills in (``{port}``, ``{base_url}``).
_FORMAT_FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_STRING_START = re.compile(r"[rRbBuUfF]{0,2}('''|\"\"\"|'|\")")
_MAX_DEPTH = 24
# Comparisons that test a value against others (not ordering).
_MEMBERSHIP_OR_EQUALITY = (ast.In, ast.NotIn, ast.Eq, ast.NotEq)
_ORIGIN = "origin"
_ACAO = "access-control-allow-origin"
_ACAC = "access-control-allow-credentials"
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
# A module that names none of these defines no Tornado handler method worth reading: a
# handler class names its base (``...Handler``), a guard names the user.
_HANDLER_WORDS = ("Handler", "current_user", "_cookie", "authenticated")
# Server calls whose ``extra_patterns`` Bokeh adds to its Tornado application
# (bokeh/server/tornado.py ``BokehTornado.__init__``; ``pn.serve``/``get_server``/
# ``.show()`` and Bokeh ``Server`` pass their keywords on to it).
_ROUTE_SERVERS = frozenset(
    {
        "panel.io.server.serve",
        "panel.io.server.get_server",
        "panel.show",
        "bokeh.server.server.Server",
        "bokeh.server.tornado.BokehTornado",
    }
)


class ClassInfo(Struct):
    name: str
    qualname: str
    bases: tuple[str, ...]
    scope: Scope
    span: Span
    attributes: dict[str, ast.expr] = field(default_factory=dict)
    methods: dict[str, FunctionNode] = field(default_factory=dict)
    settings: bool = False
    env_prefix: str = ""
    # Tornado CORS: header values set in this class, for one policy per class.
    cors_calls: list[tuple[ast.Call, Scope, bool]] = field(default_factory=list)
    credentials: PythonWord | None = None


class Binding(Struct):
    kind: Literal["import", "value", "def", "class", "unknown"]
    qualname: str = ""
    node: ast.expr | None = None
    scope: Scope | None = None
    conditional: bool = False
    count: int = 1
    info: ClassInfo | None = None
    function: FunctionNode | None = None


class Scope(Struct):
    kind: Literal["module", "function", "class"]
    parent: Scope | None
    names: dict[str, Binding] = field(default_factory=dict)
    cls: ClassInfo | None = None
    # Names bound to the request's Origin header, and whether it was compared.
    origin_names: set[str] = field(default_factory=set)
    origin_checked: bool = False

    def lookup(self, name: str) -> Binding | None:
        scope: Scope | None = self
        first = True
        while scope is not None:
            if first or scope.kind != "class":
                found = scope.names.get(name)
                if found is not None:
                    return found
            first = False
            scope = scope.parent
        return None

    def bind(self, name: str, binding: Binding) -> None:
        old = self.names.get(name)
        if old is not None:
            if old.kind == "import" and binding.conditional and _is_none(binding.node):
                # `try: import panel as pn` / `except ImportError: pn = None`: when
                # the name is used, it is the module.
                return
            binding.count = old.count + 1
            binding.conditional = binding.conditional or old.conditional
        self.names[name] = binding


class Positions:
    """Offsets in the analysed code → spans in the scanned file. ``to_file`` maps each
    code offset to a file offset (notebooks); for a plain file it is the identity."""

    def __init__(self, source: SourceFile, code: str, to_file: Sequence[int] | None) -> None:
        self.source = source
        self.code = code
        self._to_file = to_file
        self._starts = _line_starts(code)
        # Same line breaks as SourceFile (\n, \r\n, \r), found by the regex engine: the
        # character loop of SourceFile costs more than the parse on large files.
        self._file_starts = self._starts if to_file is None else _line_starts(source.text)
        self._ascii: dict[int, bool] = {}

    def file_offset(self, offset: int) -> int:
        if self._to_file is None:
            return offset
        if not self._to_file:
            return 0
        return self._to_file[min(max(offset, 0), len(self._to_file) - 1)]

    def offset(self, line: int, byte_column: int) -> int:
        if line - 1 >= len(self._starts):
            return len(self.code)
        start = self._starts[line - 1]
        ascii_line = self._ascii.get(line)
        if ascii_line is None:
            end = self._starts[line] if line < len(self._starts) else len(self.code)
            ascii_line = self._ascii[line] = self.code[start:end].isascii()
        if ascii_line:
            return start + byte_column
        end = self._starts[line] if line < len(self._starts) else len(self.code)
        text = self.code[start:end]
        return start + len(text.encode("utf-8")[:byte_column].decode("utf-8", "ignore"))

    def file_position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._file_starts, offset) - 1
        return index + 1, offset - self._file_starts[index] + 1

    def file_offset_of(self, line: int, column: int) -> int:
        if line - 1 >= len(self._file_starts):
            return len(self.source.text)
        return self._file_starts[line - 1] + column - 1

    def span(self, start: int, end: int) -> Span:
        first = self.file_offset(start)
        last = max(first, self.file_offset(end - 1) + 1 if end > start else first)
        line, column = self.file_position(first)
        end_line, end_column = self.file_position(last)
        return Span(self.source.path, line, column, end_line, end_column)

    def node_offsets(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end_col = getattr(node, "end_col_offset", None)
        end = self.offset(end_line, end_col) if end_col is not None else start
        return start, max(start, end)

    def node_span(self, node: ast.AST) -> Span:
        return self.span(*self.node_offsets(node))

    def text(self, node: ast.AST) -> str:
        start, end = self.node_offsets(node)
        return self.code[start:end]

    def keyword_name_span(self, keyword: ast.keyword) -> Span:
        start = self.offset(keyword.lineno, keyword.col_offset)
        return self.span(start, start + len(keyword.arg or ""))


class Analyzer:
    def __init__(
        self, source: SourceFile, code: str, module: str, to_file: Sequence[int] | None = None
    ) -> None:
        self.pos = Positions(source, code, to_file)
        self.source = source
        self.module = module
        self.package = module.rsplit(".", 1)[0] if "." in module else ""
        if source.path.endswith("__init__.py"):
            self.package = module
        self.facts: list[object] = []
        self.builder = Builder()
        self._deferred: list[tuple[FunctionNode, Scope, ClassInfo | None]] = []
        self._classes: dict[str, ClassInfo] = {}
        self._evaluating: set[int] = set()
        self._asgi_imported = False
        # A Socket.IO server is created here: where the module reads cookies matters.
        self._socketio_server = False
        # The `if __name__ == "__main__":` tests around the statement being read.
        self._main_guards: list[Span] = []
        # The name of the function whose body is being read, when it is one.
        self._function_name: Span | None = None
        self._may_hold_handlers = any(word in source.text for word in _HANDLER_WORDS)
        self._names_panel_user = "state.user" in source.text  # the pre-scan word too
        # Lines of the statements only a development path runs (`if settings.DEBUG:`).
        self._development_lines: list[tuple[int, int]] = []

    # -- driver -------------------------------------------------------------------------

    def run(self, tree: ast.Module) -> list[object]:
        module = Scope("module", None)
        self._block(tree.body, module, False)
        while self._deferred:
            function, parent, cls = self._deferred.pop(0)
            self._function(function, parent, cls)
        for info in self._classes.values():
            self._finish_cors(info)
        self._module_constants(module)
        self._route_tables(module)
        self.facts.extend(
            process_local_state(
                tree, self.pos.code, lambda node: self._qualify(node, module), self.pos.node_span
            )
        )
        if "ServerProxy" in self.source.text or "serverproxy" in self.source.text:
            self._server_proxy(tree, module)
        if self._socketio_server:
            self._cookie_reads(tree, module)
        regions = _only_called_in(tree, _merged(self._development_lines))
        marked = [_marked_development(fact, regions) for fact in self.facts]
        renamed = {
            id(old): new for old, new in zip(self.facts, marked, strict=True) if new is not old
        }
        if not renamed:
            return marked
        # A pending record names the facts the link step replaces: the marked ones.
        return [
            replace(fact, facts=tuple(renamed.get(id(f), f) for f in fact.facts))
            if isinstance(fact, PendingPythonFacts)
            else fact
            for fact in marked
        ]

    def _note_development(self, node: ast.If) -> None:
        body, orelse = branch_kinds(node.test)
        for kind, statements in ((body, node.body), (orelse, node.orelse)):
            if kind == "development" and statements:
                last = statements[-1]
                end = last.end_lineno if last.end_lineno is not None else last.lineno
                self._development_lines.append((statements[0].lineno, end))

    # -- statements ---------------------------------------------------------------------

    def _block(self, body: Sequence[ast.stmt], scope: Scope, conditional: bool) -> None:
        for statement in body:
            self._statement(statement, scope, conditional)

    def _statement(self, node: ast.stmt, scope: Scope, conditional: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    qual = names.canonical(alias.name)
                    scope.bind(alias.asname, Binding("import", qual, conditional=conditional))
                else:
                    top = alias.name.split(".")[0]
                    scope.bind(top, Binding("import", top, conditional=conditional))
                self._note_import(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = self._absolute(node.module, node.level)
            self._note_import(base)
            for alias in node.names:
                if alias.name == "*":
                    continue
                qual = names.canonical(f"{base}.{alias.name}" if base else alias.name)
                scope.bind(
                    alias.asname or alias.name, Binding("import", qual, conditional=conditional)
                )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._function_def(node, scope, conditional)
        elif isinstance(node, ast.ClassDef):
            self._class_def(node, scope, conditional)
        elif isinstance(node, ast.Assign):
            self._expressions(node.value, scope)
            for target in node.targets:
                self._assign(target, node.value, scope, conditional)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._expressions(node.value, scope)
                self._assign(node.target, node.value, scope, conditional)
        elif isinstance(node, ast.AugAssign):
            self._expressions(node.value, scope)
            self._unbind(node.target, scope, conditional)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._expressions(node.iter, scope)
            self._unbind(node.target, scope, True)
            self._block(node.body, scope, True)
            self._block(node.orelse, scope, True)
        elif isinstance(node, ast.While):
            self._test(node.test, scope)
            self._block(node.body, scope, True)
            self._block(node.orelse, scope, True)
        elif isinstance(node, ast.If):
            self._test(node.test, scope)
            self._note_development(node)
            main = _is_main_guard(node.test)
            branch = conditional or not main
            if main:
                self._main_guards.append(self.pos.node_span(node.test))
            self._block(node.body, scope, branch)
            if main:
                self._main_guards.pop()
            self._block(node.orelse, scope, True)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self._expressions(item.context_expr, scope)
                if item.optional_vars is not None:
                    self._unbind(item.optional_vars, scope, conditional)
            self._block(node.body, scope, conditional)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._block(node.body, scope, True)  # type: ignore[attr-defined]
            for handler in node.handlers:  # type: ignore[attr-defined]
                if handler.name:
                    scope.bind(handler.name, Binding("unknown", conditional=True))
                self._block(handler.body, scope, True)
            self._block(node.orelse, scope, True)  # type: ignore[attr-defined]
            self._block(node.finalbody, scope, conditional)  # type: ignore[attr-defined]
        elif type(node).__name__ == "Match":
            self._expressions(node.subject, scope)  # type: ignore[attr-defined]
            for case in node.cases:  # type: ignore[attr-defined]
                self._block(case.body, scope, True)
        elif isinstance(node, ast.Assert):
            self._test(node.test, scope)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expressions(child, scope)

    def _note_import(self, module: str | None) -> None:
        if module and module.split(".")[0] in ("fastapi", "starlette"):
            self._asgi_imported = True

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self.package.split(".") if self.package else []
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        base = ".".join(parts)
        if module:
            return f"{base}.{module}" if base else module
        return base

    def _assign(self, target: ast.expr, value: ast.expr, scope: Scope, conditional: bool) -> None:
        if isinstance(target, ast.Name):
            scope.bind(
                target.id, Binding("value", node=value, scope=scope, conditional=conditional)
            )
            if self._origin_read(value, scope):
                scope.origin_names.add(target.id)
            else:
                scope.origin_names.discard(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for sub_target, sub_value in zip(target.elts, value.elts, strict=False):
                    self._assign(sub_target, sub_value, scope, conditional)
            else:
                self._unbind(target, scope, conditional)
        elif isinstance(target, ast.Attribute):
            self._attribute_assignment(target, value, scope)
        elif isinstance(target, ast.Subscript) and not self._flask_config_assignment(
            target, value, scope
        ):
            self._header_assignment(target, value, scope)

    def _unbind(self, target: ast.expr, scope: Scope, conditional: bool) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                scope.bind(node.id, Binding("unknown", conditional=conditional))
                scope.origin_names.discard(node.id)

    def _test(self, test: ast.expr, scope: Scope) -> None:
        self._expressions(test, scope)
        text = self.pos.text(test)
        if (scope.origin_names or "rigin" in text) and self._checks_origin(test, scope):
            scope.origin_checked = True
        # Only a module that names Panel's user can compare it with anything.
        if self._names_panel_user:
            self._user_check(test, scope)

    # -- Panel: the app's own check of who is logged in ---------------------------------

    def _user_check(self, test: ast.expr, scope: Scope) -> None:
        """A condition that compares Panel's logged-in user (``pn.state.user``,
        ``pn.state.user_info``, or a name bound to a part of them) with something, or
        hands it to a check: ``if pn.state.user not in ALLOWED:``,
        ``if user_info["email"].endswith("@example.com"):``. A bare truth test
        (``if pn.state.user:``) only asks whether someone logged in, and is not one."""
        for node in ast.walk(test):
            operands: list[ast.expr] = []
            if isinstance(node, ast.Compare):
                if any(isinstance(op, _MEMBERSHIP_OR_EQUALITY) for op in node.ops):
                    operands = [node.left, *node.comparators]
            elif isinstance(node, ast.Call):
                operands = list(node.args)
                if isinstance(node.func, ast.Attribute):
                    operands.append(node.func.value)
            if any(self._reads_user(operand, scope) for operand in operands):
                self.facts.append(PanelUserCheck(self.pos.node_span(node), self.pos.text(node)))
                return

    def _reads_user(self, node: ast.expr, scope: Scope, depth: int = 0) -> bool:
        """Whether an expression is Panel's logged-in user or a part of it (a subscript,
        a ``.get()``, an attribute), directly or through names bound to one."""
        if depth > _MAX_DEPTH:
            return False
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
            if isinstance(node, ast.Attribute) and self._qualify(node, scope) in names.PANEL_USER:
                return True
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Attribute):
                    return False  # a function's result is not the user
                node = node.func.value  # `user_info.get("email")`: the object it is called on
            else:
                node = node.value
        if not isinstance(node, ast.Name):
            return False
        binding = scope.lookup(node.id)
        if binding is None or binding.kind != "value" or binding.node is None:
            return False
        if binding.scope is None or id(binding.node) in self._evaluating:
            return False
        self._evaluating.add(id(binding.node))
        try:
            return self._reads_user(binding.node, binding.scope, depth + 1)
        finally:
            self._evaluating.discard(id(binding.node))

    # -- definitions --------------------------------------------------------------------

    def _function_def(self, node: FunctionNode, scope: Scope, conditional: bool) -> None:
        for decorator in node.decorator_list:
            self._expressions(decorator, scope)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self._expressions(default, scope)
        scope.bind(
            node.name,
            Binding("def", f"~{self.module}.{node.name}", conditional=conditional, function=node),
        )
        for decorator in node.decorator_list:
            if self._is_websocket_decorator(decorator, scope):
                self._websocket_endpoint(node, scope, decorator, "")
            else:
                self._login_route(node, scope, decorator)
        self._deferred.append((node, scope, scope.cls if scope.kind == "class" else None))

    def _class_def(self, node: ast.ClassDef, scope: Scope, conditional: bool) -> None:
        bases: list[str] = []
        for base in node.bases:
            self._expressions(base, scope)
            qual = self._qualify(base, scope)
            bases.append(qual.lstrip("~") if qual else self.pos.text(base))
        for decorator in node.decorator_list:
            self._expressions(decorator, scope)
        qualname = f"{self.module}.{node.name}"
        body_scope = Scope("class", scope)
        span = self.pos.span(*self._def_name(node))
        info = ClassInfo(node.name, qualname, tuple(bases), body_scope, span)
        body_scope.cls = info
        info.settings = any(b in names.SETTINGS_BASES for b in bases)
        self._classes[qualname] = info
        scope.bind(node.name, Binding("class", f"~{qualname}", conditional=conditional, info=info))
        self._block(node.body, body_scope, False)
        for statement in node.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        info.attributes[target.id] = statement.value
            elif (
                isinstance(statement, ast.AnnAssign)
                and statement.value is not None
                and isinstance(statement.target, ast.Name)
            ):
                info.attributes[statement.target.id] = statement.value
            elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                info.methods[statement.name] = statement
        info.env_prefix = self._env_prefix(info)
        if node.bases:
            methods = self._handler_methods(info)
            self.facts.append(PythonClass(self.module, node.name, info.bases, span, methods))
        check = info.methods.get("check_origin")
        if check is not None:
            self._check_origin(info, check)
        if any(b == names.WEBSOCKET_ENDPOINT for b in bases):
            for method in ("on_connect", "on_receive"):
                if method in info.methods:
                    self._websocket_endpoint(info.methods[method], body_scope, None, node.name)

    def _handler_methods(self, info: ClassInfo) -> tuple[HandlerMethod, ...]:
        """What each method does about the request's user (``python_handlers``); only in a
        module that can hold a Tornado handler (it names one, the user or a cookie)."""
        if not self._may_hold_handlers:
            return ()
        found = []
        for function in info.methods.values():
            method = handler_method(
                function,
                self.pos.span(*self._def_name(function)),
                lambda decorator: self._qualify(decorator, info.scope),
                self.pos.text(function),
            )
            if method is not None:
                found.append(method)
        return tuple(found)

    def _def_name(self, node: ast.ClassDef | FunctionNode) -> tuple[int, int]:
        """Offsets of the name after ``class``/``def``."""
        start = self.pos.offset(node.lineno, node.col_offset)
        text = self.pos.code
        found = text.find(node.name, start)
        if found < 0:
            return self.pos.node_offsets(node)
        return found, found + len(node.name)

    def _env_prefix(self, info: ClassInfo) -> str:
        config = info.attributes.get("model_config")
        if isinstance(config, ast.Call):
            for keyword in config.keywords:
                if keyword.arg == "env_prefix" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return ""

    def _function(self, node: FunctionNode, parent: Scope, cls: ClassInfo | None) -> None:
        scope = Scope("function", parent, cls=cls)
        arguments = node.args
        for arg in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        ]:
            if arg is not None:
                scope.bind(arg.arg, Binding("unknown"))
        self._function_name = self.pos.span(*self._def_name(node))
        self._block(node.body, scope, False)
        self._function_name = None

    # -- expressions and calls ----------------------------------------------------------

    def _expressions(self, node: ast.expr, scope: Scope) -> None:
        for call in _calls(node):
            self._call(call, scope)

    def _qualify(self, node: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """The canonical dotted name an expression refers to: ``pn.serve`` →
        ``panel.io.server.serve``; a call's result gets ``()``: ``FastAPI()``. Project
        definitions start with ``~`` so they never equal a framework name."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(node, ast.Name):
            binding = scope.lookup(node.id)
            if binding is None:
                return None
            if binding.kind == "import":
                return binding.qualname
            if binding.kind in ("def", "class"):
                return binding.qualname
            if (
                binding.kind == "value"
                and binding.node is not None
                and binding.scope
                and not (binding.conditional and binding.count > 1)
            ):
                if id(binding.node) in self._evaluating:
                    return None
                self._evaluating.add(id(binding.node))
                try:
                    return self._qualify(binding.node, binding.scope, depth + 1)
                finally:
                    self._evaluating.discard(id(binding.node))
            return None
        if isinstance(node, ast.Attribute):
            base = self._qualify(node.value, scope, depth + 1)
            return names.canonical(f"{base}.{node.attr}") if base else None
        if isinstance(node, ast.Call):
            base = self._qualify(node.func, scope, depth + 1)
            return f"{base}()" if base else None
        return None

    def _call(self, node: ast.Call, scope: Scope) -> None:
        qual = self._qualify(node.func, scope)
        method = _method(node)
        if node.keywords or method == "add_middleware" or qual == names.MIDDLEWARE:
            self._app_rate_limit(node, scope, qual)
        if qual in names.SERVE_APIS:
            label = names.SERVE_APIS[qual][1]
            self._emit(self._site(node, scope, qual, label))
            if qual in _ROUTE_SERVERS:
                self._server_routes(node, scope)
            if qual in names.PANEL_ON_FASTAPI:
                self._panel_on_fastapi(node, scope, label)
        elif qual and qual.startswith("panel.") and qual.endswith("().show") and method == "show":
            self._emit(self._site(node, scope, "panel.show", ".show()"))
            self._server_routes(node, scope)
        elif qual in names.UVICORN_APIS:
            self._emit(self._site(node, scope, qual, names.UVICORN_APIS[qual]))
        elif qual in names.FLASK_RUN_APIS:
            api, label = names.FLASK_RUN_APIS[qual]
            self._emit(self._site(node, scope, api, label))
        elif qual == names.MIDDLEWARE or method == "add_middleware":
            middleware = self._qualify(node.args[0], scope) if node.args else None
            wrapper = "Middleware" if qual == names.MIDDLEWARE else "add_middleware"
            if middleware == names.CORS_MIDDLEWARE:
                self._emit(self._site(node, scope, "cors", f"{wrapper}(CORSMiddleware)", skip=1))
            elif middleware in names.JUDGED_MIDDLEWARE:
                label = f"{wrapper}({names.JUDGED_MIDDLEWARE[middleware]})"
                self._emit(self._site(node, scope, middleware, label, skip=1))
        elif qual == names.CORS_MIDDLEWARE:
            self._emit(self._site(node, scope, "cors", "CORSMiddleware()", skip=1))
        elif qual in names.JUDGED_MIDDLEWARE:
            # `app = SessionMiddleware(app, ...)`: the first argument is the app.
            label = f"{names.JUDGED_MIDDLEWARE[qual]}()"
            self._emit(self._site(node, scope, qual, label, skip=1))
        elif qual in names.JUDGED_CALLS:
            self._emit(self._site(node, scope, qual, names.JUDGED_CALLS[qual]))
            if qual in names.SOCKETIO_LABELS:
                self._socketio_server = True
        elif qual == names.TORNADO_APPLICATION:
            self._emit(self._site(node, scope, "tornado", "tornado.web.Application()"))
        elif qual in ("fastapi.FastAPI", "starlette.Starlette"):
            framework = qual.split(".")[0]
            label = "FastAPI()" if framework == "fastapi" else "Starlette()"
            self._emit(self._site(node, scope, framework, label))
        elif qual == "panel.extension":
            self._emit(self._site(node, scope, "panel-config", "pn.extension()"))
        elif qual in names.AUTH_SCHEMES:
            name = qual.rsplit(".", 1)[1]
            self._emit(self._site(node, scope, f"auth-scheme:{name}", f"{name}()"))
        elif (metrics := self._metrics_api(node, scope, qual, method)) is not None:
            self._emit(self._site(node, scope, *metrics))
        elif qual in names.ARGV_APIS or qual in names.SHELL_APIS:
            self._process(node, scope, qual)
        elif method == "set_header" and len(node.args) >= 2:
            self._tornado_header(node, scope)
        elif len(node.args) >= 2 and (
            qual == names.WEBSOCKET_ROUTE
            or method in ("add_websocket_route", "add_api_websocket_route")
        ):
            self._route_endpoint(node.args[1], scope, node)

    def _metrics_api(
        self, node: ast.Call, scope: Scope, qual: str | None, method: str
    ) -> tuple[str, str] | None:
        """A call that serves Prometheus metrics from the app: (api, label)."""
        if method == "expose" and qual and qual.startswith(names.INSTRUMENTATOR + "()"):
            return "metrics:expose", "Instrumentator().expose()"
        if method in ("mount", "add_route") and len(node.args) >= 2:
            handler = self._qualify(node.args[1], scope)
            if method == "mount" and handler == names.PROMETHEUS_ASGI_APP + "()":
                return "metrics:mount", "mount(make_asgi_app())"
            if method == "add_route" and handler in names.STARLETTE_EXPORTER_HANDLERS:
                return "metrics:route", f"add_route({handler.rsplit('.', 1)[1]})"
        return None

    # -- Tornado routes: extra_patterns, route lists ------------------------------------

    def _server_routes(self, node: ast.Call, scope: Scope) -> None:
        given = next((k.value for k in node.keywords if k.arg == "extra_patterns"), None)
        if given is None:
            return
        routes, tables = self._route_list(given, scope, 0)
        if routes or tables:
            self.facts.append(ServerRoutes(self.pos.node_span(node), tuple(routes), tuple(tables)))

    def _route_list(
        self, node: ast.expr, scope: Scope, depth: int
    ) -> tuple[list[HandlerRoute], list[str]]:
        """The routes a list expression holds, and the route lists it takes from other
        modules (by qualified name): literal lists, ``+``, ``*spread``, names bound once.
        Anything computed otherwise is not known and adds nothing."""
        routes: list[HandlerRoute] = []
        tables: list[str] = []
        if depth > _MAX_DEPTH or id(node) in self._evaluating:
            return routes, tables
        parts: list[tuple[ast.expr, Scope]] = []
        if isinstance(node, (ast.List, ast.Tuple)):
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    parts.append((element.value, scope))
                elif isinstance(element, (ast.Tuple, ast.List)) and len(element.elts) >= 2:
                    routes.append(self._route(element, scope))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = [(node.left, scope), (node.right, scope)]
        elif isinstance(node, ast.Name):
            binding = scope.lookup(node.id)
            if binding is not None and binding.kind == "import":
                tables.append(binding.qualname)
            elif (
                binding is not None
                and binding.kind == "value"
                and binding.node is not None
                and binding.scope is not None
                and not (binding.conditional and binding.count > 1)
            ):
                parts.append((binding.node, binding.scope))
        elif isinstance(node, ast.Attribute):
            qual = self._qualify(node, scope)
            if qual and not qual.startswith("~"):
                tables.append(qual)
        self._evaluating.add(id(node))
        try:
            for part, part_scope in parts:
                more_routes, more_tables = self._route_list(part, part_scope, depth + 1)
                routes.extend(more_routes)
                tables.extend(more_tables)
        finally:
            self._evaluating.discard(id(node))
        return routes, tables

    def _route(self, element: ast.Tuple | ast.List, scope: Scope) -> HandlerRoute:
        pattern = self.evaluate(element.elts[0], scope)
        word = (
            python_word(str(pattern.value), pattern.span)
            if pattern.kind == "str"
            else python_word(pattern.text, pattern.span, symbolic=True)
        )
        handler = element.elts[1]
        qual = self._qualify(handler, scope)
        return HandlerRoute(word, qual.lstrip("~") if qual else "", self.pos.node_span(handler))

    def _route_tables(self, module: Scope) -> None:
        """Module-level lists of ``(pattern, Handler, ...)`` tuples whose patterns are
        strings: a plugin's ``ROUTES``, or a list another module serves."""
        for name, binding in module.names.items():
            node = binding.node
            if (
                binding.kind != "value"
                or not isinstance(node, (ast.List, ast.Tuple))
                or not node.elts
                or (binding.conditional and binding.count > 1)
                or not all(_route_shaped(element) for element in node.elts)
            ):
                continue
            routes, tables = self._route_list(node, module, 0)
            if any(route.handler for route in routes) or tables:
                self.facts.append(RouteTable(self.module, name, tuple(routes), tuple(tables)))

    def _emit(self, site: CallSite) -> None:
        self.facts.extend(self.builder.build(site))

    def _site(self, node: ast.Call, scope: Scope, api: str, label: str, skip: int = 0) -> CallSite:
        positional: list[PyValue] = []
        open_keywords = False
        for arg in node.args[skip:]:
            if isinstance(arg, ast.Starred):
                value = self.evaluate(arg.value, scope)
                if value.kind == "list":
                    positional.extend(value.items)
                    if value.complete:
                        continue
                open_keywords = True
                break
            positional.append(self.evaluate(arg, scope))
        keywords: list[KeywordValue] = []
        for keyword in node.keywords:
            if keyword.arg is None:
                value = self.evaluate(keyword.value, scope)
                if value.kind == "dict":
                    for key, key_span, item in zip(
                        value.keys, value.key_spans, value.items, strict=False
                    ):
                        keywords.append(KeywordValue(key, key_span, item))
                    if value.complete:
                        continue
                open_keywords = True
                continue
            keywords.append(
                KeywordValue(
                    keyword.arg,
                    self.pos.keyword_name_span(keyword),
                    self.evaluate(keyword.value, scope),
                )
            )
        callee = Word(self.pos.text(node.func), self.pos.node_span(node.func))
        return CallSite(
            api,
            callee,
            self.pos.node_span(node),
            tuple(positional),
            tuple(keywords),
            open_keywords,
            label,
            self._main_guards[-1] if self._main_guards else None,
            self._function_name,
        )

    # -- values -------------------------------------------------------------------------

    def evaluate(
        self, node: ast.expr, scope: Scope, use: Span | None = None, depth: int = 0
    ) -> PyValue:
        """The value of an expression as far as it is known without running anything.
        ``use`` is the span of the argument when the value comes through a name."""
        span = use or self.pos.node_span(node)
        if depth > _MAX_DEPTH or id(node) in self._evaluating:
            return self._symbolic(node, span)
        self._evaluating.add(id(node))
        try:
            return self._evaluate(node, scope, use, span, depth)
        finally:
            self._evaluating.discard(id(node))

    def _evaluate(
        self, node: ast.expr, scope: Scope, use: Span | None, span: Span, depth: int
    ) -> PyValue:
        if isinstance(node, ast.Constant):
            return self._constant(node, use)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items: list[PyValue] = []
            complete = True
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    inner = self.evaluate(element.value, scope, use, depth + 1)
                    items.extend(inner.items if inner.kind == "list" else ())
                    complete = complete and inner.kind == "list" and inner.complete
                else:
                    items.append(self.evaluate(element, scope, use, depth + 1))
            return PyValue(
                "list",
                None,
                self.pos.text(node),
                span,
                tuple(items),
                complete=complete,
                defined_at=self._defined(node, use),
            )
        if isinstance(node, ast.Dict):
            keys: list[str] = []
            key_spans: list[Span] = []
            values: list[PyValue] = []
            complete = True
            for key, item in zip(node.keys, node.values, strict=False):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys.append(key.value)
                    key_spans.append(use or self.pos.node_span(key))
                    values.append(self.evaluate(item, scope, use, depth + 1))
                elif key is None:
                    inner = self.evaluate(item, scope, use, depth + 1)
                    if inner.kind == "dict":
                        keys.extend(inner.keys)
                        key_spans.extend(inner.key_spans)
                        values.extend(inner.items)
                    complete = complete and inner.kind == "dict" and inner.complete
                else:
                    complete = False
            return PyValue(
                "dict",
                None,
                self.pos.text(node),
                span,
                tuple(values),
                tuple(keys),
                complete,
                key_spans=tuple(key_spans),
            )
        if isinstance(node, ast.Name):
            return self._name_value(node, scope, span, depth)
        if isinstance(node, ast.Attribute):
            return self._attribute_value(node, scope, span, depth)
        if isinstance(node, ast.Call):
            return self._call_value(node, scope, use, span, depth)
        if isinstance(node, ast.Subscript):
            qual = self._qualify(node.value, scope)
            if qual == names.ENVIRON:
                env = _string_constant(node.slice)
                return self._symbolic(node, span, env)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.evaluate(node.operand, scope, use, depth + 1)
            if inner.kind in ("int", "float") and isinstance(inner.value, (int, float)):
                return PyValue(
                    inner.kind, -inner.value, self.pos.text(node), span, defined_at=inner.defined_at
                )
        return self._symbolic(node, span)

    def _symbolic(self, node: ast.expr, span: Span, env: str | None = None) -> PyValue:
        return PyValue("symbolic", None, self.pos.text(node), span, env_name=env)

    def _defined(self, node: ast.expr, use: Span | None) -> Span | None:
        return self.pos.node_span(node) if use is not None else None

    def _constant(self, node: ast.Constant, use: Span | None) -> PyValue:
        value = node.value
        text = self.pos.text(node)
        if isinstance(value, bool):
            return PyValue(
                "bool",
                value,
                text,
                use or self.pos.node_span(node),
                defined_at=self._defined(node, use),
            )
        if isinstance(value, (int, float)) and not isinstance(value, complex):
            kind: Literal["int", "float"] = "int" if isinstance(value, int) else "float"
            return PyValue(
                kind,
                value,
                text,
                use or self.pos.node_span(node),
                defined_at=self._defined(node, use),
            )
        if value is None:
            return PyValue(
                "none",
                None,
                "None",
                use or self.pos.node_span(node),
                defined_at=self._defined(node, use),
            )
        if isinstance(value, str):
            start, end, origins = self._string_content(node)
            content = self.pos.span(start, end)
            return PyValue(
                "str",
                value,
                value,
                use or content,
                origins=() if use else origins,
                defined_at=content if use else None,
            )
        return PyValue("symbolic", None, text, use or self.pos.node_span(node))

    def _string_content(self, node: ast.Constant) -> tuple[int, int, tuple[int, ...]]:
        """Code offsets of a string literal's content and, when every character is
        written as itself, the file offset of each."""
        start, end = self.pos.node_offsets(node)
        raw = self.pos.code[start:end]
        match = _STRING_START.match(raw)
        if not match or not raw.endswith(match.group(1)) or len(raw) < 2 * len(match.group(1)):
            return start, end, ()
        content_start = start + match.end()
        content_end = end - len(match.group(1))
        if self.pos.code[content_start:content_end] == node.value:
            return (
                content_start,
                content_end,
                tuple(self.pos.file_offset(i) for i in range(content_start, content_end)),
            )
        return content_start, content_end, ()

    def _name_value(self, node: ast.Name, scope: Scope, span: Span, depth: int) -> PyValue:
        binding = scope.lookup(node.id)
        if binding is None:
            return self._symbolic(node, span)
        if binding.kind == "import":
            if binding.qualname.split(".")[0] in ("os", "sys"):
                return self._symbolic(node, span)
            return PyValue("ref", None, binding.qualname, span)
        if (
            binding.kind == "value"
            and binding.node is not None
            and binding.scope is not None
            and not (binding.conditional and binding.count > 1)
        ):
            inner = self.evaluate(binding.node, binding.scope, span, depth + 1)
            if inner.kind == "symbolic":
                return PyValue("symbolic", None, self.pos.text(node), span, env_name=inner.env_name)
            return inner
        return self._symbolic(node, span)

    def _attribute_value(
        self, node: ast.Attribute, scope: Scope, span: Span, depth: int
    ) -> PyValue:
        base = node.value
        if isinstance(base, ast.Name):
            binding = scope.lookup(base.id)
            if binding is not None and binding.kind == "import":
                root = binding.qualname.split(".")[0]
                if root in ("os", "sys", "panel", "bokeh", "tornado", "fastapi", "starlette"):
                    return self._symbolic(node, span)
                return PyValue("ref", None, f"{binding.qualname}.{node.attr}", span)
        info = self._instance_class(base, scope)
        if info is not None:
            return self._class_attribute(info, node.attr, node, span, depth)
        return self._symbolic(node, span)

    def _instance_class(self, node: ast.expr, scope: Scope) -> ClassInfo | None:
        """The project class of ``Settings`` or of ``settings = Settings()``."""
        qual = self._qualify(node, scope)
        if not qual or not qual.startswith("~"):
            return None
        return self._classes.get(qual[1:].removesuffix("()"))

    def _class_attribute(
        self, info: ClassInfo, name: str, node: ast.expr, span: Span, depth: int
    ) -> PyValue:
        expr = info.attributes.get(name)
        if expr is None:
            return self._symbolic(node, span)
        if isinstance(expr, ast.Call) and self._qualify(expr.func, info.scope) == names.FIELD:
            default = (
                expr.args[0]
                if expr.args
                else next((k.value for k in expr.keywords if k.arg == "default"), None)
            )
            if default is None:
                return self._symbolic(node, span)
            expr = default
        value = self.evaluate(expr, info.scope, span, depth + 1)
        if info.settings:
            # pydantic-settings fills every field from the environment variable of the
            # same name (case-insensitive, with the model's env_prefix).
            env = (info.env_prefix + name).upper()
            return _with_env(value, env)
        return value

    def _call_value(
        self, node: ast.Call, scope: Scope, use: Span | None, span: Span, depth: int
    ) -> PyValue:
        qual = self._qualify(node.func, scope)
        if qual in names.ENV_GET and node.args:
            env = _string_constant(node.args[0])
            default_node = (
                node.args[1]
                if len(node.args) > 1
                else next((k.value for k in node.keywords if k.arg == "default"), None)
            )
            if env is not None and default_node is not None:
                default = self.evaluate(default_node, scope, use, depth + 1)
                if default.kind not in ("symbolic", "ref", "none"):
                    return _with_env(default, env)
            return self._symbolic(node, span, env)
        builtin = (
            node.func.id
            if isinstance(node.func, ast.Name) and scope.lookup(node.func.id) is None
            else None
        )
        if builtin in ("int", "float", "str", "bool") and len(node.args) == 1 and not node.keywords:
            inner = self.evaluate(node.args[0], scope, use, depth + 1)
            return _convert(inner, builtin, self.pos.text(node))
        if builtin in ("list", "tuple", "set") and len(node.args) == 1:
            inner = self.evaluate(node.args[0], scope, use, depth + 1)
            if inner.kind == "list":
                return inner
        if builtin == "dict" and not node.args:
            keys = tuple(k.arg for k in node.keywords if k.arg)
            values = tuple(
                self.evaluate(k.value, scope, use, depth + 1) for k in node.keywords if k.arg
            )
            spans = tuple(use or self.pos.keyword_name_span(k) for k in node.keywords if k.arg)
            return PyValue(
                "dict",
                None,
                self.pos.text(node),
                span,
                values,
                keys,
                all(k.arg for k in node.keywords),
                key_spans=spans,
            )
        return self._symbolic(node, span)

    # -- attribute assignments: pn.config.x = ..., app.debug = ... ------------------------

    def _attribute_assignment(self, target: ast.Attribute, value: ast.expr, scope: Scope) -> None:
        owner = self._qualify(target.value, scope)
        if owner == "panel.config":
            framework, label = "panel-config", f"pn.config.{target.attr}"
        elif owner in ("fastapi.FastAPI()", "starlette.Starlette()") and target.attr == "debug":
            framework, label = owner.split(".")[0], f"{self.pos.text(target)} ="
        elif owner == names.FLASK_APP and target.attr == "debug":
            framework, label = "flask", f"{self.pos.text(target)} ="
        else:
            return
        start, _ = self.pos.node_offsets(target)
        name_end = self.pos.node_offsets(target)[1]
        name_span = self.pos.span(name_end - len(target.attr), name_end)
        whole = self.pos.span(start, self.pos.node_offsets(value)[1])
        site = CallSite(
            f"assign:{framework}",
            Word(self.pos.text(target), name_span),
            whole,
            (),
            (KeywordValue(target.attr, name_span, self.evaluate(value, scope)),),
            False,
            label,
        )
        self._emit(site)

    def _flask_config_assignment(
        self, target: ast.Subscript, value: ast.expr, scope: Scope
    ) -> bool:
        """``app.config["DEBUG"] = ...``: what ``app.debug`` reads (flask/sansio/app.py
        ``Flask.debug``), recorded as the same ``AppSetting``."""
        if _string_constant(target.slice) != "DEBUG" or not isinstance(target.value, ast.Attribute):
            return False
        if target.value.attr != "config":
            return False
        if self._qualify(target.value.value, scope) != names.FLASK_APP:
            return False
        start, end = self.pos.node_offsets(target.slice)
        name_span = self.pos.span(start, end)
        whole = self.pos.span(self.pos.node_offsets(target)[0], self.pos.node_offsets(value)[1])
        self._emit(
            CallSite(
                "assign:flask",
                Word(self.pos.text(target), name_span),
                whole,
                (),
                (KeywordValue("debug", name_span, self.evaluate(value, scope)),),
                False,
                f"{self.pos.text(target)} =",
            )
        )
        return True

    # -- subprocess ---------------------------------------------------------------------

    def _process(self, node: ast.Call, scope: Scope, qual: str) -> None:
        from stackaudit.invocation.commandline import (
            CommandContext,
            find_in_script,
            find_in_words,
        )

        name = qual.rsplit(".", 1)[-1]
        context = CommandContext(self.source, "python", f"{qual}() argv", False)
        shell = qual in names.SHELL_APIS or any(
            k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        index = names.ARGV_APIS.get(qual, 0)
        if shell:
            if not node.args:
                return
            value = self.evaluate(node.args[0], scope)
            if value.kind == "str" and isinstance(value.value, str):
                origins = list(value.origins) or self._spread(value)
                self.facts.extend(find_in_script(context, value.value, origins))
            return
        if index < 0:
            arguments = [
                self.evaluate(a, scope)
                for a in node.args[-index - 1 :]
                if not isinstance(a, ast.Starred)
            ]
            if name.endswith("e") and name.startswith("execl"):
                arguments = arguments[:-1]
        else:
            if len(node.args) <= index:
                argv = next((k.value for k in node.keywords if k.arg in ("args", "argv")), None)
                if argv is None:
                    return
            else:
                argv = node.args[index]
            listed = self.evaluate(argv, scope)
            if listed.kind == "str" and isinstance(listed.value, str):
                # A string without shell=True is one program name, unless split first.
                return
            if listed.kind != "list":
                return
            arguments = list(listed.items)
        tokens = self._argv_tokens(arguments)
        if tokens:
            self.facts.extend(find_in_words(context, tokens))

    def _argv_tokens(self, arguments: list[PyValue]) -> list[Token]:
        from stackaudit.invocation.shellwords import Token

        tokens = []
        for item in arguments:
            if item.kind == "str" and isinstance(item.value, str):
                origins = list(item.origins) or self._spread(item)
                tokens.append(
                    Token(
                        item.value,
                        origins,
                        origins[0] if origins else 0,
                        origins[-1] + 1 if origins else 0,
                        False,
                        True,
                    )
                )
            else:
                text = "python" if item.text == "sys.executable" else item.text
                origins = self._spread(item, len(text))
                tokens.append(
                    Token(
                        text,
                        origins,
                        origins[0] if origins else 0,
                        origins[-1] + 1 if origins else 0,
                        True,
                        True,
                    )
                )
        return tokens

    def _server_proxy(self, tree: ast.Module, scope: Scope) -> None:
        """jupyter-server-proxy's ``c.ServerProxy.servers = {"name": {"command": [...]}}``
        (or the dict a ``jupyter_serverproxy_servers`` entry point returns): the command
        it starts behind the Jupyter server's login. Its ``{port}``, ``{base_url}``
        fields are filled in at run time (``str.format``)."""
        from stackaudit.invocation.commandline import CommandContext, find_in_words

        context = CommandContext(
            self.source,
            "python",
            "jupyter-server-proxy command",
            True,
            launcher="jupyter-server-proxy",
        )
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=False):
                if not (
                    isinstance(key, ast.Constant)
                    and key.value == "command"
                    and isinstance(value, ast.List)
                ):
                    continue
                arguments = [
                    self.evaluate(item, scope)
                    for item in value.elts
                    if not isinstance(item, ast.Starred)
                ]
                tokens = [
                    replace(token, symbolic=True) if _FORMAT_FIELD.search(token.text) else token
                    for token in self._argv_tokens(arguments)
                ]
                if tokens:
                    self.facts.extend(find_in_words(context, tokens))

    def _spread(self, value: PyValue, length: int | None = None) -> list[int]:
        """Approximate per-character file offsets spread over a value's span."""
        count = len(str(value.value)) if length is None else length
        start = self.pos.file_offset_of(value.span.line, value.span.column)
        end = max(start + 1, self.pos.file_offset_of(value.span.end_line, value.span.end_column))
        return [min(start + i, end - 1) for i in range(count)]

    def _cookie_reads(self, tree: ast.Module, module: Scope) -> None:
        """Where the module reads the request's cookies or the cookie session: the WSGI
        ``HTTP_COOKIE`` entry a Socket.IO ``connect`` handler gets in ``environ``, a
        ``.cookies`` attribute, Flask's ``session`` or flask-login's ``current_user``
        (names resolved through the module's imports)."""
        for node in ast.walk(tree):
            how = ""
            if isinstance(node, ast.Constant) and node.value == "HTTP_COOKIE":
                how = "the `HTTP_COOKIE` entry of the WSGI/ASGI environ"
            elif isinstance(node, ast.Attribute) and node.attr == "cookies":
                how = f"`{self.pos.text(node)}`"
            elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(
                getattr(node, "ctx", None), ast.Load
            ):
                qual = self._qualify(node, module)
                if qual in names.COOKIE_READERS:
                    how = f"`{self.pos.text(node)}` ({qual})"
            if how:
                self.facts.append(CookieRead(self.pos.node_span(node), how))
                return

    # -- Tornado / Starlette handlers that write CORS headers --------------------------

    def _tornado_header(self, node: ast.Call, scope: Scope) -> None:
        header = _string_constant(node.args[0])
        if header is None or scope.cls is None or not _is_self(node.func, scope):
            return
        if header.lower() == _ACAO:
            scope.cls.cors_calls.append((node, scope, scope.origin_checked))
        elif header.lower() == _ACAC:
            value = self.evaluate(node.args[1], scope)
            if _truthy_header(value):
                scope.cls.credentials = self.builder.word(value)

    def _header_assignment(self, target: ast.Subscript, value: ast.expr, scope: Scope) -> None:
        header = _string_constant(target.slice)
        if header is None or header.lower() != _ACAO or not self._asgi_imported:
            return
        if not (isinstance(target.value, ast.Attribute) and target.value.attr == "headers"):
            return
        span = self.pos.span(self.pos.node_offsets(target)[0], self.pos.node_offsets(value)[1])
        self.facts.append(
            self._header_policy(
                "starlette",
                span,
                self.pos.text(target.value),
                value,
                scope,
                scope.origin_checked,
                None,
            )
        )

    def _finish_cors(self, info: ClassInfo) -> None:
        for node, scope, checked in info.cors_calls:
            self.facts.append(
                self._header_policy(
                    "tornado",
                    self.pos.node_span(node),
                    f"{info.name}.set_header",
                    node.args[1],
                    scope,
                    checked,
                    info.credentials,
                )
            )

    def _header_policy(
        self,
        kind: Literal["tornado", "starlette"],
        span: Span,
        where: str,
        value: ast.expr,
        scope: Scope,
        checked: bool,
        credentials: PythonWord | None,
    ) -> CorsPolicy:
        reflected: Span | None = None
        guarded = checked
        allowed: tuple[Word, ...] = ()
        candidates = [value]
        if isinstance(value, ast.IfExp):
            candidates = [value.body, value.orelse]
            guarded = guarded or self._checks_origin(value.test, scope)
        for candidate in candidates:
            if self._origin_read(candidate, scope):
                reflected = self.pos.node_span(candidate)
        if reflected is None:
            evaluated = self.evaluate(value, scope)
            if evaluated.kind == "str":
                allowed = (self.builder.word(evaluated),)
        return CorsPolicy(
            kind,
            span,
            where,
            allowed_origins=allowed,
            reflects_origin=reflected,
            reflection_guarded=reflected is not None and guarded,
            allow_credentials=credentials,
        )

    def _origin_read(self, node: ast.expr, scope: Scope) -> bool:
        """``<...>.headers.get("Origin")``, ``<...>.headers["origin"]``, or a name bound
        to one of them."""
        if isinstance(node, ast.Name):
            return node.id in scope.origin_names
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "get_list", "getlist") and node.args:
                key = _string_constant(node.args[0])
                return key is not None and key.lower() == _ORIGIN and _is_headers(node.func.value)
            if node.func.attr == "get_header" and node.args:  # tornado HTTPHeaders helper
                key = _string_constant(node.args[0])
                return key is not None and key.lower() == _ORIGIN
        if isinstance(node, ast.Subscript):
            key = _string_constant(node.slice)
            return key is not None and key.lower() == _ORIGIN and _is_headers(node.value)
        return False

    def _checks_origin(self, test: ast.expr, scope: Scope) -> bool:
        """A condition that compares the Origin with something, or hands it to a check."""
        for node in ast.walk(test):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(self._origin_read(o, scope) for o in operands) and any(
                    isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq)) for op in node.ops
                ):
                    return True
            elif isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            ):
                if any(self._origin_read(a, scope) for a in node.args):
                    return True
                if isinstance(node.func, ast.Attribute) and self._origin_read(
                    node.func.value, scope
                ):
                    return True
        return False

    # -- Tornado check_origin -----------------------------------------------------------

    def _check_origin(self, info: ClassInfo, function: FunctionNode) -> None:
        flaw = _check_origin_flaw(function)
        if flaw is None:
            return
        kind, evidence = flaw
        self.facts.append(
            PermissiveCheckOrigin(
                self.module,
                info.name,
                info.bases,
                self.pos.span(*self._def_name(function)),
                kind,
                self.pos.node_span(evidence),
                self.pos.text(evidence),
            )
        )

    # -- Starlette / FastAPI WebSocket endpoints ----------------------------------------

    def _is_websocket_decorator(self, decorator: ast.expr, scope: Scope) -> bool:
        if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
            return False
        if decorator.func.attr not in ("websocket", "websocket_route"):
            return False
        owner = self._qualify(decorator.func.value, scope)
        if owner is not None:
            return owner.removesuffix("()") in names.ASGI_APPS
        return self._asgi_imported

    def _login_route(self, function: FunctionNode, scope: Scope, decorator: ast.expr) -> None:
        """A login route (``facts.asgi.LoginEndpoint``) declared by ``decorator``."""

        def qualify(node: ast.expr) -> str | None:
            return self._qualify(node, scope)

        def prefix_of(owner: ast.expr) -> str:
            binding = scope.lookup(owner.id) if isinstance(owner, ast.Name) else None
            if binding is not None and isinstance(binding.node, ast.Call):
                return login.router_prefix(binding.node)
            return ""

        route = login.route_of(decorator, qualify, prefix_of, self._asgi_imported)
        if route is None:
            return
        span = self.pos.span(*self._def_name(function))
        found = login.login_endpoint(function, qualify, span, route, function.decorator_list)
        if found is not None:
            self.facts.append(found)

    def _app_rate_limit(self, node: ast.Call, scope: Scope, qual: str | None) -> None:
        """``add_middleware(SlowAPIMiddleware)``, ``Middleware(SlowAPIMiddleware)``,
        ``FastAPI(dependencies=[Depends(RateLimiter(...))])``."""
        what = None
        if qual in login.APP_CONSTRUCTORS:
            what = login.limits_every_route(node, lambda e: self._qualify(e, scope))
        elif node.args and (qual == names.MIDDLEWARE or _method(node) == "add_middleware"):
            middleware = self._qualify(node.args[0], scope)
            if middleware in login.SLOWAPI_MIDDLEWARE:
                what = middleware.rsplit(".", 1)[1]
        if what is not None:
            self.facts.append(AppRateLimit(self.pos.node_span(node), what))

    def _route_endpoint(self, endpoint: ast.expr, scope: Scope, route: ast.Call) -> None:
        if not isinstance(endpoint, ast.Name):
            return
        binding = scope.lookup(endpoint.id)
        if binding is not None and binding.kind == "def" and binding.function is not None:
            self._websocket_endpoint(binding.function, scope, route, "")

    def _websocket_endpoint(
        self, function: FunctionNode, scope: Scope, marker: ast.expr | None, owner: str
    ) -> None:
        parameters = [*function.args.posonlyargs, *function.args.args]
        if owner and parameters:
            parameters = parameters[1:]
        socket = next(
            (
                p.arg
                for p in parameters
                if p.annotation is not None
                and self._qualify(p.annotation, scope) == names.WEBSOCKET_TYPE
            ),
            None,
        )
        if socket is None and parameters and parameters[0].arg in ("websocket", "ws", "socket"):
            socket = parameters[0].arg
        credential, how = self._credential(function, socket, scope, 0)
        name = f"{owner}.{function.name}" if owner else function.name
        span = self.pos.span(*self._def_name(function))
        self.facts.append(
            WebSocketEndpoint(
                "starlette",
                name,
                span,
                credential,
                how,
                self._reads_origin(function, socket, scope, 0),
            )
        )

    def _credential(
        self, function: FunctionNode, socket: str | None, scope: Scope, depth: int
    ) -> tuple[Span | None, str]:
        arguments = function.args
        defaults = [*arguments.defaults]
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = list(zip(positional[len(positional) - len(defaults) :], defaults, strict=False))
        pairs += [
            (a, d)
            for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=False)
            if d is not None
        ]
        for arg, default in pairs:
            if isinstance(default, ast.Call):
                qual = self._qualify(default.func, scope)
                if qual == names.COOKIE_PARAM:
                    return self.pos.node_span(arg), f"the `{arg.arg}` Cookie() parameter"
                if qual == names.DEPENDS and default.args and depth < 2:
                    found = self._dependency_credential(default.args[0], scope, depth)
                    if found[0] is not None:
                        return self.pos.node_span(arg), f"`{arg.arg}` via {found[1]}"
        for arg in [*positional, *arguments.kwonlyargs]:
            annotation = arg.annotation
            if isinstance(annotation, ast.Subscript):
                for node in ast.walk(annotation):
                    if isinstance(node, ast.Call):
                        qual = self._qualify(node.func, scope)
                        if qual == names.COOKIE_PARAM:
                            return self.pos.node_span(arg), f"the `{arg.arg}` Cookie() parameter"
                        if qual == names.DEPENDS and node.args and depth < 2:
                            found = self._dependency_credential(node.args[0], scope, depth)
                            if found[0] is not None:
                                return self.pos.node_span(arg), f"`{arg.arg}` via {found[1]}"
        for node in _body_nodes(function):
            if isinstance(node, ast.Attribute) and node.attr in ("cookies", "session"):
                base = node.value
                if socket is None or (isinstance(base, ast.Name) and base.id == socket):
                    return self.pos.node_span(node), f"`{self.pos.text(node)}`"
        return None, ""

    def _dependency_credential(
        self, target: ast.expr, scope: Scope, depth: int
    ) -> tuple[Span | None, str]:
        if isinstance(target, ast.Name):
            binding = scope.lookup(target.id)
            if binding is not None and binding.function is not None:
                found = self._credential(binding.function, None, scope, depth + 1)
                if found[0] is not None:
                    return found[0], f"the dependency `{target.id}` ({found[1]})"
        return None, ""

    def _reads_origin(
        self, function: FunctionNode, socket: str | None, scope: Scope, depth: int
    ) -> bool:
        for node in _body_nodes(function):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.lower() == _ORIGIN:
                    return True
            elif isinstance(node, ast.Call):
                callee = (
                    node.func.attr
                    if isinstance(node.func, ast.Attribute)
                    else (node.func.id if isinstance(node.func, ast.Name) else "")
                )
                if _ORIGIN in callee.lower():
                    return True
                if isinstance(node.func, ast.Name) and depth < 2:
                    binding = scope.lookup(node.func.id)
                    if (
                        binding is not None
                        and binding.function is not None
                        and binding.function is not function
                        and self._reads_origin(binding.function, None, scope, depth + 1)
                    ):
                        return True
        return False

    def _panel_on_fastapi(self, node: ast.Call, scope: Scope, label: str) -> None:
        site = self._site(node, scope, "panel-fastapi", label)
        origins = [
            kw for kw in site.keywords if kw.name in ("websocket_origin", "websocket_origins")
        ]
        words: tuple[Word, ...] = ()
        if origins:
            words = tuple(self.builder.words(origins[-1].value))
        self.facts.append(WebSocketEndpoint("panel-fastapi", label, site.span, origins=words))

    # -- module constants for other modules ---------------------------------------------

    def _module_constants(self, module: Scope) -> None:
        constants: list[tuple[str, PyValue]] = []
        for name, binding in module.names.items():
            if (
                binding.kind == "value"
                and binding.node is not None
                and not (binding.conditional and binding.count > 1)
                and _small(binding.node)
            ):
                value = self.evaluate(binding.node, module)
                if value.kind != "symbolic":
                    constants.append((name, value))
                info = self._instance_class(binding.node, module)
                if info is not None and isinstance(binding.node, ast.Call) and _settings_like(info):
                    constants.extend(self._class_constants(info, f"{name}."))
            elif (
                binding.kind == "class"
                and binding.info is not None
                and _settings_like(binding.info)
            ):
                constants.extend(self._class_constants(binding.info, f"{name}."))
        if constants:
            self.facts.append(PythonModule(self.module, self.source.path, tuple(constants)))

    def _class_constants(self, info: ClassInfo, prefix: str) -> Iterator[tuple[str, PyValue]]:
        for attribute, expr in info.attributes.items():
            value = self._class_attribute(info, attribute, expr, self.pos.node_span(expr), 0)
            if value.kind != "symbolic":
                yield prefix + attribute, value


# -- helpers ---------------------------------------------------------------------------------


_LEAVES = (ast.Name, ast.Constant)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _method(node: ast.Call) -> str:
    """``add_middleware`` for ``app.add_middleware(...)``; "" for a plain call."""
    return node.func.attr if isinstance(node.func, ast.Attribute) else ""


def _calls(node: ast.AST) -> list[ast.Call]:
    """The calls inside an expression, outermost first (``ast.walk`` costs twice as
    much: it visits every field of every node, leaves and contexts included)."""
    found: list[ast.Call] = []
    todo = [node]
    while todo:
        current = todo.pop()
        kind = type(current)
        if kind is ast.Call:
            found.append(current)  # type: ignore[arg-type]
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = tuple(f for f in kind._fields if f != "ctx")
        children: list[ast.AST] = []
        for name in fields:
            value = getattr(current, name, None)
            if isinstance(value, ast.AST):
                if not isinstance(value, _LEAVES):
                    children.append(value)
            elif type(value) is list:
                children.extend(
                    v for v in value if isinstance(v, ast.AST) and not isinstance(v, _LEAVES)
                )
        todo.extend(reversed(children))
    return found


def _route_shaped(node: ast.expr) -> bool:
    """``(r"/x", Handler)`` or ``(r"/x", Handler, {...})``; ``*OTHER_ROUTES`` too."""
    if isinstance(node, ast.Starred):
        return isinstance(node.value, (ast.Name, ast.Attribute))
    return (
        isinstance(node, (ast.Tuple, ast.List))
        and 2 <= len(node.elts) <= 4
        and isinstance(node.elts[1], (ast.Name, ast.Attribute))
        and not isinstance(node.elts[0], (ast.Tuple, ast.List, ast.Dict, ast.Set))
    )


def _is_none(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _small(node: ast.expr, limit: int = 200) -> bool:
    """Whether a module-level value is small enough to publish as a constant (data
    tables are not settings)."""
    return all(count < limit for count, _ in enumerate(ast.walk(node)))


def _settings_like(info: ClassInfo) -> bool:
    """Classes whose attributes are published for other modules: settings models,
    ``Config``-style holders, dataclasses of settings."""
    if info.settings or any(base in names.MODEL_BASES for base in info.bases):
        return True
    return any(word in info.name.lower() for word in ("settings", "config", "conf"))


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text))]


def _with_env(value: PyValue, env: str) -> PyValue:
    items = tuple(_with_env(item, env) for item in value.items)
    return PyValue(
        value.kind,
        value.value,
        value.text,
        value.span,
        items,
        value.keys,
        value.complete,
        value.defined_at,
        env,
        value.origins,
        value.key_spans,
    )


_Converter = tuple[Literal["int", "float", "bool", "str"], Callable[[Any], Any]]
_TO_STR: _Converter = ("str", str)
_CONVERTERS: dict[str, _Converter] = {
    "int": ("int", int),
    "float": ("float", float),
    "bool": ("bool", bool),
}


def _convert(value: PyValue, to: str, text: str) -> PyValue:
    """``int(x)``, ``float(x)``, ``bool(x)``, ``str(x)`` of a known value, as Python
    computes it; anything else, or a conversion that fails, is symbolic."""
    if value.kind in ("symbolic", "ref", "list", "dict") or value.value is None:
        return PyValue("symbolic", None, text, value.span, env_name=value.env_name)
    kind, convert = _CONVERTERS.get(to, _TO_STR)
    try:
        converted = convert(value.value)
    except (ValueError, OverflowError):
        return PyValue("symbolic", None, text, value.span, env_name=value.env_name)
    written = text if kind != "str" else str(converted)
    return PyValue(
        kind, converted, written, value.span, defined_at=value.defined_at, env_name=value.env_name
    )


def _string_constant(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and _string_constant(test.comparators[0]) == "__main__"
    )


def _is_headers(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "headers"


def _is_self(func: ast.expr, scope: Scope) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    )


def _truthy_header(value: PyValue) -> bool:
    return (value.kind == "str" and str(value.value).strip().lower() == "true") or (
        value.kind == "bool" and value.value is True
    )


def _body_nodes(function: FunctionNode) -> Iterator[ast.AST]:
    """Every node of a function's body, not entering nested functions or classes."""
    todo: list[ast.AST] = list(function.body)
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
            ):
                todo.append(child)


def _truthy_constant(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Constant)
        and bool(node.value)
        and not isinstance(node.value, (bytes, type(Ellipsis)))
    )


def _check_origin_flaw(function: FunctionNode) -> tuple[CheckOriginFlaw, ast.expr] | None:
    """How a ``check_origin`` override admits more than intended, if it does."""
    body = [
        s
        for s in function.body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if body and isinstance(body[0], ast.Return) and _truthy_constant(body[0].value):
        assert body[0].value is not None
        return "always-true", body[0].value
    returns = [n for n in _body_nodes(function) if isinstance(n, ast.Return)]
    if returns and all(_truthy_constant(r.value) for r in returns):
        assert returns[0].value is not None
        return "always-true", returns[0].value
    arguments = [*function.args.posonlyargs, *function.args.args]
    origin = arguments[1].arg if len(arguments) > 1 else None
    derived = {origin} if origin else set()
    nodes = sorted(
        _body_nodes(function), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))
    )
    for node in nodes:
        if isinstance(node, ast.Assign) and _mentions(node.value, derived):
            for target in node.targets:
                derived.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if not _mentions(node.func.value, derived) or not node.args:
                continue
            suffixes = _string_arguments(node.args[0])
            if node.func.attr == "endswith" and any(
                not s.startswith((".", ":", "/")) and "." in s for s in suffixes
            ):
                return "suffix-without-dot", node
            if node.func.attr == "startswith" and any(
                re.fullmatch(r"https?://[^/]+", s) for s in suffixes
            ):
                return "prefix-open", node
        elif (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.In, ast.NotIn))
        ):
            left = _string_constant(node.left)
            if left is not None and "." in left and _mentions(node.comparators[0], derived):
                return "substring", node
    return None


def _string_arguments(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Tuple):
        return [s for s in (_string_constant(e) for e in node.elts) if s is not None]
    value = _string_constant(node)
    return [value] if value is not None else []


def _mentions(node: ast.expr, names_: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names_ for n in ast.walk(node))


def _merged(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Line ranges sorted and joined where they overlap (nested ``if``s), so a line is
    looked up with one bisection."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(regions):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


_HELPER_DEPTH = 8


def _within(regions: list[tuple[int, int]], line: int) -> bool:
    at = bisect.bisect_right(regions, (line, float("inf"))) - 1
    return at >= 0 and regions[at][0] <= line <= regions[at][1]


def _only_called_in(tree: ast.Module, regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The development regions grown by the module's functions used only inside them
    (``if settings.LOCAL_MODE: register_cors(app)``): such a function's body runs only
    on the development path. A function named anywhere else (called, passed as a
    callback, exported) may run in the deployed app."""
    if not regions:
        return regions
    bodies = {
        node.name: (node.lineno, node.end_lineno or node.lineno)
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    uses: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in bodies:
            uses.setdefault(node.id, []).append(node.lineno)
    # Each round follows one more level of helpers; a chain deeper than a few calls
    # stays deployed (conservative), which also bounds the work on a hostile module.
    for _ in range(min(len(bodies), _HELPER_DEPTH)):
        grown = [
            bodies[name]
            for name, lines in uses.items()
            if not _within(regions, bodies[name][0])
            and all(_within(regions, line) for line in lines)
        ]
        if not grown:
            break
        regions = _merged([*regions, *grown])
    return regions


def _marked_development(fact: object, regions: list[tuple[int, int]]) -> object:
    """A CORS policy or a judged library call set up on a development path is marked
    so: it is not deployed."""
    if isinstance(fact, (CorsPolicy, LibraryCall)) and _within(regions, fact.span.line):
        return replace(fact, development_branch=True)
    return fact

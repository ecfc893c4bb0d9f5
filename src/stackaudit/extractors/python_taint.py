"""Taint analysis of one Python module: user input (a Panel text widget's value, a query
parameter, a request body...) followed to the places that render it as HTML or run it as
JavaScript, unless an escaping function is on the way.

The analysis is intra-procedural and flow-sensitive (statements in order, both branches
of an ``if`` merged, loop bodies read until nothing changes or twice), plus calls into the
module's own functions through summaries (which parameters reach the returned value,
which reach a sink) and the callbacks Panel and Bokeh hand a widget's value to:
``pn.bind(f, widget)``, ``@pn.depends(widget)``, ``widget.param.watch(f, "value")``
(``event.new``) and Bokeh's ``widget.on_change("value", f)`` (``new``). Calls into
other modules are not followed: a helper imported from elsewhere returns untainted data,
which loses findings rather than inventing them.

Only what is known to carry input is tainted: a call to an unknown function returns
clean data (precision first), except the string methods and containers that copy their
input. Everything is bounded (steps per analysis and per module, call depth, origins per
value, expression nesting), so a hostile module costs at most a fixed amount of work.

The sinks and their escaping are documented, with the upstream lines, in SA801's page
and docs/upstream-facts.md ("SA801")."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import NamedTuple

from stackaudit.extractors import python_names as names
from stackaudit.extractors.python_analysis import FunctionNode, Positions
from stackaudit.extractors.textscan import Words
from stackaudit.facts.python import TaintFlow, TaintSink
from stackaudit.source import SourceFile

# Bounds. A summary is computed at most MAX_CALL_DEPTH calls deep; one analysis (a
# function, the module body) takes at most MAX_STEPS statements and expressions, a module
# MAX_MODULE_STEPS; a value carries at most MAX_ORIGINS sources.
MAX_CALL_DEPTH = 3
MAX_STEPS = 20_000
MAX_MODULE_STEPS = 200_000
MAX_ORIGINS = 8
MAX_NESTING = 60
LOOP_ROUNDS = 2
# Encodes "the attribute ``.new`` of parameter i" (a param event) in Origin.param.
EVENT_PARAM = 1000

TEXT_WIDGETS = frozenset({"TextInput", "TextAreaInput", "AutocompleteInput", "PasswordInput"})
PANEL_HTML = frozenset({"panel.pane.HTML", "panel.pane.markup.HTML"})
PANEL_MARKDOWN = frozenset({"panel.pane.Markdown", "panel.pane.markup.Markdown"})
# ``pn.panel(str)`` and a string in a layout become a Markdown pane (panel/pane/base.py
# ``panel``; Markdown.applies gives a str priority 0.1 and HTML none).
PANEL_AS_MARKDOWN = frozenset(
    {"panel.panel", "panel.pane.panel", "panel.Column", "panel.Row", "panel.Card"}
)
BOKEH_DIV = frozenset({"Div"})
BOKEH_CUSTOMJS = frozenset({"CustomJS"})
HTML_RESPONSES = frozenset({"starlette.responses.HTMLResponse", "fastapi.responses.HTMLResponse"})
JINJA_TEMPLATE = "jinja2.Template"
JINJA_ENVIRONMENT = "jinja2.Environment"
ASGI_APPS = frozenset({"fastapi.FastAPI", "fastapi.APIRouter"})
ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "api_route", "route"})
FASTAPI_PARAMS = frozenset({"Query", "Path", "Body", "Form"})
REQUEST_CLASSES = frozenset(
    {"starlette.requests.Request", "fastapi.Request", "fastapi.requests.Request"}
)
REQUEST_READS = frozenset({"query_params", "path_params"})
REQUEST_CALLS = frozenset({"form", "body", "json"})
TORNADO_ARGUMENTS = frozenset(
    {
        "get_argument",
        "get_arguments",
        "get_query_argument",
        "get_query_arguments",
        "get_body_argument",
        "get_body_arguments",
    }
)
TORNADO_REQUEST = frozenset(
    {"body", "arguments", "query_arguments", "body_arguments", "query", "uri"}
)
PANEL_STATE = ("panel.state.", "panel.io.state.state.")
PANEL_STATE_SOURCES = frozenset(
    {"location.query_params", "location.search", "session_args", "headers", "cookies"}
)
# Functions whose result carries no markup: escaping, sanitising, numbers.
SANITIZERS = frozenset(
    {
        "html.escape",
        "markupsafe.escape",
        "markupsafe.Markup.escape",
        "jinja2.escape",
        "bleach.clean",
        "bleach.sanitizer.Cleaner().clean",
        "nh3.clean",
        "tornado.escape.xhtml_escape",
        "urllib.parse.quote",
        "urllib.parse.quote_plus",
        "int",
        "float",
        "bool",
        "len",
    }
)
# Builtins and str methods that copy their input into their result.
COPYING_BUILTINS = frozenset({"str", "repr", "list", "tuple", "dict", "set", "sorted", "reversed"})
COPYING_METHODS = frozenset(
    {
        "strip",
        "lstrip",
        "rstrip",
        "lower",
        "upper",
        "title",
        "capitalize",
        "casefold",
        "replace",
        "format",
        "format_map",
        "join",
        "decode",
        "encode",
        "get",
        "getlist",
        "getone",
        "get_all",
        "pop",
        "values",
        "items",
        "split",
        "splitlines",
        "removeprefix",
        "removesuffix",
        "center",
        "ljust",
        "rjust",
        "zfill",
        "copy",
    }
)


_LIBRARIES = frozenset({"panel", "bokeh", "tornado", "fastapi", "starlette", "jinja2", "param"})
# The last names of the calls ``object_of_call`` knows, to skip the others unqualified.
_CONSTRUCTORS = TEXT_WIDGETS | {
    "HTML",
    "Markdown",
    "Div",
    "Environment",
    "Template",
    "FastAPI",
    "APIRouter",
    "from_string",
    "get_template",
}
# Words one of which a function's text holds when it reads input or registers a callback.
_INPUT_WORDS = Words(
    (
        ".value",
        "query_params",
        "path_params",
        "session_args",
        "state.",
        "session_context",
        "_argument",
        "request",
        "bind(",
        ".watch(",
        "on_change(",
    )
)


class Origin(NamedTuple):
    """Where tainted data comes from: a real source (``param`` = -1, with its label and
    span) or, inside a summary, a parameter of the summarised function."""

    label: str
    node: ast.AST | None
    param: int
    hops: int
    via: tuple[str, ...]


Taint = frozenset[Origin]
CLEAN: Taint = frozenset()


class SinkHit(NamedTuple):
    """A sink reached by a parameter inside a summarised function."""

    origin: Origin
    sink: TaintSink
    label: str
    at: ast.AST
    value: ast.AST
    call: ast.AST | None


class Summary(NamedTuple):
    returns: list[tuple[ast.expr, Taint]]
    sinks: list[SinkHit]


class ObjectInfo(NamedTuple):
    """A variable bound to a widget, a pane, a model or a Jinja2 object."""

    kind: str
    call: ast.Call
    safe: bool


def flows(
    source: SourceFile,
    code: str,
    tree: ast.Module,
    to_file: Sequence[int] | None = None,
    positions: Positions | None = None,
) -> list[TaintFlow]:
    """The flows of one module; ``positions`` may be the analyser's, to share it."""
    try:
        return ModuleTaint(positions or Positions(source, code, to_file), tree).run()
    except RecursionError:
        return []


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_MODULE_STEPS


class ModuleTaint:
    def __init__(self, pos: Positions, tree: ast.Module) -> None:
        self.pos = pos
        self.tree = tree
        self.imports: dict[str, str] = {}
        self.functions: dict[str, FunctionNode | None] = {}
        self.methods: dict[tuple[str, str], FunctionNode] = {}
        self.class_of: dict[int, ast.ClassDef] = {}
        self.method_ids: set[int] = set()
        self.all_functions: list[FunctionNode] = []
        self.classes: list[ast.ClassDef] = []
        self.constructions: list[ast.Assign | ast.AnnAssign] = []
        self.tornado_classes: set[str] = set()
        self.objects: dict[str, ObjectInfo | None] = {}
        self.summaries: dict[int, Summary] = {}
        self.in_progress: set[int] = set()
        self.budget = _Budget()
        self.found: dict[tuple[object, ...], TaintFlow] = {}

    # -- indexes ------------------------------------------------------------------------

    def run(self) -> list[TaintFlow]:
        self._index(self.tree.body, None, None)
        # Every source and sink is recognised through an import of its library: a module
        # that imports none (a library's own sources, which import relatively) is done.
        if not any(q.split(".")[0] in _LIBRARIES for q in self.imports.values()):
            return []
        self._index_objects()
        module_env = Walker(self, None, {}, 0, emit=True).run_module(self.tree.body)
        for function in self.all_functions:
            if self.budget.left <= 0:
                break
            self._decorator_callbacks(function)
            if not module_env and not self._may_read_input(function):
                continue
            Walker(
                self, function, self._root_taint(function), 0, emit=True, globals_=module_env
            ).run()
        return list(self.found.values())

    def _index(
        self, body: Sequence[ast.stmt], cls: ast.ClassDef | None, function: FunctionNode | None
    ) -> None:
        """One pass over the statements (never the expressions, most of a tree):
        imports wherever they are, functions (methods by class; a function nested in
        another known by its own name, as callbacks often are), Tornado handler classes,
        and the assignments of a call's result for ``_index_objects``."""
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = names.canonical(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        self.imports[top] = top
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        qual = names.canonical(f"{node.module}.{alias.name}")
                        self.imports[alias.asname or alias.name] = qual
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.all_functions.append(node)
                if cls is not None and function is None:
                    self.methods[(cls.name, node.name)] = node
                    self.method_ids.add(id(node))
                else:
                    # Two functions of one name: which one a call means is unknown.
                    self.functions[node.name] = None if node.name in self.functions else node
                if cls is not None:
                    self.class_of[id(node)] = cls
                self._index(node.body, cls, node)
            elif isinstance(node, ast.ClassDef):
                self.classes.append(node)
                self._index(node.body, node, None)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                if isinstance(node.value, ast.Call):
                    self.constructions.append(node)
            else:
                self._index(_child_statements(node), cls, function)

    def _may_read_input(self, function: FunctionNode) -> bool:
        """Whether the function's text names a source, a widget's value or a callback
        registration: the others cannot reach a sink with input on their own (a helper
        is followed from its caller), so most functions of a large module are skipped
        unread. Routes are read whatever they say: their parameters are the input."""
        if function.decorator_list and self._root_taint(function):
            return True
        start, end = self.pos.node_offsets(function)
        return bool(_INPUT_WORDS.present(self.pos.code[start:end]))

    def _is_tornado_base(self, base: ast.expr) -> bool:
        qual = self.qualify(base)
        if qual is not None and qual.startswith(("tornado.web.", "tornado.websocket.")):
            return True
        return isinstance(base, ast.Name) and base.id in self.tornado_classes

    def _index_objects(self) -> None:
        """Every ``name = Constructor(...)`` and ``self.name = Constructor(...)`` of a
        known widget, pane, model or Jinja2 object, whatever the scope: a callback reads
        ``text.value`` of a widget made elsewhere. A name bound to two kinds is unknown.
        Run once every import is known."""
        for cls in self.classes:
            if any(self._is_tornado_base(base) for base in cls.bases):
                self.tornado_classes.add(cls.name)
        for node in self.constructions:
            assert isinstance(node.value, ast.Call)
            func = node.value.func
            last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if last not in _CONSTRUCTORS:
                continue
            info = self.object_of_call(node.value)
            if info is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                path = dotted(target)
                if path is None:
                    continue
                old = self.objects.get(path, info)
                self.objects[path] = info if old is not None and old.kind == info.kind else None

    def object_of_call(self, call: ast.Call) -> ObjectInfo | None:
        qual = self.qualify(call.func)
        if qual is None:
            if isinstance(call.func, ast.Attribute) and call.func.attr in (
                "from_string",
                "get_template",
            ):
                env = self.object_of(call.func.value)
                if env is not None and env.kind == "jinja-env":
                    return ObjectInfo("jinja-template", call, env.safe)
            return None
        if self.is_text_widget(qual):
            return ObjectInfo("widget", call, True)
        if qual in PANEL_HTML:
            return ObjectInfo("panel-html", call, _keyword_true(call, "sanitize_html"))
        if qual in PANEL_MARKDOWN:
            return ObjectInfo("panel-markdown", call, _markdown_without_html(call))
        if _bokeh(qual, BOKEH_DIV):
            return ObjectInfo("bokeh-div", call, _keyword_true(call, "render_as_text"))
        if qual == JINJA_ENVIRONMENT:
            return ObjectInfo("jinja-env", call, _autoescapes(call))
        if qual == JINJA_TEMPLATE:
            return ObjectInfo("jinja-template", call, _autoescapes(call))
        if qual in ASGI_APPS:
            return ObjectInfo("asgi-app", call, True)
        return None

    def object_of(self, node: ast.expr) -> ObjectInfo | None:
        if isinstance(node, ast.Call):
            return self.object_of_call(node)
        path = dotted(node)
        return self.objects.get(path) if path is not None else None

    @staticmethod
    def is_text_widget(qual: str) -> bool:
        parts = qual.split(".")
        if parts[-1] not in TEXT_WIDGETS:
            return False
        return (parts[0] == "panel" and "widgets" in parts) or parts[0] == "bokeh"

    def qualify(self, node: ast.expr, depth: int = 0) -> str | None:
        """The dotted name an expression refers to through the module's imports
        (``pn.pane.HTML`` → ``panel.pane.HTML``); a call's result ends in ``()``."""
        if depth > MAX_NESTING:
            return None
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            return node.id if node.id in COPYING_BUILTINS or node.id in SANITIZERS else None
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value, depth + 1)
            return names.canonical(f"{base}.{node.attr}") if base else None
        if isinstance(node, ast.Call):
            base = self.qualify(node.func, depth + 1)
            return f"{base}()" if base else None
        return None

    # -- sources recognised from the definition -----------------------------------------

    def _root_taint(self, function: FunctionNode) -> dict[str, Taint]:
        """The parameters that hold request input when the function is a FastAPI route."""
        if not any(self._is_route(d) for d in function.decorator_list):
            return {}
        env: dict[str, Taint] = {}
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
        defaults += arguments.defaults
        pairs = [
            *zip(positional, defaults, strict=True),
            *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True),
        ]
        for arg, default in pairs:
            if self._is_request_input(arg, default):
                env[arg.arg] = frozenset({Origin(f"request parameter `{arg.arg}`", arg, -1, 0, ())})
        return env

    def _is_route(self, decorator: ast.expr) -> bool:
        if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
            return False
        if decorator.func.attr not in ROUTE_METHODS:
            return False
        app = self.object_of(decorator.func.value)
        return app is not None and app.kind == "asgi-app"

    def route_returns_html(self, function: FunctionNode) -> ast.Call | None:
        for decorator in function.decorator_list:
            if self._is_route(decorator) and isinstance(decorator, ast.Call):
                for keyword in decorator.keywords:
                    if (
                        keyword.arg == "response_class"
                        and self.qualify(keyword.value) in HTML_RESPONSES
                    ):
                        return decorator
        return None

    def _is_request_input(self, arg: ast.arg, default: ast.expr | None) -> bool:
        if default is not None and isinstance(default, ast.Call):
            qual = self.qualify(default.func) or ""
            if qual.startswith("fastapi.") and qual.rsplit(".", 1)[-1] in FASTAPI_PARAMS:
                return True
        return _is_str_annotation(arg.annotation, self)

    def is_request(self, arg: ast.arg) -> bool:
        if arg.annotation is not None:
            return self.qualify(arg.annotation) in REQUEST_CLASSES
        return False

    # -- callbacks ----------------------------------------------------------------------

    def _decorator_callbacks(self, function: FunctionNode) -> None:
        """``@pn.depends(widget, ...)``: the widgets' values are the positional
        parameters; without ``watch=True`` the returned value is displayed."""
        for decorator in function.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            if self.qualify(decorator.func) not in ("panel.depends", "param.depends"):
                continue
            offset = 1 if id(function) in self.method_ids else 0
            bound = {
                index + offset: origin
                for index, arg in enumerate(decorator.args)
                if (origin := self.widget_value(arg)) is not None
            }
            bound.update(self._keyword_widgets(function, decorator.keywords))
            displayed = not _keyword_true(decorator, "watch")
            self.instantiate(function, bound, displayed, 0)

    def _keyword_widgets(
        self, function: FunctionNode, keywords: Sequence[ast.keyword]
    ) -> dict[int, Origin]:
        params = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        found: dict[int, Origin] = {}
        for keyword in keywords:
            if keyword.arg in params:
                origin = self.widget_value(keyword.value)
                if origin is not None:
                    found[params.index(keyword.arg)] = origin
        return found

    def widget_value(self, node: ast.expr) -> Origin | None:
        """A text widget passed where its value is meant: ``widget``,
        ``widget.param.value``, ``widget.param.value_input``."""
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("value", "value_input")
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "param"
        ):
            node = node.value.value
        info = self.object_of(node)
        if info is None or info.kind != "widget":
            return None
        return Origin(f"{_short(self.qualify(info.call.func))}.value", node, -1, 0, ())

    def callback(self, call: ast.Call, qual: str | None, walker: Walker) -> None:
        """``pn.bind(f, widget)``, ``widget.param.watch(f, "value")``,
        ``widget.on_change("value", f)``."""
        if qual in ("panel.bind", "param.bind") and call.args:
            target = walker.resolve_function(call.args[0])
            if target is None:
                return
            function, offset = target
            bound = {
                index + offset: origin
                for index, arg in enumerate(call.args[1:])
                if (origin := self.widget_value(arg)) is not None
            }
            bound.update(self._keyword_widgets(function, call.keywords))
            self.instantiate(function, bound, True, walker.depth)
            return
        if not isinstance(call.func, ast.Attribute):
            return
        method = call.func.attr
        if (
            method == "watch"
            and isinstance(call.func.value, ast.Attribute)
            and call.func.value.attr == "param"
        ):
            origin = self.widget_value(call.func.value.value)
            if origin is None or len(call.args) < 2 or not _names_value(call.args[1]):
                return
            target = walker.resolve_function(call.args[0])
            if target is not None:
                function, offset = target
                self.instantiate(function, {EVENT_PARAM + offset: origin}, False, walker.depth)
        elif method == "on_change" and len(call.args) >= 2:
            origin = self.widget_value(call.func.value)
            if origin is None or not _names_value(call.args[0]):
                return
            for handler in call.args[1:]:
                target = walker.resolve_function(handler)
                if target is not None:
                    function, offset = target
                    bound = {1 + offset: origin, 2 + offset: origin}
                    self.instantiate(function, bound, False, walker.depth)

    def instantiate(
        self, function: FunctionNode, bound: dict[int, Origin], displayed: bool, depth: int
    ) -> None:
        """Report the sinks a callback's parameters reach, given what they are bound to."""
        if not bound:
            return
        summary = self.summary(function, depth)
        name = function.name
        for hit in summary.sinks:
            origin = bound.get(hit.origin.param)
            if origin is not None:
                self.report(
                    _through(origin, hit.origin, name),
                    hit.sink,
                    hit.label,
                    hit.at,
                    hit.value,
                    hit.call,
                )
        if not displayed:
            return
        for expr, taint in summary.returns:
            for inner in taint:
                origin = bound.get(inner.param)
                if origin is not None and _may_be_text(expr):
                    self.report(
                        _through(origin, inner, name),
                        "panel-markdown",
                        f"the string `{name}()` returns (Panel shows it as Markdown)",
                        expr,
                        expr,
                        None,
                    )

    # -- summaries and findings ---------------------------------------------------------

    def summary(self, function: FunctionNode, depth: int) -> Summary:
        key = id(function)
        done = self.summaries.get(key)
        if done is not None:
            return done
        if key in self.in_progress or depth >= MAX_CALL_DEPTH or self.budget.left <= 0:
            return Summary([], [])
        self.in_progress.add(key)
        env: dict[str, Taint] = {}
        for index, arg in enumerate(_parameters(function)):
            env[arg.arg] = frozenset({Origin(arg.arg, arg, index, 0, ())})
            env[f"{arg.arg}.new"] = frozenset({Origin(arg.arg, arg, EVENT_PARAM + index, 0, ())})
        walker = Walker(self, function, env, depth + 1, emit=False)
        walker.run()
        self.in_progress.discard(key)
        result = Summary(walker.returns, walker.param_sinks)
        self.summaries[key] = result
        return result

    def report(
        self,
        origin: Origin,
        sink: TaintSink,
        label: str,
        at: ast.AST,
        value: ast.AST,
        call: ast.AST | None,
    ) -> None:
        if origin.node is None or origin.hops > MAX_CALL_DEPTH:
            return
        key = (id(at), id(origin.node))
        if key in self.found:
            return
        pos = self.pos
        self.found[key] = TaintFlow(
            sink=sink,
            sink_label=label,
            span=pos.node_span(at),
            value=pos.node_span(value),
            source_label=origin.label,
            source_span=pos.node_span(origin.node),
            hops=origin.hops,
            via=origin.via,
            call=pos.node_span(call) if call is not None else None,
            # A bare name, attribute or item holds the input and nothing else: escaping
            # it leaves the markup written around it (`"<h1>" + name`) as markup.
            value_is_input=isinstance(value, (ast.Name, ast.Attribute, ast.Subscript)),
        )


class Walker:
    """One pass over a function body (or the module body) with an environment of
    tainted names (``x``, ``self.x``, ``event.new``)."""

    def __init__(
        self,
        module: ModuleTaint,
        function: FunctionNode | None,
        env: dict[str, Taint],
        depth: int,
        *,
        emit: bool,
        globals_: dict[str, Taint] | None = None,
    ) -> None:
        self.module = module
        self.function = function
        self.env = dict(env)
        self.globals = globals_ or {}
        self.depth = depth
        self.emit = emit
        self.steps = MAX_STEPS
        self.returns: list[tuple[ast.expr, Taint]] = []
        self.param_sinks: list[SinkHit] = []
        cls = module.class_of.get(id(function)) if function is not None else None
        self.cls = cls
        self.tornado = cls is not None and cls.name in module.tornado_classes
        self.requests: set[str] = set()
        self.json_response = False
        self.html_route: ast.Call | None = None
        if function is not None:
            self.requests = {a.arg for a in _parameters(function) if module.is_request(a)}
            self.json_response = self.tornado and _sets_non_html_type(function)
            self.html_route = module.route_returns_html(function)

    def run(self) -> None:
        assert self.function is not None
        self.block(self.function.body)

    def run_module(self, body: Sequence[ast.stmt]) -> dict[str, Taint]:
        self.block(body)
        return self.env

    # -- statements ---------------------------------------------------------------------

    def _spend(self) -> bool:
        self.steps -= 1
        self.module.budget.left -= 1
        return self.steps > 0 and self.module.budget.left > 0

    def block(self, body: Sequence[ast.stmt]) -> None:
        for statement in body:
            if not self._spend():
                return
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            taint = self.taint(node.value)
            for target in node.targets:
                self.assign(target, taint, node.value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.taint(node.value), node.value)
        elif isinstance(node, ast.AugAssign):
            added = self.taint(node.value)
            self.assign(node.target, self.taint(node.target) | added, node.value)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                taint = self.taint(node.value)
                self.returns.append((node.value, taint))
                if self.html_route is not None:
                    self.sink(
                        taint,
                        "html-response",
                        "the HTMLResponse this route returns",
                        node.value,
                        node.value,
                        self.html_route,
                    )
        elif isinstance(node, ast.If):
            self.taint(node.test)
            self.branches([node.body, node.orelse])
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.assign(node.target, self.taint(node.iter), node.iter)
            self.loop(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            self.taint(node.test)
            self.loop(node.body)
            self.block(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                taint = self.taint(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, taint, item.context_expr)
            self.block(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.block(node.body)  # type: ignore[attr-defined]
            handlers = [h.body for h in node.handlers]  # type: ignore[attr-defined]
            self.branches([[], *handlers, node.orelse])  # type: ignore[attr-defined]
            self.block(node.finalbody)  # type: ignore[attr-defined]
        elif type(node).__name__ == "Match":
            self.taint(node.subject)  # type: ignore[attr-defined]
            self.branches([[], *(case.body for case in node.cases)])  # type: ignore[attr-defined]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                self.taint(decorator)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.taint(child)

    def branches(self, bodies: Sequence[Sequence[ast.stmt]]) -> None:
        """Each branch from the same state; afterwards a name is tainted if any branch
        left it tainted (an empty body is the path that skips them all)."""
        start = self.env
        merged: dict[str, Taint] = {}
        for body in bodies:
            self.env = dict(start)
            self.block(body)
            for name, taint in self.env.items():
                merged[name] = _union(merged.get(name, CLEAN), taint)
        self.env = merged

    def loop(self, body: Sequence[ast.stmt]) -> None:
        for _ in range(LOOP_ROUNDS):
            before = self.env
            self.branches([[], body])
            if self.env == before:
                return

    def assign(self, target: ast.expr, taint: Taint, value: ast.expr) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assign(element, taint, value)
            return
        if isinstance(target, ast.Starred):
            self.assign(target.value, taint, value)
            return
        if isinstance(target, ast.Subscript):
            # A store into a container taints the container (weak update).
            path = dotted(target.value)
            self.taint(target.slice)
            if path is not None and taint:
                self.env[path] = _union(self.lookup(path), taint)
            return
        path = dotted(target)
        if path is None:
            if isinstance(target, ast.Attribute):
                self.taint(target.value)
            return
        if isinstance(target, ast.Attribute):
            self.attribute_sink(target, taint, value)
        # Attributes stored on the old value (``x.y``) are not forgotten when ``x`` is
        # rebound: finding them would scan the environment at every assignment.
        if taint:
            self.env[path] = taint
        else:
            self.env.pop(path, None)
            if path in self.globals:
                self.env[path] = CLEAN

    def attribute_sink(self, target: ast.Attribute, taint: Taint, value: ast.expr) -> None:
        """``pane.object = x`` on an HTML/Markdown pane, ``div.text = x`` on a Div."""
        if not taint:
            return
        info = self.module.object_of(target.value)
        if info is None or info.safe:
            return
        if target.attr == "object" and info.kind in ("panel-html", "panel-markdown"):
            kind: TaintSink = "panel-html" if info.kind == "panel-html" else "panel-markdown"
            label = "pn.pane.HTML.object" if kind == "panel-html" else "pn.pane.Markdown.object"
            self.sink(taint, kind, label, target, value, info.call)
        elif target.attr == "text" and info.kind == "bokeh-div":
            self.sink(taint, "bokeh-div", "Div.text", target, value, info.call)

    # -- expressions --------------------------------------------------------------------

    def lookup(self, path: str) -> Taint:
        found = self.env.get(path)
        if found is None:
            found = self.globals.get(path, CLEAN)
        return found

    def taint(self, node: ast.expr | None, nesting: int = 0) -> Taint:
        if node is None or nesting > MAX_NESTING or not self._spend():
            return CLEAN
        deeper = nesting + 1
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, deeper)
        if isinstance(node, ast.Call):
            return self.call(node, deeper)
        if isinstance(node, ast.Await):
            return self.taint(node.value, deeper)
        if isinstance(node, ast.Compare):
            self.taint(node.left, deeper)
            for comparator in node.comparators:
                self.taint(comparator, deeper)
            return CLEAN
        if isinstance(node, ast.NamedExpr):
            taint = self.taint(node.value, deeper)
            self.assign(node.target, taint, node.value)
            return taint
        if isinstance(node, (ast.Lambda, ast.Constant)):
            return CLEAN
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(node, deeper)
        if isinstance(node, ast.Subscript):
            self.taint(node.slice, deeper)
            return self.taint(node.value, deeper)
        taint = CLEAN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                taint = _union(taint, self.taint(child, deeper))
        return taint

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, nesting: int
    ) -> Taint:
        saved = dict(self.env)
        for generator in node.generators:
            self.assign(generator.target, self.taint(generator.iter, nesting), generator.iter)
            for condition in generator.ifs:
                self.taint(condition, nesting)
        if isinstance(node, ast.DictComp):
            taint = _union(self.taint(node.key, nesting), self.taint(node.value, nesting))
        else:
            taint = self.taint(node.elt, nesting)
        self.env = saved
        return taint

    def attribute(self, node: ast.Attribute, nesting: int) -> Taint:
        path = dotted(node)
        if path is not None:
            found = self.env.get(path) or self.globals.get(path)
            if found:
                return found
        source = self.attribute_source(node)
        if source is not None:
            return frozenset({Origin(source, node, -1, 0, ())})
        return self.taint(node.value, nesting)

    def attribute_source(self, node: ast.Attribute) -> str | None:
        module = self.module
        if node.attr in ("value", "value_input"):
            info = module.object_of(node.value)
            if info is not None and info.kind == "widget":
                return f"{_short(module.qualify(info.call.func))}.{node.attr}"
        qual = module.qualify(node)
        if qual is not None:
            for prefix in PANEL_STATE:
                if qual.startswith(prefix) and qual[len(prefix) :] in PANEL_STATE_SOURCES:
                    return f"pn.state.{qual[len(prefix) :]}"
        inner = node.value
        if (
            node.attr in ("arguments", "headers", "cookies")
            and isinstance(inner, ast.Attribute)
            and inner.attr == "request"
            and isinstance(inner.value, ast.Attribute)
            and inner.value.attr == "session_context"
        ):
            return f"session_context.request.{node.attr}"
        if isinstance(inner, ast.Name) and inner.id in self.requests and node.attr in REQUEST_READS:
            return f"request.{node.attr}"
        if (
            self.tornado
            and node.attr in TORNADO_REQUEST
            and isinstance(inner, ast.Attribute)
            and inner.attr == "request"
            and _is_self(inner.value)
        ):
            return f"self.request.{node.attr}"
        return None

    def call(self, node: ast.Call, nesting: int) -> Taint:
        module = self.module
        qual = module.qualify(node.func)
        arguments = [self.taint(arg, nesting) for arg in node.args]
        keywords = {kw.arg: self.taint(kw.value, nesting) for kw in node.keywords}
        receiver = CLEAN
        if isinstance(node.func, ast.Attribute):
            receiver = self.taint(node.func.value, nesting)
        self.call_sink(node, qual, arguments, keywords)
        module.callback(node, qual, self)
        if qual in SANITIZERS or (qual or "").endswith("Cleaner().clean"):
            return CLEAN
        source = self.call_source(node)
        if source is not None:
            return frozenset({Origin(source, node, -1, 0, ())})
        everything = _union(*arguments, *keywords.values())
        if qual in COPYING_BUILTINS:
            return everything
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in COPYING_METHODS
            and (qual is None or receiver)
        ):
            return _union(receiver, everything)
        target = self.resolve_function(node.func)
        if target is not None:
            return self.through_call(node, target, arguments, keywords)
        return CLEAN

    def call_source(self, node: ast.Call) -> str | None:
        func = node.func
        if not isinstance(func, ast.Attribute):
            return None
        if self.tornado and func.attr in TORNADO_ARGUMENTS and _is_self(func.value):
            return f"self.{func.attr}()"
        if (
            isinstance(func.value, ast.Name)
            and func.value.id in self.requests
            and func.attr in REQUEST_CALLS
        ):
            return f"request.{func.attr}()"
        return None

    def resolve_function(self, node: ast.expr) -> tuple[FunctionNode, int] | None:
        """The module's own function a callable expression names, and how many
        parameters the call leaves out (1 for ``self.method``)."""
        if isinstance(node, ast.Name) and node.id not in self.env:
            function = self.module.functions.get(node.id)
            if function is not None and id(function) not in self.module.method_ids:
                return function, 0
            return None
        if isinstance(node, ast.Attribute) and _is_self(node.value) and self.cls is not None:
            method = self.module.methods.get((self.cls.name, node.attr))
            if method is not None:
                return method, 1
        return None

    def through_call(
        self,
        node: ast.Call,
        target: tuple[FunctionNode, int],
        arguments: list[Taint],
        keywords: dict[str | None, Taint],
    ) -> Taint:
        function, offset = target
        params = [a.arg for a in _parameters(function)]
        given: dict[int, Taint] = {}
        for index, taint in enumerate(arguments):
            if taint and not isinstance(node.args[index], ast.Starred):
                given[index + offset] = taint
        for name, taint in keywords.items():
            if taint and name in params:
                given[params.index(name)] = taint
        if not given:
            return CLEAN
        summary = self.module.summary(function, self.depth)
        for hit in summary.sinks:
            for origin in given.get(hit.origin.param, CLEAN):
                self.sink_origin(_through(origin, hit.origin, function.name), hit)
        result = CLEAN
        for _expr, taint in summary.returns:
            for inner in taint:
                for origin in given.get(inner.param, CLEAN):
                    result = _union(result, frozenset({_through(origin, inner, function.name)}))
        return result

    def sink_origin(self, origin: Origin, hit: SinkHit) -> None:
        self.sink(frozenset({origin}), hit.sink, hit.label, hit.at, hit.value, hit.call)

    # -- sinks --------------------------------------------------------------------------

    def call_sink(
        self,
        node: ast.Call,
        qual: str | None,
        arguments: list[Taint],
        keywords: dict[str | None, Taint],
    ) -> None:
        first = _argument(node, 0, "object")
        if qual in PANEL_HTML and not _keyword_true(node, "sanitize_html"):
            self.sink_arg(node, first, "panel-html", "pn.pane.HTML()")
        elif qual in PANEL_MARKDOWN and not _markdown_without_html(node):
            self.sink_arg(node, first, "panel-markdown", "pn.pane.Markdown()")
        elif qual in PANEL_AS_MARKDOWN:
            for arg in node.args:
                if _may_be_text(arg):
                    self.sink_arg(
                        node,
                        arg,
                        "panel-markdown",
                        f"{_short(qual)}() of a string (shown as Markdown)",
                    )
        elif (
            qual is not None
            and _bokeh(qual, BOKEH_DIV)
            and not _keyword_true(node, "render_as_text")
        ):
            self.sink_arg(node, _argument(node, None, "text"), "bokeh-div", "Div(text=...)")
        elif qual is not None and _bokeh(qual, BOKEH_CUSTOMJS):
            self.sink_arg(
                node, _argument(node, None, "code"), "bokeh-customjs", "CustomJS(code=...)"
            )
        elif qual in HTML_RESPONSES:
            self.sink_arg(node, _argument(node, 0, "content"), "html-response", "HTMLResponse()")
        elif qual == JINJA_TEMPLATE and not _autoescapes(node):
            self.sink_arg(
                node, _argument(node, 0, "source"), "jinja2-render", "jinja2.Template() source"
            )
        elif isinstance(node.func, ast.Attribute):
            self.method_sink(node, node.func)

    def method_sink(self, node: ast.Call, func: ast.Attribute) -> None:
        if func.attr in ("write", "finish") and self.tornado and _is_self(func.value):
            value = _argument(node, 0, "chunk")
            if not self.json_response and not isinstance(value, ast.Dict):
                self.sink_arg(node, value, "tornado-write", f"self.{func.attr}()")
        elif func.attr in ("render", "render_async", "stream", "generate"):
            template = self.module.object_of(func.value)
            if template is not None and template.kind == "jinja-template" and not template.safe:
                for value in [*node.args, *(k.value for k in node.keywords)]:
                    self.sink_arg(
                        node, value, "jinja2-render", "a Jinja2 template without autoescape"
                    )
        elif func.attr == "from_string":
            env = self.module.object_of(func.value)
            if env is not None and env.kind == "jinja-env" and not env.safe:
                self.sink_arg(
                    node, _argument(node, 0, "source"), "jinja2-render", "a Jinja2 template source"
                )

    def sink_arg(self, call: ast.Call, value: ast.expr | None, sink: TaintSink, label: str) -> None:
        if value is None:
            return
        taint = self.taint(value)
        self.sink(taint, sink, label, call, value, call)

    def sink(
        self,
        taint: Taint,
        sink: TaintSink,
        label: str,
        at: ast.AST,
        value: ast.AST,
        call: ast.AST | None,
    ) -> None:
        for origin in taint:
            if origin.param >= 0:
                if not self.emit:
                    self.param_sinks.append(SinkHit(origin, sink, label, at, value, call))
            elif self.emit:
                self.module.report(origin, sink, label, at, value, call)


# -- helpers ---------------------------------------------------------------------------


def dotted(node: ast.expr) -> str | None:
    """``x``, ``self.x``, ``event.new``: a name and its attributes, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
        if len(parts) > 8:
            return None
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _union(*taints: Taint) -> Taint:
    merged: set[Origin] = set()
    for taint in taints:
        merged.update(taint)
        if len(merged) >= MAX_ORIGINS:
            break
    if len(merged) > MAX_ORIGINS:
        merged = set(sorted(merged, key=lambda o: (o.hops, o.label))[:MAX_ORIGINS])
    return frozenset(merged)


def _through(outer: Origin, inner: Origin, name: str) -> Origin:
    """``outer`` carried through a call of ``name`` whose parameter (``inner``) reached
    something after ``inner.hops`` more calls."""
    return outer._replace(hops=outer.hops + 1 + inner.hops, via=(*outer.via, name, *inner.via))


def _parameters(function: FunctionNode) -> list[ast.arg]:
    arguments = function.args
    return [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]


def _argument(call: ast.Call, index: int | None, keyword: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    if (
        index is not None
        and len(call.args) > index
        and not isinstance(call.args[index], ast.Starred)
    ):
        return call.args[index]
    return None


def _keyword_true(call: ast.Call, keyword: str) -> bool:
    value = _argument(call, None, keyword)
    return isinstance(value, ast.Constant) and value.value is True


def _autoescapes(call: ast.Call) -> bool:
    """Jinja2's ``autoescape`` defaults to False; anything but a literal False or None
    (``True``, ``select_autoescape(...)``, a function) may turn it on: not a sink."""
    value = _argument(call, None, "autoescape")
    if value is None:
        return False
    return not (isinstance(value, ast.Constant) and value.value in (False, None))


def _markdown_without_html(call: ast.Call) -> bool:
    """``renderer_options={"html": False}`` turns markdown-it's raw HTML off."""
    options = _argument(call, None, "renderer_options")
    if not isinstance(options, ast.Dict):
        return False
    for key, value in zip(options.keys, options.values, strict=True):
        if isinstance(key, ast.Constant) and key.value == "html":
            return isinstance(value, ast.Constant) and value.value is False
    return False


def _bokeh(qual: str, classes: frozenset[str]) -> bool:
    parts = qual.split(".")
    return parts[0] == "bokeh" and parts[-1] in classes


def _short(qual: str | None) -> str:
    return (qual or "").rsplit(".", 1)[-1]


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _names_value(node: ast.expr) -> bool:
    """A watched parameter list that names ``value`` (or ``value_input``)."""
    items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
    return any(isinstance(i, ast.Constant) and i.value in ("value", "value_input") for i in items)


def _may_be_text(node: ast.expr) -> bool:
    """A string-valued expression as written: a name, an f-string, a concatenation, a
    ``%``/``.format`` string; not a call to something else, whose result is an object."""
    if isinstance(node, (ast.JoinedStr, ast.BinOp, ast.Name, ast.Attribute, ast.Subscript)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in COPYING_METHODS
    )


def _is_str_annotation(annotation: ast.expr | None, module: ModuleTaint) -> bool:
    """``str``, ``str | None``, ``Optional[str]``, ``Annotated[str, Query()]``."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Name):
        return annotation.id == "str"
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _is_str_annotation(annotation.left, module) or _is_str_annotation(
            annotation.right, module
        )
    if isinstance(annotation, ast.Subscript):
        wrapper = module.qualify(annotation.value) or ""
        if wrapper.endswith(("Optional", "Annotated")):
            inner = annotation.slice
            first = inner.elts[0] if isinstance(inner, ast.Tuple) and inner.elts else inner
            return _is_str_annotation(first, module)
    return False


def _sets_non_html_type(function: FunctionNode) -> bool:
    """``self.set_header("Content-Type", "application/json")`` (any type without
    ``html``) in the handler method: what it writes is not parsed as HTML."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "set_header"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).lower() == "content-type"
            and isinstance(node.args[1], ast.Constant)
            and "html" not in str(node.args[1].value).lower()
        ):
            return True
    return False


def _child_statements(node: ast.stmt) -> list[ast.stmt]:
    """The statements nested in a compound statement (``if``, loops, ``with``, ``try``,
    ``match``)."""
    found: list[ast.stmt] = []
    for field in ("body", "orelse", "finalbody"):
        found += getattr(node, field, None) or []
    for handler in getattr(node, "handlers", None) or []:
        found += handler.body
    for case in getattr(node, "cases", None) or []:
        found += case.body
    return found

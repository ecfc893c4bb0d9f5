"""State one process keeps for all its requests: WebSocket connection registries and
data a route writes for other requests to read (``facts.python.ProcessLocalState``).

A module is imported once per process, so a container created at module level (a
module name, a class attribute, an attribute of an instance created at module level)
is shared by every request that process serves, and by no other process. Two shapes
are recorded, each only when the code shows both halves of the sharing:

- connections: a WebSocket is put into the container (``.append(ws)``, ``.add(ws)``,
  ``[key] = ws``, ``[room].add(ws)``) and another place iterates over it and sends to
  each element (``for c in connections: await c.send_text(...)``). The WebSocket is a
  parameter annotated with Starlette's ``WebSocket`` (or named ``websocket``/``ws``),
  or ``self`` in a method of a Tornado ``WebSocketHandler`` subclass of the module.
- request data: a route handler (``@app.post(...)`` on a FastAPI/Starlette app or
  router, ``@app.route`` on Flask) writes into a module-level dict (``[key] = value``,
  ``.update``, ``.setdefault``) that another function reads (``[key]``, ``.get``,
  ``in``). A cache read and filled in one function is left alone: it only costs misses.

A name rebound inside a function (a local list per connection) is not the module's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator

from msgspec import Struct, field

from stackaudit.diagnostics import Span
from stackaudit.extractors import python_names as names
from stackaudit.facts.python import (
    TORNADO_WEBSOCKET_HANDLER,
    ProcessLocalState,
    PubSubClientImport,
)

Qualify = Callable[[ast.expr], "str | None"]
SpanOf = Callable[[ast.AST], Span]
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

_BUILTIN_CONTAINERS = frozenset({"list", "set", "dict"})
_DICT_BUILTIN = "dict"
_LIBRARY_CONTAINERS = frozenset(
    {
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.deque",
        "weakref.WeakSet",
        "weakref.WeakValueDictionary",
        "weakref.WeakKeyDictionary",
    }
)
_LIBRARY_DICTS = frozenset({"collections.defaultdict", "collections.OrderedDict"})
_ADDERS = frozenset({"append", "add", "appendleft", "insert", "setdefault"})
_DICT_WRITERS = frozenset({"update", "setdefault"})
# Copies and views a loop may iterate instead of the container itself.
_VIEWS = frozenset({"values", "items", "copy", "keys"})
_COPIES = frozenset({"list", "tuple", "set", "sorted"})
_SOCKET_NAMES = frozenset({"websocket", "ws"})
# Route decorators of the apps and routers that serve HTTP requests.
_ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "api_route", "route", "websocket"}
)
_ROUTE_OWNERS = names.ASGI_APPS | {"flask.Flask", "flask.Blueprint"}
# What the text of a module with such state holds (the walk itself decides): a route
# decorator, or a send and a WebSocket (a parameter ``ws`` is followed by one of these).
_ROUTE_DECORATOR = re.compile(r"@[\w.]+\.(?:get|post|put|patch|delete|api_route|route|websocket)\(")
_SENDS = re.compile(r"\.(?:send\w*|write_message)\(")
_SOCKET_WORDS = ("WebSocket", "websocket", "ws:", "ws,", "ws)")
# Publish/subscribe clients a module may relay messages through across processes.
_BROKERS = (
    "broadcaster",
    "redis",
    "aioredis",
    "valkey",
    "nats",
    "aio_pika",
    "pika",
    "aiokafka",
    "kafka",
    "zmq",
    "paho",
    "google.cloud.pubsub",
    "socketio",
)


class _Container(Struct):
    """A container one process creates once. ``key`` is how code reaches it: a module
    name, or (class name, attribute)."""

    label: str
    span: Span
    is_dict: bool
    module_name: bool
    added: Span | None = None
    holds_sockets: bool = False
    sent: Span | None = None
    written: Span | None = None
    written_in: FunctionNode | None = None
    reads: list[tuple[Span, FunctionNode]] = field(default_factory=list)


class _Function(Struct):
    node: FunctionNode
    cls: str | None
    first: str | None
    sockets: frozenset[str]
    route: bool
    # The names the function binds itself (filled when its body is walked).
    locals: frozenset[str] = frozenset()


def process_local_state(
    tree: ast.Module, text: str, qualify: Qualify, span_of: SpanOf
) -> list[object]:
    """The shared state the module keeps. The module's text must show a route
    decorator, or a WebSocket and a send, before any function is walked: most modules
    that pass the pre-scan (a library's own) have module-level dicts and neither."""
    if _ROUTE_DECORATOR.search(text) is None and not (
        _SENDS.search(text) is not None and any(word in text for word in _SOCKET_WORDS)
    ):
        return []
    found: list[object] = []
    broker = _broker_import(tree)
    if broker is not None:
        found.append(PubSubClientImport(broker[0], span_of(broker[1])))
    finder = _Finder(tree, qualify, span_of, broker[0] if broker else "")
    if finder.containers:
        found.extend(finder.facts())
    return found


def _broker_import(tree: ast.Module) -> tuple[str, ast.stmt] | None:
    """The first publish/subscribe client the module imports at its top level."""
    for statement in tree.body:
        modules: list[str] = []
        if isinstance(statement, ast.Import):
            modules = [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            modules = [statement.module]
        for module in modules:
            for broker in _BROKERS:
                if module == broker or module.startswith(broker + "."):
                    return broker, statement
    return None


class _Finder:
    def __init__(self, tree: ast.Module, qualify: Qualify, span_of: SpanOf, broker: str) -> None:
        self.broker = broker
        self.qualify = qualify
        self.span_of = span_of
        self.containers: dict[object, _Container] = {}
        self.instances: dict[str, str] = {}  # module name → class it holds an instance of
        self.classes: dict[str, ast.ClassDef] = {}
        self.tree = tree
        counts: dict[str, int] = {}
        for statement in tree.body:
            for name in _bound_names(statement):
                counts[name] = counts.get(name, 0) + 1
        for statement in tree.body:
            if isinstance(statement, ast.ClassDef):
                self.classes[statement.name] = statement
        for statement in tree.body:
            target, value = _assignment(statement)
            if target is None or value is None or counts.get(target, 0) != 1:
                continue
            kind = self._container(value)
            if kind is not None:
                self.containers[target] = _Container(
                    target, span_of(statement), kind, module_name=True
                )
            elif (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in self.classes
            ):
                self.instances[target] = value.func.id
        # The first module-level instance of each class names its attributes.
        instance_of: dict[str, str] = {}
        for instance, class_name in self.instances.items():
            instance_of.setdefault(class_name, instance)
        for name, node in self.classes.items():
            self._class_containers(name, node, instance_of.get(name))

    def _container(self, value: ast.expr) -> bool | None:
        """Whether ``value`` creates an empty or literal container: True for a dict,
        False for another container, None for anything else."""
        if isinstance(value, ast.Dict):
            return True
        if isinstance(value, (ast.List, ast.Set)):
            return False
        if isinstance(value, ast.Call):
            func = value.func
            # A builtin unless an import or a definition of the module shadows it.
            builtin = isinstance(func, ast.Name) and func.id in _BUILTIN_CONTAINERS
            if builtin and self.qualify(func) is None:
                return isinstance(func, ast.Name) and func.id == _DICT_BUILTIN
            qual = self.qualify(func)
            if qual in _LIBRARY_CONTAINERS:
                return qual in _LIBRARY_DICTS
        return None

    def _class_containers(self, name: str, node: ast.ClassDef, instance: str | None) -> None:
        """Class attributes (one per class, so per process), and the attributes
        ``__init__`` creates when the class has an instance at module level."""
        for statement in node.body:
            target, value = _assignment(statement)
            if target is not None and value is not None:
                kind = self._container(value)
                if kind is not None:
                    self.containers[(name, target)] = _Container(
                        f"{name}.{target}", self.span_of(statement), kind, module_name=False
                    )
            if (
                instance is not None
                and isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))
                and statement.name == "__init__"
            ):
                self._instance_containers(name, instance, statement)

    def _instance_containers(self, name: str, instance: str, init: FunctionNode) -> None:
        owner = next(iter(_positional(init)), None)
        if owner is None:
            return
        for statement in init.body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value = statement.targets[0], statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                target, value = statement.target, statement.value
            else:
                continue
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == owner
            ):
                kind = self._container(value)
                if kind is not None:
                    self.containers.setdefault(
                        (name, target.attr),
                        _Container(
                            f"{instance}.{target.attr}",
                            self.span_of(statement),
                            kind,
                            module_name=False,
                        ),
                    )

    # -- uses ---------------------------------------------------------------------------

    def facts(self) -> Iterator[ProcessLocalState]:
        functions = list(self._functions())
        # Nothing is added or written without a WebSocket parameter or a route.
        if not any(f.sockets or f.route for f in functions):
            return
        for function in functions:
            nodes = list(_own_nodes(function.node))
            function.locals = _locals(function.node, nodes)
            self._uses(function, nodes)
        broker = self.broker
        for container in self.containers.values():
            if container.holds_sockets and container.added and container.sent:
                yield ProcessLocalState(
                    "connections",
                    container.label,
                    container.span,
                    container.added,
                    container.sent,
                    broker,
                )
            elif container.written is not None and container.module_name and container.is_dict:
                others = [s for s, where in container.reads if where is not container.written_in]
                read = min(others, key=_position) if others else None
                if read is not None:
                    yield ProcessLocalState(
                        "request-data",
                        container.label,
                        container.span,
                        container.written,
                        read,
                        broker,
                    )

    def _functions(self) -> Iterator[_Function]:
        websocket_classes = self._websocket_handler_classes()
        todo: list[tuple[ast.AST, str | None]] = [(self.tree, None)]
        while todo:
            node, cls = todo.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef):
                    todo.append((child, child.name if node is self.tree else None))
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield self._function(child, cls, cls in websocket_classes)
                    todo.append((child, None))
                elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                    todo.append((child, cls if node is not self.tree else None))

    def _function(self, node: FunctionNode, cls: str | None, tornado: bool) -> _Function:
        parameters = _positional(node)
        static = any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list
        )
        first = parameters[0] if cls is not None and parameters and not static else None
        arguments = node.args
        sockets: set[str] = set()
        for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
            if arg.arg == first:
                continue
            annotation = arg.annotation
            if annotation is None:
                is_socket = arg.arg in _SOCKET_NAMES
            else:
                is_socket = (
                    _last_name(annotation) == "WebSocket"
                    and self.qualify(annotation) == names.WEBSOCKET_TYPE
                )
            if is_socket:
                sockets.add(arg.arg)
        if tornado and first is not None:
            sockets.add(first)
        return _Function(
            node,
            cls,
            first,
            frozenset(sockets),
            any(self._is_route(d) for d in node.decorator_list),
        )

    def _is_route(self, decorator: ast.expr) -> bool:
        if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
            return False
        if decorator.func.attr not in _ROUTE_METHODS:
            return False
        owner = self.qualify(decorator.func.value)
        return owner is not None and names.canonical(owner.removesuffix("()")) in _ROUTE_OWNERS

    def _websocket_handler_classes(self) -> set[str]:
        """The module's classes that derive from Tornado's ``WebSocketHandler``,
        directly or through other classes of the module (each base judged once)."""
        derives: dict[str, bool] = {}
        for start in self.classes:
            path = [start]
            while path:
                name = path[-1]
                if name in derives:
                    path.pop()
                    continue
                local = [
                    b.id
                    for b in self.classes[name].bases
                    if isinstance(b, ast.Name) and b.id in self.classes and b.id != name
                ]
                pending = [b for b in local if b not in derives and b not in path]
                if pending:
                    path.append(pending[0])
                    continue
                derives[name] = any(derives.get(b, False) for b in local) or any(
                    self.qualify(b) == TORNADO_WEBSOCKET_HANDLER for b in self.classes[name].bases
                )
                path.pop()
        return {name for name, derived in derives.items() if derived}

    def _resolve(self, node: ast.expr, function: _Function) -> _Container | None:
        """The container an expression names inside ``function``."""
        if isinstance(node, ast.Name):
            if node.id in function.locals:
                return None
            return self.containers.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = node.value.id
            if owner == function.first and function.cls is not None:
                return self.containers.get((function.cls, node.attr))
            if owner in function.locals:
                return None
            if owner in self.classes:
                return self.containers.get((owner, node.attr))
            if owner in self.instances:
                return self.containers.get((self.instances[owner], node.attr))
        return None

    def _uses(self, function: _Function, nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._call(node, node.func, function)
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript):
                        self._store(target, node.value, function)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                self._loop(node.target, node.iter, node.body, function)
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
                for generator in node.generators:
                    self._loop(generator.target, generator.iter, [node.elt], function)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                self._read(node.value, node, function)
            elif isinstance(node, ast.Compare) and any(
                isinstance(op, (ast.In, ast.NotIn)) for op in node.ops
            ):
                for comparator in node.comparators:
                    self._read(comparator, node, function)

    def _call(self, node: ast.Call, func: ast.Attribute, function: _Function) -> None:
        method = func.attr
        target = func.value
        if isinstance(target, ast.Subscript):  # rooms[room].add(ws)
            target = target.value
        elif (
            isinstance(target, ast.Call)
            and isinstance(target.func, ast.Attribute)
            and target.func.attr in ("setdefault", "get")
        ):  # rooms.setdefault(room, set()).add(ws)
            target = target.func.value
        container = self._resolve(target, function)
        if container is None:
            return
        if method in _ADDERS and any(_is_socket(a, function) for a in node.args):
            self._added(container, self.span_of(node))
        elif method in _DICT_WRITERS and function.route and func.value is target:
            self._written(container, self.span_of(node), function)
        elif method == "get" and func.value is target:
            container.reads.append((self.span_of(node), function.node))

    def _store(self, target: ast.Subscript, value: ast.expr | None, function: _Function) -> None:
        container = self._resolve(target.value, function)
        if container is None:
            return
        if value is not None and _is_socket(value, function):
            self._added(container, self.span_of(target))
        elif function.route:
            self._written(container, self.span_of(target), function)

    @staticmethod
    def _added(container: _Container, span: Span) -> None:
        container.holds_sockets = True
        if container.added is None or _before(span, container.added):
            container.added = span

    @staticmethod
    def _written(container: _Container, span: Span, function: _Function) -> None:
        if container.written is None or _before(span, container.written):
            container.written = span
            container.written_in = function.node

    def _read(self, node: ast.expr, where: ast.expr, function: _Function) -> None:
        container = self._resolve(node, function)
        if container is not None:
            container.reads.append((self.span_of(where), function.node))

    def _loop(
        self,
        target: ast.expr,
        iterable: ast.expr,
        body: list[ast.stmt] | list[ast.expr],
        function: _Function,
    ) -> None:
        source, element = _iterated(iterable, target)
        if source is None or element is None:
            return
        container = self._resolve(source, function)
        if container is None:
            return
        container.reads.append((self.span_of(iterable), function.node))
        for statement in body:
            for node in ast.walk(statement):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == element
                    and (node.func.attr.startswith("send") or node.func.attr == "write_message")
                ):
                    span = self.span_of(node)
                    if container.sent is None or _before(span, container.sent):
                        container.sent = span
                    return


# -- helpers -----------------------------------------------------------------------------


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return statement.targets[0].id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None


def _bound_names(statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        for alias in statement.names:
            yield (alias.asname or alias.name).split(".")[0]
    elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    yield node.id
    else:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                yield node.id


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _position(span: Span) -> tuple[int, int]:
    return span.line, span.column


def _before(span: Span, other: Span) -> bool:
    return _position(span) < _position(other)


def _locals(function: FunctionNode, nodes: list[ast.AST]) -> frozenset[str]:
    """The names local to ``function``: its parameters and the names it assigns,
    unless declared ``global``/``nonlocal``."""
    arguments = function.args
    bound = {
        arg.arg
        for arg in (
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        )
        if arg is not None
    }
    declared: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
    return frozenset(bound - declared)


def _positional(function: FunctionNode) -> list[str]:
    return [arg.arg for arg in (*function.args.posonlyargs, *function.args.args)]


def _own_nodes(function: FunctionNode) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions or classes defined in it
    (walked as functions of their own)."""
    todo: list[ast.AST] = list(function.body)
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                todo.append(child)


def _is_socket(node: ast.expr, function: _Function) -> bool:
    return isinstance(node, ast.Name) and node.id in function.sockets


def _iterated(iterable: ast.expr, target: ast.expr) -> tuple[ast.expr | None, str | None]:
    """What a loop iterates (the container under ``.values()``, ``list(...)``...) and
    the name each WebSocket gets (the value of ``.items()`` pairs)."""
    pairs = False
    while isinstance(iterable, ast.Call):
        func = iterable.func
        if isinstance(func, ast.Attribute) and func.attr in _VIEWS and not iterable.args:
            pairs = pairs or func.attr == "items"
            iterable = func.value
        elif isinstance(func, ast.Attribute) and func.attr == "get" and iterable.args:
            iterable = func.value  # rooms.get(room, [])
            return (iterable, target.id) if isinstance(target, ast.Name) else (None, None)
        elif isinstance(func, ast.Name) and func.id in _COPIES and len(iterable.args) == 1:
            iterable = iterable.args[0]
        else:
            return None, None
    if isinstance(iterable, ast.Subscript):  # rooms[room]
        iterable = iterable.value
    if isinstance(target, ast.Name) and not pairs:
        return iterable, target.id
    if (
        pairs
        and isinstance(target, ast.Tuple)
        and len(target.elts) == 2
        and isinstance(target.elts[1], ast.Name)
    ):
        return iterable, target.elts[1].id
    return None, None

"""Tornado handlers a Bokeh/Panel server adds beside its applications, and which of
their entry points let in a visitor who has not logged in.

Bokeh's auth provider protects Bokeh's own handlers only: each of them derives from
``AuthRequestHandler`` (whose ``get_current_user`` asks the provider) and decorates its
verbs with ``@tornado.web.authenticated`` (bokeh/server/views/doc_handler.py and
siblings). ``extra_patterns`` are handed to ``tornado.web.Application`` as they are
(bokeh/server/tornado.py), and so are a Panel plugin's ``ROUTES``
(panel/command/serve.py): a handler among them is served to anyone unless it checks
the user itself.

A handler's verbs are looked up as Python would, through the project's classes
(``PythonClass``, followed across modules) and a few library classes whose behaviour is
known; a base class that is neither makes the handler unknown, and unknown is never
reported."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeVar

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.python import (
    USER_READERS,
    HandlerMethod,
    HandlerRoute,
    PythonClass,
    RouteTable,
    ServerRoutes,
)
from stackaudit.facts.serve import ServeCommand

TORNADO_HANDLER = "tornado.web.RequestHandler"
STATIC_FILE_HANDLER = "tornado.web.StaticFileHandler"
WEBSOCKET_HANDLER = "tornado.websocket.WebSocketHandler"
# What each library class does for the verbs it defines: ``open`` answers without
# asking for a user, ``static`` serves files without asking, ``guarded`` requires login.
LibraryVerb = Literal["open", "static", "guarded"]
_LIBRARY: dict[str, dict[str, LibraryVerb]] = {
    TORNADO_HANDLER: {},
    # Hooks only: get_current_user asks the auth provider, prepare() loads the user
    # asynchronously; neither refuses anyone (bokeh/server/views/auth_request_handler.py).
    "bokeh.server.views.auth_request_handler.AuthRequestHandler": {},
    STATIC_FILE_HANDLER: {"get": "static", "head": "static"},
    # Panel's handler for `static_dirs=`: `@authenticated` get; head calls get.
    "panel.io.server.AuthenticatedStaticFileHandler": {"get": "guarded", "head": "guarded"},
    # The handshake, then open().
    WEBSOCKET_HANDLER: {"get": "open"},
}
HTTP_VERBS = ("get", "head", "post", "put", "delete", "patch", "options")
# A handler that writes or clears the login cookie is a login or logout page (Bokeh's
# auth-module example's LoginHandler calls `set_current_user`): open by design.
_LOGIN_CALLS = frozenset(
    {
        "set_secure_cookie",
        "set_signed_cookie",
        "clear_cookie",
        "clear_all_cookies",
        "set_current_user",
    }
)
_MAX_CLASSES = 64
_MAX_CALL_DEPTH = 8


class OpenVerb(Struct, frozen=True):
    """A verb of a handler that no check of the user stands before. ``method`` is the
    project method answering it, None when a library class does (``static``: Tornado's
    ``StaticFileHandler`` serving a directory)."""

    verb: str
    method: HandlerMethod | None
    static: bool = False


class Resolved(Struct):
    """A handler class's methods as Python finds them: the first definition of each
    name along the bases (project methods, or a library class's known verbs)."""

    methods: dict[str, HandlerMethod]
    library: dict[str, LibraryVerb]
    websocket: bool


class ServedRoute(Struct, frozen=True):
    route: HandlerRoute
    open_verbs: tuple[OpenVerb, ...]


class TornadoHandlers:
    def __init__(self, facts: Iterable[object]) -> None:
        self._classes: dict[str, PythonClass] = {}
        self._by_name: dict[str, list[PythonClass]] = {}
        self._tables: dict[str, RouteTable] = {}
        self._tables_by_name: dict[str, list[RouteTable]] = {}
        self._server_routes: dict[Span, list[ServerRoutes]] = {}
        for fact in facts:
            if isinstance(fact, PythonClass):
                self._classes[fact.qualname] = fact
                self._by_name.setdefault(fact.name, []).append(fact)
            elif isinstance(fact, RouteTable):
                self._tables[fact.qualname] = fact
                self._tables_by_name.setdefault(fact.name, []).append(fact)
            elif isinstance(fact, ServerRoutes):
                self._server_routes.setdefault(fact.server, []).append(fact)
        self._resolved: dict[str, Resolved | None] = {}

    # -- which handlers a server adds ---------------------------------------------------

    def routes_of(self, command: ServeCommand) -> list[HandlerRoute]:
        """The Tornado routes a Bokeh/Panel server adds beside its applications: the
        ``extra_patterns`` of a server started in Python, the ``ROUTES`` of each
        ``panel serve --plugins`` module."""
        routes: list[HandlerRoute] = []
        tables: list[str] = []
        if command.carrier == "python":
            for given in self._server_routes.get(command.span, ()):
                routes.extend(given.routes)
                tables.extend(given.tables)
        if command.tool == "panel-serve":
            tables.extend(
                f"{plugin.text}.ROUTES"
                for plugin in command.values("plugins")
                if not plugin.symbolic
            )
        seen: set[str] = set()
        while tables and len(seen) < _MAX_CLASSES:
            name = tables.pop()
            if name in seen:
                continue
            seen.add(name)
            table = self._table(name)
            if table is not None:
                routes.extend(table.routes)
                tables.extend(table.tables)
        return routes

    def _table(self, qualname: str) -> RouteTable | None:
        found = self._tables.get(qualname)
        if found is not None:
            return found
        name = qualname.rsplit(".", 1)[-1]
        return _one_by_suffix(qualname, self._tables_by_name.get(name, ()))

    # -- what a handler lets in ---------------------------------------------------------

    def served(self, command: ServeCommand) -> list[ServedRoute]:
        """Each route of ``command`` with the verbs its handler answers without asking
        for a user; routes whose handler is unknown are left out."""
        found = []
        for route in self.routes_of(command):
            verbs = self.open_verbs(route.handler)
            if verbs is not None:
                found.append(ServedRoute(route, tuple(verbs)))
        return found

    def open_verbs(self, handler: str) -> list[OpenVerb] | None:
        """The verbs ``handler`` answers without a check of the user, in Tornado's
        order; None when the class or one of its bases is not known."""
        resolved = self._resolve(handler)
        if resolved is None:
            return None
        if self._guarded(resolved, "prepare") or self._logs_in(resolved):
            return []
        found: list[OpenVerb] = []
        verbs: tuple[str, ...] = HTTP_VERBS
        if resolved.websocket and "get" not in resolved.methods:
            # The handshake is the library's; what the project decides is in open().
            verbs = ("open",) if "open" in resolved.methods else ("get",)
        for verb in verbs:
            method = resolved.methods.get(verb)
            if method is not None:
                if not self._guarded(resolved, verb):
                    found.append(OpenVerb(verb, method))
            elif resolved.library.get(verb) in ("open", "static"):
                found.append(OpenVerb(verb, None, resolved.library[verb] == "static"))
        return found

    def _logs_in(self, resolved: Resolved) -> bool:
        return any(
            not _LOGIN_CALLS.isdisjoint(method.calls)
            for name, method in resolved.methods.items()
            if name in HTTP_VERBS
        )

    def _guarded(self, resolved: Resolved, name: str, depth: int = 0) -> bool:
        method = resolved.methods.get(name)
        if method is None:
            return resolved.library.get(name) == "guarded"
        if method.guard:
            return True
        if depth >= _MAX_CALL_DEPTH:
            return False
        if any(
            (helper := resolved.methods.get(called)) is not None and helper.reads_user
            for called in method.tests_calls
        ):
            return True
        # A helper that refuses the request (`self.require_login()`) guards its caller;
        # the user's getters only read it.
        return any(
            called != name and self._guarded(resolved, called, depth + 1)
            for called in method.calls
            if called in resolved.methods and called not in USER_READERS
        )

    def _resolve(self, handler: str) -> Resolved | None:
        if handler not in self._resolved:
            self._resolved[handler] = self._linearize(handler)
        return self._resolved[handler]

    def _linearize(self, handler: str) -> Resolved | None:
        """Methods along the bases, depth first and left to right (Python's MRO for the
        single-inheritance chains and mixins handlers use)."""
        if handler in _LIBRARY:
            return Resolved({}, dict(_LIBRARY[handler]), handler == WEBSOCKET_HANDLER)
        first = self._class(handler)
        if first is None:
            return None
        methods: dict[str, HandlerMethod] = {}
        library: dict[str, LibraryVerb] = {}
        websocket = False
        is_handler = False
        seen: set[str] = set()
        todo = [first.qualname]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if len(seen) > _MAX_CLASSES:
                return None
            if name in _LIBRARY:
                is_handler = True
                websocket = websocket or name == WEBSOCKET_HANDLER
                for verb, what in _LIBRARY[name].items():
                    if verb not in methods:
                        library.setdefault(verb, what)
                continue
            cls = self._class(name)
            if cls is None:
                return None  # a base whose behaviour is not known
            for method in cls.methods:
                if method.name not in library:
                    methods.setdefault(method.name, method)
            todo.extend(reversed(cls.bases))
        if not is_handler:
            return None
        return Resolved(methods, library, websocket)

    def _class(self, name: str) -> PythonClass | None:
        found = self._classes.get(name)
        if found is not None:
            return found
        return _one_by_suffix(name, self._by_name.get(name.rsplit(".", 1)[-1], ()))


_Named = TypeVar("_Named", PythonClass, RouteTable)


def _one_by_suffix(name: str, candidates: Iterable[_Named]) -> _Named | None:
    """``app.handlers.Open`` imported absolutely is the class of ``src/app/handlers.py``
    (module ``src.app.handlers``); two candidates are one too many."""
    matches = [c for c in candidates if c.qualname == name or c.qualname.endswith("." + name)]
    return matches[0] if len(matches) == 1 else None

"""Facts only Python source can state: WebSocket handlers and endpoints, the raw
arguments of a ``CORSMiddleware``, module constants for cross-module values.

Server calls (``pn.serve``, Bokeh ``Server``, ``uvicorn.run``), framework settings and
CORS policies found in Python become the shared ``ServeCommand``, ``AppSetting`` and
``CorsPolicy`` facts; what is here is what those cannot hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.common import Word

TORNADO_WEBSOCKET_HANDLER = "tornado.websocket.WebSocketHandler"
# Library classes known to derive from tornado's WebSocketHandler.
_KNOWN_WEBSOCKET_HANDLERS = frozenset(
    {
        TORNADO_WEBSOCKET_HANDLER,
        "bokeh.server.views.ws.WSHandler",
    }
)


class PythonWord(Word, frozen=True):
    """A value read from Python code.

    ``defined_at`` is where the value is written when the argument names a constant or
    setting defined elsewhere (the word's own span is the argument). ``env_name`` is set
    when the value is the default of ``os.environ.get(NAME, default)``/``os.getenv`` or
    of a pydantic ``BaseSettings`` field: the deployment may replace it, so a finding on
    it deserves a lower confidence."""

    defined_at: Span | None = None
    env_name: str | None = None

    @property
    def from_env_default(self) -> bool:
        return self.env_name is not None and not self.symbolic


def python_word(
    text: str,
    span: Span,
    *,
    symbolic: bool = False,
    defined_at: Span | None = None,
    env_name: str | None = None,
) -> PythonWord:
    """A word from Python code; a default of an environment variable is marked
    ``default_used`` like compose's ``${VAR:-default}``."""
    return PythonWord(
        text=text,
        span=span,
        symbolic=symbolic,
        default_used=env_name is not None and not symbolic,
        defined_at=defined_at,
        env_name=env_name,
    )


def is_env_default(word: Word | None) -> bool:
    return isinstance(word, PythonWord) and word.from_env_default


# Reads of a Tornado request's user: the method behind ``current_user`` and the signed
# cookie Panel's and Bokeh's auth providers keep the user in (panel/auth.py
# ``BasicAuthProvider.get_user``).
USER_READERS = frozenset({"get_current_user", "get_secure_cookie", "get_signed_cookie"})
HandlerGuard = Literal["authenticated", "checks-user", "decorated", ""]


class HandlerMethod(Struct, frozen=True):
    """A method of a project class, as far as it decides who a Tornado handler serves.

    ``guard``: ``authenticated`` (``@tornado.web.authenticated``), ``checks-user`` (an
    ``if``/``assert``/conditional test reads ``self.current_user``,
    ``self.get_current_user()`` or the signed ``user`` cookie, directly or through a
    local name), ``decorated`` (another decorator whose effect is not known here), or
    empty. ``reads_user``: the body reads the user anywhere (a helper such as
    ``is_logged_in``). ``calls``: the ``self.<name>()`` methods it calls;
    ``tests_calls``: those called inside a test (``if not self.allowed(): ...``)."""

    name: str
    span: Span
    guard: HandlerGuard = ""
    reads_user: bool = False
    calls: tuple[str, ...] = ()
    tests_calls: tuple[str, ...] = ()


class PythonClass(Struct, frozen=True):
    """A class defined in the project and the qualified names of its bases (a project
    class as ``<module>.<Name>``, an imported one by its import path). ``methods``: the
    methods that matter for a Tornado handler's authentication (``HandlerMethod``)."""

    module: str
    name: str
    bases: tuple[str, ...]
    span: Span
    methods: tuple[HandlerMethod, ...] = ()

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


CheckOriginFlaw = Literal["always-true", "suffix-without-dot", "substring", "prefix-open"]


class PermissiveCheckOrigin(Struct, frozen=True):
    """A ``check_origin(self, origin)`` override that admits more than it seems to.

    ``flaw``: ``always-true`` (every return is a truthy constant), ``suffix-without-dot``
    (``endswith("example.com")``), ``substring`` (``"example.com" in origin``),
    ``prefix-open`` (``startswith("https://example.com")`` with nothing ending the
    host). ``evidence`` is the offending expression, ``detail`` its source text."""

    module: str
    class_name: str
    bases: tuple[str, ...]
    span: Span
    flaw: CheckOriginFlaw
    evidence: Span
    detail: str


def is_websocket_handler(bases: Iterable[str], classes: Mapping[str, PythonClass]) -> bool:
    """Whether a class with these bases derives from tornado's ``WebSocketHandler``,
    following project classes (``classes`` by qualified name, or by the name they are
    imported under, e.g. ``app.base.Handler``) through any number of files."""
    seen: set[str] = set()
    todo = list(bases)
    while todo:
        base = todo.pop()
        if base in _KNOWN_WEBSOCKET_HANDLERS:
            return True
        if base in seen:
            continue
        seen.add(base)
        found = classes.get(base) or _by_suffix(base, classes)
        if found is not None:
            todo.extend(found.bases)
    return False


def _by_suffix(name: str, classes: Mapping[str, PythonClass]) -> PythonClass | None:
    """``app.base.Handler`` imported absolutely matches the class of ``src/app/base.py``
    (module ``src.app.base``)."""
    matches = [c for q, c in classes.items() if q.endswith("." + name)]
    return matches[0] if len(matches) == 1 else None


class HandlerRoute(Struct, frozen=True):
    """One ``(pattern, Handler, ...)`` entry of a Tornado route list: the URL pattern
    (symbolic when computed), the handler's qualified name (a project class as
    ``<module>.<Name>``, an imported one by its import path; empty when the entry is not
    a class name) and where the handler is named."""

    pattern: Word
    handler: str
    span: Span


class ServerRoutes(Struct, frozen=True):
    """The ``extra_patterns`` given to a Bokeh/Panel server call (``pn.serve``,
    ``get_server``, ``.show()``, Bokeh ``Server``, ``BokehTornado``): Bokeh adds them to
    the Tornado application next to its own handlers (bokeh/server/tornado.py).
    ``server`` is the call (the span of its ``ServeCommand``); ``tables`` the qualified
    names of route lists imported from other modules (``RouteTable``)."""

    server: Span
    routes: tuple[HandlerRoute, ...] = ()
    tables: tuple[str, ...] = ()


class RouteTable(Struct, frozen=True):
    """A module-level list of Tornado routes, ``NAME = [(r"/x", Handler), ...]``: a
    Panel plugin's ``ROUTES`` (``panel serve --plugins``), or a list another module
    passes as ``extra_patterns``."""

    module: str
    name: str
    routes: tuple[HandlerRoute, ...]
    tables: tuple[str, ...] = ()

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


class WebSocketEndpoint(Struct, frozen=True):
    """A WebSocket endpoint served by Starlette/FastAPI.

    ``framework`` is ``starlette`` for an app's own endpoint (``@app.websocket``,
    ``WebSocketRoute``, ``add_api_websocket_route``, ``WebSocketEndpoint`` subclasses)
    and ``panel-fastapi`` for the Bokeh/Panel endpoint that ``panel.io.fastapi`` or
    ``bokeh_fastapi.BokehFastAPI`` adds. ``credential`` is where the endpoint reads a
    cookie or the session, ``credential_how`` says how; ``checks_origin`` whether it
    reads the ``Origin`` header (or hands the socket to a function named for it)."""

    framework: Literal["starlette", "panel-fastapi"]
    name: str
    span: Span
    credential: Span | None = None
    credential_how: str = ""
    checks_origin: bool = False
    origins: tuple[Word, ...] = ()


class StarletteCorsCall(Struct, frozen=True):
    """The raw arguments of one ``CORSMiddleware`` configuration, for what the
    ``CorsPolicy`` cannot say: keywords ``CORSMiddleware.__init__`` does not accept,
    too many positional arguments, ``allow_origins`` given as one string,
    ``allow_origin_regex`` given as a list."""

    span: Span
    unknown_keywords: tuple[Word, ...] = ()
    extra_positionals: tuple[Word, ...] = ()
    origins_string: Word | None = None
    regex_not_string: Word | None = None
    allow_credentials: Word | None = None


# -- values shared between files ----------------------------------------------------------


class PyValue(Struct, frozen=True):
    """A value as the Python extractor evaluated it, kept file-independent (spans are
    already computed) so that it can be resolved again once every file is read.

    ``kind``: ``str``, ``bool``, ``int``, ``float``, ``none``, ``list`` (``items``),
    ``dict`` (``keys``/``items``), ``symbolic`` (unknown; ``text`` is the source) or
    ``ref`` (a name imported from another module, ``text`` its dotted path)."""

    kind: Literal["str", "bool", "int", "float", "none", "list", "dict", "symbolic", "ref"]
    value: str | bool | int | float | None
    text: str
    span: Span
    items: tuple[PyValue, ...] = ()
    keys: tuple[str, ...] = ()
    complete: bool = True
    defined_at: Span | None = None
    env_name: str | None = None
    # Per-character file offsets of a string's content, when exact (argv words).
    origins: tuple[int, ...] = ()
    key_spans: tuple[Span, ...] = ()


class PythonModule(Struct, frozen=True):
    """The module-level constants of one project module (``NAME = literal``, class
    attribute defaults ``Settings.NAME``, and ``settings.NAME`` for an instance
    ``settings = Settings()``), by dotted module name."""

    module: str
    path: str
    constants: tuple[tuple[str, PyValue], ...]


class KeywordValue(Struct, frozen=True):
    """One ``name=value`` argument: where the name is written, and its value."""

    name: str
    name_span: Span
    value: PyValue


class CallSite(Struct, frozen=True):
    """A recognised call (or attribute assignment) with its evaluated arguments.

    ``api`` names what was called (``panel.io.server.serve``, ``cors``, ...); the
    builders of ``stackaudit.extractors.python_build`` turn a call site into facts."""

    api: str
    callee: Word
    span: Span
    positional: tuple[PyValue, ...] = ()
    keywords: tuple[KeywordValue, ...] = ()
    open_keywords: bool = False
    label: str = ""
    # The ``if __name__ == "__main__":`` test the call runs under, when it does: the
    # module is run as a script, a developer's launcher more often than a deployment.
    main_guard: Span | None = None
    # The name of the function the call is in, when it is in one.
    function: Span | None = None


class PendingPythonFacts(Struct, frozen=True):
    """Facts built from a call site holding a value imported from another module of the
    project. The link step (``stackaudit.extractors.python_link.link_python_facts``)
    resolves the value once every module's constants are known and replaces ``facts``
    (the same objects as in the extraction) by the facts rebuilt from it."""

    site: CallSite
    facts: tuple[object, ...]


# -- library calls judged by their arguments ----------------------------------------------

SESSION_MIDDLEWARE = "starlette.middleware.sessions.SessionMiddleware"
TRUSTED_HOST_MIDDLEWARE = "starlette.middleware.trustedhost.TrustedHostMiddleware"
# PyJWT's module functions are bound methods of one ``PyJWT()`` instance.
PYJWT_DECODERS = frozenset(
    {"jwt.decode", "jwt.decode_complete", "jwt.PyJWT().decode", "jwt.PyJWT().decode_complete"}
)
JOSE_DECODERS = frozenset({"jose.jwt.decode"})
# python-socketio passes these keywords to python-engineio's server; Flask-SocketIO to
# python-socketio (its constructor, or ``init_app``).
SOCKETIO_SERVERS = frozenset(
    {
        "socketio.Server",
        "socketio.AsyncServer",
        "engineio.Server",
        "engineio.AsyncServer",
        "flask_socketio.SocketIO",
        "flask_socketio.SocketIO().init_app",
    }
)

# starlette/middleware/sessions.py (1.10.0) SessionMiddleware.__init__, after ``app``.
SESSION_PARAMETERS = (
    "secret_key",
    "session_cookie",
    "max_age",
    "path",
    "same_site",
    "https_only",
    "domain",
    "partitioned",
)
# starlette/middleware/trustedhost.py (1.10.0) TrustedHostMiddleware.__init__.
TRUSTED_HOST_PARAMETERS = ("allowed_hosts", "www_redirect")


class LibraryCall(Struct, frozen=True):
    """A call of a library API that a rule judges by its arguments: a Starlette
    middleware (``SessionMiddleware``, ``TrustedHostMiddleware``) however it is added,
    a JWT decoder (PyJWT, python-jose), a Socket.IO server.

    ``api`` is the canonical name (``starlette.middleware.sessions.SessionMiddleware``,
    ``jwt.decode``...); ``positional`` holds the arguments after the app for a
    middleware (after the class for ``add_middleware``/``Middleware``).
    ``open_keywords``: a ``**kwargs`` or ``*args`` whose content is unknown may give
    any argument."""

    api: str
    label: str
    span: Span
    positional: tuple[PyValue, ...] = ()
    keywords: tuple[KeywordValue, ...] = ()
    open_keywords: bool = False
    development_branch: bool = False
    # The name of the function the call is in (``CallSite.function``).
    function: Span | None = None

    def argument(self, name: str, parameters: tuple[str, ...] = ()) -> PyValue | None:
        """The value given for parameter ``name``, by keyword or by its position in
        ``parameters``; the last keyword wins as Python would refuse a duplicate."""
        for keyword in reversed(self.keywords):
            if keyword.name == name:
                return keyword.value
        if name in parameters:
            index = parameters.index(name)
            if index < len(self.positional):
                return self.positional[index]
        return None

    def keyword_span(self, name: str) -> Span | None:
        for keyword in reversed(self.keywords):
            if keyword.name == name:
                return keyword.name_span
        return None


class CookieRead(Struct, frozen=True):
    """Where a module that creates a Socket.IO server reads the request's cookies or
    the cookie session (``environ["HTTP_COOKIE"]``, ``request.cookies``,
    ``flask.session``, ``flask_login.current_user``): its users are recognised by a
    cookie the browser sends on any site's connection."""

    span: Span
    how: str


TaintSink = Literal[
    "panel-html",
    "panel-markdown",
    "bokeh-div",
    "bokeh-customjs",
    "tornado-write",
    "html-response",
    "jinja2-render",
]


class TaintFlow(Struct, frozen=True):
    """User input that reaches HTML (or JavaScript) without being escaped, found by the
    taint analysis of one module (``extractors.python_taint``).

    ``span`` is the sink: the call that renders (``pn.pane.HTML(...)``), or the
    assignment (``div.text = ...``) or returned value that does; ``value`` is the exact
    expression carrying the input there (the argument to escape); ``call`` is the span of
    the pane/model construction the value goes to, when there is one (where
    ``sanitize_html=True`` would go). ``hops`` counts the calls crossed between the
    source and the sink (a helper, a callback bound to the widget); ``via`` names them."""

    sink: TaintSink
    sink_label: str
    span: Span
    value: Span
    source_label: str
    source_span: Span
    hops: int = 0
    via: tuple[str, ...] = ()
    call: Span | None = None
    # The value is the input itself (a name, attribute or item), not text built around
    # it: a fix may escape it without escaping the markup it is written into.
    value_is_input: bool = False


# -- state kept in one process's memory ----------------------------------------------------

ProcessStateKind = Literal["connections", "request-data"]


class ProcessLocalState(Struct, frozen=True):
    """A container created once per process that requests share through the module:
    a module-level name, a class attribute, or an attribute of an instance created at
    module level (the FastAPI docs' ``manager = ConnectionManager()``).

    ``kind``: ``connections`` when a WebSocket is added to it (a Starlette/FastAPI
    ``WebSocket`` parameter, or ``self`` in a Tornado ``WebSocketHandler``) and another
    place iterates over it to send to each (a broadcast list, a connection registry);
    ``request-data`` when a route writes into a module-level dict that another function
    reads (``sessions[token] = user`` in ``/login``, read by a dependency).

    ``name`` is the container as code reaches it (``manager.active_connections``,
    ``ChatHandler.clients``, ``sessions``); ``span`` where it is created; ``added``
    where a connection or a value is put in; ``used`` where it is iterated to send, or
    read. ``broker`` names a publish/subscribe client the module imports (``redis``,
    ``broadcaster``...): the module may relay through it across processes."""

    kind: ProcessStateKind
    name: str
    span: Span
    added: Span
    used: Span
    broker: str = ""


class PubSubClientImport(Struct, frozen=True):
    """A module that imports a publish/subscribe client (``redis``, ``broadcaster``,
    NATS, Kafka, RabbitMQ...), through which processes can relay messages to each
    other; ``name`` the client's top-level package."""

    name: str
    span: Span

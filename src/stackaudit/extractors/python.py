"""Python sources: a byte prefilter first, so only files that can matter are parsed.

A file passes when it names something a rule can trigger on (a sink: ``CORSMiddleware``,
``allow_websocket_origin``, ``check_origin``...), when it names an API keyword or a
process launcher together with the framework or server program that alone makes it
yield a fact (``debug=`` with ``tornado``, ``subprocess`` with ``uvicorn``), or when it
looks like a settings module that other modules import constants from. A module's
constants and classes are published only when it passes: one that passed for a mere
``import subprocess`` no longer does. Everything else costs one read and a few substring
scans. Files that pass are parsed once with ``ast`` and walked once
(``python_analysis``); see there why ``ast`` rather than libcst."""

from __future__ import annotations

import ast
import contextlib
import gc
import re
import warnings
from collections.abc import Iterator, Sequence

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.extractors.python_grammar import NewerSyntax, newer_grammar
from stackaudit.extractors.textscan import Words
from stackaudit.facts.common import ParseProblem
from stackaudit.policy import is_development_path
from stackaudit.source import SourceFile

# Names a rule can trigger on, each enough on its own. Framework names alone ("panel",
# "fastapi") would let most of a large tree through; these sink names let through only
# the files that matter.
TRIGGERS = (
    "allow_websocket_origin",
    "websocket_origin",
    # A Tornado handler's override, and the base classes it is followed through
    # (``is_websocket_handler``), whatever the file imports.
    "check_origin",
    "WebSocket",
    "CORSMiddleware",
    "cookie_secret",
    "basic_auth",
    "oauth_",
    # Panel's authorization hook (``pn.config.authorize_callback``, SA215).
    "authorize_callback",
    "BokehTornado",
    "BokehFastAPI",
    "add_application",
    "uvicorn",
    # Matched by method name alone, on any object (``set_header``, ``.headers[...] =``,
    # ``add_websocket_route``).
    "Access-Control-Allow-Origin",
    "access-control-allow-origin",
    "add_websocket_route",
    "add_api_websocket_route",
    "num_procs",
    "forwarded_allow_ips",
    "session_history",
    # Starlette middleware judged by their arguments, a Socket.IO server's origins and
    # JWT decoding with verification turned off (SA213, SA214, SA308, SA603).
    "SessionMiddleware",
    "TrustedHostMiddleware",
    "cors_allowed_origins",
    "verify_signature",
    # Endpoints a library adds to an ASGI app, and FastAPI's security schemes
    # (``facts.asgi``).
    "make_asgi_app",
    "Instrumentator",
    "handle_metrics",
    "handle_openmetrics",
    "fastapi.security",
    # App-wide rate limits (``facts.asgi.AppRateLimit``).
    "SlowAPIMiddleware",
    "RateLimiter",
    # Tornado handlers added to a Bokeh/Panel server, and the classes they are defined
    # by, whatever module holds them (SA216).
    "extra_patterns",
    "RequestHandler",
    "StaticFileHandler",
    # A subclass of a project handler (``class Export(JsonHandler):``, the base last) in
    # a module that names no framework; a handler class named otherwise is not followed.
    "Handler):",
)
# Names that matter only in a file that also names a modelled framework. An API call
# (``serve(``, ``Server(``, ``Application(``, ``debug=``, ``autoreload``,
# ``serve_traceback``, ``websocket`` keywords and decorators...) is recognised by its
# qualified name, and every recognised name starts with one of ``FRAMEWORKS``
# (``python_names``). A qualified name comes from an import written in the file or from
# a relative import (``from .server import serve``) resolved against the file's path
# (the framework's own package): so the framework is named in the text, or in the path
# of a file that imports relatively.
NEEDS_FRAMEWORK = (
    "websocket",
    "serve(",
    "Server(",
    "Application(",
    "debug=",
    ".debug = ",
    "autoreload",
    "serve_traceback",
    # FastAPI's own pages (/docs, /redoc, /openapi.json) are on unless turned off.
    "FastAPI(",
    # Routes that may share a module-level dict between requests (``python_state``).
    "APIRouter(",
    "Flask(",
    "Blueprint(",
    # Login routes (``facts.asgi.LoginEndpoint``): POST routes of an app or router.
    ".post(",
    ".api_route(",
    # A Panel plugin's route list (``panel serve --plugins``).
    "ROUTES",
    # An app's own check of Panel's logged-in user (``pn.state.user``/``user_info``).
    "state.user",
)
FRAMEWORKS = (
    "panel",
    "bokeh",
    "tornado",
    "fastapi",
    "starlette",
    "uvicorn",
    "flask",
    "werkzeug",
)
# User input rendered as HTML (SA801, ``python_taint``): a file is analysed for taint
# only when it names both a source of input and a sink that renders HTML or JavaScript.
TAINT_SOURCES = (
    "TextInput",
    "TextAreaInput",
    "AutocompleteInput",
    "PasswordInput",
    "query_params",
    "path_params",
    "session_args",
    "pn.state",
    "session_context",
    "get_argument",
    "get_query_argument",
    "get_body_argument",
    "request.body",
    "request.arguments",
    "request.query",
    "request.form(",
    "request.json(",
    "fastapi",
    "starlette",
)
TAINT_SINKS = (
    "HTML(",
    ".HTML",
    "Markdown",
    "Div(",
    "CustomJS",
    "HTMLResponse",
    ".write(",
    ".finish(",
    "Template(",
    "Environment(",
    "from_string(",
    "pn.panel(",
    "pn.Column(",
    "pn.Row(",
    "pn.Card(",
    "pn.bind(",
    "depends(",
)
# Process launches yield a fact only when their words run ``panel``/``bokeh serve``,
# ``fastapi run``, ``uvicorn``, ``gunicorn`` or ``hypercorn``
# (``invocation.commandline._program``), directly or through a launcher, a shell or
# jhsingle-native-proxy. That program name is a string literal or an expression written
# in the file (a name imported from another module is never resolved into an argv), so
# it is in the text; as with every trigger, the text is matched as written, and a name
# spelled with escapes is not seen.
NEEDS_PROGRAM = (
    "subprocess",
    "ServerProxy",
    "serverproxy",
    "os.system",
    "execv",
    "execl",
    "spawnv",
    "create_subprocess",
)
PROGRAMS = ("panel", "bokeh", "fastapi", "uvicorn", "gunicorn", "hypercorn", "flask")
# PyJWT 1.x's ``decode(token, verify=False)``: the keyword matters only in a file that
# names the library.
NEEDS_JWT = ("verify",)
JWT = ("jwt",)
_RELATIVE_IMPORT = re.compile(r"\bfrom[\s\\]*\.")
# `.show(` is everywhere (matplotlib); only with Panel in the file can it start a server.
_PANEL_SHOW = ".show("
# Werkzeug's development server (``app.run(``, ``run_simple(``) and Flask's debug setting
# (``app.config["DEBUG"]``): only with Flask or Werkzeug named in the file.
_FLASK_SERVER = (".run(", "run_simple", "DEBUG")
_FLASK = ("flask", "Flask", "werkzeug")
# Modules that other modules import settings from: parsed for their constants.
_SETTINGS_MODULE = re.compile(
    r"(^|[/_])(settings|config|conf|configuration|constants|consts|env)\.py$"
)


# Every word the pre-scan looks for, found in one pass (``textscan.Words``).
_WORDS = Words(
    (
        *TRIGGERS,
        *NEEDS_FRAMEWORK,
        *NEEDS_PROGRAM,
        *NEEDS_JWT,
        *TAINT_SOURCES,
        *TAINT_SINKS,
        *FRAMEWORKS,
        *PROGRAMS,
        *JWT,
        _PANEL_SHOW,
        *_FLASK,
        *_FLASK_SERVER,
    )
)


def _names_framework(present: frozenset[str], text: str, path: str) -> bool:
    if present.intersection(FRAMEWORKS):
        return True
    return any(name in path for name in FRAMEWORKS) and _RELATIVE_IMPORT.search(text) is not None


def can_matter(text: str, path: str = "") -> bool:
    present = _WORDS.present(text)
    return _matters(present, text, path) or may_carry_taint(present, path)


def _matters(present: frozenset[str], text: str, path: str) -> bool:
    """Whether the file can yield a fact of the analyser (everything but taint)."""
    if present.intersection(TRIGGERS):
        return True
    if present.intersection(NEEDS_FRAMEWORK) and _names_framework(present, text, path):
        return True
    if present.intersection(NEEDS_PROGRAM) and present.intersection(PROGRAMS):
        return True
    if present.intersection(NEEDS_JWT) and present.intersection(JWT):
        return True
    if _PANEL_SHOW in present and "panel" in present:
        return True
    if present.intersection(_FLASK) and present.intersection(_FLASK_SERVER):
        return True
    return bool(path) and _SETTINGS_MODULE.search(path) is not None


def may_carry_taint(present: frozenset[str], path: str) -> bool:
    """A source and a sink named, outside tests and development files (never served)."""
    if not (present.intersection(TAINT_SOURCES) and present.intersection(TAINT_SINKS)):
        return False
    return not is_development_path(path)


_TAINT_WORDS = Words((*TAINT_SOURCES, *TAINT_SINKS))


def module_name(path: str) -> str:
    """``src/app/settings.py`` → ``src.app.settings``; a package's ``__init__.py`` is
    the package."""
    stem = re.sub(r"\.(py|pyw|ipynb)$", "", path)
    stem = stem.removesuffix("/__init__")
    return stem.replace("/", ".").replace("-", "_")


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cycle collector paused while ``ast`` builds a tree: the tree holds no cycle
    (nodes do not point to their parents) and is freed by reference counting, but its
    hundreds of thousands of new objects set off collection after collection, a
    quarter of the parse time on large modules."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(code: str, path: str) -> ast.Module | ParseProblem:
    """Parse, turning every failure into a problem located in ``code``."""
    try:
        # The compiler's SyntaxWarnings (`1if x`, `is` with a literal) are about the
        # scanned code: not ours to print, and not errors even under -W error.
        with warnings.catch_warnings(), _no_cycle_collection():
            warnings.simplefilter("ignore")
            return ast.parse(code, filename=path)
    except SyntaxError as exc:
        return ParseProblem(
            Span(path, exc.lineno or 1, max(exc.offset or 1, 1)), f"invalid Python: {exc.msg}"
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        return ParseProblem(Span(path, 1, 1), f"Python source could not be parsed: {exc}")


def analyse(
    source: SourceFile,
    code: str,
    tree: ast.Module,
    to_file: Sequence[int] | None = None,
    taint: bool | None = None,
) -> list[object]:
    """The analyser's facts, and the taint flows when ``taint`` (by default: when the
    code names a source and a sink)."""
    from stackaudit.extractors.python_analysis import Analyzer

    analyzer = Analyzer(source, code, module_name(source.path), to_file)
    facts = analyzer.run(tree)
    if taint is None:
        taint = may_carry_taint(_TAINT_WORDS.present(code), source.path)
    if taint:
        from stackaudit.extractors.python_taint import flows

        facts.extend(flows(source, code, tree, to_file, analyzer.pos))
    return facts


def extract_python(source: SourceFile) -> Extraction:
    from stackaudit.extractors.python_secrets import find_secrets, may_hold_secret

    result = Extraction()
    present = _WORDS.present(source.text)
    matters = _matters(present, source.text, source.path)
    # A file that names only a source and a sink is read for taint alone: it yields no
    # other fact, and the analyser's walk would cost more than the taint walk.
    taint = may_carry_taint(present, source.path)
    # SA211 reports no literal in tests or development settings: no parse for them.
    secrets = not is_development_path(source.path) and may_hold_secret(source.text)
    if not matters and not taint and not secrets:
        return result
    # The collector stays paused until the tree is dropped: re-enabled with the tree
    # alive, its first collection walks every node once more only to find no cycle
    # (a sixth of the parse and analysis time on the library tree).
    with _no_cycle_collection():
        tree = parse(source.text, source.path)
        if isinstance(tree, ParseProblem):
            # A module read only for literal secrets was never analysed before: its
            # syntax is not this tool's business unless another rule reads it.
            if matters:
                explained = newer_grammar(source.text, source.path, tree.span.line)
                if isinstance(explained, NewerSyntax):
                    result.skipped = explained.reason
                else:
                    result.problems.append(explained or tree)
            return result
        try:
            if matters:
                result.facts.extend(analyse(source, source.text, tree, taint=taint))
            elif taint:
                from stackaudit.extractors.python_taint import flows

                result.facts.extend(flows(source, source.text, tree))
            if secrets:
                result.facts.extend(find_secrets(source, tree))
        except RecursionError:
            result.problems.append(
                ParseProblem(Span(source.path, 1, 1), "nesting too deep to analyse")
            )
        del tree
    return result

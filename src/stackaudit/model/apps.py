"""What the application code behind a server process states: the authentication it
enforces, and the endpoints libraries add to it (FastAPI's ``/docs``, a Prometheus
``/metrics``).

A command line names the module it serves (``uvicorn app.main:app`` imports
``app/main.py``, found as ``model.modules`` says); the endpoints that module turns on
are the app's. The directory the
module is imported from (``backend/`` for ``backend/app/main.py``) is the app's import
root: a ``fastapi.security`` scheme constructed in a module below it (``app/auth.py``)
is taken as the app's authentication, since the app can only import it from there;
so are the login routes and app-wide rate limits written there.

A Panel server with basic auth serves its own login form: ``BasicLoginHandler`` at
``--login-endpoint`` (default ``/login``, a leading slash added) under ``--prefix``
(panel/command/serve.py 579-605, panel/auth.py ``BasicAuthProvider``; Bokeh adds the
auth provider's endpoints under the prefix, bokeh/server/tornado.py 402-454). Its
``post`` compares the password and redirects, with no delay or count of failures.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Iterable

from msgspec import Struct

from stackaudit.diagnostics import Span
from stackaudit.facts.app import AppSetting, PanelUserCheck
from stackaudit.facts.asgi import (
    AppRateLimit,
    AsgiApplication,
    AuthScheme,
    BuiltinEndpoint,
    LoginEndpoint,
)
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.modules import imported_module_paths

ModulePaths = Callable[[ServeCommand], tuple[str, ...]]
# A Python literal longer than this is not read (Panel reads it with ast.literal_eval;
# the scanned text is untrusted and a huge literal costs time and memory).
_MAX_LITERAL = 4096


class Authorization(Struct, frozen=True):
    """Where the app behind a Panel server decides who, among the logged-in users, may
    use it."""

    span: Span
    description: str


class Apps:
    def __init__(
        self,
        facts: Iterable[object],
        module_paths: ModulePaths,
        directories: ModulePaths = lambda command: (),
    ) -> None:
        self._module_paths = module_paths
        self._directories = directories
        self._endpoints: dict[str, list[BuiltinEndpoint]] = {}
        self._schemes: list[AuthScheme] = []
        self._app_files: set[str] = set()
        self._logins: list[LoginEndpoint] = []
        self._rate_limits: list[AppRateLimit] = []
        # The first authorization written at or below each directory ("" is the root).
        self._authorization_below: dict[str, Authorization] = {}
        for fact in facts:
            found = _authorization(fact)
            if found is not None:
                for directory in _directories_above(found.span.path):
                    self._authorization_below.setdefault(directory, found)
            if isinstance(fact, BuiltinEndpoint):
                self._endpoints.setdefault(fact.span.path, []).append(fact)
            elif isinstance(fact, AuthScheme):
                self._schemes.append(fact)
            elif isinstance(fact, AsgiApplication):
                self._app_files.add(fact.span.path)
            elif isinstance(fact, LoginEndpoint):
                self._logins.append(fact)
            elif isinstance(fact, AppRateLimit):
                self._rate_limits.append(fact)

    def _served_files(self, command: ServeCommand, files: Iterable[str]) -> list[str]:
        chosen = set(files)
        return [path for path in self._module_paths(command) if path in chosen]

    def endpoints_of(self, command: ServeCommand) -> list[BuiltinEndpoint]:
        """The endpoints libraries add to the app ``command`` serves."""
        return [
            endpoint
            for path in self._served_files(command, self._endpoints)
            for endpoint in self._endpoints[path]
        ]

    def authentication(self, command: ServeCommand) -> str | None:
        """How the app behind ``command`` takes credentials, for messages; None when
        nothing in the scanned files says it does. Bokeh/Panel: the server's own
        authentication (``--basic-auth``, OAuth, an auth module). ASGI apps: a
        ``fastapi.security`` scheme under the app's import root."""
        if command.is_bokeh_family:
            auth = command.auth()
            return auth.description if auth is not None else None
        for root in self.import_roots(command):
            for scheme in self._schemes:
                if scheme.span.path.startswith(root):
                    where = f"{scheme.span.path}:{scheme.span.line}"
                    return f"FastAPI `{scheme.name}()` ({where})"
        return None

    def login_endpoints(self, command: ServeCommand) -> list[LoginEndpoint]:
        """The routes of the app behind ``command`` that take a login: ASGI routes
        written under the app's import root, Panel's basic-auth login form."""
        if command.tool == "panel-serve":
            panel = _panel_login(command)
            return [panel] if panel is not None else []
        roots = self.import_roots(command)
        return [e for e in self._logins if any(e.span.path.startswith(r) for r in roots)]

    def rate_limits(self, command: ServeCommand) -> list[AppRateLimit]:
        """Rate limits on every route of the app behind ``command`` (or of one of its
        routers), written under the app's import root."""
        roots = self.import_roots(command)
        return [e for e in self._rate_limits if any(e.span.path.startswith(r) for r in roots)]

    def authorization(self, command: ServeCommand) -> Authorization | None:
        """Where the Panel app behind ``command`` restricts who may use it, when the
        scanned files show it: ``pn.config.authorize_callback`` (or
        ``pn.extension(authorize_callback=...)``) set to something other than None, or
        a condition comparing ``pn.state.user``/``user_info`` with something, in a
        Python file at or below the directories the process's files come from (the
        file that starts it, its build context): the app can only import such a module
        from there. Panel calls the callback for every page (globally, or per session
        when the app script sets it: panel/io/server.py ``DocHandler._authorize``)."""
        for directory in self._directories(command):
            found = self._authorization_below.get(directory)
            if found is not None:
                return found
        return None

    def import_roots(self, command: ServeCommand) -> list[str]:
        """``backend/`` for a command importing ``app/main.py`` that is
        ``backend/app/main.py``: where the app's own modules live."""
        roots = [
            path[: len(path) - len(wanted)]
            for wanted in imported_module_paths(command)
            for path in self._module_paths(command)
            if path in self._app_files and (path == wanted or path.endswith("/" + wanted))
        ]
        return list(dict.fromkeys(roots))


def _panel_login(command: ServeCommand) -> LoginEndpoint | None:
    auth = command.auth()
    if auth is None or auth.kind != "basic":
        return None
    endpoint = command.value("login_endpoint")
    prefix = command.value("prefix")
    if (endpoint is not None and endpoint.symbolic) or (prefix is not None and prefix.symbolic):
        return None
    path = endpoint.text if endpoint is not None and endpoint.text else "/login"
    path = path if path.startswith("/") else f"/{path}"
    if prefix is not None and prefix.text.strip("/"):
        path = "/" + prefix.text.strip("/") + path
    return LoginEndpoint(
        path,
        auth.source.span,
        "BasicLoginHandler",
        f"Panel's login form for {auth.description}",
        True,
    )


def _authorization(fact: object) -> Authorization | None:
    if isinstance(fact, PanelUserCheck):
        return Authorization(fact.span, f"the app checks the logged-in user (`{fact.text}`)")
    if (
        isinstance(fact, AppSetting)
        and fact.framework == "panel-config"
        and fact.name == "authorize_callback"
        and not (fact.value.text == "None" and not fact.value.symbolic)
    ):
        return Authorization(fact.span, f"`authorize_callback` is set ({fact.value.text})")
    return None


def _directories_above(path: str) -> list[str]:
    """``a/b/c.py`` → ``a/b``, ``a``, ``""``."""
    found = []
    directory = posixpath.dirname(path)
    while directory:
        found.append(directory)
        directory = posixpath.dirname(directory)
    found.append("")
    return found


def python_dict_literal(text: str) -> dict[str, str] | None:
    """The string items of a Python dict literal as Panel reads ``--oauth-extra-params``
    and ``PANEL_OAUTH_EXTRA_PARAMS`` (``ast.literal_eval``, panel/command/serve.py and
    panel/config.py); None when the text is not one (or too long to read)."""
    if len(text) > _MAX_LITERAL:
        return None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): str(v) for k, v in value.items()}

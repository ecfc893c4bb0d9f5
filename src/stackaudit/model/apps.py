"""What the application code behind a server process states: the authentication it
enforces, and the endpoints libraries add to it (FastAPI's ``/docs``, a Prometheus
``/metrics``).

A command line names the module it serves (``uvicorn app.main:app`` imports
``app/main.py``, found as ``model.modules`` says); the endpoints that module turns on
are the app's. The directory the
module is imported from (``backend/`` for ``backend/app/main.py``) is the app's import
root: a ``fastapi.security`` scheme constructed in a module below it (``app/auth.py``)
is taken as the app's authentication, since the app can only import it from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stackaudit.facts.asgi import AsgiApplication, AuthScheme, BuiltinEndpoint
from stackaudit.facts.serve import ServeCommand
from stackaudit.model.modules import imported_module_paths

ModulePaths = Callable[[ServeCommand], tuple[str, ...]]


class Apps:
    def __init__(self, facts: Iterable[object], module_paths: ModulePaths) -> None:
        self._module_paths = module_paths
        self._endpoints: dict[str, list[BuiltinEndpoint]] = {}
        self._schemes: list[AuthScheme] = []
        self._app_files: set[str] = set()
        for fact in facts:
            if isinstance(fact, BuiltinEndpoint):
                self._endpoints.setdefault(fact.span.path, []).append(fact)
            elif isinstance(fact, AuthScheme):
                self._schemes.append(fact)
            elif isinstance(fact, AsgiApplication):
                self._app_files.add(fact.span.path)

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

"""Which file of the tree an ASGI server command line imports.

``uvicorn main:app`` imports ``main.py`` from the directory the process runs in, which
no file states outright. It is looked for where the command's own files are: the
directory of the file that holds the command (a start script, a Dockerfile), the build
context of the compose service or image that runs it, then each directory above them;
then below them (``backend/app/main.py`` for a Dockerfile at the root that copies
``backend/``); only then anywhere in the tree. A tree of many apps, each with its own
``main.py``, so links each command to its own module: matching the name anywhere linked
every command to every app's module (wrong, and quadratic in the number of apps).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from stackaudit.facts.serve import ASGI_SERVERS, ServeCommand
from stackaudit.model.deploy import DeployModel


def imported_module_paths(command: ServeCommand) -> tuple[str, ...]:
    """The file an ASGI server command line imports, as a path suffix (``main:app`` →
    ``main.py``, ``pkg.main:app`` → ``pkg/main.py``); for ``panel serve``, the modules
    ``--plugins`` names, which it imports once per process to serve their ``ROUTES``
    (panel/command/serve.py)."""
    if command.tool == "panel-serve":
        plugins = (word.text for word in command.values("plugins") if not word.symbolic)
        return tuple(name.replace(".", "/") + ".py" for name in plugins if name)
    if command.tool not in ASGI_SERVERS or not command.positionals:
        return ()
    module = command.positionals[0].text.split(":")[0]
    if not module or "$" in module:
        return ()
    return (module if module.endswith(".py") else module.replace(".", "/") + ".py",)


class ModuleIndex:
    def __init__(self, paths: Iterable[str], deploy: DeployModel) -> None:
        self._paths = set(paths)
        self._by_name: dict[str, list[str]] = {}
        for path in sorted(self._paths):
            self._by_name.setdefault(posixpath.basename(path), []).append(path)
        self._deploy = deploy
        self._resolved: dict[tuple[str, int, int, str], tuple[str, ...]] = {}

    def files_imported_by(self, command: ServeCommand) -> tuple[str, ...]:
        key = (command.span.path, command.span.line, command.span.column, command.service)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolve(command)
            self._resolved[key] = found
        return found

    def _resolve(self, command: ServeCommand) -> tuple[str, ...]:
        found: list[str] = []
        anchors = self._anchors(command)
        for wanted in imported_module_paths(command):
            found.extend(self._nearest(wanted, anchors))
        return tuple(dict.fromkeys(found))

    def directories_of(self, command: ServeCommand) -> tuple[str, ...]:
        """The directories a process's own files come from, the closest first: the
        file that starts it, the build context of its compose service or image."""
        return tuple(self._anchors(command))

    def _anchors(self, command: ServeCommand) -> list[str]:
        """Directories the process's files come from, the closest first."""
        anchors = [posixpath.dirname(command.span.path)]
        service = self._deploy.compose_service_for(command)
        if service is not None and service.build is not None and service.build.context:
            anchors.append(service.build.context)
        context = self._deploy.build_context(command.span.path)
        if context:
            anchors.append(context)
        return [a.strip("/") if a not in (".", "./") else "" for a in dict.fromkeys(anchors)]

    def _nearest(self, wanted: str, anchors: list[str]) -> list[str]:
        for anchor in anchors:
            directory = anchor
            while True:
                candidate = posixpath.join(directory, wanted) if directory else wanted
                if candidate in self._paths:
                    return [candidate]
                if not directory:
                    break
                directory = posixpath.dirname(directory)
        same_name = [
            path
            for path in self._by_name.get(posixpath.basename(wanted), ())
            if path == wanted or path.endswith("/" + wanted)
        ]
        below = [
            path
            for path in same_name
            if any(not anchor or path.startswith(anchor + "/") for anchor in anchors)
        ]
        return below or same_name

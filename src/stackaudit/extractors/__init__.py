"""Extractors turn one kind of file into facts. Each is the only code that touches its
parser; they are imported on first use so that a run over a few files stays fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from stackaudit.extractors.base import Extraction
from stackaudit.source import SourceFile

Extractor = Callable[[SourceFile], Extraction]

# kind -> "module:function", resolved lazily.
_EXTRACTORS: dict[str, str] = {
    "dockerfile": "stackaudit.extractors.dockerfile:extract_dockerfile",
    "shell": "stackaudit.extractors.shell:extract_shell",
    "procfile": "stackaudit.extractors.shell:extract_procfile",
    "python": "stackaudit.extractors.python:extract_python",
    "notebook": "stackaudit.extractors.notebook:extract_notebook",
    "compose": "stackaudit.extractors.compose:extract_compose",
    "kubernetes": "stackaudit.extractors.kubernetes:extract_kubernetes",
    "github-actions": "stackaudit.extractors.yamlcommands:extract_yaml_commands",
    "yaml": "stackaudit.extractors.yamlcommands:extract_yaml_commands",
    "requirements": "stackaudit.extractors.dependencies:extract_requirements",
    "dependencies": "stackaudit.extractors.dependencies:extract_dependency_file",
    "makefile": "stackaudit.extractors.makefile:extract_makefile",
    "systemd": "stackaudit.extractors.units:extract_systemd",
    "supervisord": "stackaudit.extractors.units:extract_supervisord",
    "nginx": "stackaudit.extractors.nginx:extract_nginx",
    "env": "stackaudit.extractors.envfile:extract_env_file",
    "fly": "stackaudit.extractors.flytoml:extract_fly_toml",
    "traefik": "stackaudit.extractors.traefik:extract_traefik_file",
}


def extractor_for(kind: str) -> Extractor | None:
    target = _EXTRACTORS.get(kind)
    if target is None:
        return None
    module_name, function = target.split(":")
    extractor: Extractor = getattr(importlib.import_module(module_name), function)
    return extractor


# What an extractor imports only once a file needs it (the Python analysis runs only on
# files that pass the pre-scan).
_DEEPER: dict[str, tuple[str, ...]] = {
    "python": ("stackaudit.extractors.python_analysis",),
    "notebook": ("stackaudit.extractors.python_analysis",),
}


def preload(kinds: Iterable[str]) -> None:
    """Import the extractors of these kinds now. Called before worker processes are
    forked: they share what the parent imported, instead of each importing it again
    (about 0.15 s of CPU per worker)."""
    for kind in sorted(set(kinds)):
        target = _EXTRACTORS.get(kind)
        if target is None:
            continue
        importlib.import_module(target.split(":")[0])
        for module in _DEEPER.get(kind, ()):
            importlib.import_module(module)

"""Report formats. Each module renders a ``RunResult`` to a string; only the text
format imports rich."""

from __future__ import annotations

import importlib

from stackaudit.engine import RunResult

_FORMATTERS = {
    "text": "stackaudit.formatters.text:render_text",
    "json": "stackaudit.formatters.json_report:render_json",
    "sarif": "stackaudit.formatters.sarif:render_sarif",
    "github": "stackaudit.formatters.github:render_github",
    "gitlab": "stackaudit.formatters.gitlab:render_gitlab",
    "junit": "stackaudit.formatters.junit:render_junit",
}
FORMATS = tuple(_FORMATTERS)


def render(name: str, result: RunResult, *, color: bool, quiet: bool, **options: object) -> str:
    """Render with the named formatter; ``options`` reach the formatters that take them
    (SARIF's category, exit code and rule selection)."""
    module_name, function = _FORMATTERS[name].split(":")
    renderer = getattr(importlib.import_module(module_name), function)
    text: str = renderer(result, color=color, quiet=quiet, **options)
    return text

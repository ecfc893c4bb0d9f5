"""Report formats. Each module renders a ``RunResult`` to a string; only the text
format imports rich."""

from __future__ import annotations

import importlib

from stackaudit.engine import RunResult

_FORMATTERS = {
    "text": "stackaudit.formatters.text:render_text",
    "json": "stackaudit.formatters.json_report:render_json",
}


def render(name: str, result: RunResult, *, color: bool, quiet: bool, to_file: bool) -> str:
    module_name, function = _FORMATTERS[name].split(":")
    renderer = getattr(importlib.import_module(module_name), function)
    text: str = renderer(result, color=color, quiet=quiet)
    return text

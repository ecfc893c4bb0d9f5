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


def files_phrase(result: RunResult) -> str:
    """Where the findings are, against the files read: "in 2 of 198 files" when they lie
    in fewer files than were read (a named file, standard input or --diff-base reads the
    whole tree as context, and "in 198 files" read as if every file had findings), else
    "in 5 files"."""
    read = result.files_scanned
    with_findings = len({d.span.path for d in result.diagnostics})
    noun = "file" if read == 1 else "files"
    if 0 < with_findings < read:
        return f"in {with_findings} of {read} {noun}"
    return f"in {read} {noun}"

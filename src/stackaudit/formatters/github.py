"""GitHub Actions workflow commands (``::error file=...::message``), one per finding;
when ``GITHUB_STEP_SUMMARY`` is set, a Markdown table of the findings is appended to
the job summary. Values are escaped as the runner expects (``%``, CR, LF everywhere;
``:`` and ``,`` too in properties), other control characters are shown escaped, so file
content cannot inject a command; the summary's cells are escaped Markdown text."""

from __future__ import annotations

import os

from stackaudit.diagnostics import Severity
from stackaudit.engine import RunResult
from stackaudit.formatters.escape import markdown_text, workflow_data, workflow_property

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def render_github(
    result: RunResult, *, color: bool = False, quiet: bool = False, **_: object
) -> str:
    lines = []
    for d in result.diagnostics:
        span = d.span
        properties = ",".join(
            [
                f"file={workflow_property(span.path)}",
                f"line={span.line}",
                f"col={span.column}",
                f"endLine={span.end_line}",
                f"endColumn={span.end_column}",
                f"title={workflow_property(f'{d.code} {d.name}')}",
            ]
        )
        message = d.message + (f"\nhelp: {d.help}" if d.help else "")
        lines.append(f"::{_COMMAND[d.severity]} {properties}::{workflow_data(message)}")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as handle:  # noqa: PTH123
            handle.write(step_summary(result))
    return "".join(line + "\n" for line in lines)


def step_summary(result: RunResult) -> str:
    if not result.diagnostics:
        return f"### stackaudit\n\nNo findings in {result.files_scanned} files.\n"
    rows = [
        "### stackaudit",
        "",
        f"{len(result.diagnostics)} findings in {result.files_scanned} files"
        + (f" ({result.suppressed} suppressed)" if result.suppressed else "")
        + ".",
        "",
        "| severity | rule | location | message |",
        "|---|---|---|---|",
    ]
    for d in result.diagnostics:
        rows.append(
            f"| {d.severity.value} | {d.code} {d.name} | "
            f"{markdown_text(str(d.span))} | {markdown_text(d.message)} |"
        )
    return "\n".join(rows) + "\n"

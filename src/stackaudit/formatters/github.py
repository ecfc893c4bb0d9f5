"""GitHub Actions: workflow commands (``::error file=...::message``) for the findings
GitHub will show, and the Markdown job summary.

GitHub annotates at most 10 errors, 10 warnings and 10 notices per step (see
docs/upstream-facts.md, F18); later ones are dropped silently. So the most severe
and surest findings are annotated first, each level is capped at 10, and one notice
counts the rest. Values are escaped as the runner expects (``%``, CR, LF everywhere;
``:`` and ``,`` too in properties), other control characters are shown escaped, so
file content cannot inject a command.

The job summary (``step_summary``) is written by the command line whenever
``GITHUB_STEP_SUMMARY`` is set, whatever the format: counts by severity, the findings
sorted by severity with links to the rule pages and to the lines, and the stack
diagram. Every cell is escaped Markdown text: a finding's message quotes the scanned
files."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from stackaudit import RULES_URL
from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.engine import RunResult
from stackaudit.formatters import files_phrase
from stackaudit.formatters.escape import (
    markdown_text,
    uri_path,
    workflow_data,
    workflow_property,
)

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
# Annotations GitHub shows per step, for each of error, warning and notice.
ANNOTATIONS_PER_LEVEL = 10
# Rows of the summary's table; the summary of a step may hold 1 MiB.
SUMMARY_ROWS = 200


def most_severe_first(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Errors, then warnings, then notes; within a level the surest first, then by
    place."""
    return sorted(diagnostics, key=lambda d: (-d.severity.rank, -d.confidence.rank, d.sort_key))


def annotated(diagnostics: Sequence[Diagnostic]) -> tuple[list[Diagnostic], int]:
    """The findings to annotate, most severe first, and how many are left out. When
    any is left out, one notice says so: it takes one of the 10 notice places."""
    ordered = most_severe_first(diagnostics)
    for notice_places in (ANNOTATIONS_PER_LEVEL, ANNOTATIONS_PER_LEVEL - 1):
        caps = {Severity.ERROR: ANNOTATIONS_PER_LEVEL, Severity.WARNING: ANNOTATIONS_PER_LEVEL}
        caps[Severity.NOTE] = notice_places
        kept: list[Diagnostic] = []
        for diagnostic in ordered:
            if caps[diagnostic.severity] > 0:
                caps[diagnostic.severity] -= 1
                kept.append(diagnostic)
        if len(kept) == len(ordered):
            return kept, 0
    return kept, len(ordered) - len(kept)


def render_github(
    result: RunResult, *, color: bool = False, quiet: bool = False, **_: object
) -> str:
    kept, left_out = annotated(result.diagnostics)
    lines = [_annotation(d) for d in kept]
    if left_out:
        noun = "finding" if left_out == 1 else "findings"
        lines.append(
            f"::notice::{left_out} more {noun} not annotated (GitHub shows 10 errors, "
            "10 warnings and 10 notices per step): see the job summary or the SARIF report"
        )
    return "".join(line + "\n" for line in lines)


def _annotation(d: Diagnostic) -> str:
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
    return f"::{_COMMAND[d.severity]} {properties}::{workflow_data(message)}"


# -- The job summary ---------------------------------------------------------------------

_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SERVER = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?")


def blob_url(environ: Mapping[str, str], root: Path) -> str | None:
    """``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/blob/$GITHUB_SHA/`` plus the scan root's
    place in ``$GITHUB_WORKSPACE``, when all are set and well formed; None otherwise
    (locations are then plain text)."""
    server = environ.get("GITHUB_SERVER_URL", "")
    repository = environ.get("GITHUB_REPOSITORY", "")
    sha = environ.get("GITHUB_SHA", "")
    if not (
        _SERVER.fullmatch(server) and _REPOSITORY.fullmatch(repository) and _SHA.fullmatch(sha)
    ):
        return None
    prefix = ""
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace:
        try:
            inside = root.resolve().relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            return None  # the scanned tree is not the checked-out repository
        prefix = "" if inside == "." else uri_path(inside) + "/"
    return f"{server}/{repository}/blob/{sha}/{prefix}"


def step_summary(result: RunResult, diagram: str | None = None, blob: str | None = None) -> str:
    """The job summary: counts, the findings table (at most ``SUMMARY_ROWS`` rows) and
    the stack diagram (Mermaid source, each label already escaped)."""
    diagnostics = result.diagnostics
    suppressed = f" ({result.suppressed} suppressed)" if result.suppressed else ""
    files = files_phrase(result)
    parts = ["### stackaudit", ""]
    if not diagnostics:
        parts.append(f"No findings {files}{suppressed}.")
    else:
        counts = dict.fromkeys(Severity, 0)
        for d in diagnostics:
            counts[d.severity] += 1
        by_level = ", ".join(
            f"{counts[s]} {s.value}{'' if counts[s] == 1 else 's'}" for s in Severity
        )
        noun = "finding" if len(diagnostics) == 1 else "findings"
        parts += [
            f"{len(diagnostics)} {noun} {files}{suppressed}: {by_level}.",
            "",
            "| severity | rule | location | message |",
            "|---|---|---|---|",
        ]
        ordered = most_severe_first(diagnostics)
        parts += [_row(d, blob) for d in ordered[:SUMMARY_ROWS]]
        if len(ordered) > SUMMARY_ROWS:
            parts += ["", f"{len(ordered) - SUMMARY_ROWS} more findings not listed here."]
    if diagram:
        parts += ["", "#### The stack", "", "```mermaid", diagram.rstrip("\n"), "```"]
    return "\n".join(parts) + "\n\n"


def _row(d: Diagnostic, blob: str | None) -> str:
    rule = f"[{d.code}]({RULES_URL}/{d.code}.md) {markdown_text(d.name)}"
    where = markdown_text(str(d.span))
    if blob is not None:
        where = f"[{where}]({blob}{uri_path(d.span.path)}#L{d.span.line})"
    return f"| {d.severity.value} | {rule} | {where} | {markdown_text(d.message)} |"

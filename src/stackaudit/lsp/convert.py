"""Findings as LSP diagnostics, and a fix's edits as a workspace edit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from stackaudit import RULES_URL
from stackaudit.diagnostics import Diagnostic, Edit, Severity
from stackaudit.formatters.escape import printable
from stackaudit.lsp.positions import Lines

SOURCE = "stackaudit"
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.NOTE: types.DiagnosticSeverity.Information,
}

# The lines of a file (relative path), as the analysis saw them.
LinesOf = Callable[[str], Lines]


def rule_url(code: str) -> str:
    """The rule's page, the address SARIF gives as ``helpUri``."""
    return f"{RULES_URL}/{code}.md"


def uri_for(root: Path, rel: str) -> str:
    return from_fs_path(str(root / rel)) or (root / rel).as_uri()


def to_lsp(finding: Diagnostic, root: Path, lines_of: LinesOf) -> types.Diagnostic:
    related = [
        types.DiagnosticRelatedInformation(
            types.Location(uri_for(root, r.span.path), lines_of(r.span.path).range(r.span)),
            printable(r.label),
        )
        for r in finding.related
    ]
    # Messages quote the scanned files: control and bidi characters are shown escaped,
    # as in the terminal, so an editor's line or Problems list shows what is there.
    message = printable(finding.message)
    if finding.help:
        message += f"\nhelp: {printable(finding.help)}"
    return types.Diagnostic(
        range=lines_of(finding.span.path).range(finding.span, widen_empty=True),
        message=message,
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=rule_url(finding.code)),
        source=SOURCE,
        related_information=related or None,
        data={"fingerprint": finding.fingerprint, "confidence": finding.confidence.value},
    )


def workspace_edit(edits: Iterable[Edit], root: Path, lines_of: LinesOf) -> types.WorkspaceEdit:
    """The edits of one fix, grouped by file (a fix may touch several)."""
    changes: dict[str, list[types.TextEdit]] = {}
    for edit in edits:
        text_edit = types.TextEdit(lines_of(edit.span.path).range(edit.span), edit.replacement)
        changes.setdefault(uri_for(root, edit.span.path), []).append(text_edit)
    return types.WorkspaceEdit(changes=changes)

"""Quick fixes: a finding's fix as a workspace edit, and a suppression comment."""

from __future__ import annotations

from lsprotocol import types

from stackaudit.diagnostics import Diagnostic, FixSafety
from stackaudit.lsp.analysis import Analysis
from stackaudit.lsp.convert import to_lsp, workspace_edit
from stackaudit.lsp.positions import touches


def code_actions(
    analysis: Analysis, rel: str, wanted: types.Range, codes: set[str] | None = None
) -> list[types.CodeAction]:
    """The actions for the findings of ``rel`` whose range touches ``wanted``; only
    those of ``codes`` when the client names the diagnostics it asks about (two
    findings on one range must not offer each other's fixes)."""
    lines_of = analysis.lines
    actions: list[types.CodeAction] = []
    for finding in analysis.by_path.get(rel, []):
        if codes and finding.code not in codes:
            continue
        shown = to_lsp(finding, analysis.root, lines_of)
        if not touches(shown.range, wanted):
            continue
        fix = _fix(analysis, finding, shown)
        if fix is not None:
            actions.append(fix)
        ignore = _ignore(analysis, finding, shown)
        if ignore is not None:
            actions.append(ignore)
    return actions


def _fix(
    analysis: Analysis, finding: Diagnostic, shown: types.Diagnostic
) -> types.CodeAction | None:
    if finding.fix_safety is FixSafety.DISPLAY_ONLY or not finding.has_fix:
        return None
    if finding.codemods:
        # A Python fix is built from its description now (libcst is imported only here).
        from stackaudit.fix import with_python_edits

        (finding,) = with_python_edits([finding], analysis.text)
        if not finding.edits:
            return None  # it cannot be built on this text
    safe = finding.fix_safety is FixSafety.SAFE
    title = finding.fix_title or f"Fix {finding.code}"
    return types.CodeAction(
        title=f"{title} ({finding.code})" if safe else f"{title} ({finding.code}, unsafe fix)",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[shown],
        is_preferred=safe,
        edit=workspace_edit(finding.edits, analysis.root, analysis.lines),
    )


def _ignore(
    analysis: Analysis, finding: Diagnostic, shown: types.Diagnostic
) -> types.CodeAction | None:
    from stackaudit.lsp.suppressing import suppression_edit

    edit = suppression_edit(analysis, finding)
    if edit is None:
        return None
    return types.CodeAction(
        title=f"Ignore {finding.code} on this line",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[shown],
        edit=workspace_edit([edit], analysis.root, analysis.lines),
    )

""" "Ignore SAxxx on this line": a ``# stackaudit: ignore[SAxxx]`` comment at the end of
the finding's line, offered only where it is sure to do just that.

``#`` ends a line as a comment in every kind stackaudit reads, but not everywhere in
each: inside a YAML block scalar or a Dockerfile's JSON (exec form) command it becomes
part of the value. So the comment is proposed only when stackaudit's own reading of the
edited file finds the suppression on that line, covering the finding, and extracts
the same facts as before (positions aside): the comment changes nothing else."""

from __future__ import annotations

from typing import Any

import msgspec

from stackaudit.diagnostics import Diagnostic, Edit, Span
from stackaudit.discovery import kind_of_text
from stackaudit.lsp.analysis import Analysis
from stackaudit.source import SourceFile
from stackaudit.suppress import find_suppressions


def suppression_edit(analysis: Analysis, finding: Diagnostic) -> Edit | None:
    rel, line = finding.span.path, finding.span.line
    text = analysis.text(rel)
    kind = kind_of_text(rel, text) if text is not None else None
    if text is None or kind is None:
        return None
    lines = analysis.lines(rel)
    end = len(lines.text(line)) + 1
    edit = Edit(Span(rel, line, end, line, end), f"  # stackaudit: ignore[{finding.code}]")
    source = SourceFile(rel, kind, text)
    start = source.offset(line, end)
    edited = text[:start] + edit.replacement + text[start:]
    covering = [
        s for s in find_suppressions(rel, edited, kind) if s.span.line == line and s.covers(finding)
    ]
    if not covering or _facts(rel, kind, text) != _facts(rel, kind, edited):
        return None
    return edit


def _facts(rel: str, kind: str, text: str) -> object:
    """What stackaudit reads in the file, with end columns left out (the comment moves
    the end of its line)."""
    from stackaudit.extractors import extractor_for

    extractor = extractor_for(kind)
    if extractor is None:
        return None
    try:
        extraction = extractor(SourceFile(rel, kind, text))
        return _without_end_columns(msgspec.to_builtins([extraction.facts, extraction.problems]))
    except Exception:  # the text cannot be read or compared: offer nothing
        return object()


def _without_end_columns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_end_columns(v) for k, v in value.items() if k != "end_column"}
    if isinstance(value, list):
        return [_without_end_columns(v) for v in value]
    return value

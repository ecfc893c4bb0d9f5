"""JSON report, schema version 1 (documented in docs/json-output.md and validated by
``data/report.schema.json``)."""

from __future__ import annotations

from typing import Any

from stackaudit import __version__
from stackaudit.diagnostics import Diagnostic, Severity, Span
from stackaudit.engine import RunResult
from stackaudit.formatters.escape import json_text

SCHEMA_VERSION = 1


def _location(span: Span) -> dict[str, Any]:
    return {
        "path": span.path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def diagnostic_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "severity": diagnostic.severity.value,
        "confidence": diagnostic.confidence.value,
        "message": diagnostic.message,
        "location": _location(diagnostic.span),
        "related": [
            {"location": _location(r.span), "message": r.label} for r in diagnostic.related
        ],
        "help": diagnostic.help or None,
        "fix": {
            "title": diagnostic.fix_title or None,
            "safety": diagnostic.fix_safety.value,
            "edits": [
                {"location": _location(e.span), "replacement": e.replacement}
                for e in diagnostic.edits
            ],
        },
        "fingerprint": diagnostic.fingerprint,
    }


def report_dict(result: RunResult) -> dict[str, Any]:
    counts = {s.value: 0 for s in Severity}
    for diagnostic in result.diagnostics:
        counts[diagnostic.severity.value] += 1
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "stackaudit", "version": __version__},
        "diagnostics": [diagnostic_dict(d) for d in result.diagnostics],
        "summary": {
            "files_scanned": result.files_scanned,
            "findings": len(result.diagnostics),
            "by_severity": counts,
            "suppressed": result.suppressed,
            "skipped": [{"path": s.rel, "reason": s.reason} for s in result.skipped],
            "internal_errors": len(result.errors),
            "baselined": result.baselined,
            "stale_baseline": list(result.stale_baseline),
        },
    }


def render_json(result: RunResult, *, color: bool = False, quiet: bool = False, **_: object) -> str:
    return json_text(report_dict(result))

"""GitLab Code Quality report (a JSON array of issues with a fingerprint each)."""

from __future__ import annotations

from typing import Any

from stackaudit.diagnostics import Severity
from stackaudit.engine import RunResult
from stackaudit.formatters.escape import json_text

_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.NOTE: "minor"}


def render_gitlab(
    result: RunResult, *, color: bool = False, quiet: bool = False, **_: object
) -> str:
    issues: list[dict[str, Any]] = [
        {
            "type": "issue",
            "check_name": f"{d.code} {d.name}",
            "description": d.message,
            "content": {"body": d.help} if d.help else {"body": ""},
            "categories": ["Security"],
            "severity": _SEVERITY[d.severity],
            "fingerprint": f"{d.code}-{d.fingerprint}",
            "location": {
                "path": d.span.path,
                "positions": {
                    "begin": {"line": d.span.line, "column": d.span.column},
                    "end": {"line": d.span.end_line, "column": d.span.end_column},
                },
            },
        }
        for d in result.diagnostics
    ]
    return json_text(issues)

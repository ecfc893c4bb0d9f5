"""SARIF 2.1.0 for GitHub code scanning.

Everything GitHub reads is filled in: every selectable rule with its texts (the full
description within GitHub's 1,024 characters), help in text and Markdown, ``helpUri``,
level, tags (the category, the CWE, and ``security`` with a ``security-severity`` string
for security rules only), ``precision``; every result with a full region, a
repository-relative URI under ``%SRCROOT%``, related locations linked from the message
(``[label](id)``), the
``primaryLocationLineHash`` the upload action would compute, our own line-move-proof
fingerprint, and ``fixes`` when the rule has edits. Suppressed findings are kept, each
with a ``suppressions`` entry (``inSource`` with the comment's reason, ``external`` for
the baseline), so a consumer sees them as suppressed rather than fixed. GitHub's limits
are respected: past 25,000 results a run is cut deterministically (reported findings
first, most severe first) and a notification says so."""

from __future__ import annotations

import sys
from typing import Any

from stackaudit import PROJECT_URL, RULES_URL, __version__
from stackaudit.diagnostics import Confidence, Diagnostic, Severity, Span
from stackaudit.engine import RunResult
from stackaudit.formatters.escape import json_text, sarif_message, uri_path
from stackaudit.formatters.linehash import line_hashes
from stackaudit.rules import all_rules
from stackaudit.rules.base import Rule
from stackaudit.suppress import Suppressed

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 25_000
MAX_RELATED = 999  # a result may hold 1,000 locations, the primary one included
MAX_TAGS = 20
MAX_FULL_DESCRIPTION = 1024  # GitHub's limit for a rule's fullDescription
# GitHub: > 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {Severity.ERROR: "8.0", Severity.WARNING: "5.5", Severity.NOTE: "2.0"}
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
PRECISION = {Confidence.HIGH: "high", Confidence.MEDIUM: "medium", Confidence.LOW: "low"}


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.line,
        "startColumn": span.column,
        "endLine": span.end_line,
        "endColumn": max(span.end_column, span.column + 1 if span.end_line == span.line else 1),
    }


def _location(span: Span) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri_path(span.path), "uriBaseId": "%SRCROOT%"},
            "region": _region(span),
        }
    }


def rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    from stackaudit.docs import rule_markdown

    sections = rule.sections()
    security = rule.is_security()
    tags = ["security", rule.category] if security else [str(rule.category)]
    if rule.cwe:
        tags.append(f"external/cwe/cwe-{rule.cwe}")
    full = sections.get("What it does", "").replace("\n", " ").strip()
    why = sections.get("Why is this bad?", "").split("\n\n")[0].replace("\n", " ").strip()
    properties: dict[str, Any] = {
        "tags": tags[:MAX_TAGS],
        "precision": PRECISION[rule.confidence],
        "problem.severity": LEVEL[rule.severity],
    }
    if security:
        # Only security rules get one: GitHub shows any rule that has it as a security
        # alert, ranked by it (a parse error is no "High" alert).
        chosen = rule.security_severity
        properties["security-severity"] = (
            f"{chosen:.1f}" if chosen is not None else SECURITY_SEVERITY[rule.severity]
        )
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary() or rule.name},
        "fullDescription": {"text": _clip(f"{full} {why}".strip(), MAX_FULL_DESCRIPTION)},
        "help": {"text": rule_markdown(rule), "markdown": rule_markdown(rule)},
        "helpUri": f"{RULES_URL}/{rule.code}.md",
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": properties,
    }


def _clip(text: str, limit: int) -> str:
    """GitHub shows at most ``limit`` characters; cut at a word, marked."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _message(diagnostic: Diagnostic) -> str:
    """The message, the fix, and a link to each related location (``[label](id)``,
    which GitHub renders as a link to that place); scanned text is escaped so it cannot
    form links of its own."""
    text = sarif_message(
        diagnostic.message + (f" Fix: {diagnostic.help}" if diagnostic.help else "")
    )
    related = diagnostic.related[:MAX_RELATED]
    if related:
        links = ", ".join(
            f"[{sarif_message(r.label)}]({number})" for number, r in enumerate(related, start=1)
        )
        text += f" See: {links}."
    return text


def _result(diagnostic: Diagnostic, index: int, line_hash: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "ruleIndex": index,
        "level": LEVEL[diagnostic.severity],
        "message": {"text": _message(diagnostic)},
        "locations": [_location(diagnostic.span)],
        "partialFingerprints": {"stackaudit/v1": diagnostic.fingerprint},
        "properties": {"confidence": diagnostic.confidence.value},
    }
    if line_hash:
        result["partialFingerprints"]["primaryLocationLineHash"] = line_hash
    if diagnostic.related:
        result["relatedLocations"] = [
            {
                "id": number,
                **_location(related.span),
                "message": {"text": sarif_message(related.label)},
            }
            for number, related in enumerate(diagnostic.related[:MAX_RELATED], start=1)
        ]
    if diagnostic.edits:
        changes: dict[str, list[dict[str, Any]]] = {}
        for edit in diagnostic.edits:
            changes.setdefault(edit.span.path, []).append(
                {
                    "deletedRegion": _region(edit.span),
                    "insertedContent": {"text": edit.replacement},
                }
            )
        result["fixes"] = [
            {
                "description": {
                    "text": sarif_message(
                        diagnostic.fix_title or diagnostic.help or "apply the fix"
                    )
                },
                "artifactChanges": [
                    {
                        "artifactLocation": {"uri": uri_path(path), "uriBaseId": "%SRCROOT%"},
                        "replacements": replacements,
                    }
                    for path, replacements in sorted(changes.items())
                ],
            }
        ]
    return result


def _suppression(suppressed: Suppressed) -> dict[str, Any]:
    found: dict[str, Any] = {"kind": suppressed.kind, "status": "accepted"}
    if suppressed.justification:
        found["justification"] = sarif_message(suppressed.justification)
    return found


def sarif_dict(
    result: RunResult, *, category: str = "", exit_code: int = 0, selected: list[str] | None = None
) -> dict[str, Any]:
    rules = [r for r in all_rules() if selected is None or r.code in selected]
    index = {rule.code: number for number, rule in enumerate(rules)}
    withheld = {id(s.diagnostic): s for s in result.withheld}
    everything = [*result.diagnostics, *(s.diagnostic for s in result.withheld)]
    for diagnostic in everything:
        if diagnostic.code not in index:  # a rule outside the selection still fired
            extra = next(r for r in all_rules() if r.code == diagnostic.code)
            index[extra.code] = len(rules)
            rules.append(extra)
    ordered = sorted(everything, key=lambda d: (id(d) in withheld, -d.severity.rank, d.sort_key))
    kept = sorted(ordered[:MAX_RESULTS], key=lambda d: (d.sort_key, id(d) in withheld))
    hashes: dict[str, dict[int, str]] = {}
    results = []
    for diagnostic in kept:
        path = diagnostic.span.path
        if path not in hashes:
            source = result.sources.get(path)
            hashes[path] = line_hashes(source.text) if source else {}
        entry = _result(diagnostic, index[diagnostic.code], hashes[path].get(diagnostic.span.line))
        suppressed = withheld.get(id(diagnostic))
        if suppressed is not None:
            entry["suppressions"] = [_suppression(suppressed)]
        results.append(entry)
    notifications = []
    if len(ordered) > MAX_RESULTS:
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{len(ordered)} results; only the {MAX_RESULTS} most severe "
                    "are included (GitHub's limit per run)"
                },
            }
        )
    invocation: dict[str, Any] = {
        "executionSuccessful": not result.errors,
        "exitCode": exit_code,
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "stackaudit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": PROJECT_URL,
                        "rules": [rule_descriptor(rule) for rule in rules],
                    }
                },
                "automationDetails": {
                    "id": f"stackaudit/{category}/" if category else "stackaudit/"
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": result.root.as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "invocations": [invocation],
                "results": results,
            }
        ],
    }


MAX_GZIP_BYTES = 10 * 1024 * 1024  # GitHub refuses larger uploads (gzip-compressed)


def _fits(text: str) -> bool:
    import gzip

    return len(gzip.compress(text.encode("utf-8"), compresslevel=6)) <= MAX_GZIP_BYTES


def render_sarif(
    result: RunResult,
    *,
    color: bool = False,
    quiet: bool = False,
    category: str = "",
    exit_code: int = 0,
    selected: list[str] | None = None,
) -> str:
    if len(result.diagnostics) > MAX_RESULTS:
        print(
            f"stackaudit: warning: {len(result.diagnostics)} findings; SARIF keeps the "
            f"{MAX_RESULTS} most severe",
            file=sys.stderr,
        )
    document = sarif_dict(result, category=category, exit_code=exit_code, selected=selected)
    text = json_text(document)
    if _fits(text):
        return text
    # Too large for an upload: keep the most severe results, halving until it fits.
    run = document["runs"][0]
    results = run["results"]
    rank = ("error", "warning", "note")
    by_severity = sorted(range(len(results)), key=lambda i: rank.index(results[i]["level"]))
    keep = len(results)
    while keep > 0:
        keep //= 2
        run["results"] = [results[i] for i in sorted(by_severity[:keep])]
        run["invocations"][0].setdefault("toolExecutionNotifications", []).append(
            {
                "level": "warning",
                "message": {
                    "text": f"SARIF over {MAX_GZIP_BYTES // 2**20} MB compressed; only "
                    f"the {keep} most severe results are included"
                },
            }
        )
        text = json_text(document)
        if _fits(text):
            break
        run["invocations"][0]["toolExecutionNotifications"].pop()
    print(
        f"stackaudit: warning: SARIF truncated to {keep} results to stay under GitHub's "
        "upload limit",
        file=sys.stderr,
    )
    return text

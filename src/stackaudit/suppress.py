"""Inline suppressions: ``# stackaudit: ignore[SA101,SA2] -- reason``.

A comment after code applies to its own line. A comment alone on its line applies to the
next line that is not a comment, together with the lines that line continues onto with a
trailing backslash (Dockerfile and shell commands). ``# stackaudit: ignore-file[CODES]``
in the first lines of a file applies to the whole file. The same ``#`` syntax works in
every kind of file stackaudit reads."""

from __future__ import annotations

import re

from msgspec import Struct, field

from stackaudit.diagnostics import Diagnostic, Span
from stackaudit.source import split_lines

# `ignore[CODES]`, or a bare `ignore`, which suppresses nothing (SA002 says so: silencing
# every rule on a line would hide the findings nobody has read yet).
_DIRECTIVE = re.compile(
    r"#\s*stackaudit:\s*(ignore-file|ignore)\b(?:\[([^\]]*)\])?(?:\s*--\s*(?P<reason>.*))?"
)
FILE_DIRECTIVE_LINES = 10


class Suppression(Struct):
    span: Span
    codes: list[str]
    first_line: int
    last_line: int
    whole_file: bool = False
    reason: str = ""
    used: set[str] = field(default_factory=set)
    # Written without `[CODES]`: it names nothing, so it covers nothing.
    bare: bool = False

    def covers(self, diagnostic: Diagnostic) -> str | None:
        """The code of this suppression that matches ``diagnostic``, if it covers it."""
        if diagnostic.span.path != self.span.path:
            return None
        if not self.whole_file and not (self.first_line <= diagnostic.span.line <= self.last_line):
            return None
        for code in self.codes:
            if diagnostic.code.startswith(code):
                return code
        return None


def _python_comments(text: str) -> dict[int, int] | None:
    """Line -> column of each real comment mentioning ``stackaudit:`` (a string that
    looks like one is code, not a comment), or None when the file cannot be tokenized
    (then every line is examined). Lines are counted as Python counts them: universal
    newlines, so a file with ``\\r`` line ends is not one long comment."""
    import io
    import tokenize

    try:
        return {
            token.start[0]: token.start[1]
            for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline)
            if token.type == tokenize.COMMENT and "stackaudit:" in token.string
        }
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None


def find_suppressions(path: str, text: str, kind: str = "") -> list[Suppression]:
    if "stackaudit:" not in text:
        return []
    comments = _python_comments(text) if kind == "python" else None
    lines = split_lines(text)
    found = []
    for index, line in enumerate(lines):
        if comments is not None and index + 1 not in comments:
            continue
        # In Python, only the comment itself: not a `# stackaudit:` inside a string
        # earlier on the line.
        start = comments[index + 1] if comments is not None else 0
        match = _DIRECTIVE.search(line, start)
        if not match:
            continue
        number = index + 1
        bare = match.group(2) is None
        codes = [c.strip().upper() for c in (match.group(2) or "").split(",") if c.strip()]
        span = Span(path, number, match.start() + 1, number, match.end() + 1)
        reason = (match.group("reason") or "").strip()
        if match.group(1) == "ignore-file":
            whole = number <= FILE_DIRECTIVE_LINES
            found.append(Suppression(span, codes, number, number, whole, reason, bare=bare))
            continue
        if line[: match.start()].strip():
            found.append(Suppression(span, codes, number, number, reason=reason, bare=bare))
            continue
        target = index + 1
        while target < len(lines) and (
            not lines[target].strip() or lines[target].lstrip().startswith("#")
        ):
            target += 1
        last = target
        while last < len(lines) - 1 and lines[last].rstrip().endswith("\\"):
            last += 1
        found.append(Suppression(span, codes, target + 1, last + 1, reason=reason, bare=bare))
    return found


class Suppressed(Struct, frozen=True):
    """A finding that is not reported, and why: a comment in the source (SARIF's
    ``inSource``) or an entry of the baseline (``external``). Reports that can say so
    (SARIF) keep it, marked, rather than drop it."""

    diagnostic: Diagnostic
    kind: str = "inSource"
    justification: str = ""


def apply_suppressions(
    diagnostics: list[Diagnostic], suppressions: list[Suppression]
) -> tuple[list[Diagnostic], list[Suppressed]]:
    """The diagnostics no suppression covers, and those suppressed, with the reason
    written after ``--`` in the comment."""
    by_path: dict[str, list[Suppression]] = {}
    for suppression in suppressions:
        by_path.setdefault(suppression.span.path, []).append(suppression)
    kept = []
    suppressed = []
    for diagnostic in diagnostics:
        covering = None
        for suppression in by_path.get(diagnostic.span.path, ()):
            code = suppression.covers(diagnostic)
            if code is not None:
                suppression.used.add(code)
                covering = suppression
        if covering is None:
            kept.append(diagnostic)
        else:
            suppressed.append(Suppressed(diagnostic, justification=covering.reason))
    return kept, suppressed

"""Human output, in the spirit of Ruff and zizmor: location, code, severity (and
confidence when not high) and a short title; the offending line with two lines of
context and the span underlined; the full message, related places with their labels,
the fix and the rule's page as labelled notes; and a footer with counts and what
``--fix`` can fix. All scanned text goes through
``printable`` and rich ``Text`` objects, never markup."""

from __future__ import annotations

import io
import sys
import textwrap
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from stackaudit import rule_url
from stackaudit.bounds import ELLIPSIS, MAX_EXCERPT
from stackaudit.diagnostics import Confidence, Diagnostic, FixSafety, Severity
from stackaudit.engine import RunResult
from stackaudit.formatters import files_phrase
from stackaudit.formatters.escape import display_width, printable, printable_line
from stackaudit.formatters.title import finding_title

if TYPE_CHECKING:
    from rich.console import Console


class _Line(Protocol):
    """What this module needs of a line: rich ``Text`` with colour, ``_Plain`` without."""

    @property
    def plain(self) -> str: ...

    def append(self, text: str, style: str | None = None) -> object: ...


class _Plain:
    """A line without styles: the report without colour needs no rich import."""

    def __init__(self, text: str = "", style: str | None = None) -> None:
        self.plain = text

    def append(self, text: str, style: str | None = None) -> _Plain:
        self.plain += text
        return self


Make = Callable[..., _Line]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.NOTE: "bold cyan"}


def _console(buffer: io.StringIO, color: bool) -> Console:
    from rich.console import Console

    return Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        width=200,
        soft_wrap=True,
        emoji=False,
        markup=False,
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# Lines of source shown above and below the flagged line, as Ruff and zizmor do.
CONTEXT_LINES = 2
# Without a terminal to measure (a pipe, a CI log), notes wrap at this width.
DEFAULT_WIDTH = 100
_NOTE_INDENT = "  = "


def _head(result: RunResult, diagnostic: Diagnostic, quiet: bool, make: Make) -> _Line:
    """``path:line:col: CODE severity[confidence]: text``: the confidence only when it is
    not high; the text is the full message with ``--quiet`` (one grep-able line a
    finding, what pre-commit users read), else the short title."""
    span = diagnostic.span
    head = make()
    head.append(f"{printable_line(span.path)}:{span.line}:{span.column}: ", style="bold")
    cell = _notebook_cell(result, diagnostic)
    if cell:
        head.append(f"(cell {cell[0]}, line {cell[1]}) ", style="bold")
    style = _STYLE[diagnostic.severity]
    head.append(diagnostic.code, style=style)
    head.append(f" {diagnostic.severity.value}", style=style)
    if diagnostic.confidence is not Confidence.HIGH:
        head.append(f"[{diagnostic.confidence.value}]", style=style)
    head.append(": ", style=style)
    if not quiet and diagnostic.has_fix and diagnostic.fix_safety is FixSafety.SAFE:
        head.append("[*] ", style="bold")  # Ruff's mark: `--fix` fixes this one
    text = diagnostic.message if quiet else finding_title(diagnostic.message)
    head.append(printable(text), style=None if quiet else "bold")
    return head


def _block(
    result: RunResult,
    diagnostic: Diagnostic,
    quiet: bool,
    make: Make,
    secrets: _Secrets,
    width: int | None,
    links: bool,
) -> list[_Line]:
    head = _head(result, diagnostic, quiet, make)
    if quiet:
        return [head]
    lines = [head, *_frame(result, diagnostic, make, secrets, width)]
    wrap_at = width or DEFAULT_WIDTH
    if finding_title(diagnostic.message) != diagnostic.message:
        lines += _note(make, "note", diagnostic.message, wrap_at)
    for related in diagnostic.related:
        lines += _related(make, printable(related.label), printable(str(related.span)), wrap_at)
    if diagnostic.help:
        lines += _note(make, "help", diagnostic.help, wrap_at)
    lines.append(_see(make, diagnostic.code, links))
    lines.append(make(""))
    return lines


def _note(make: Make, label: str, text: str, width: int) -> list[_Line]:
    """``  = label: text``, wrapped at ``width`` with the text's lines aligned."""
    first = f"{_NOTE_INDENT}{label}: "
    indent = " " * len(first)
    wrapped = textwrap.wrap(
        printable(text),
        max(width - len(first), 20),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [""]
    lines = []
    for number, part in enumerate(wrapped):
        if number == 0:
            line = make(_NOTE_INDENT, style="blue")
            line.append(f"{label}: ", style="bold")
        else:
            # A wrapped line starts with spaces: a `::` after them would still be a
            # GitHub workflow command.
            line = make(indent)
            part = printable_line(part)
        line.append(part)
        lines.append(line)
    return lines


def _related(make: Make, label: str, where: str, width: int) -> list[_Line]:
    """``  = label: path:line:col``; too long for ``width``, the label wraps under the
    ``=`` and the place, never cut, ends the last line (or takes one of its own)."""
    line = make(_NOTE_INDENT, style="blue")
    if len(_NOTE_INDENT) + len(label) + 2 + len(where) <= width:
        line.append(f"{label}: ", style="bold")
        line.append(where)
        return [line]
    indent = " " * (len(_NOTE_INDENT) + 2)
    parts = textwrap.wrap(
        f"{label}: {where}",
        max(width - len(indent), 20),
        break_long_words=False,
        break_on_hyphens=False,
    )
    line.append(parts[0], style="bold")
    lines = [line]
    for part in parts[1:]:
        lines.append(make(indent + printable_line(part)))
    return lines


def _see(make: Make, code: str, links: bool) -> _Line:
    """``  = see: <rule page>``: with colour, an OSC 8 hyperlink (its target is our own
    URL, never scanned text); else the plain URL, which terminals and CI logs link."""
    url = rule_url(code)
    line = make(_NOTE_INDENT, style="blue")
    line.append("see: ", style="bold")
    line.append(url, style=f"link {url}" if links else None)
    return line


def _frame(
    result: RunResult,
    diagnostic: Diagnostic,
    make: Make,
    secrets: _Secrets,
    width: int | None,
) -> list[_Line]:
    """The flagged line with ``CONTEXT_LINES`` lines above and below (fewer at the
    start and end of the file), a gutter of line numbers, the span underlined with the
    rule's name beside it; every line masked where it holds a secret and cut to the
    width around the span."""
    span = diagnostic.span
    source = result.sources.get(span.path)
    if source is None or not 1 <= span.line <= len(source.lines):
        return []
    numbers = range(
        max(1, span.line - CONTEXT_LINES), min(len(source.lines), span.line + CONTEXT_LINES) + 1
    )
    gutter = len(str(numbers[-1]))
    # The gutter, ` | `, and an ellipsis at either end of a cut line.
    limit = max(width - gutter - 5, 20) if width else MAX_EXCERPT
    flagged = _masked(source.lines[span.line - 1], secrets.get((span.path, span.line), ()))
    end_column = span.end_column if span.end_line == span.line else len(flagged) + 1
    left = _view_left(len(flagged), span.column - 1, end_column - 1, limit)
    lines = [make(f"{' ' * gutter} |", style="blue")]
    for number in numbers:
        text = _masked(source.lines[number - 1], secrets.get((span.path, number), ()))
        # A context line that fits is shown whole: cut at the flagged line's window,
        # a short line would keep only its tail (`…h` for `#!/bin/sh`).
        fits = number != span.line and len(text) <= limit
        shown = text if fits else _clipped(text, left, limit)
        line = make(f"{number:>{gutter}} |", style="blue")
        if shown:
            line.append(" " + printable(shown))
        lines.append(line)
        if number == span.line:
            carets = _carets(make, diagnostic, shown, left, end_column, gutter, limit + 2)
            lines.append(carets)
    lines.append(make(f"{' ' * gutter} |", style="blue"))
    return lines


def _carets(
    make: Make,
    diagnostic: Diagnostic,
    shown: str,
    left: int,
    end_column: int,
    gutter: int,
    room: int,
) -> _Line:
    """The ``^^^`` under the span as shown (escapes and tabs widen what precedes it),
    followed by the rule's name when it fits in ``room`` columns."""
    prefix = ELLIPSIS if left > 0 else ""
    start_in_shown = len(prefix) + max(0, diagnostic.span.column - 1 - left)
    end_in_shown = min(len(prefix) + max(0, end_column - 1 - left), len(shown))
    start = display_width(shown, start_in_shown + 1)
    caret_count = max(1, display_width(shown, end_in_shown + 1) - start)
    marker = make(f"{' ' * gutter} | ", style="blue")
    marker.append(" " * start + "^" * caret_count, style=_STYLE[diagnostic.severity])
    if start + caret_count + 1 + len(diagnostic.name) <= room:
        marker.append(f" {diagnostic.name}", style=_STYLE[diagnostic.severity])
    return marker


def _view_left(length: int, start: int, end: int, limit: int) -> int:
    """The first column shown of a line ``length`` long so that the span ``start``..
    ``end`` (0-based) is in view: a long span shows its start (``bounds.window``'s
    rule, applied to every line of the frame alike so that they stay aligned)."""
    if length <= limit:
        return 0
    start = min(max(0, start), length)
    end = min(max(start, end), length)
    width = min(end - start, limit // 2)
    left = max(0, start - (limit - width) // 2)
    right = min(length, left + limit)
    return max(0, min(left, right - limit))


def _clipped(text: str, left: int, limit: int) -> str:
    """Columns ``left``..``left + limit`` of ``text``, an ellipsis where it was cut."""
    if len(text) <= limit and left == 0:
        return text
    shown = text[left : left + limit]
    if left > 0:
        shown = ELLIPSIS + shown
    if len(text) > left + limit:
        shown += ELLIPSIS
    return shown


_Secrets = dict[tuple[str, int], list[tuple[int, int]]]
# A secret's lines are masked up to this many: a frame shows a few lines around each
# finding, and no secret value runs longer in practice.
_SECRET_LINES = 1000


def _secret_columns(result: RunResult) -> _Secrets:
    """Per file line, the columns (0-based, end excluded) of every secret in the files
    shown: the run's redactions (found whatever the selection, suppressions or baseline
    reported) and the spans of secret findings, so that no quoted line shows one,
    whichever finding's frame quotes it (a secret over several lines is masked on each)."""
    from stackaudit.rules import rule_by_code

    spans = list(result.redactions)
    for diagnostic in (*result.diagnostics, *(s.diagnostic for s in result.withheld)):
        rule = rule_by_code(diagnostic.code)
        if rule is not None and rule.span_is_secret:
            spans.append(diagnostic.span)
    found: _Secrets = {}
    for span in spans:
        last = min(span.end_line, span.line + _SECRET_LINES)
        for line in range(span.line, last + 1):
            start = span.column - 1 if line == span.line else 0
            end = span.end_column - 1 if line == span.end_line else sys.maxsize
            found.setdefault((span.path, line), []).append((start, end))
    return found


def _masked(line: str, columns: Iterable[tuple[int, int]]) -> str:
    """The line with the characters of each ``[start, end)`` (a secret) replaced by
    ``*``."""
    for start, end in columns:
        end = min(end, len(line))
        line = line[:start] + "*" * max(0, end - start) + line[end:]
    return line


def _notebook_cell(result: RunResult, diagnostic: Diagnostic) -> tuple[int, int] | None:
    """Findings in a notebook are located by the notebook file's JSON lines (as SARIF
    wants); people read cells, so the text output adds the cell and its line."""
    span = diagnostic.span
    source = result.sources.get(span.path)
    if source is None or not span.path.endswith(".ipynb"):
        return None
    from stackaudit.extractors.notebook import cell_position

    return cell_position(source, span.line, span.column)


def render_text(
    result: RunResult,
    *,
    color: bool = False,
    quiet: bool = False,
    width: int | None = None,
    hidden: int = 0,
    **_: object,
) -> str:
    """The report. ``width``: the terminal's, to cut source lines and wrap notes to
    (None: a pipe or a file, where lines are cut only when very long and notes wrap at
    ``DEFAULT_WIDTH``); ``hidden``: findings left out by the confidence filter, counted
    in the summary. Rule pages are OSC 8 hyperlinks with colour only: the escape would
    be noise in a file or a CI log."""
    if color:
        from rich.text import Text

        make: Make = Text
    else:
        make = _Plain
    secrets = _secret_columns(result)
    lines = [
        line
        for d in result.diagnostics
        for line in _block(result, d, quiet, make, secrets, width, links=color)
    ]
    if not quiet:
        # A skip reported as SA003 is a finding above, not a note.
        reported = {d.span.path for d in result.diagnostics if d.code == "SA003"}
        lines += [
            make(f"note: skipped {printable(s.rel)}: {printable(s.reason)}", style="dim")
            for s in result.skipped
            if s.rel not in reported
        ]
        lines.append(_summary(result, make, hidden))
        fixable = _fixable(result.diagnostics, make)
        if fixable is not None:
            lines.append(fixable)
    if not color:
        # Without styles there is nothing for rich to do: the lines are the report.
        return "".join(line.plain + "\n" for line in lines)
    buffer = io.StringIO()
    if lines:
        # One print for the whole report: rich's per-call cost dominates on big reports.
        _console(buffer, color).print(Text("\n").join(lines))  # type: ignore[arg-type]
    return buffer.getvalue()


def _fixable(diagnostics: list[Diagnostic], make: Make) -> _Line | None:
    """Ruff's closing line: how many findings ``--fix`` would fix, and how many more
    ``--unsafe-fixes`` adds (fixes that infer a value); None when nothing can be fixed."""
    safe = unsafe = 0
    for diagnostic in diagnostics:
        if diagnostic.has_fix and diagnostic.fix_safety is FixSafety.SAFE:
            safe += 1
        elif diagnostic.has_fix and diagnostic.fix_safety is FixSafety.UNSAFE:
            unsafe += 1
    if not safe and not unsafe:
        return None
    if not safe:
        return make(f"{unsafe} fixable with `--fix --unsafe-fixes`.", style="bold")
    line = make(f"[*] {safe} fixable with `--fix`", style="bold")
    if unsafe:
        line.append(f" ({unsafe} more with `--unsafe-fixes`)")
    line.append(".")
    return line


def _summary(result: RunResult, make: Make, hidden: int = 0) -> _Line:
    counts = dict.fromkeys(Severity, 0)
    for diagnostic in result.diagnostics:
        counts[diagnostic.severity] += 1
    summary = make()
    if result.diagnostics:
        parts = [_plural(counts[s], s.value) for s in Severity if counts[s]]
        summary.append(f"Found {_plural(len(result.diagnostics), 'finding')} ", style="bold")
        summary.append(f"({', '.join(parts)})")
    else:
        summary.append("No findings", style="bold green")
    summary.append(f" {files_phrase(result)}")
    if result.suppressed:
        summary.append(f"; {result.suppressed} suppressed")
    if result.baselined:
        summary.append(f"; {result.baselined} in the baseline")
    if hidden:
        summary.append(f"; {hidden} hidden by confidence (--persona auditor shows them)")
    if result.stale_baseline:
        count = len(result.stale_baseline)
        summary.append(f"; {count} stale baseline {'entry' if count == 1 else 'entries'}")
    summary.append(".")
    return summary


# Below this width the table's fixed columns leave the summary too little room: each
# rule takes two lines instead (code, severity and name; the summary wrapped under them).
_RULES_TABLE_WIDTH = 120


def rules_table(color: bool = False, width: int = 160) -> str:
    """Every rule: a table on a wide terminal, two lines a rule on a narrow one, so the
    list reads at 80 columns without a summary squeezed into a few characters."""
    from rich.console import Console
    from rich.table import Table

    from stackaudit.rules import all_rules

    if width < _RULES_TABLE_WIDTH:
        lines = []
        for rule in all_rules():
            lines.append(f"{rule.code}  {rule.severity.value:<8} {rule.name}")
            wrapped = textwrap.wrap(rule.summary(), max(width - 7, 20))
            lines.extend(" " * 7 + line for line in wrapped)
        return "\n".join(lines) + "\n"
    table = Table(box=None, show_edge=False, pad_edge=False)
    for column in ("code", "name", "severity", "applies to", "fix"):
        table.add_column(column, no_wrap=True)
    table.add_column("summary")
    for rule in all_rules():
        table.add_row(
            rule.code,
            rule.name,
            rule.severity.value,
            ", ".join(rule.applies_to),
            rule.fix.value,
            rule.summary(),
        )
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width,
        highlight=False,
        markup=False,
    )
    console.print(table)
    return buffer.getvalue()


def rules_json() -> str:
    """Every rule's metadata, for tools."""
    import json

    from stackaudit.rules import all_rules

    return (
        json.dumps(
            [
                {
                    "code": rule.code,
                    "name": rule.name,
                    "severity": rule.severity.value,
                    "confidence": rule.confidence.value,
                    "category": str(rule.category),
                    "applies_to": [str(kind) for kind in rule.applies_to],
                    "fix": rule.fix.value,
                    "security": rule.is_security(),
                    "summary": rule.summary(),
                    "url": rule_url(rule.code),
                }
                for rule in all_rules()
            ],
            indent=2,
        )
        + "\n"
    )


def statistics(result: RunResult) -> str:
    """``--statistics``: one line a rule, most findings first: the count, the code, the
    name, and ``[*]`` when ``--fix`` fixes some of them — the finding lines' mark, so a
    rule whose fixes are all unsafe (``--unsafe-fixes``) is not marked."""
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    fixable: set[str] = set()
    for diagnostic in result.diagnostics:
        counts[diagnostic.code] = counts.get(diagnostic.code, 0) + 1
        names[diagnostic.code] = diagnostic.name
        if diagnostic.has_fix and diagnostic.fix_safety is FixSafety.SAFE:
            fixable.add(diagnostic.code)
    order = sorted(counts, key=lambda code: (-counts[code], code))
    width = max((len(str(counts[code])) for code in order), default=1)
    lines = [
        f"{counts[code]:>{width}}  {code}  {names[code]}{'  [*]' if code in fixable else ''}"
        for code in order
    ]
    return "".join(line + "\n" for line in lines)

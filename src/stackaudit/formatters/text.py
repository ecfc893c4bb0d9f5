"""Human output, in the spirit of ruff and zizmor: location, code, severity and
message; the offending line with the span underlined; related places with their labels;
the fix as a ``help`` line; and a footer with counts. All scanned text goes through
``printable`` and rich ``Text`` objects, never markup."""

from __future__ import annotations

import io
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from stackaudit.bounds import window
from stackaudit.diagnostics import Diagnostic, Severity
from stackaudit.engine import RunResult
from stackaudit.formatters.escape import display_width, printable, printable_line

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


def _block(
    result: RunResult,
    diagnostic: Diagnostic,
    quiet: bool,
    make: Make,
    secrets: dict[tuple[str, int], list[tuple[int, int]]],
) -> list[_Line]:
    span = diagnostic.span
    head = make()
    head.append(f"{printable_line(span.path)}:{span.line}:{span.column}: ", style="bold")
    cell = _notebook_cell(result, diagnostic)
    if cell:
        head.append(f"(cell {cell[0]}, line {cell[1]}) ", style="bold")
    head.append(diagnostic.code, style=_STYLE[diagnostic.severity])
    head.append(f" {diagnostic.severity.value}: ", style=_STYLE[diagnostic.severity])
    head.append(printable(diagnostic.message))
    if quiet:
        return [head]
    lines = [head]
    source = result.source_line(span.path, span.line)
    if source:
        gutter = " " * len(str(span.line))
        end_column = span.end_column if span.end_line == span.line else len(source) + 1
        for start, end in secrets.get((span.path, span.line), ()):
            source = _masked(source, start, end)
        # A long line (minified, generated) is shown around the span only.
        source, first, last = window(source, span.column - 1, end_column - 1)
        start = display_width(source, first + 1)
        width = max(1, display_width(source, last + 1) - start)
        lines.append(make(f"{gutter} |", style="blue"))
        line = make(f"{span.line} | ", style="blue")
        line.append(printable(source))
        lines.append(line)
        marker = make(f"{gutter} | ", style="blue")
        marker.append(" " * start + "^" * width, style=_STYLE[diagnostic.severity])
        lines.append(marker)
    for related in diagnostic.related:
        note = make("  = ", style="blue")
        note.append(f"{printable(related.label)}: ", style="bold")
        note.append(f"{printable(str(related.span))}")
        lines.append(note)
    if diagnostic.help:
        note = make("  = ", style="blue")
        note.append("help: ", style="bold")
        note.append(printable(diagnostic.help))
        lines.append(note)
    lines.append(make(""))
    return lines


def _secret_columns(
    diagnostics: list[Diagnostic],
) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """Per file line, the columns (0-based, end excluded) of the secrets that findings
    point at, so that no quoted line shows one, whichever finding quotes it."""
    from stackaudit.rules import rule_by_code

    found: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for diagnostic in diagnostics:
        rule = rule_by_code(diagnostic.code)
        span = diagnostic.span
        if rule is None or not rule.span_is_secret:
            continue
        # A secret running over several lines: only its first line is quoted.
        end = span.end_column - 1 if span.end_line == span.line else sys.maxsize
        found.setdefault((span.path, span.line), []).append((span.column - 1, end))
    return found


def _masked(line: str, start: int, end: int) -> str:
    """The line with the characters ``[start, end)`` (a secret) replaced by ``*``."""
    return line[:start] + "*" * max(0, end - start) + line[end:]


def _notebook_cell(result: RunResult, diagnostic: Diagnostic) -> tuple[int, int] | None:
    """Findings in a notebook are located by the notebook file's JSON lines (as SARIF
    wants); people read cells, so the text output adds the cell and its line."""
    span = diagnostic.span
    source = result.sources.get(span.path)
    if source is None or not span.path.endswith(".ipynb"):
        return None
    from stackaudit.extractors.notebook import cell_position

    return cell_position(source, span.line, span.column)


def render_text(result: RunResult, *, color: bool = False, quiet: bool = False, **_: object) -> str:
    if color:
        from rich.text import Text

        make: Make = Text
    else:
        make = _Plain
    secrets = _secret_columns(result.diagnostics)
    lines = [line for d in result.diagnostics for line in _block(result, d, quiet, make, secrets)]
    if not quiet:
        # A skip reported as SA003 is a finding above, not a note.
        reported = {d.span.path for d in result.diagnostics if d.code == "SA003"}
        lines += [
            make(f"note: skipped {printable(s.rel)}: {printable(s.reason)}", style="dim")
            for s in result.skipped
            if s.rel not in reported
        ]
        lines.append(_summary(result, make))
    if not color:
        # Without styles there is nothing for rich to do: the lines are the report.
        return "".join(line.plain + "\n" for line in lines)
    buffer = io.StringIO()
    if lines:
        # One print for the whole report: rich's per-call cost dominates on big reports.
        _console(buffer, color).print(Text("\n").join(lines))  # type: ignore[arg-type]
    return buffer.getvalue()


def _summary(result: RunResult, make: Make) -> _Line:
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
    summary.append(f" in {_plural(result.files_scanned, 'file')}")
    if result.suppressed:
        summary.append(f"; {result.suppressed} suppressed")
    if result.baselined:
        summary.append(f"; {result.baselined} in the baseline")
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

    from stackaudit import RULES_URL
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
                    "url": f"{RULES_URL}/{rule.code}.md",
                }
                for rule in all_rules()
            ],
            indent=2,
        )
        + "\n"
    )


def statistics(result: RunResult) -> str:
    """``--statistics``: one line a rule, most findings first: the count, the code, the
    name, and ``[*]`` when some of them can be fixed (``--fix``/``--unsafe-fixes``)."""
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    fixable: set[str] = set()
    for diagnostic in result.diagnostics:
        counts[diagnostic.code] = counts.get(diagnostic.code, 0) + 1
        names[diagnostic.code] = diagnostic.name
        if diagnostic.has_fix:
            fixable.add(diagnostic.code)
    order = sorted(counts, key=lambda code: (-counts[code], code))
    width = max((len(str(counts[code])) for code in order), default=1)
    lines = [
        f"{counts[code]:>{width}}  {code}  {names[code]}{'  [*]' if code in fixable else ''}"
        for code in order
    ]
    return "".join(line + "\n" for line in lines)

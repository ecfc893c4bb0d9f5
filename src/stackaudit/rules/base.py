"""The shape of a rule: metadata on the class, documentation in the docstring, bad and
good examples that are both the tests and the rendered docs, and ``check(stack)``."""

from __future__ import annotations

import bisect
import inspect
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

import msgspec
from msgspec import Struct

from stackaudit.bounds import clip, first
from stackaudit.diagnostics import (
    Codemod,
    Confidence,
    Diagnostic,
    Edit,
    FixSafety,
    Related,
    Severity,
    Span,
)
from stackaudit.rules.taxonomy import Category, FileKind

if TYPE_CHECKING:
    from stackaudit.facts.serve import ServeCommand
    from stackaudit.model.stack import Stack

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "References")

# Inline expectations in examples and fixtures: "# expect: SA101" on the flagged line, or
# "# expect-next-line: SA101" on a line of its own above it.
EXPECT = re.compile(r"#\s*expect(-next-line)?:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


class Example(Struct, frozen=True):
    """A file that shows the rule: ``bad`` ones mark each flagged line with an
    ``# expect:`` comment; ``fixed`` is the text after the rule's edits, when it has any;
    ``context`` holds other files of the project the example needs (a configuration that
    names the public host, say), written beside it."""

    path: str
    text: str
    bad: bool
    fixed: str | None = None
    title: str = ""
    context: tuple[tuple[str, str], ...] = ()

    @property
    def files(self) -> dict[str, str]:
        """Every file of the example: the context, then the example itself."""
        return {**dict(self.context), self.path: self.text}

    def expected_lines(self, code: str) -> list[int]:
        return [line for line, codes in expectations(self.text) if code in codes]

    @property
    def display_text(self) -> str:
        """The example as shown in docs: the expectation markers removed."""
        return strip_expectations(self.text)


def Bad(
    path: str,
    text: str,
    *,
    fixed: str | None = None,
    title: str = "",
    context: dict[str, str] | None = None,
) -> Example:
    return Example(
        path,
        inspect.cleandoc(text) + "\n",
        True,
        inspect.cleandoc(fixed) + "\n" if fixed is not None else None,
        title,
        tuple((name, inspect.cleandoc(body) + "\n") for name, body in (context or {}).items()),
    )


def Good(path: str, text: str, *, title: str = "") -> Example:
    return Example(path, inspect.cleandoc(text) + "\n", False, None, title)


def expectations(text: str) -> list[tuple[int, set[str]]]:
    """``(line, codes)`` pairs for every expectation marker in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            codes = {code.strip() for code in match.group(2).split(",")}
            target = number + 1 if match.group(1) else number
            if match.group(1):
                # The next line that is not itself a comment.
                lines = text.splitlines()
                while target <= len(lines) and lines[target - 1].strip().startswith("#"):
                    target += 1
            found.append((target, codes))
    return found


def strip_expectations(text: str) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        match = EXPECT.search(line)
        if not match:
            out.append(line)
            continue
        before = line[: match.start()].rstrip()
        if before:
            out.append(before + "\n")
    return "".join(out)


class Rule:
    """Base class of every rule. Subclasses set the class attributes, write their
    documentation as the docstring (sections of ``DOC_SECTIONS`` as ``## `` headings)
    and implement ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    confidence: ClassVar[Confidence] = Confidence.HIGH
    category: ClassVar[Category]
    applies_to: ClassVar[tuple[FileKind, ...]]
    # The safety of the rule's usual fix (docs, ``rules``); each finding may declare
    # its own (``report(safety=...)``).
    fix: ClassVar[FixSafety] = FixSafety.DISPLAY_ONLY
    cwe: ClassVar[int | None] = None
    examples: ClassVar[Sequence[Example]] = ()
    # The engine keeps one finding per rule and place (an environment entry shared by
    # two commands, a route in front of two servers); a rule whose findings at one
    # place say different things (which route, which hosts) keeps one per message.
    one_finding_per_place: ClassVar[bool] = True
    # Whether findings are security problems; None: as the category says
    # (``taxonomy.SECURITY_CATEGORIES``).
    security: ClassVar[bool | None] = None
    # GitHub's security-severity (0.1-10; above 9.0 is "critical") when the rule's
    # severity alone undersells it (code execution, say); None: from the severity.
    security_severity: ClassVar[float | None] = None

    @classmethod
    def is_security(cls) -> bool:
        from stackaudit.rules.taxonomy import SECURITY_CATEGORIES

        return cls.security if cls.security is not None else cls.category in SECURITY_CATEGORIES

    # The span of every finding is the secret itself: outputs that quote the source
    # line mask it (the message never holds it).
    span_is_secret: ClassVar[bool] = False

    def check(self, stack: Stack) -> Iterator[Diagnostic]:
        return iter(())

    # -- helpers for subclasses ---------------------------------------------------------

    def report(
        self,
        span: Span,
        message: str,
        *,
        help: str = "",
        fix_title: str = "",
        related: Sequence[Related] = (),
        edits: Sequence[Edit] = (),
        codemods: Sequence[Codemod] = (),
        confidence: Confidence | None = None,
        severity: Severity | None = None,
        safety: FixSafety | None = None,
    ) -> Diagnostic:
        """A finding at ``span``. Its fix's safety is the rule's ``fix`` unless this
        fix says otherwise (``safety``): a rule whose fix is safe in one place may have
        to infer a value, or edit a shared file, in another. No edits, no fix.
        ``codemods`` are Python fixes described here and built only when fixing."""
        # Messages quote scanned values and related places can number thousands: both
        # are bounded here, for every rule and every output format.
        shown, left_out = first(related)
        if left_out:
            last = shown[-1]
            shown[-1] = Related(last.span, f"{last.label} (and {left_out:,} more like it)")
        return Diagnostic(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            confidence=confidence or self.confidence,
            message=clip(message),
            span=span,
            related=tuple(Related(r.span, clip(r.label)) for r in shown),
            help=clip(help),
            fix_title=clip(fix_title),
            edits=tuple(edits),
            codemods=tuple(codemods),
            fix_safety=(safety or self.fix) if edits or codemods else FixSafety.DISPLAY_ONLY,
        )

    # -- documentation ------------------------------------------------------------------

    @classmethod
    def summary(cls) -> str:
        """The first sentence of "What it does"."""
        text = cls.sections().get("What it does", "")
        first = text.split("\n\n")[0].replace("\n", " ").strip()
        return first

    @classmethod
    def sections(cls) -> dict[str, str]:
        doc = inspect.cleandoc(cls.__doc__ or "")
        found: dict[str, str] = {}
        current: str | None = None
        lines: list[str] = []
        for line in doc.splitlines():
            if line.startswith("## "):
                if current is not None:
                    found[current] = "\n".join(lines).strip()
                current, lines = line[3:].strip(), []
            else:
                lines.append(line)
        if current is not None:
            found[current] = "\n".join(lines).strip()
        return found

    @classmethod
    def references(cls) -> list[str]:
        return re.findall(r"https?://[^\s)>\]]+", cls.sections().get("References", ""))


def conditional_confidence(
    diagnostics: Iterable[Diagnostic], commands: Iterable[ServeCommand]
) -> list[Diagnostic]:
    """Findings on a command a script runs only under a condition that names neither
    development nor production (``if [ -f /etc/app.conf ]``, ``case "$1" in web)``)
    may not concern the deployed process: their confidence is at most medium. The one
    place that decides it, for every rule."""
    spans: dict[str, list[Span]] = {}
    for command in commands:
        if command.conditional:
            spans.setdefault(command.span.path, []).append(command.span)
    if not spans:
        return list(diagnostics)
    starts: dict[str, list[tuple[int, int]]] = {}
    for path, found_spans in spans.items():
        found_spans.sort()
        starts[path] = [(outer.line, outer.column) for outer in found_spans]
    found = []
    for diagnostic in diagnostics:
        span = diagnostic.span
        if diagnostic.confidence == Confidence.HIGH and span.path in spans:
            # Commands do not overlap: the few starting last before the finding are the
            # candidates.
            index = bisect.bisect_right(starts[span.path], (span.line, span.column))
            candidates = spans[span.path][max(0, index - 4) : index]
            if any(_within(span, outer) for outer in candidates):
                diagnostic = msgspec.structs.replace(diagnostic, confidence=Confidence.MEDIUM)
        found.append(diagnostic)
    return found


def _within(inner: Span, outer: Span) -> bool:
    return (outer.line, outer.column) <= (inner.line, inner.column) and (
        inner.end_line,
        inner.end_column,
    ) <= (outer.end_line, outer.end_column)

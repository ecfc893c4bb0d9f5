"""What a finding is: severity, confidence, where it was written, and how to fix it."""

from __future__ import annotations

import enum
import hashlib

import msgspec
import msgspec.structs


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank


_SEVERITY_RANK = {Severity.NOTE: 1, Severity.WARNING: 2, Severity.ERROR: 3}


class Confidence(str, enum.Enum):
    """How sure the rule is that the finding is real (a separate axis from severity)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]

    def weaker(self, other: Confidence) -> Confidence:
        """The less sure of the two: a conclusion is no surer than what it rests on."""
        return self if self.rank <= other.rank else other


_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


class Persona(str, enum.Enum):
    """Who reads the report (zizmor's personas): which findings are worth their time.

    - ``regular``: findings at ``min-confidence`` or above, except notes of low
      confidence (hints that are as likely to be noise as not);
    - ``pedantic``: every finding at ``min-confidence`` or above;
    - ``auditor``: every finding, ``min-confidence`` ignored (a review of the whole
      deployment wants what a shared configuration tunes out)."""

    REGULAR = "regular"
    PEDANTIC = "pedantic"
    AUDITOR = "auditor"

    def shows(self, diagnostic: Diagnostic, min_confidence: Confidence) -> bool:
        if self is Persona.AUDITOR:
            return True
        if diagnostic.confidence.rank < min_confidence.rank:
            return False
        return self is Persona.PEDANTIC or not (
            diagnostic.severity is Severity.NOTE and diagnostic.confidence is Confidence.LOW
        )


class Span(msgspec.Struct, frozen=True, order=True):
    """A region of one file: path relative to the scanned root (forward slashes),
    1-based line and column (in characters); the end column is exclusive."""

    path: str
    line: int
    column: int = 1
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if self.end_line < self.line:
            msgspec.structs.force_setattr(self, "end_line", self.line)
        if self.end_line == self.line and self.end_column < self.column:
            msgspec.structs.force_setattr(self, "end_column", self.column)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class Related(msgspec.Struct, frozen=True):
    """Another place that is part of the story of a finding, with a short label."""

    span: Span
    label: str


class Edit(msgspec.Struct, frozen=True):
    """Replace the text of ``span`` in its file by ``replacement``."""

    span: Span
    replacement: str


class ReplaceString(msgspec.Struct, frozen=True, tag="replace-string"):
    """A Python fix, built when fixing (``stackaudit.pyfix``): the string literal whose
    content is written at ``span`` and holds ``old`` gets the content ``new``, in the
    literal's own quotes and prefix. Several values replace it by one element each,
    which needs the literal to be an element of a list, tuple or set display."""

    span: Span
    old: str
    new: tuple[str, ...]


class WrapCall(msgspec.Struct, frozen=True, tag="wrap-call"):
    """A Python fix: the expression at ``span`` (as ``ast`` places it, without its own
    parentheses) becomes ``module.function(expression)``; the module is imported when
    nothing in scope names it yet (``import module``, else ``from module import
    function``), and an import already there (``from html import escape as esc``) is
    used as it is."""

    span: Span
    module: str
    function: str


class SetKeyword(msgspec.Struct, frozen=True, tag="set-keyword"):
    """A Python fix: the call at ``span`` (the whole call, as ``ast`` places it) gets the
    keyword argument ``keyword=value`` (``value`` is Python source, e.g. ``True``),
    replacing the value it has when it already passes that keyword."""

    span: Span
    keyword: str
    value: str


# Python fixes are described while checking and built with libcst only when fixing: a
# plain check never imports libcst (it costs as much as the whole check of a small tree).
Codemod = ReplaceString | WrapCall | SetKeyword


def python_source(path: str) -> bool:
    """Whether the file at ``path`` is Python source, whose fixes are codemods."""
    return path.endswith((".py", ".pyi", ".pyw"))


class FixSafety(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


class Diagnostic(msgspec.Struct, frozen=True):
    code: str
    name: str
    severity: Severity
    confidence: Confidence
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    help: str = ""
    fix_title: str = ""
    edits: tuple[Edit, ...] = ()
    codemods: tuple[Codemod, ...] = ()
    fix_safety: FixSafety = FixSafety.DISPLAY_ONLY
    fingerprint: str = ""  # assigned once the run has every finding

    @property
    def has_fix(self) -> bool:
        return bool(self.edits or self.codemods)

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.path, self.span.line, self.span.column, self.code, self.message)

    def with_fingerprint(self, fingerprint: str) -> Diagnostic:
        return msgspec.structs.replace(self, fingerprint=fingerprint)


def _normalize(text: str) -> str:
    return " ".join(text.split())


def assign_fingerprints(
    diagnostics: list[Diagnostic], line_text: dict[tuple[str, int], str]
) -> list[Diagnostic]:
    """Give every diagnostic a fingerprint made of the rule, the path, the offending
    line's text with whitespace normalized, and an occurrence index among identical
    triples. Moving unrelated lines changes none of these, so baselines and SARIF
    fingerprints survive edits elsewhere in the file."""
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for diag in sorted(diagnostics, key=lambda d: d.sort_key):
        text = _normalize(line_text.get((diag.span.path, diag.span.line), ""))
        key = (diag.code, diag.span.path, text)
        index = seen.get(key, 0)
        seen[key] = index + 1
        digest = hashlib.sha256(
            "\0".join((*key, str(index))).encode("utf-8", "surrogatepass")
        ).hexdigest()[:16]
        out.append(diag.with_fingerprint(digest))
    return out

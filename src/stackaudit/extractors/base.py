"""What an extractor returns."""

from __future__ import annotations

from msgspec import Struct, field

from stackaudit.facts.common import ParseProblem


class Extraction(Struct):
    """Facts read from one file, the places where reading it failed (SA001), and why
    the file (or part of it) was left unanalysed although it is valid (SA003)."""

    facts: list[object] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    skipped: str | None = None

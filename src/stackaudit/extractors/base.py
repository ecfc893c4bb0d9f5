"""What an extractor returns."""

from __future__ import annotations

from msgspec import Struct, field

from stackaudit.facts.common import ParseProblem


class Extraction(Struct):
    """Facts read from one file, and the places where reading it failed (SA001)."""

    facts: list[object] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)

"""Each folder ``fixtures/<group>/<case>/`` is scanned as a project of its own; the set
of ``(file, line, code)`` found must equal its ``# expect:`` markers, every rule
enabled. A case without markers is a false-positive test."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import FIXTURES, expected_in, found, scan

CASES = sorted(
    case
    for group in FIXTURES.iterdir()
    if group.is_dir() and group.name != "adversarial"
    for case in group.iterdir()
    if case.is_dir()
)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_fixture(case: Path) -> None:
    result = scan(case)
    assert result.errors == []
    assert found(result.diagnostics) == expected_in(case)


def test_there_are_fixtures() -> None:
    assert len(CASES) >= 10

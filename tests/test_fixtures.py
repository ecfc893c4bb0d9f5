"""Each folder ``fixtures/<group>/<case>/`` is scanned as a project of its own, every
rule enabled, and the set of ``(file, line, code)`` found must equal its ``# expect:``
markers. A case without markers is a false-positive test.

A rule's own folder ``fixtures/<CODE>/`` is judged on the codes it is about: its rule,
every code marked anywhere in the case, and stackaudit's own diagnostics (SA001-SA003).
Another rule that also fires there is that rule's business, so adding a rule touches
its module and its fixture folder only. Folders of whole stacks (``fixtures/stacks``,
``fixtures/compose-combined``...) are judged on every code: they pin the model."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .support import FIXTURES, expected_in, found, scan

RULE_FOLDER = re.compile(r"SA\d{3}")
OWN_DIAGNOSTICS = ("SA001", "SA002", "SA003")
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
    expected = expected_in(case)
    scope = judged_codes(case, expected)
    assert {f for f in found(result.diagnostics) if scope(f[2])} == expected


def judged_codes(case: Path, expected: set[tuple[str, int, str]]) -> Callable[[str], bool]:
    group = case.parent.name
    if not RULE_FOLDER.fullmatch(group):
        return lambda code: True
    codes = {group, *OWN_DIAGNOSTICS, *(code for _, _, code in expected)}
    return codes.__contains__


def test_there_are_fixtures() -> None:
    assert len(CASES) >= 10

"""Every rule's examples run as tests: a bad example raises exactly this rule on the
marked lines, a good one does not raise it, and no example fails to parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackaudit.rules import all_rules
from stackaudit.rules.base import Example, Rule

from .support import scan, write_files

CASES = [
    pytest.param(rule, example, id=f"{rule.code}-{'bad' if example.bad else 'good'}-{index}")
    for rule in all_rules()
    for index, example in enumerate(rule.examples)
]


@pytest.mark.parametrize(("rule", "example"), CASES)
def test_example(rule: type[Rule], example: Example, tmp_path: Path) -> None:
    write_files(tmp_path, example.files)
    # SA002 judges suppressions of the other rules, so it needs them all enabled.
    select = ["SA"] if rule.code == "SA002" else [rule.code, "SA001"]
    result = scan(tmp_path, select=select)
    lines = sorted(d.span.line for d in result.diagnostics if d.code == rule.code)
    if rule.code != "SA001":
        assert [d for d in result.diagnostics if d.code == "SA001"] == []
    assert result.errors == []
    if example.bad:
        assert lines == example.expected_lines(rule.code)
        assert lines, "a bad example must mark at least one line"
    else:
        assert lines == []

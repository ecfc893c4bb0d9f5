"""What a user reads: the text report of each rule's first bad example, as a reviewed
snapshot (``pytest --snapshot-update tests/test_rule_output.py`` after a deliberate
change, then read the diff of ``__snapshots__/test_rule_output.ambr``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from stackaudit.formatters.text import render_text
from stackaudit.formatters.title import TITLE_LIMIT, finding_title
from stackaudit.rules import all_rules
from stackaudit.rules.base import Rule, strip_expectations

from .support import scan, write_files

RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_text_output_of_the_first_bad_example(
    rule: type[Rule], tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    example = next(e for e in rule.examples if e.bad)
    # As the docs show it: without the expectation markers.
    write_files(tmp_path, {name: strip_expectations(text) for name, text in example.files.items()})
    select = ["SA"] if rule.code == "SA002" else [rule.code]
    result = scan(tmp_path, select=select)
    assert any(d.code == rule.code for d in result.diagnostics)
    assert render_text(result) == snapshot
    # Every finding line stays short, whatever the rule's message (Ruff and zizmor
    # titles fit one line; the full message is a note under the frame).
    assert all(len(finding_title(d.message)) <= TITLE_LIMIT for d in result.diagnostics)

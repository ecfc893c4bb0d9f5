"""The rule catalogue stays honest: unique codes and names, every doc section, bad
and good examples, references, and generated docs up to date."""

from __future__ import annotations

import re

import pytest

from stackaudit.docs import expected_files
from stackaudit.rules import all_rules
from stackaudit.rules.base import DOC_SECTIONS, Rule
from stackaudit.rules.taxonomy import Category, FileKind

from .support import FIXTURES, REPO

RULES = all_rules()


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_metadata(rule: type[Rule]) -> None:
    assert re.fullmatch(r"SA\d{3}", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    sections = rule.sections()
    for section in DOC_SECTIONS:
        assert sections.get(section), f"{rule.code}: missing section {section!r}"
    assert rule.references(), f"{rule.code}: References must link to upstream facts"
    assert any(e.bad for e in rule.examples), f"{rule.code}: needs a bad example"
    assert any(not e.bad for e in rule.examples), f"{rule.code}: needs a good example"
    has_fixed = any(e.fixed is not None for e in rule.examples)
    assert has_fixed == (rule.fix.value != "display-only"), (
        f"{rule.code}: declared fix availability must match the examples"
    )
    module = rule.__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule.code.lower() + "_")
    # Closed vocabularies: a new category or file kind is a change to rules/taxonomy.py.
    assert isinstance(rule.category, Category)
    assert rule.applies_to and all(isinstance(kind, FileKind) for kind in rule.applies_to)


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_has_fixtures(rule: type[Rule]) -> None:
    hits = [
        p
        for p in FIXTURES.rglob("*")
        if p.is_file() and rule.code in p.read_text("utf-8", errors="replace")
    ]
    assert hits, f"{rule.code}: add a fixture under fixtures/ that expects it"


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_has_a_false_positive_fixture(rule: type[Rule]) -> None:
    """A near miss the rule must stay quiet on, in `fixtures/<CODE>/fp-*/`: a case
    folder without markers, scanned with every rule enabled."""
    cases = sorted((FIXTURES / rule.code).glob("fp-*"))
    assert any(case.is_dir() for case in cases), (
        f"{rule.code}: add fixtures/{rule.code}/fp-<case>/, a near miss that stays quiet"
    )


def test_generated_docs_are_current() -> None:
    for name, text in expected_files().items():
        path = REPO / "rules" / name
        assert path.exists() and path.read_text("utf-8") == text, (
            f"rules/{name} is stale: run `python -m stackaudit.docs`"
        )


def test_codes_known_without_importing_rules_match_the_rules() -> None:
    from stackaudit.rules import known_codes

    assert list(known_codes()) == [rule.code for rule in RULES]

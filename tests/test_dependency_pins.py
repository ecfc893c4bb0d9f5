"""Dependency pins: the version constraint is read as pip reads it (packaging), whether it
takes the exact-pin shortcut or the full requirement grammar."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from stackaudit.diagnostics import Span
from stackaudit.facts.deps import DependencyPin, _parse, ceiling


@pytest.mark.parametrize(
    "requirement",
    [
        "bokeh==3.9.2",
        " bokeh == 3.9.2 ",
        "bokeh[server]==3.8.1",
        "bokeh[ server , x ]==3.8",
        "Bokeh==3.8.1+local",
        "bokeh==3.8.1+a_b",
        "bokeh==3.8.1-1",
        "bokeh==3.8.1rc1",
        "bokeh==1!2.0",
        "bokeh==03.08.01",
        "bokeh==3.*",
        "bokeh==foo",
        "bokeh==3.8_1",
        "bokeh==3.8.1-",
        "bokeh==3.8.1+",
        "tornado>=6,<7",
        "tornado~=6.5",
        "tornado>=6.5; python_version >= '3.9'",
        "tornado @ https://example.org/tornado.whl",
        "tornado===6.5.2",
        "tornado ==6.5.2 !!",
    ],
)
def test_reading_agrees_with_packaging(requirement: str) -> None:
    _parse.cache_clear()
    try:
        parsed = Requirement(requirement)
        expected = (str(parsed.specifier), ceiling(parsed.specifier))
    except InvalidRequirement:
        expected = None
    assert _parse(requirement) == expected
    pin = DependencyPin("bokeh", requirement, Span("requirements.txt", 1), "requirements")
    assert pin.valid is (expected is not None)
    assert pin.spec == (expected[0] if expected else "")


def test_finding_pins_does_not_import_packaging() -> None:
    # Pins are facts of every Dockerfile that installs a watched package; reading their
    # constraints is left to the rules that need it.
    code = textwrap.dedent(
        """
        import sys
        from stackaudit.source import SourceFile
        from stackaudit.extractors.dependencies import pins_in_script
        text = "pip install panel==1.9.4 'tornado>=6.5' uvicorn"
        source = SourceFile("Dockerfile", "dockerfile", text)
        pins = pins_in_script(source, text, list(range(len(text))), "Dockerfile")
        print(sorted(p.package for p in pins))
        print(any(m.startswith("packaging") for m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["['panel', 'tornado', 'uvicorn']", "False"]

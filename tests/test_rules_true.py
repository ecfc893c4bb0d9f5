"""Existing rules held to upstream behaviour (issue 17, "make the existing rules true"):
SA205's severities, SA209's header and cookie filters, SA001 on IPython automagics and
on Python syntax newer than the running interpreter's (docs/upstream-facts.md, section
"Existing rules corrected")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from stackaudit.diagnostics import Severity
from stackaudit.extractors.notebook import extract_notebook
from stackaudit.extractors.python import parse
from stackaudit.extractors.python_grammar import NewerSyntax, newer_grammar
from stackaudit.extractors.shell import extract_shell
from stackaudit.facts.common import ParseProblem
from stackaudit.facts.serve import ServeCommand
from stackaudit.source import SourceFile
from tests.support import scan, write_files

OLDER_THAN_312 = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="the running Python parses 3.12 syntax itself"
)


def command(script: str) -> ServeCommand:
    source = SourceFile("start.sh", "shell", "#!/bin/sh\n" + script)
    found = [f for f in extract_shell(source).facts if isinstance(f, ServeCommand)]
    assert len(found) == 1, found
    return found[0]


# -- SA205 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "severity"),
    [
        ("--rest-provider param", Severity.WARNING),
        ("--rest-provider tranquilizer", Severity.ERROR),
        ("--rest-provider my_extension", Severity.WARNING),
        ("--rest-session-info", Severity.NOTE),
        ("--rest-session-info --session-history 20", Severity.ERROR),
        ("--rest-session-info --admin", Severity.ERROR),
    ],
)
def test_sa205_severity_follows_what_the_route_gives_away(
    tmp_path: Path, options: str, severity: Severity
) -> None:
    write_files(tmp_path, {"start.sh": f"#!/bin/sh\nexec panel serve app.py {options}\n"})
    found = scan(tmp_path, select=["SA205"]).diagnostics
    assert [d.severity for d in found] == [severity]


def test_sa205_param_provider_is_read_only(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"start.sh": "#!/bin/sh\nexec panel serve app.py --rest-provider param\n"}
    )
    (finding,) = scan(tmp_path, select=["SA205"]).diagnostics
    assert "read only" in finding.message
    assert "sets its parameters" not in finding.message


# -- SA209: Bokeh's header and cookie filters ------------------------------------------------


def test_header_filter_compares_tornado_spelling_exactly() -> None:
    assert command("panel serve app.py").header_in_token("Authorization") is True
    excluded = command("panel serve app.py --exclude-headers Authorization Cookie")
    assert excluded.header_in_token("Authorization") is False
    lower = command("panel serve app.py --exclude-headers authorization")
    assert lower.header_in_token("Authorization") is True
    included = command("panel serve app.py --include-headers User-Agent")
    assert included.header_in_token("Authorization") is False


def test_filter_is_the_last_use_and_unknown_when_expanded() -> None:
    twice = command("panel serve app.py --exclude-headers Authorization --exclude-headers Cookie")
    assert twice.header_in_token("Authorization") is True  # argparse `store`: last wins
    assert command('panel serve app.py --exclude-headers "$H"').header_in_token("X") is None


def test_cookie_filter_decides_whether_the_login_cookie_passes() -> None:
    oauth = command(
        "panel serve app.py --oauth-provider github --exclude-cookies access_token refresh_token"
    )
    assert oauth.cookie_in_token("user") is True
    assert command("panel serve app.py --exclude-cookies user").cookie_in_token("user") is False
    assert command("panel serve app.py --include-cookies user").cookie_in_token("user") is True


# -- SA001: IPython automagic ----------------------------------------------------------------


def notebook(*cells: str) -> SourceFile:
    data = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": cell} for cell in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return SourceFile("nb.ipynb", "notebook", json.dumps(data))


SERVE = "import panel as pn\npn.serve(app)\n"


@pytest.mark.parametrize(
    "cell",
    ["cd dashboards\n", "\n\npip install panel", "ls -la data", "conda list\n", "uv pip sync"],
)
def test_single_line_automagic_cell_is_valid(cell: str) -> None:
    assert extract_notebook(notebook(cell, SERVE)).problems == []


@pytest.mark.parametrize(
    "cell",
    [
        "cd dashboards\nimport os\n",  # several lines: IPython runs no automagic
        "cd dashboards\n\n",  # a trailing blank line counts as a line
        "cdx dashboards\n",  # not a magic
        "ls == 1 2\n",  # an assignment or comparison is Python, not a magic
    ],
)
def test_other_cells_stay_parse_errors(cell: str) -> None:
    assert len(extract_notebook(notebook(cell, SERVE)).problems) == 1


# -- SA001 / SA003: syntax of a newer Python -------------------------------------------------


def explain(code: str) -> NewerSyntax | ParseProblem | None:
    tree = parse(code, "m.py")
    assert isinstance(tree, ParseProblem)
    return newer_grammar(code, "m.py", tree.span.line)


@OLDER_THAN_312
@pytest.mark.parametrize(
    ("code", "what"),
    [
        ("type X = int\n", "`type` statement"),
        ("type Pair[T] = tuple[T, T]\n", "`type` statement"),
        ("x = 1; type Y = int\n", "`type` statement"),
        ("if x:\n    type Y = int\n", "`type` statement"),
        ("def f[T](x: T) -> T:\n    return x\n", "generic function"),
        ("async def f[T](x: T):\n    pass\n", "generic function"),
        ("class C[T: (int, str)](Base):\n    pass\n", "generic class"),
        ("def f[\n    T,  # item\n    U,\n](x):\n    pass\n", "generic function"),
        ('x = f"{d["a"]}"\n', "f-string"),
        ('x = f"{f"{y}"}"\n', "f-string"),
        ("x = f\"{'\\n'.join(xs)}\"\n", "f-string"),
        ('x = f"""{\n    y  # why\n}"""\n', "f-string"),
        ('x = f"{y:{"w"}}"\n', "f-string"),
        ('x = rf"\\d{d["k"]}"\n', "f-string"),
    ],
)
def test_newer_syntax_is_recognised(code: str, what: str) -> None:
    explained = explain(code)
    assert isinstance(explained, NewerSyntax)
    assert what in explained.construct.what


@OLDER_THAN_312
def test_newer_syntax_does_not_hide_a_real_error() -> None:
    explained = explain("type X = int\nx = (\n")
    assert isinstance(explained, ParseProblem) and explained.span.line == 2
    assert isinstance(explain("type X = \n"), ParseProblem)


@pytest.mark.parametrize(
    "code",
    [
        "def f(:\n    pass\n",
        'x = f"{}"\n',  # empty field: invalid in every version
        'x = f"{a b}"\n',
        'x = f"{d["a"]\n',  # unterminated
        "x = " + 'f"{' * 60 + "y" + '}"' * 60 + "\n",  # nesting past the bound
        "type(x) = 3\n",
    ],
)
def test_broken_code_is_not_excused(code: str) -> None:
    assert not isinstance(explain(code), NewerSyntax)


@OLDER_THAN_312
def test_newer_syntax_is_sa003_not_sa001(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"app.py": "import panel as pn\ntype Message = dict[str, object]\npn.serve(app)\n"},
    )
    found = {(d.span.path, d.span.line, d.code) for d in scan(tmp_path).diagnostics}
    assert ("app.py", 1, "SA003") in found
    assert not any(code == "SA001" for _, _, code in found)

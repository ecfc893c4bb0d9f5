"""Python fixes built with libcst: each codemod on the shapes code is written in
(multi-line calls, parentheses, comments, imports already there), refusals instead of
guesses, idempotence, and a plain check that never imports libcst."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stackaudit.cli import main
from stackaudit.diagnostics import (
    Codemod,
    Confidence,
    Diagnostic,
    FixSafety,
    ReplaceString,
    SetKeyword,
    Severity,
    Span,
    WrapCall,
)
from stackaudit.fix import apply_fixes, with_python_edits
from stackaudit.pyfix import CodemodError, PythonFile

from .support import REPO, write_files

PATH = "app.py"


def _code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _span_of(text: str, source: str, occurrence: int = 0) -> Span:
    """The span ``ast`` gives the expression whose source is ``source``."""
    found = [
        node
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.expr) and ast.get_source_segment(text, node) == source
    ]
    node = sorted(found, key=lambda n: (n.lineno, n.col_offset))[occurrence]
    assert node.end_lineno is not None and node.end_col_offset is not None
    line = text.splitlines()[node.lineno - 1]
    end_line = text.splitlines()[node.end_lineno - 1]
    # ast counts UTF-8 bytes; spans count characters.
    column = len(line.encode()[: node.col_offset].decode()) + 1
    end_column = len(end_line.encode()[: node.end_col_offset].decode()) + 1
    return Span(PATH, node.lineno, column, node.end_lineno, end_column)


def _content_of(text: str, line: int, value: str) -> Span:
    """The span of a string literal's content ``value`` on ``line`` (as the rules give)."""
    column = text.splitlines()[line - 1].index(value) + 1
    return Span(PATH, line, column, line, column + len(value))


def _fixed(text: str, *codemods: Codemod) -> str:
    file = PythonFile(PATH, text)
    new = file._apply(file.edits(codemods))
    ast.parse(new)
    return new


def _nothing_to_do(text: str, codemod: Codemod) -> None:
    assert PythonFile(PATH, text).edits([codemod]) == [], "fixing twice changed the text"


# -- wrapping an expression in html.escape(...) ----------------------------------------------


def test_wrap_adds_the_import_after_the_docstring_and_imports() -> None:
    text = _code('''
        """The page."""

        from __future__ import annotations

        import panel as pn  # the UI

        name = pn.widgets.TextInput()
        page = pn.pane.HTML(name.value)  # shown as typed
    ''')
    new = _fixed(text, WrapCall(_span_of(text, "name.value"), "html", "escape"))
    _nothing_to_do(new, WrapCall(_span_of(new, "html.escape(name.value)"), "html", "escape"))
    assert new == _code('''
        """The page."""

        from __future__ import annotations

        import panel as pn  # the UI
        import html

        name = pn.widgets.TextInput()
        page = pn.pane.HTML(html.escape(name.value))  # shown as typed
    ''')


def test_wrap_keeps_parentheses_comments_and_lines() -> None:
    text = _code("""
        import html
        import panel as pn

        page = pn.pane.HTML(
            (name.value  # typed
             + "!"),  # keep
            width=300,
        )
    """)
    span = _span_of(text, 'name.value  # typed\n     + "!"')
    new = _fixed(text, WrapCall(span, "html", "escape"))
    assert new == _code("""
        import html
        import panel as pn

        page = pn.pane.HTML(
            (html.escape(name.value  # typed
             + "!")),  # keep
            width=300,
        )
    """)


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("from html import escape", "escape"),
        ("from html import escape as esc", "esc"),
        ("import html as h", "h.escape"),
        ("import html.parser", "html.escape"),
    ],
)
def test_wrap_uses_the_import_already_there(imports: str, call: str) -> None:
    text = f"{imports}\nimport panel as pn\n\npage = pn.pane.HTML(value)\n"
    new = _fixed(text, WrapCall(_span_of(text, "value"), "html", "escape"))
    assert new == f"{imports}\nimport panel as pn\n\npage = pn.pane.HTML({call}(value))\n"


def test_wrap_is_idempotent() -> None:
    text = "import html\n\npage = HTML(html.escape(value))\n"
    assert _fixed(text, WrapCall(_span_of(text, "html.escape(value)"), "html", "escape")) == text


def test_wrap_does_not_take_a_name_the_code_uses() -> None:
    # `html` holds the page here: `html.escape(html)` would call a method of a str.
    text = _code("""
        import panel as pn

        def page(name):
            html = f"<b>{name}</b>"
            return pn.pane.HTML(html)
    """)
    new = _fixed(text, WrapCall(_span_of(text, "html", 1), "html", "escape"))
    assert new == _code("""
        import panel as pn
        from html import escape

        def page(name):
            html = f"<b>{name}</b>"
            return pn.pane.HTML(escape(html))
    """)
    taken = text.replace("(name)", "(name, escape)")
    with pytest.raises(CodemodError, match="taken"):
        PythonFile(PATH, taken).edits([WrapCall(_span_of(taken, "html", 1), "html", "escape")])


def test_wrap_ignores_an_import_below_the_use_or_in_another_function() -> None:
    text = _code("""
        def other():
            from html import escape
            return escape

        page = HTML(value)
    """)
    new = _fixed(text, WrapCall(_span_of(text, "value"), "html", "escape"))
    assert new.splitlines()[0] == "import html"
    assert "HTML(html.escape(value))" in new


def test_wrap_goes_above_the_first_statement_below_the_header() -> None:
    text = "#!/usr/bin/env python\n# Copyright\n\npage = HTML(value)\n"
    new = _fixed(text, WrapCall(_span_of(text, "value"), "html", "escape"))
    assert (
        new
        == "#!/usr/bin/env python\n# Copyright\n\nimport html\npage = HTML(html.escape(value))\n"
    )


def test_wrap_refuses_what_it_cannot_wrap() -> None:
    text = "x = 1\nvalues = a, b\n"
    with pytest.raises(CodemodError, match="tuple"):
        PythonFile(PATH, text).edits([WrapCall(_span_of(text, "a, b"), "html", "escape")])
    with pytest.raises(CodemodError, match="no expression"):
        PythonFile(PATH, text).edits([WrapCall(Span(PATH, 2, 1, 2, 4), "html", "escape")])


# -- sanitize_html=True on the pane -------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("pn.pane.HTML(x)", "pn.pane.HTML(x, sanitize_html=True)"),
        ("pn.pane.HTML()", "pn.pane.HTML(sanitize_html=True)"),
        ("pn.pane.HTML(x, sanitize_html=False)", "pn.pane.HTML(x, sanitize_html=True)"),
        ("pn.pane.HTML(x, sanitize_html=(0))", "pn.pane.HTML(x, sanitize_html=True)"),
        ("(pn.pane.HTML(x))", "(pn.pane.HTML(x, sanitize_html=True))"),
        (
            "pn.pane.HTML(\n    x,\n    width=3,  # w\n)",
            "pn.pane.HTML(\n    x,\n    width=3,  # w\n    sanitize_html=True,\n)",
        ),
        (
            "pn.pane.HTML(\n    x,\n    width=3  # w\n)",
            "pn.pane.HTML(\n    x,\n    width=3,  # w\n    sanitize_html=True\n)",
        ),
        ("pn.pane.HTML(\n    x\n)", "pn.pane.HTML(\n    x,\n    sanitize_html=True\n)"),
        (
            "pn.pane.HTML(x,\n             width=3)",
            "pn.pane.HTML(x,\n             width=3,\n             sanitize_html=True)",
        ),
        ("pn.pane.HTML(x, width=3  # w\n)", "pn.pane.HTML(x, width=3, sanitize_html=True  # w\n)"),
    ],
)
def test_set_keyword(before: str, after: str) -> None:
    text = f"import panel as pn\n\npage = {before}\n"
    call = before[1:-1] if before.startswith("(") else before
    new = _fixed(text, SetKeyword(_span_of(text, call), "sanitize_html", "True"))
    assert new == f"import panel as pn\n\npage = {after}\n"
    fixed_call = after[1:-1] if after.startswith("(") else after
    _nothing_to_do(new, SetKeyword(_span_of(new, fixed_call), "sanitize_html", "True"))


def test_set_keyword_refuses_keywords_it_cannot_see() -> None:
    text = "page = HTML(x, **options)\n"
    with pytest.raises(CodemodError, match="keywords"):
        PythonFile(PATH, text).edits(
            [SetKeyword(_span_of(text, "HTML(x, **options)"), "sanitize_html", "True")]
        )


def test_set_keyword_needs_a_call_at_the_span() -> None:
    text = "page = HTML(x)\n"
    with pytest.raises(CodemodError, match="no call"):
        PythonFile(PATH, text).edits([SetKeyword(_span_of(text, "x"), "sanitize_html", "True")])


def test_two_fixes_on_one_line_in_one_pass(tmp_path: Path) -> None:
    """Each edit is the smallest change, so fixes on one line do not overlap."""
    text = "import panel as pn\n\npage = pn.Row(pn.pane.HTML(a), pn.pane.HTML(b))\n"
    (tmp_path / PATH).write_text(text, "utf-8")
    fixes = [
        _diagnostic(SetKeyword(_span_of(text, call), "sanitize_html", "True"))
        for call in ("pn.pane.HTML(a)", "pn.pane.HTML(b)")
    ]
    result = apply_fixes(tmp_path, fixes)
    assert result.refused == []
    assert (tmp_path / PATH).read_text("utf-8") == (
        "import panel as pn\n\npage = pn.Row(pn.pane.HTML(a, sanitize_html=True), "
        "pn.pane.HTML(b, sanitize_html=True))\n"
    )


def test_wraps_in_one_file_add_one_import(tmp_path: Path) -> None:
    text = "page = HTML(a)\nother = HTML(b)\n"
    (tmp_path / PATH).write_text(text, "utf-8")
    fixes = [_diagnostic(WrapCall(_span_of(text, name), "html", "escape")) for name in ("a", "b")]
    apply_fixes(tmp_path, fixes)
    assert (tmp_path / PATH).read_text("utf-8") == (
        "import html\npage = HTML(html.escape(a))\nother = HTML(html.escape(b))\n"
    )


# -- string literals (SA101, SA301) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value", "written"),
    [
        ("'*'", "dash.example.com", "'dash.example.com'"),
        ('"*"', 'say "hi"', '"say \\"hi\\""'),
        ("r'*'", "a\\b", "'a\\\\b'"),
        ("u'*'", "é\n", "u'é\\n'"),
        ('"""*"""', "x", '"""x"""'),
    ],
)
def test_replace_string_keeps_the_quotes(literal: str, value: str, written: str) -> None:
    text = f"origins = [{literal}]  # who\n"
    span = _content_of(text, 1, "*")
    new = _fixed(text, ReplaceString(span, "*", (value,)))
    assert new == f"origins = [{written}]  # who\n"
    assert ast.literal_eval(written) == value


def test_replace_string_with_several_values_in_a_list() -> None:
    text = 'origins = [\n    "localhost",\n    "*",  # for now\n]\n'
    new = _fixed(text, ReplaceString(_content_of(text, 3, "*"), "*", ("a.org", "b.org")))
    assert new == 'origins = [\n    "localhost",\n    "a.org", "b.org",  # for now\n]\n'


def test_replace_string_refuses_a_name_a_changed_value_and_a_lone_string() -> None:
    text = 'X = "*"\nserve(origin=X)\nserve(origin="**")\nserve(origin="*")\n'
    with pytest.raises(CodemodError, match="plain string literal"):
        PythonFile(PATH, text).edits([ReplaceString(Span(PATH, 2, 14, 2, 15), "*", ("a",))])
    with pytest.raises(CodemodError, match="no longer holds"):
        PythonFile(PATH, text).edits([ReplaceString(_content_of(text, 3, "**"), "*", ("a",))])
    with pytest.raises(CodemodError, match="list"):
        PythonFile(PATH, text).edits([ReplaceString(_content_of(text, 4, "*"), "*", ("a", "b"))])


def test_bytes_and_unparsable_files_are_refused() -> None:
    with pytest.raises(CodemodError, match="bytes"):
        PythonFile(PATH, "x = [b'*']\n").edits([ReplaceString(Span(PATH, 1, 8, 1, 9), "*", ("a",))])
    with pytest.raises(CodemodError, match="parse"):
        PythonFile(PATH, "x = (\n")


def test_crlf_files_keep_their_line_endings(tmp_path: Path) -> None:
    text = "import panel as pn\r\n\r\npage = pn.pane.HTML(\r\n    x\r\n)\r\n"
    (tmp_path / PATH).write_bytes(text.encode())
    span = Span(PATH, 3, 8, 5, 2)
    apply_fixes(tmp_path, [_diagnostic(SetKeyword(span, "sanitize_html", "True"))])
    assert (tmp_path / PATH).read_bytes() == (
        b"import panel as pn\r\n\r\npage = pn.pane.HTML(\r\n    x,\r\n    sanitize_html=True\r\n)\r\n"
    )


def test_a_fix_that_cannot_be_built_is_refused_not_raised(tmp_path: Path) -> None:
    (tmp_path / PATH).write_text("page = HTML(x)\n", "utf-8")
    fix = _diagnostic(SetKeyword(Span(PATH, 1, 1, 1, 3), "sanitize_html", "True"))
    result = apply_fixes(tmp_path, [fix])
    assert result.applied == [] and result.changed == set()
    assert [r.reason for r in result.refused] == [f"{PATH}: no call is written exactly there"]


def test_sa101_leaves_a_wildcard_reached_through_a_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wildcard's span is the name's: the fix must not overwrite `X` with a bare
    host (which a text edit of the same width did)."""
    write_files(
        tmp_path,
        {
            "serve.py": 'import panel as pn\n\nX = "*"\npn.serve(app, websocket_origin=X)\n',
            "stackaudit.toml": 'public-hosts = ["dash.example.com"]\nauth-by-proxy = true\n',
        },
    )
    before = (tmp_path / "serve.py").read_text("utf-8")
    assert main(["check", "--fix", "--unsafe-fixes", "--exit-zero", "-q", str(tmp_path)]) == 0
    assert (tmp_path / "serve.py").read_text("utf-8") == before
    assert "not written there as a plain string literal" in capsys.readouterr().err


# -- reports and start-up -------------------------------------------------------------------------


def test_json_report_lists_the_built_edits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        tmp_path,
        {
            "main.py": _code("""
                from fastapi import FastAPI
                from fastapi.middleware.cors import CORSMiddleware

                app = FastAPI()
                app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
            """),
            "stackaudit.toml": 'public-hosts = ["app.example.com"]\n',
        },
    )
    main(["check", "--format", "json", "--exit-zero", "--select", "SA301", str(tmp_path)])
    (finding,) = json.loads(capsys.readouterr().out)["diagnostics"]
    assert finding["fix"]["safety"] == "unsafe"
    assert [e["replacement"] for e in finding["fix"]["edits"]] == ["https://app.example.com"]


def test_reports_show_a_fix_that_cannot_be_built_as_display_only() -> None:
    fix = _diagnostic(SetKeyword(Span(PATH, 1, 1, 1, 3), "sanitize_html", "True"))
    (shown,) = with_python_edits([fix], lambda path: "page = HTML(x)\n")
    assert shown.edits == () and shown.fix_safety is FixSafety.DISPLAY_ONLY
    (shown,) = with_python_edits([fix], lambda path: None)
    assert shown.fix_safety is FixSafety.DISPLAY_ONLY


def test_a_plain_check_does_not_import_libcst(tmp_path: Path) -> None:
    """libcst costs as much to import as a small tree costs to check: only fixing does."""
    write_files(
        tmp_path,
        {
            "serve.py": 'import panel as pn\n\npn.serve(app, allow_websocket_origin=["*"])\n',
            "stackaudit.toml": 'public-hosts = ["dash.example.com"]\nauth-by-proxy = true\n',
        },
    )
    probe = textwrap.dedent(f"""
        import sys
        from stackaudit.cli import main
        code = main(["check", "--no-cache", "-q", "--exit-zero", {str(tmp_path)!r}])
        print(code, any(name == "libcst" or name.startswith("libcst.") for name in sys.modules))
    """)
    env_path = [str(REPO / "src"), *sys.path]
    for arguments, imported in (("", "False"), ('"--diff", "--unsafe-fixes", ', "True")):
        script = probe.replace('"--exit-zero", ', f'"--exit-zero", {arguments}')
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": ":".join(env_path), "PATH": "/usr/bin:/bin"},
        )
        assert done.stdout.split()[-2:] == ["0", imported], done.stdout + done.stderr


def _diagnostic(*codemods: Codemod) -> Diagnostic:
    return Diagnostic(
        code="SA999",
        name="test",
        severity=Severity.ERROR,
        confidence=Confidence.HIGH,
        message="m",
        span=codemods[0].span,
        codemods=codemods,
        fix_safety=FixSafety.SAFE,
    )

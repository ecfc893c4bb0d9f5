from __future__ import annotations

from stackaudit.diagnostics import Confidence, Diagnostic, Severity, Span
from stackaudit.suppress import apply_suppressions, find_suppressions


def diag(line: int, code: str = "SA101") -> Diagnostic:
    return Diagnostic(code, "x", Severity.ERROR, Confidence.HIGH, "m", Span("f", line, 1))


def test_trailing_standalone_and_continuations() -> None:
    text = (
        "a  # stackaudit: ignore[SA101]\n"
        "# stackaudit: ignore[SA1] -- reason here\n"
        "\n"
        "# another comment\n"
        "cmd \\\n"
        "  --flag \\\n"
        "  --last\n"
        "after\n"
    )
    found = find_suppressions("f", text)
    assert [(s.first_line, s.last_line, s.codes, s.reason) for s in found] == [
        (1, 1, ["SA101"], ""),
        (5, 7, ["SA1"], "reason here"),
    ]
    kept, withheld = apply_suppressions([diag(1), diag(6), diag(7), diag(8)], found)
    assert [d.span.line for d in kept] == [8]
    assert [(s.diagnostic.span.line, s.kind, s.justification) for s in withheld] == [
        (1, "inSource", ""),
        (6, "inSource", "reason here"),
        (7, "inSource", "reason here"),
    ]


def test_file_level_only_near_the_top() -> None:
    top = find_suppressions("f", "# stackaudit: ignore-file[SA101]\nx\n")
    assert top[0].whole_file
    late = find_suppressions("f", "x\n" * 20 + "# stackaudit: ignore-file[SA101]\n")
    assert not late[0].whole_file


def test_python_strings_are_not_comments() -> None:
    text = 'doc = """\n# stackaudit: ignore[SA101]\n"""\nx = 1  # stackaudit: ignore[SA2]\n'
    found = find_suppressions("f.py", text, "python")
    assert [s.codes for s in found] == [["SA2"]]


def test_a_bare_ignore_names_nothing_and_covers_nothing() -> None:
    found = find_suppressions("a.sh", "x  # stackaudit: ignore\ny  # stackaudit: ignored\n")
    assert [(s.span.line, s.codes, s.bare) for s in found] == [(1, [], True)]

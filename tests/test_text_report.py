"""The text report's layout: title, frame with two lines of context, labelled notes,
rule links, the fixable line, and the confidence filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackaudit.commands import main
from stackaudit.config import ConfigError, parse_table
from stackaudit.diagnostics import (
    Confidence,
    Diagnostic,
    Edit,
    FixSafety,
    Persona,
    Related,
    Severity,
    Span,
)
from stackaudit.engine import RunResult
from stackaudit.formatters.text import render_text
from stackaudit.formatters.title import TITLE_LIMIT, finding_title
from stackaudit.source import SourceFile

from .support import write_files

URL = "https://github.com/stackaudit/stackaudit/blob/main/rules/SA101.md"
SCRIPT = "".join(f"echo {n}\n" for n in range(1, 8))


def finding(line: int, **changes: object) -> Diagnostic:
    fields: dict[str, object] = {
        "code": "SA101",
        "name": "ws-origin-wildcard",
        "severity": Severity.ERROR,
        "confidence": Confidence.HIGH,
        "message": "short message",
        "span": Span("start.sh", line, 6, line, 7),
    }
    fields.update(changes)
    return Diagnostic(**fields)  # type: ignore[arg-type]


def result(*diagnostics: Diagnostic, text: str = SCRIPT) -> RunResult:
    source = SourceFile("start.sh", "shell", text)
    return RunResult(Path(), list(diagnostics), 0, [], [], 1, {"start.sh": source})


def test_frame_shows_two_lines_around_the_finding_and_fewer_at_the_file_ends() -> None:
    report = render_text(result(finding(1), finding(4), finding(7)))
    assert report == (
        "start.sh:1:6: SA101 error: short message\n"
        "  |\n"
        "1 | echo 1\n"
        "  |      ^ ws-origin-wildcard\n"
        "2 | echo 2\n"
        "3 | echo 3\n"
        "  |\n"
        f"  = see: {URL}\n"
        "\n"
        "start.sh:4:6: SA101 error: short message\n"
        "  |\n"
        "2 | echo 2\n"
        "3 | echo 3\n"
        "4 | echo 4\n"
        "  |      ^ ws-origin-wildcard\n"
        "5 | echo 5\n"
        "6 | echo 6\n"
        "  |\n"
        f"  = see: {URL}\n"
        "\n"
        "start.sh:7:6: SA101 error: short message\n"
        "  |\n"
        "5 | echo 5\n"
        "6 | echo 6\n"
        "7 | echo 7\n"
        "  |      ^ ws-origin-wildcard\n"
        "  |\n"
        f"  = see: {URL}\n"
        "\n"
        "Found 3 findings (3 errors) in 1 file.\n"
    )


def test_long_message_is_a_title_with_the_full_text_as_a_wrapped_note() -> None:
    message = (
        "panel serve: `--allow-websocket-origin *` (from the Dockerfile) admits WebSocket "
        "connections from every site, with the visitor's cookies, so any page can drive the app"
    )
    related = (Related(Span("nginx.conf", 3, 5), "route"),)
    diagnostic = finding(2, message=message, related=related, help="name the host")
    report = render_text(result(diagnostic), width=80)
    assert report.splitlines()[0] == (
        "start.sh:2:6: SA101 error: panel serve: `--allow-websocket-origin *` admits WebSocket "
        "connections from every site"
    )
    assert report.splitlines()[8:14] == [
        "  = note: panel serve: `--allow-websocket-origin *` (from the Dockerfile) admits",
        "          WebSocket connections from every site, with the visitor's cookies, so",
        "          any page can drive the app",
        "  = route: nginx.conf:3:5",
        "  = help: name the host",
        f"  = see: {URL}",
    ]


def test_confidence_is_shown_when_not_high_and_quiet_keeps_the_full_message() -> None:
    message = "m" * 60 + ": " + "n" * 60
    diagnostic = finding(2, message=message, confidence=Confidence.MEDIUM)
    assert render_text(result(diagnostic), quiet=True) == (
        f"start.sh:2:6: SA101 error[medium]: {message}\n"
    )


def test_long_lines_are_cut_around_the_span_alike() -> None:
    text = "x" * 300 + "\n" + "a" * 150 + "TARGET" + "b" * 150 + "\n"
    diagnostic = finding(2, span=Span("start.sh", 2, 151, 2, 157))
    frame = render_text(result(diagnostic, text=text), width=60).splitlines()[1:6]
    assert all(len(line) <= 60 for line in frame)
    shown, carets = frame[2], frame[3]
    assert shown.startswith("2 | …") and shown.endswith("…")
    assert shown[carets.index("^") : carets.index("^") + 6] == "TARGET"
    assert frame[1].startswith("1 | …") and set(frame[1][5:-1]) == {"x"}


def test_wrapped_note_lines_cannot_start_a_workflow_command() -> None:
    message = "a " * 45 + "::error::injected " + "b" * 200
    report = render_text(result(finding(2, message=message)), width=60)
    assert all(not line.lstrip().startswith("::") for line in report.splitlines())


def test_rule_page_is_an_osc8_link_only_with_colour() -> None:
    coloured = render_text(result(finding(2)), color=True)
    assert "\x1b]8;" in coloured and URL in coloured
    plain = render_text(result(finding(2)))
    assert "\x1b" not in plain and f"  = see: {URL}\n" in plain


def _fixed(safety: FixSafety) -> Diagnostic:
    edit = Edit(Span("start.sh", 2, 6, 2, 7), "y")
    return finding(2, edits=(edit,), fix_safety=safety)


@pytest.mark.parametrize(
    ("safeties", "line"),
    [
        (
            (FixSafety.SAFE, FixSafety.SAFE, FixSafety.UNSAFE),
            "[*] 2 fixable with `--fix` (1 more with `--unsafe-fixes`).",
        ),
        ((FixSafety.SAFE,), "[*] 1 fixable with `--fix`."),
        ((FixSafety.UNSAFE, FixSafety.UNSAFE), "2 fixable with `--fix --unsafe-fixes`."),
    ],
)
def test_closing_line_counts_the_fixes(safeties: tuple[FixSafety, ...], line: str) -> None:
    report = render_text(result(*(_fixed(s) for s in safeties), finding(3)))
    assert report.splitlines()[-1] == line


def test_no_fixable_line_without_fixes() -> None:
    assert render_text(result(finding(2))).splitlines()[-1].startswith("Found 1 finding")


def test_a_fix_that_is_only_shown_is_not_counted() -> None:
    report = render_text(result(_fixed(FixSafety.DISPLAY_ONLY)))
    assert "fixable" not in report and "[*]" not in report


@pytest.mark.parametrize(
    ("persona", "least", "shown"),
    [
        (Persona.REGULAR, Confidence.LOW, {"high note", "medium note", "low warning"}),
        (Persona.PEDANTIC, Confidence.LOW, {"high note", "medium note", "low warning", "low note"}),
        (Persona.REGULAR, Confidence.MEDIUM, {"high note", "medium note"}),
        (Persona.PEDANTIC, Confidence.HIGH, {"high note"}),
        (Persona.AUDITOR, Confidence.HIGH, {"high note", "medium note", "low warning", "low note"}),
    ],
)
def test_persona_and_minimum_confidence(
    persona: Persona, least: Confidence, shown: set[str]
) -> None:
    cases = {
        "high note": (Severity.NOTE, Confidence.HIGH),
        "medium note": (Severity.NOTE, Confidence.MEDIUM),
        "low warning": (Severity.WARNING, Confidence.LOW),
        "low note": (Severity.NOTE, Confidence.LOW),
    }
    kept = {
        name
        for name, (severity, confidence) in cases.items()
        if persona.shows(finding(1, severity=severity, confidence=confidence), least)
    }
    assert kept == shown


def test_configuration_keys_are_validated() -> None:
    config = parse_table({"persona": "auditor", "min-confidence": "medium"}, "here")
    assert (config.persona, config.min_confidence) == (Persona.AUDITOR, Confidence.MEDIUM)
    with pytest.raises(ConfigError, match=r"`persona` must be one of .*did you mean `auditor`"):
        parse_table({"persona": "audit"}, "here")
    with pytest.raises(ConfigError, match="`min-confidence` must be one of"):
        parse_table({"min-confidence": 1}, "here")


def test_command_line_filters_before_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # SA201 is of medium confidence here: nothing says whether a proxy authenticates.
    write_files(tmp_path, {"start.sh": "#!/bin/sh\nexec panel serve app.py --address 0.0.0.0\n"})
    write_files(tmp_path, {".stackaudit.toml": 'select = ["SA201"]\nmin-confidence = "high"\n'})
    assert main(["check", "--no-cache", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["check", "--no-cache"]) == 0
    assert "; 1 hidden by confidence" in capsys.readouterr().out
    assert main(["check", "--no-cache", "-q", "--persona", "auditor"]) == 1
    assert "SA201 warning[medium]" in capsys.readouterr().out
    assert main(["check", "--no-cache", "-q", "--min-confidence", "low"]) == 1


def test_what_the_persona_hides_is_not_in_sarif_as_suppressed_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SARIF keeps suppressed findings, marked; one the confidence filter hides is not
    reported at all, suppressed or not, as in every other format."""
    import json

    monkeypatch.chdir(tmp_path)
    start = "#!/bin/sh\nexec panel serve app.py --address 0.0.0.0  # stackaudit: ignore[SA201]\n"
    write_files(tmp_path, {"start.sh": start, ".stackaudit.toml": 'select = ["SA201"]\n'})
    assert main(["check", "--no-cache", "--format", "sarif"]) == 0
    [suppressed] = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert suppressed["ruleId"] == "SA201"
    assert suppressed["suppressions"][0]["kind"] == "inSource"
    assert main(["check", "--no-cache", "--format", "sarif", "--min-confidence", "high"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["results"] == []


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("short", "short"),
        (
            "PANEL_COOKIE_SECRET (Dockerfile ENV) holds the key that signs Panel's auth cookies, "
            "written literally: it is committed here",
            "PANEL_COOKIE_SECRET holds the key that signs Panel's auth cookies, written literally",
        ),
        (
            "CORSMiddleware (add_middleware(CORSMiddleware)): allow_origins holds `*` and "
            "allow_credentials is `True`: Starlette answers every Origin with itself",
            "CORSMiddleware: allow_origins holds `*` and allow_credentials is `True`",
        ),
        (
            "add_middleware(TrustedHostMiddleware): allowed_hosts holds `*`, so Starlette lets "
            "every Host header through and the middleware checks nothing at all",
            "add_middleware(TrustedHostMiddleware): allowed_hosts holds `*`",
        ),
        ("word " * 40, "word " * 19 + "word…"),
        # A path or URL longer than the title: cut inside it rather than run over.
        ("x" * 200, "x" * 99 + "…"),
        ("see " + "y" * 200, "see " + "y" * 95 + "…"),
    ],
)
def test_titles(message: str, title: str) -> None:
    assert finding_title(message) == title
    assert len(finding_title(message)) <= TITLE_LIMIT

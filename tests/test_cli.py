"""The command line: exit codes, formats, options and their errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from stackaudit import __version__
from stackaudit.cli import main
from stackaudit.rules.sa101_ws_origin_wildcard import WsOriginWildcard

from .support import CORPUS, REPO, write_files

WILDCARD = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"
# These tests are about the command line, not the rules: they see three rules only.
PINNED = 'select = ["SA001", "SA002", "SA101"]\n'
SCHEMA = json.loads((REPO / "src/stackaudit/data/report.schema.json").read_text())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    write_files(tmp_path, {".stackaudit.toml": PINNED})
    return tmp_path


def test_exit_0_when_clean(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(project, {"start.sh": "#!/bin/sh\necho hello\n"})
    assert main(["check"]) == 0
    assert capsys.readouterr().out == "No findings in 1 file.\n"


def test_exit_1_with_findings_and_exact_text(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(project, {"start.sh": WILDCARD})
    assert main(["check", "."]) == 1
    assert capsys.readouterr().out == (
        "start.sh:2:51: SA101 error: panel serve: `--allow-websocket-origin *` admits "
        "WebSocket connections from every site\n"
        "  |\n"
        "1 | #!/bin/sh\n"
        "2 | exec panel serve app.py --allow-websocket-origin='*'\n"
        "  |                                                   ^ ws-origin-wildcard\n"
        "  |\n"
        "  = note: panel serve: `--allow-websocket-origin *` admits WebSocket connections from every "
        "site,\n"
        "          with the visitor's cookies\n"
        "  = help: name the public host(s) instead: --allow-websocket-origin=<public host[:port]>\n"
        "  = see: https://github.com/stackaudit/stackaudit/blob/main/rules/SA101.md\n"
        "\n"
        "Found 1 finding (1 error) in 1 file.\n"
    )


def test_quiet_prints_one_line_per_finding(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(project, {"start.sh": WILDCARD})
    assert main(["check", "-q"]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("start.sh:2:51: SA101 error:")


def test_exit_zero_and_fail_on(project: Path) -> None:
    write_files(project, {"start.sh": WILDCARD})
    assert main(["check", "--exit-zero", "-q"]) == 0
    write_files(project, {"start.sh": WILDCARD, ".stackaudit.toml": PINNED + 'fail-on = "error"\n'})
    assert main(["check", "-q"]) == 1
    assert main(["check", "-q", "--ignore", "SA101"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--select", "SA1O1"], "unknown rule code `SA1O1` (did you mean `SA101`?)"),
        (["check", "--ignore", "SA1XX"], "unknown rule code `SA1XX` (did you mean `SA1`?)"),
        (["check", "--select", "SA5*"], "unknown rule code `SA5*` (did you mean `SA5`?)"),
        (["check", "--fail-on", "fatal"], "invalid choice"),
        (["check", "--frobnicate"], "unrecognized arguments"),
        (["check", "missing-dir"], "no such file or directory"),
        (["check", "--config", "nope.toml"], "configuration file not found"),
        (["explain", "SA1011"], "unknown rule `SA1011` (did you mean `SA101`?)"),
    ],
)
def test_usage_errors_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) if args[1] in ("--fail-on", "--frobnicate") else _nothing():
        code = main(args)
        assert code == 2
    assert message in capsys.readouterr().err


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        if exc and isinstance(exc[1], SystemExit):
            assert exc[1].code == 2
            return True
        return False


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("selec = ['SA1']\n", "unknown key `selec` (did you mean `select`?)"),
        (
            "fail-on = 'warnings'\n",
            "`fail-on` must be one of error, warning, note (did you mean `warning`?)",
        ),
        ("max-file-size = 'huge'\n", "`max-file-size` must be a positive size"),
        ("ignore = ['SA999']\n", "unknown rule code `SA999`"),
        ("select = [\n", "invalid TOML"),
    ],
)
def test_bad_config_exits_2(
    project: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    write_files(project, {".stackaudit.toml": config, "start.sh": WILDCARD})
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_pyproject_table_is_read(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".stackaudit.toml").unlink()
    write_files(
        project,
        {
            "pyproject.toml": "[tool.stackaudit]\nselect = ['SA0', 'SA1']\nignore = ['SA101']\n",
            "start.sh": WILDCARD,
        },
    )
    assert main(["check"]) == 0


def test_exit_3_when_a_rule_crashes(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: object, stack: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(WsOriginWildcard, "check", boom)
    write_files(project, {"start.sh": WILDCARD, "broken.py": "import panel\npn.serve(\n"})
    assert main(["check", "-q"]) == 3
    captured = capsys.readouterr()
    assert "rule SA101 (ws-origin-wildcard) failed" in captured.err
    assert "kaboom" in captured.err
    assert "broken.py:2" in captured.out  # the rest of the run still reports


def test_exit_3_when_an_extractor_crashes(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import stackaudit.extractors.shell as shell

    def boom(source: object) -> None:
        raise ValueError("bad day")

    monkeypatch.setattr(shell, "extract_shell", boom)
    write_files(
        project,
        {
            "start.sh": WILDCARD,
            "Dockerfile": "FROM x\nCMD panel serve a.py --allow-websocket-origin=*\n",
        },
    )
    assert main(["check", "-q", "--jobs", "1"]) == 3
    captured = capsys.readouterr()
    assert "start.sh: extractor failed" in captured.err
    assert "Dockerfile:2" in captured.out


def test_json_output_matches_schema(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_files(
        project,
        {
            "start.sh": WILDCARD,
            "big.sh": "#" * 100,
            ".stackaudit.toml": PINNED + "max-file-size = 80\n",
        },
    )
    assert main(["check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, SCHEMA)
    assert report["summary"]["findings"] == 1
    assert report["summary"]["skipped"] == [
        {"path": "big.sh", "reason": "larger than max-file-size (100 bytes)"}
    ]
    [diagnostic] = report["diagnostics"]
    assert diagnostic["location"] == {
        "path": "start.sh",
        "line": 2,
        "column": 51,
        "end_line": 2,
        "end_column": 52,
    }


def test_output_file(project: Path) -> None:
    write_files(project, {"start.sh": WILDCARD})
    assert main(["check", "--format", "json", "--output", "out.json"]) == 1
    assert json.loads((project / "out.json").read_text())["summary"]["findings"] == 1


def test_color(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(project, {"start.sh": WILDCARD})
    main(["check", "--color", "always", "-q"])
    assert "\x1b[" in capsys.readouterr().out
    main(["check", "--color", "never", "-q"])
    assert "\x1b[" not in capsys.readouterr().out
    monkeypatch.setenv("FORCE_COLOR", "1")
    main(["check", "-q"])
    assert "\x1b[" in capsys.readouterr().out
    monkeypatch.setenv("NO_COLOR", "1")
    main(["check", "-q"])
    assert "\x1b[" not in capsys.readouterr().out


def test_scanned_text_cannot_drive_the_terminal(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "#!/bin/sh\r\nexec panel serve [bold red]x[/] \x1b[2J\u202e --allow-websocket-origin='*'\r\n"
    write_files(project, {"start.sh": hostile})
    main(["check", "--color", "always"])
    out = capsys.readouterr().out
    assert "\x1b[2J" not in out and "\r" not in out and "\u202e" not in out
    assert "[bold red]x[/]" in out
    assert "\\x1b[2J" in out and "\\u202e" in out


def test_rules_and_explain(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    table = capsys.readouterr().out
    assert "SA101" in table and "ws-origin-wildcard" in table and "error" in table
    assert main(["explain", "sa101"]) == 0
    text = capsys.readouterr().out
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "References"):
        assert heading in text
    assert "--allow-websocket-origin" in text
    assert main(["explain", "ws-origin-wildcard"]) == 0


def test_rules_fit_80_columns_and_list_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stackaudit.rules import all_rules

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["rules"]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "SA101  error    ws-origin-wildcard" in text
    assert main(["rules", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [entry["code"] for entry in listed] == [rule.code for rule in all_rules()]
    assert {entry["code"]: entry["security"] for entry in listed}["SA001"] is False


def test_report_honours_columns_when_piped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """COLUMNS says how wide the reader is even through a pipe: the code frames and the
    notes fit; only the finding lines (path and short title, as in Ruff) may not."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(REPO)
    assert main(["check", "--no-cache", "--color", "never", "examples/insecure-stack"]) == 1
    lines = capsys.readouterr().out.splitlines()
    long = [line for line in lines if len(line) > 80]
    assert long and all(line.startswith("examples/insecure-stack/") for line in long)


def test_explain_never_wraps_code_or_links(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 40 columns prose wraps, but each configuration line and each reference URL
    is printed whole, ready to copy."""
    monkeypatch.setenv("COLUMNS", "40")
    assert main(["explain", "SA501"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert "proxy_set_header Connection $connection_upgrade;" in lines
    url = "https://github.com/tornadoweb/tornado/blob/v6.6.1/tornado/websocket.py#L238-L264"
    assert f"• {url}" in lines


def test_explain_in_a_pipe_has_no_padding(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rich pads Markdown to the width; written to a pipe, no line ends in spaces."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["explain", "SA101"]) == 0
    out = capsys.readouterr().out
    assert "What it does" in out and out.endswith("\n")
    assert [line for line in out.splitlines() if line != line.rstrip()] == []


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stackaudit", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"stackaudit {__version__}"


def test_example_stack_has_findings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check", "examples/insecure-stack", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["findings"] >= 1
    assert all(
        d["location"]["path"].startswith("examples/insecure-stack/") for d in report["diagnostics"]
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_real_corpus_runs_cleanly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code = main(["check", str(CORPUS), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, SCHEMA)
    assert code in (0, 1)
    assert report["summary"]["internal_errors"] == 0
    assert report["summary"]["files_scanned"] >= 25


def test_parse_errors_do_not_hide_other_findings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(
        project,
        {
            "app.py": "import panel as pn\npn.serve(app, websocket_origin=['x'],\n",
            "docker-compose.yml": "services:\n  app: [\n",
            "nginx.conf": "http {\n  server {\n    listen 80;\n",
            "start.sh": WILDCARD,
        },
    )
    assert main(["check", "-q"]) == 1
    lines = capsys.readouterr().out.splitlines()
    codes = sorted((line.split(":")[0], line.split(" ")[1]) for line in lines)
    assert codes == [
        ("app.py", "SA001"),
        ("docker-compose.yml", "SA001"),
        ("nginx.conf", "SA001"),
        ("start.sh", "SA101"),
    ]


def test_parallel_and_serial_runs_agree(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index in range(60):
        write_files(project, {f"s{index:02}/start.sh": WILDCARD if index % 3 == 0 else "echo\n"})
    main(["check", "--format", "json", "--jobs", "1"])
    serial = capsys.readouterr().out
    main(["check", "--format", "json", "--jobs", "2"])
    assert capsys.readouterr().out == serial


def test_no_color_env_default_when_not_a_tty(project: Path) -> None:
    write_files(project, {"start.sh": WILDCARD})
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    result = subprocess.run(
        [sys.executable, "-m", "stackaudit", "check", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1 and "\x1b[" not in result.stdout


def test_notebook_findings_show_cell_and_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Notes\n"]},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": ["import panel as pn\n", "\n", "pn.serve(app, websocket_origin=['*'])\n"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write_files(project, {"explore.ipynb": json.dumps(notebook, indent=1)})
    assert main(["check", "-q"]) == 1
    out = capsys.readouterr().out
    assert "explore.ipynb:" in out and "(cell 2, line 3) SA101" in out


def test_graph_shows_links_with_evidence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from .support import FIXTURES

    case = FIXTURES / "stacks" / "compose-nginx-panel-broken"
    monkeypatch.chdir(case)
    assert main(["graph", "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    [frontend] = graph["frontends"]
    assert frontend["kind"] == "nginx" and frontend["hosts"] == ["dash.example.com"]
    [backend] = frontend["backends"]
    assert backend["server"]["tool"] == "panel serve"
    assert backend["replicas"] == 2 and backend["confidence"] == "high"
    assert "compose service `dashboard`" in backend["evidence"]
    assert main(["graph"]) == 0
    text = capsys.readouterr().out
    assert "location / (server dash.example.com)" in text and "→ panel serve" in text
    assert "2 replicas" in text


def test_graph_text_wraps_to_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns the text graph wraps at spaces under each line's indentation; no
    word is cut, so every location stays whole. In a pipe without COLUMNS, one line each."""
    from .support import REPO

    monkeypatch.chdir(REPO / "examples" / "insecure-stack")
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["graph"]) == 0
    unwrapped = capsys.readouterr().out
    assert max(len(line) for line in unwrapped.splitlines()) > 80
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["graph"]) == 0
    wrapped = capsys.readouterr().out
    assert max(len(line) for line in wrapped.splitlines()) <= 80
    assert wrapped.split() == unwrapped.split()  # the same words, only the breaks move
    assert "  → panel serve (Dockerfile CMD run by compose service `dashboard`)\n" in wrapped
    assert "\n      [Dockerfile:6:7]\n" in wrapped


def test_show_files_lists_what_a_check_reads(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The listing is discovery's: excludes, .gitignore and content classification
    apply as in a check, and nothing is analysed (a finding would exit 1)."""
    write_files(
        project,
        {
            "start.sh": WILDCARD,
            "app.py": "import panel\n",
            "notes.md": "# notes\n",
            "sites/site.conf": "server {\n  listen 80;\n}\n",
            "other/settings.conf": "key = value\n",
            "build/skip.py": "x = 1\n",
            ".gitignore": "build/\n",
        },
    )
    assert main(["check", "--show-files"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "python\tapp.py",
        "nginx\tsites/site.conf",
        "shell\tstart.sh",
    ]

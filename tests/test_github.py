"""GitHub: annotations within GitHub's per-step limits, the job summary (written
whatever the format, appended, never through a link), and the stack picture in
Mermaid (exact output, and hostile names that cannot leave their labels)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stackaudit.cli import main
from stackaudit.config import Config
from stackaudit.diagnostics import Confidence, Diagnostic, Severity, Span
from stackaudit.engine import RunResult
from stackaudit.formatters.github import render_github, step_summary
from stackaudit.graph import build_stack, render_graph_mermaid

from .support import REPO, write_files

WILDCARD = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"
PINNED = 'select = ["SA001", "SA002", "SA101"]\n'
SHA = "0123456789abcdef0123456789abcdef01234567"


def _finding(severity: Severity, line: int, confidence: Confidence = Confidence.HIGH) -> Diagnostic:
    return Diagnostic(f"SA{line:03d}", "rule", severity, confidence, f"m{line}", Span("a.sh", line))


def _result(diagnostics: list[Diagnostic], files: int = 1) -> RunResult:
    return RunResult(Path(), diagnostics, 0, [], [], files, {})


# -- annotations ----------------------------------------------------------------------


def test_annotations_most_severe_first_ten_per_level_then_a_count() -> None:
    found = [_finding(Severity.NOTE, line) for line in range(1, 13)]
    found += [_finding(Severity.WARNING, line) for line in range(20, 32)]
    found += [_finding(Severity.ERROR, line, Confidence.LOW) for line in range(40, 46)]
    found += [_finding(Severity.ERROR, line) for line in range(50, 56)]
    lines = render_github(_result(found)).splitlines()
    kinds = [line.split(" ", 1)[0].split("::")[1] for line in lines]
    assert kinds == ["error"] * 10 + ["warning"] * 10 + ["notice"] * 10
    # Within a level: the surest first, then by place.
    assert [line.split("::")[2] for line in lines[:10]] == [
        *(f"m{n}" for n in range(50, 56)),
        *(f"m{n}" for n in range(40, 44)),
    ]
    assert lines[10].startswith("::warning file=a.sh,line=20,col=1,endLine=20,endColumn=1,")
    # 2 errors, 2 warnings and 3 notes are left out: the counting notice takes the 10th
    # notice place, so nothing GitHub would drop is printed.
    assert lines[-2].endswith("::m9")
    assert lines[-1] == (
        "::notice::7 more findings not annotated (GitHub shows 10 errors, 10 warnings and "
        "10 notices per step): see the job summary or the SARIF report"
    )


def test_no_count_when_everything_is_annotated() -> None:
    found = [_finding(Severity.NOTE, line) for line in range(1, 11)]
    lines = render_github(_result(found)).splitlines()
    assert len(lines) == 10 and all(line.startswith("::notice file=") for line in lines)


def test_properties_and_data_are_escaped_as_the_runner_reads_them() -> None:
    # actions/toolkit command.ts: data escapes % CR LF; properties also : and ,
    diagnostic = Diagnostic(
        "SA101",
        "n",
        Severity.ERROR,
        Confidence.HIGH,
        "50% a\r\nb: c, d",
        Span("x%,y:z\n.sh", 1),
    )
    [line] = render_github(_result([diagnostic])).splitlines()
    assert line == (
        "::error file=x%25%2Cy%3Az%0A.sh,line=1,col=1,endLine=1,endColumn=1,title=SA101 n"
        "::50%25 a\\x0d%0Ab: c, d"
    )


# -- the job summary ------------------------------------------------------------------


def _summary_env(monkeypatch: pytest.MonkeyPatch, summary: Path, workspace: Path) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/app")
    monkeypatch.setenv("GITHUB_SHA", SHA)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))


EXPECTED_SUMMARY = f"""\
previous step's text
### stackaudit

1 finding in 1 file: 1 error, 0 warnings, 0 notes.

| severity | rule | location | message |
|---|---|---|---|
| error | [SA101](https://github.com/stackaudit/stackaudit/blob/main/rules/SA101.md) \
ws-origin-wildcard | [deploy/start\\.sh\\:2\\:51](https://github.com/octo/app/blob/{SHA}/\
deploy/start.sh#L2) | panel serve\\: \\`--allow-websocket-origin \\*\\` admits WebSocket \
connections from every site, with the visitor&#39;s cookies |

#### The stack

```mermaid
flowchart LR
  n0["panel serve :5006<br/>deploy/start.sh:2<br/>findings: SA101"]
  classDef finding fill:#fde2e1,stroke:#c62828,stroke-width:2px
  class n0 finding
```

"""


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_summary_is_appended_whatever_the_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    project = tmp_path / "repo"
    write_files(project, {".stackaudit.toml": PINNED, "deploy/start.sh": WILDCARD})
    summary = tmp_path / "summary.md"
    summary.write_text("previous step's text\n")
    _summary_env(monkeypatch, summary, project)
    monkeypatch.chdir(project)
    assert main(["check", "--format", fmt, "--cache-dir", str(tmp_path / "cache")]) == 1
    assert summary.read_text() == EXPECTED_SUMMARY
    # An identical run is not replayed from the cache: it writes its summary again.
    assert main(["check", "--format", fmt, "--cache-dir", str(tmp_path / "cache")]) == 1
    assert summary.read_text() == EXPECTED_SUMMARY + EXPECTED_SUMMARY.split("\n", 1)[1]
    capsys.readouterr()


def test_no_summary_outside_github_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {".stackaudit.toml": PINNED, "start.sh": WILDCARD})
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "github", "--no-cache"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stackaudit.toml", "start.sh"]
    assert capsys.readouterr().err == ""


def test_summary_is_not_written_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {".stackaudit.toml": PINNED, "start.sh": WILDCARD})
    target = tmp_path / "bashrc"
    target.write_text("kept\n")
    link = tmp_path / "summary.md"
    link.symlink_to(target)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(link))
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "github", "--no-cache"]) == 1
    assert target.read_text() == "kept\n"
    err = capsys.readouterr().err
    assert err == (
        f"stackaudit: warning: job summary not written: {link} is a symbolic link; "
        "refusing to write through it\n"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_summary_is_not_written_to_a_fifo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path, {".stackaudit.toml": PINNED, "start.sh": WILDCARD})
    fifo = tmp_path / "summary.md"
    os.mkfifo(fifo)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fifo))
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "text", "--no-cache"]) == 1  # and does not block
    assert "stackaudit: warning: job summary not written:" in capsys.readouterr().err


def test_summary_escapes_messages_and_caps_rows() -> None:
    hostile = "| </td><img src=x onerror=alert(1)> [link](http://evil) `code` @team #1"
    found = [
        Diagnostic("SA101", "n", Severity.WARNING, Confidence.HIGH, hostile, Span("a|b.sh", n))
        for n in range(1, 203)
    ]
    text = step_summary(_result(found, files=3))
    rows = [line for line in text.splitlines() if line.startswith("| warning |")]
    assert len(rows) == 200
    assert rows[0].endswith(
        "| a\\|b\\.sh\\:1\\:1 | \\| &lt;/td&gt;&lt;img src=x onerror=alert(1)&gt; "
        "\\[link\\](http\\://evil) \\`code\\` \\@team \\#1 |"
    )
    assert all(row.count(" | ") == 3 for row in rows)  # no cell break
    assert "\n2 more findings not listed here.\n" in text


def test_locations_are_plain_without_a_well_formed_github_context() -> None:
    from stackaudit.formatters.github import blob_url

    good = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"}
    assert blob_url({**good, "GITHUB_SHA": SHA}, Path()) == f"https://github.com/o/r/blob/{SHA}/"
    assert blob_url(good, Path()) is None
    assert blob_url({**good, "GITHUB_SHA": "main) [x](y"}, Path()) is None
    assert blob_url({**good, "GITHUB_SHA": SHA, "GITHUB_REPOSITORY": "o/r)"}, Path()) is None


# -- the stack in Mermaid -------------------------------------------------------------


def _mermaid(path: Path, diagnostics: list[Diagnostic] | None = None) -> str:
    root = path.resolve()
    return render_graph_mermaid(build_stack([root], root, Config(), 1), diagnostics or [])


def test_mermaid_of_the_example_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO / "examples/insecure-stack")
    assert main(["graph", "--format", "mermaid"]) == 0
    assert capsys.readouterr().out == (
        "flowchart LR\n"
        '  n0["internet / host"]\n'
        '  n1["nginx: location / #40;server dash.example.com#41;<br/>nginx/dashboard.conf:12"]\n'
        '  n2["compose service dashboard<br/>docker-compose.yml:2"]\n'
        '  n3["panel serve :5006<br/>Dockerfile:6"]\n'
        '  n4["nginx: location /api/ #40;server dash.example.com#41;'
        '<br/>nginx/dashboard.conf:18"]\n'
        '  n5["uvicorn :8000<br/>start-api.sh:3"]\n'
        '  n6["published 5006 to 5006<br/>docker-compose.yml:5"]\n'
        "  n0 --> n1\n"
        "  n2 --> n3\n"
        "  n1 --> n2\n"
        "  n0 --> n4\n"
        "  n0 --> n6\n"
        "  n6 --> n2\n"
    )


def test_mermaid_of_traefik_and_kubernetes_stacks_with_findings() -> None:
    traefik = REPO / "fixtures/stacks/traefik-panel-broken"
    finding = _finding(Severity.WARNING, 13)
    port = Diagnostic(
        "SA601", "p", Severity.WARNING, Confidence.HIGH, "m", Span("docker-compose.yml", 13)
    )
    assert _mermaid(traefik, [finding, port]) == (
        "flowchart LR\n"
        '  n0["internet / host"]\n'
        '  n1["traefik: Traefik router #96;dash#96; #40;compose service #96;dash#96;#41;'
        '<br/>docker-compose.yml:17"]\n'
        '  n2["compose service dash<br/>docker-compose.yml:9"]\n'
        '  n3["panel serve :5006<br/>docker-compose.yml:11"]\n'
        '  n4["published 5006 to 5006<br/>docker-compose.yml:13<br/>findings: SA601"]\n'
        "  n0 --> n1\n"
        "  n2 --> n3\n"
        "  n1 --> n2\n"
        "  n0 --> n4\n"
        "  n4 --> n2\n"
        "  classDef finding fill:#fde2e1,stroke:#c62828,stroke-width:2px\n"
        "  class n4 finding\n"
    )
    assert _mermaid(REPO / "fixtures/stacks/k8s-ingress-broken") == (
        "flowchart LR\n"
        '  n0["internet / host"]\n'
        '  n1["ingress: Ingress #96;dashboard#96;<br/>dashboard.yaml:47"]\n'
        '  n2["Deployment #96;dashboard#96;<br/>dashboard.yaml:4"]\n'
        '  n3["panel serve :5006<br/>dashboard.yaml:16"]\n'
        "  n0 --> n1\n"
        "  n2 --> n3\n"
        "  n1 --> n2\n"
    )


# A statement of the picture: a node with a label of plain characters and entity codes
# (parts joined by <br/>), an edge between generated ids, the finding class.
_STATEMENT = re.compile(
    r'flowchart LR|  (n\d+|more)\["([A-Za-z0-9 .,/_\-:=+@]|#\d+;|<br/>)*"\]'
    r"|  n\d+ --> n\d+|  classDef finding [a-z0-9:#,-]+|  class (n\d+,?)+ finding"
)

HOSTILE = '"]; click n0 "javascript:alert(1)"; n9[<img src=x onerror=alert(1)>]%%`{x}`|#quot;'


def test_hostile_names_stay_inside_their_labels(tmp_path: Path) -> None:
    compose = (
        "services:\n"
        f"  '{HOSTILE}':\n"
        "    image: app\n"
        f"    command: panel serve app.py --port 5006 --prefix '{HOSTILE}'\n"
        "    ports:\n"
        "      - '5006:5006'\n"
    )
    nginx = (
        "server {\n"
        "  listen 80;\n"
        f"  server_name x{HOSTILE.replace(';', '').replace(' ', '')};\n"
        f"  location /{HOSTILE.replace(';', '').replace(' ', '')} {{\n"
        "    proxy_pass http://127.0.0.1:5006;\n"
        "  }\n"
        "}\n"
    )
    write_files(tmp_path, {"docker-compose.yml": compose, "nginx.conf": nginx})
    text = _mermaid(tmp_path)
    lines = text.splitlines()
    assert all(_STATEMENT.fullmatch(line) for line in lines), text
    assert not any(line.lstrip().startswith("click") for line in lines)
    assert "#34;#93;#59; click n0 #34;javascript:alert#40;1#41;#34;" in text


def test_the_picture_is_bounded(tmp_path: Path) -> None:
    services = "".join(
        f"  s{n}:\n    image: app\n    command: panel serve app.py --port {5000 + n}\n"
        for n in range(40)
    )
    write_files(tmp_path, {"docker-compose.yml": "services:\n" + services})
    root = tmp_path.resolve()
    text = render_graph_mermaid(build_stack([root], root, Config(), 1), max_nodes=10)
    assert text.count('"]\n') == 11
    assert '  more["70 more not shown"]\n' in text
    assert all(_STATEMENT.fullmatch(line) for line in text.splitlines())

"""GitHub: annotations within GitHub's per-step limits, the job summary (written
whatever the format, appended, never through a link), and the stack picture in
Mermaid (exact output, and hostile names that cannot leave their labels)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from stackaudit.cache import Cache
from stackaudit.cli import main
from stackaudit.config import Config
from stackaudit.config_tree import ConfigTree
from stackaudit.diagnostics import Confidence, Diagnostic, Related, Severity, Span
from stackaudit.engine import RunResult
from stackaudit.formatters.github import render_github, step_summary
from stackaudit.graph import build_stack, render_graph_mermaid

from .support import REPO, count_extractions, write_files

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


def test_the_summary_draws_the_stack_of_the_run_without_reading_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run keeps the stack it built, and the summary draws it: every file is
    extracted once. A run served from the cache has no stack (the cache keeps
    findings only): the summary then reads the files for the picture, once."""
    from stackaudit import engine

    project = tmp_path / "repo"
    write_files(project, {".stackaudit.toml": PINNED, "deploy/start.sh": WILDCARD})
    summary = tmp_path / "summary.md"
    _summary_env(monkeypatch, summary, project)
    monkeypatch.chdir(project)
    extracted = count_extractions(monkeypatch)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["check", *cache]) == 1
    assert extracted == ["deploy/start.sh"]
    extracted.clear()
    assert main(["check", *cache]) == 1  # from the cache: nothing extracted for findings
    assert extracted == ["deploy/start.sh"]
    assert summary.read_text().count("findings: SA101") == 2
    capsys.readouterr()

    config = Config()
    tree = ConfigTree(project, config)
    store = Cache(tmp_path / "direct", "salt", root=project)
    first = engine.run([project], config, tree.top.selection, root=project, cache=store)
    again = engine.run([project], config, tree.top.selection, root=project, cache=store)
    assert first.stack is not None and len(first.stack.serve_commands) == 1
    assert again.stack is None and again.diagnostics == first.diagnostics


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


EXAMPLE_PICTURE = (
    "flowchart LR\n"
    '  n0["internet / host"]\n'
    '  n1["nginx: location / #40;server dash.example.com#41;<br/>nginx/dashboard.conf:12{n1}"]\n'
    '  n2["compose service dashboard<br/>docker-compose.yml:2{n2}"]\n'
    '  n3["panel serve :5006<br/>Dockerfile:6{n3}"]\n'
    '  n4["nginx: location /api/ #40;server dash.example.com#41;'
    '<br/>nginx/dashboard.conf:18{n4}"]\n'
    '  n5["uvicorn :8000<br/>start-api.sh:3{n5}"]\n'
    '  n6["published 5006 to 5006<br/>docker-compose.yml:5{n6}"]\n'
    "  n0 --> n1\n"
    "  n2 --> n3\n"
    "  n1 --> n2\n"
    "  n0 --> n4\n"
    "  n0 --> n6\n"
    "  n6 --> n2\n"
)


def test_mermaid_of_the_example_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`graph` runs the rules and marks every finding on the deepest node holding one of
    its places: SA505 (nginx/dashboard.conf:15, inside `location /`) on that location;
    SA503 on `location /` where it is, and as related on `location /api/` too, whose
    server-level `proxy_set_header` lines (9, 10) it points at; SA601 on the published
    port, not on the compose service around it; SA302 (primary and related on lines of
    `location /api/`) once there. SA202 (a Dockerfile `ENV`) and SA207/SA301 in app.py
    lie in no node."""
    monkeypatch.chdir(REPO / "examples/insecure-stack")
    assert main(["graph", "--format", "mermaid"]) == 0
    assert capsys.readouterr().out == EXAMPLE_PICTURE.format(
        n1="<br/>findings: SA501 SA502 SA503 SA505<br/>related: SA201 SA401 SA601",
        n2="<br/>findings: SA102 SA103<br/>related: SA401",
        n3="<br/>findings: SA201 SA403<br/>related: SA103 SA502 SA505",
        n4="<br/>findings: SA302<br/>related: SA503",
        n5="<br/>findings: SA207 SA507",
        n6="<br/>findings: SA601",
    ) + (
        "  classDef finding fill:#fde2e1,stroke:#c62828,stroke-width:2px\n"
        "  class n1,n2,n3,n4,n5,n6 finding\n"
    )
    assert main(["graph", "--format", "mermaid", "--no-findings"]) == 0
    assert capsys.readouterr().out == EXAMPLE_PICTURE.format(
        n1="", n2="", n3="", n4="", n5="", n6=""
    )


def test_text_graph_of_the_example_stack_lists_findings_per_part(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO / "examples/insecure-stack")
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe: one line each, not wrapped
    assert main(["graph"]) == 0
    assert capsys.readouterr().out == (
        "location / (server dash.example.com)  [nginx/dashboard.conf:12:5]\n"
        "  serves http://dash.example.com/ · auth: none · affinity: none · forwards Host: no\n"
        "  findings: SA501 SA502 SA503 SA505 · related: SA201 SA401 SA601\n"
        "  → panel serve (Dockerfile CMD run by compose service `dashboard`) [Dockerfile:6:7]\n"
        "      listens: --address 0.0.0.0 port 5006 · origins (env): `dash.example.com`, "
        "` www.example.com` · pings: Bokeh's default keep-alive (37 s)\n"
        "      linked by: compose service `dashboard` (docker-compose.yml:2:3) runs panel serve "
        "on port 5006 (high confidence); 3 replicas\n"
        "      findings: SA201 SA403 · related: SA103 SA502 SA505\n"
        "      runs in: compose service dashboard [docker-compose.yml:2:3]\n"
        "        findings: SA102 SA103 · related: SA401\n"
        "      published 5006 to 5006 [docker-compose.yml:5:9]\n"
        "        findings: SA601\n"
        "\n"
        "location /api/ (server dash.example.com)  [nginx/dashboard.conf:18:5]\n"
        "  serves http://dash.example.com/api/ · auth: none · affinity: none "
        "· forwards Host: yes\n"
        "  findings: SA302 · related: SA503\n"
        "  → no server process found for this target in the scanned files\n"
        "\n"
        "Servers no scanned proxy reaches:\n"
        "  • uvicorn (script start-api.sh) [start-api.sh:3:6]\n"
        "      listens: --host 0.0.0.0 port 8000 · pings: uvicorn's default ping interval "
        "(20 s)\n"
        "      findings: SA207 SA507\n"
    )
    assert main(["graph", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    route = data["frontends"][0]
    assert (route["findings"], route["related_findings"]) == (
        ["SA501", "SA502", "SA503", "SA505"],
        ["SA201", "SA401", "SA601"],
    )
    server = route["backends"][0]["server"]
    assert server["runs_in"] == {
        "unit": "compose service dashboard",
        "where": "docker-compose.yml:2:3",
        "findings": ["SA102", "SA103"],
        "related_findings": ["SA401"],
    }
    assert server["published"][0]["findings"] == ["SA601"]


def _at(code: str, path: str, line: int, *related: tuple[str, int]) -> Diagnostic:
    return Diagnostic(
        code,
        "rule",
        Severity.WARNING,
        Confidence.HIGH,
        "m",
        Span(path, line),
        related=tuple(Related(Span(p, n), "there") for p, n in related),
    )


def test_mermaid_of_traefik_and_kubernetes_stacks_with_findings() -> None:
    """Compose service `dash` spans lines 9-18: SA402 on `replicas` (15) is marked on
    it; SA601 on its port (13) on the port node inside it. The router's extent is its
    labels (17): a finding related there marks it as related; SA217, related to its own
    line 11, is marked once on the server."""
    traefik = REPO / "fixtures/stacks/traefik-panel-broken"
    outside = _finding(Severity.WARNING, 13)  # a.sh:13, in no node
    found = [
        outside,
        _at("SA601", "docker-compose.yml", 13, ("docker-compose.yml", 17)),
        _at("SA402", "docker-compose.yml", 15, ("docker-compose.yml", 17)),
        _at("SA217", "docker-compose.yml", 11, ("docker-compose.yml", 11)),
    ]
    assert _mermaid(traefik, found) == (
        "flowchart LR\n"
        '  n0["internet / host"]\n'
        '  n1["traefik: Traefik router #96;dash#96; #40;compose service #96;dash#96;#41;'
        '<br/>docker-compose.yml:17<br/>related: SA402 SA601"]\n'
        '  n2["compose service dash<br/>docker-compose.yml:9<br/>findings: SA402"]\n'
        '  n3["panel serve :5006<br/>docker-compose.yml:11<br/>findings: SA217"]\n'
        '  n4["published 5006 to 5006<br/>docker-compose.yml:13<br/>findings: SA601"]\n'
        "  n0 --> n1\n"
        "  n2 --> n3\n"
        "  n1 --> n2\n"
        "  n0 --> n4\n"
        "  n4 --> n2\n"
        "  classDef finding fill:#fde2e1,stroke:#c62828,stroke-width:2px\n"
        "  class n2,n3,n4 finding\n"
        "  classDef related stroke:#c62828,stroke-width:2px,stroke-dasharray:4\n"
        "  class n1 related\n"
    )
    # The Deployment's document as read (lines 4-22) holds `replicas` (6); the Ingress
    # (36-47) holds its name, which SA402 points at.
    k8s = [_at("SA402", "dashboard.yaml", 6, ("dashboard.yaml", 36))]
    assert _mermaid(REPO / "fixtures/stacks/k8s-ingress-broken", k8s) == (
        "flowchart LR\n"
        '  n0["internet / host"]\n'
        '  n1["ingress: Ingress #96;dashboard#96;<br/>dashboard.yaml:47<br/>related: SA402"]\n'
        '  n2["Deployment #96;dashboard#96;<br/>dashboard.yaml:4<br/>findings: SA402"]\n'
        '  n3["panel serve :5006<br/>dashboard.yaml:16"]\n'
        "  n0 --> n1\n"
        "  n2 --> n3\n"
        "  n1 --> n2\n"
        "  classDef finding fill:#fde2e1,stroke:#c62828,stroke-width:2px\n"
        "  class n2 finding\n"
        "  classDef related stroke:#c62828,stroke-width:2px,stroke-dasharray:4\n"
        "  class n1 related\n"
    )


NGINX_TWO_SERVERS = """\
server {
  listen 80;
  server_name a.example.com;
  location / {
    proxy_pass http://127.0.0.1:5006;
    proxy_read_timeout 30s;
  }
  location /static/ {
    root /srv;
  }
}
server {
  listen 80;
  server_name b.example.com;
  location / {
    proxy_pass http://127.0.0.1:8000;
  }
}
"""


def test_nginx_blocks_mark_what_they_hold(tmp_path: Path) -> None:
    """A directive inside a location block (6) marks its location; a server-level one (2)
    marks the locations of that server, not those of the next server; a non-proxying
    sibling location (9) marks nothing; the closing brace (7) is the location's."""
    write_files(tmp_path, {"nginx.conf": NGINX_TWO_SERVERS})
    found = [
        _at("SA505", "nginx.conf", 6),
        _at("SA101", "nginx.conf", 2),
        _at("SA102", "nginx.conf", 9),
        _at("SA103", "nginx.conf", 7),
        _at("SA104", "nginx.conf", 17),
    ]
    labels = [line for line in _mermaid(tmp_path, found).splitlines() if "nginx:" in line]
    assert labels == [
        '  n1["nginx: location / #40;server a.example.com#41;<br/>nginx.conf:4'
        '<br/>findings: SA101 SA103 SA505"]',
        '  n2["nginx: location / #40;server b.example.com#41;<br/>nginx.conf:15'
        '<br/>findings: SA104"]',
    ]


def test_a_compose_service_spans_every_file_it_is_merged_from(tmp_path: Path) -> None:
    """`app` is merged from both files: a line of its override mapping marks it; its
    mapping in compose.yaml ends where `db` begins."""
    write_files(
        tmp_path,
        {
            "compose.yaml": (
                "services:\n"
                "  app:\n"
                "    image: app\n"
                "    command: panel serve app.py --port 5006\n"
                "  db:\n"
                "    image: postgres\n"
            ),
            "compose.override.yaml": (
                "services:\n  app:\n    environment:\n      A: b\n    restart: always\n"
            ),
        },
    )
    found = [
        _at("SA101", "compose.override.yaml", 4),
        _at("SA102", "compose.yaml", 3),
        _at("SA103", "compose.yaml", 6),  # service db: drawn nowhere
    ]
    [unit] = [line for line in _mermaid(tmp_path, found).splitlines() if "compose service" in line]
    assert unit == '  n0["compose service app<br/>compose.yaml:2<br/>findings: SA101 SA102"]'


# A statement of the picture: a node with a label of plain characters and entity codes
# (parts joined by <br/>), an edge between generated ids, the finding class.
_STATEMENT = re.compile(
    r'flowchart LR|  (n\d+|more)\["([A-Za-z0-9 .,/_\-:=+@]|#\d+;|<br/>)*"\]'
    r"|  n\d+ --> n\d+|  classDef (finding|related) [a-z0-9:#,-]+|  class (n\d+,?)+ (finding|related)"
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


def test_graph_marks_only_what_the_check_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finding the configuration's persona or min-confidence hides from `check` is
    not marked on the picture either (the job summary's picture already agreed)."""
    monkeypatch.chdir(tmp_path)
    # SA201 is of medium confidence here: nothing says whether a proxy authenticates.
    start = "#!/bin/sh\nexec panel serve app.py --address 0.0.0.0\n"
    write_files(tmp_path, {"start.sh": start, ".stackaudit.toml": 'select = ["SA201"]\n'})
    assert main(["graph", "--format", "json"]) == 0
    [server] = json.loads(capsys.readouterr().out)["unproxied_servers"]
    assert server["findings"] == ["SA201"]
    write_files(tmp_path, {".stackaudit.toml": 'select = ["SA201"]\nmin-confidence = "high"\n'})
    assert main(["graph", "--format", "json"]) == 0
    [server] = json.loads(capsys.readouterr().out)["unproxied_servers"]
    assert server["findings"] == []


def test_the_picture_names_a_linked_file_as_the_check_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named symbolic link is read under its own name by the check; the picture built
    apart from the run (a cached run's job summary) must name it the same, or no
    finding of the check lands on it."""
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"real/start.sh": "#!/bin/sh\nexec panel serve app.py\n"})
    (tmp_path / "start.sh").symlink_to("real/start.sh")
    stack = build_stack([Path("start.sh")], tmp_path, Config(), 1)
    assert [c.span.path for c in stack.serve_commands] == ["start.sh"]

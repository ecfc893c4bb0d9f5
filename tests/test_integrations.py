"""SARIF for GitHub, other CI formats, baselines, pre-commit and --diff-base."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stackaudit.cli import main
from stackaudit.formatters.linehash import line_hashes
from stackaudit.rules import rule_by_code

from .support import REPO, SHARED, scan, write_files

SARIF_SCHEMA = SHARED / "sarif" / "sarif-schema-2.1.0.json"
WILDCARD = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"
PINNED = 'select = ["SA001", "SA002", "SA101"]\n'


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackaudit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.fixture
def example_sarif(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.chdir(REPO)
    code = main(
        ["check", "examples/insecure-stack", "--format", "sarif", "--sarif-category", "example"]
    )
    assert code == 1
    loaded: dict[str, Any] = json.loads(capsys.readouterr().out)
    return loaded


@pytest.mark.skipif(not SARIF_SCHEMA.exists(), reason="shared SARIF schema not present")
def test_sarif_is_valid_against_the_official_schema(example_sarif: dict[str, Any]) -> None:
    jsonschema.validate(example_sarif, json.loads(SARIF_SCHEMA.read_text()))


def test_sarif_meets_githubs_requirements(example_sarif: dict[str, Any]) -> None:
    [run] = example_sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "stackaudit" and driver["version"] and driver["informationUri"]
    assert run["automationDetails"]["id"] == "stackaudit/example/"
    assert run["invocations"][0]["exitCode"] == 1
    rules = driver["rules"]
    assert len(rules) >= 3
    for rule in rules:
        for field in ("shortDescription", "fullDescription"):
            assert rule[field]["text"].strip()
        assert rule["help"]["text"].strip() and rule["help"]["markdown"].strip()
        assert rule["helpUri"].endswith(f"rules/{rule['id']}.md")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert len(rule["fullDescription"]["text"]) <= 1024
        properties = rule["properties"]
        security = rule_by_code(rule["id"]).is_security()  # type: ignore[union-attr]
        assert ("security" in properties["tags"]) is security and len(properties["tags"]) <= 20
        assert properties["precision"] in ("very-high", "high", "medium", "low")
        if security:
            severity = properties["security-severity"]
            assert isinstance(severity, str) and 0 < float(severity) <= 10
        else:
            assert "security-severity" not in properties
    assert run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "://" not in uri and "\\" not in uri
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        region = location["region"]
        assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)
        assert result["partialFingerprints"]["primaryLocationLineHash"]
        assert result["partialFingerprints"]["stackaudit/v1"]
        assert result["message"]["text"]
        for related in result.get("relatedLocations", []):
            assert f"]({related['id']})" in result["message"]["text"]


def test_sarif_marks_only_security_rules_and_lets_a_rule_be_critical() -> None:
    from stackaudit.formatters.sarif import rule_descriptor

    parse_error = rule_descriptor(rule_by_code("SA001"))  # type: ignore[arg-type]
    assert "security" not in parse_error["properties"]["tags"]
    assert "security-severity" not in parse_error["properties"]
    debugger = rule_descriptor(rule_by_code("SA212"))  # type: ignore[arg-type]
    assert debugger["properties"]["security-severity"] == "9.8"
    assert "security" in debugger["properties"]["tags"]


def test_fingerprints_survive_inserted_lines(tmp_path: Path) -> None:
    write_files(tmp_path, {"start.sh": WILDCARD, "stackaudit.toml": PINNED})
    [before] = scan(tmp_path).diagnostics
    write_files(
        tmp_path, {"start.sh": "#!/bin/sh\n# a comment\nset -e\n\n" + WILDCARD.split("\n", 1)[1]}
    )
    [after] = scan(tmp_path).diagnostics
    assert after.span.line == before.span.line + 3
    assert after.fingerprint == before.fingerprint


def test_line_hash_follows_githubs_algorithm() -> None:
    hashes = line_hashes("a\n  b\nb\n")
    # The end-of-file marker opens one more line, as in the upload action.
    assert set(hashes) == {1, 2, 3, 4}
    # A line's hash covers the next 100 non-blank characters; equal windows are told
    # apart by an occurrence count.
    repeated = line_hashes("x\n" * 120)
    assert repeated[1].split(":") == [repeated[2].split(":")[0], "1"]
    assert repeated[2].endswith(":2")
    # Spaces and tabs are skipped; CRLF counts as LF.
    assert line_hashes("  x\n" * 120) == repeated
    assert line_hashes("a\r\nb\r\n") == line_hashes("a\nb\n")


def test_baseline_round_trip_counts_duplicates_and_reports_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {".stackaudit.toml": PINNED, "a.sh": WILDCARD, "b.sh": WILDCARD})
    # Writing the baseline accepts what it records: the run passes and says how much.
    assert main(["check", "-q", "--write-baseline", "baseline.json"]) == 0
    assert "wrote 2 baseline entries to baseline.json" in capsys.readouterr().err
    baseline = json.loads((tmp_path / "baseline.json").read_text())
    assert [e["path"] for e in baseline["findings"]] == ["a.sh", "b.sh"]
    assert main(["check", "--baseline", "baseline.json"]) == 0
    assert "2 in the baseline" in capsys.readouterr().out
    # Two identical findings in one file: the baseline holds one, so one is new.
    write_files(tmp_path, {"a.sh": WILDCARD + WILDCARD.split("\n", 1)[1]})
    assert main(["check", "-q", "--baseline", "baseline.json"]) == 1
    assert capsys.readouterr().out.startswith("a.sh:3:")
    # A fixed finding leaves a stale entry, reported.
    write_files(tmp_path, {"b.sh": "echo fixed\n", "a.sh": WILDCARD})
    assert main(["check", "--baseline", "baseline.json", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "stale baseline entry: SA101 b.sh" in captured.err
    assert json.loads(captured.out)["summary"]["stale_baseline"][0].startswith("SA101 b.sh ")


def test_baseline_keeps_reasons_when_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {".stackaudit.toml": PINNED, "a.sh": WILDCARD})
    main(["check", "-q", "--write-baseline", "b.json"])
    data = json.loads((tmp_path / "b.json").read_text())
    data["findings"][0]["reason"] = "kiosk"
    (tmp_path / "b.json").write_text(json.dumps(data))
    main(["check", "-q", "--baseline", "b.json", "--write-baseline", "b.json"])
    assert json.loads((tmp_path / "b.json").read_text())["findings"][0]["reason"] == "kiosk"


def test_bad_baseline_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {"b.json": "{not json", "a.sh": WILDCARD})
    assert main(["check", "--baseline", "b.json"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_github_annotations_and_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_files(tmp_path, {".stackaudit.toml": PINNED, "a,b:c.sh": WILDCARD})
    assert main(["check", "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert out == (
        "::error file=a%2Cb%3Ac.sh,line=2,col=51,endLine=2,endColumn=52,"
        "title=SA101 ws-origin-wildcard::panel serve: `--allow-websocket-origin *` admits "
        "WebSocket connections from every site, with the visitor's cookies%0Ahelp: name the "
        "public host(s) instead: --allow-websocket-origin=<public host[:port]>\n"
    )
    table = summary.read_text()
    rule = "[SA101](https://github.com/stackaudit/stackaudit/blob/main/rules/SA101.md)"
    assert f"| error | {rule} ws-origin-wildcard | a,b\\:c\\.sh\\:2\\:51 |" in table


def test_gitlab_and_junit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {".stackaudit.toml": PINNED, "a.sh": WILDCARD})
    main(["check", "--format", "gitlab"])
    [issue] = json.loads(capsys.readouterr().out)
    assert issue["location"]["path"] == "a.sh" and issue["severity"] == "critical"
    assert issue["fingerprint"].startswith("SA101-")
    main(["check", "--format", "junit"])
    root = ET.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    [case] = root.iter("testcase")
    assert case.get("file") == "a.sh" and case.find("failure") is not None


def test_precommit_hook_entry_reports_only_named_files(tmp_path: Path) -> None:
    hook = REPO / ".pre-commit-hooks.yaml"
    import yaml

    entry = next(h for h in yaml.safe_load(hook.read_text()) if h["id"] == "stackaudit")["entry"]
    # File names come after `--`: a committed file named `--exit-zero` is a path.
    assert entry == "stackaudit check --"
    write_files(
        tmp_path,
        {".stackaudit.toml": PINNED, "a.sh": WILDCARD, "sub/b.sh": WILDCARD, "README.md": "docs\n"},
    )
    named = run_cli(["check", "-q", "--", "sub/b.sh"], tmp_path)
    assert named.returncode == 1
    assert named.stdout.splitlines() == [
        line for line in named.stdout.splitlines() if line.startswith("sub/b.sh:")
    ]
    assert named.stdout
    irrelevant = run_cli(["check", "-q", "--", "README.md"], tmp_path)
    assert irrelevant.returncode == 0 and irrelevant.stdout == ""


def test_diff_base_reports_only_changed_files(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    write_files(tmp_path, {".stackaudit.toml": PINNED, "old.sh": WILDCARD})
    git("add", "-A")
    git("commit", "-qm", "base")
    write_files(tmp_path, {"new.sh": WILDCARD})
    result = run_cli(["check", "-q", "--diff-base", "HEAD"], tmp_path)
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["new.sh"]
    bad = run_cli(["check", "--diff-base", "no-such-rev"], tmp_path)
    assert bad.returncode == 2 and "git failed" in bad.stderr


def test_sarif_is_cut_to_the_upload_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import stackaudit.formatters.sarif as sarif

    monkeypatch.chdir(tmp_path)
    files = {".stackaudit.toml": PINNED}
    files.update({f"s{i}.sh": WILDCARD for i in range(40)})
    write_files(tmp_path, files)
    main(["check", "--format", "sarif", "--no-cache"])
    import gzip

    full = len(gzip.compress(capsys.readouterr().out.encode(), compresslevel=6))
    monkeypatch.setattr(sarif, "MAX_GZIP_BYTES", full - 100)
    main(["check", "--format", "sarif", "--no-cache"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    [run] = document["runs"]
    assert 0 < len(run["results"]) < 40
    assert "truncated" in captured.err
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "most severe results are included" in notes[-1]["message"]["text"]


def test_statistics_count_findings_per_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_files(
        tmp_path,
        {
            ".stackaudit.toml": PINNED,
            "a.sh": WILDCARD,
            "b.sh": WILDCARD,
            "c.sh": "echo  # stackaudit: ignore\n",
        },
    )
    assert main(["check", "--statistics"]) == 1
    assert capsys.readouterr().out == "2  SA101  ws-origin-wildcard\n1  SA002  unused-suppression\n"


def test_statistics_mark_only_what_fix_fixes() -> None:
    """`[*]` means what it means on a finding line: `--fix` fixes it. SA301's fix infers
    the origin (unsafe), so it is not marked; SA502's is safe."""
    example = REPO / "examples" / "insecure-stack"
    result = run_cli(
        ["check", "--statistics", "--no-cache", "--select", "SA301,SA502", str(example)], REPO
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        "1  SA301  cors-wildcard-credentials\n1  SA502  proxy-http-version  [*]\n"
    )


CROSS_FILE = {
    ".stackaudit.toml": 'select = ["SA601"]\n',
    "docker-compose.yml": (
        "services:\n"
        "  app:\n"
        "    image: example/app\n"
        '    command: ["panel", "serve", "app.py", "--port", "5006"]\n'
        "    ports:\n"
        '      - "5006:5006"\n'
        "  proxy:\n"
        "    image: nginx:1.27\n"
        "    ports:\n"
        '      - "80:80"\n'
        "    volumes:\n"
        "      - ./nginx.conf:/etc/nginx/conf.d/default.conf:ro\n"
    ),
}
ROUTE = (
    "server {\n"
    "    listen 80;\n"
    "    server_name dash.example.com;\n"
    "    location / {\n"
    "        proxy_pass http://app:5006;\n"
    "    }\n"
    "}\n"
)


def test_changed_file_reports_findings_it_causes_elsewhere(tmp_path: Path) -> None:
    """SA601 sits on the unchanged compose port; the nginx route added in this commit is
    what exposes it, so both pre-commit (named files) and --diff-base report it."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    write_files(tmp_path, CROSS_FILE)
    git("add", "-A")
    git("commit", "-qm", "base")
    assert run_cli(["check", "-q", "--no-cache"], tmp_path).stdout == ""
    write_files(tmp_path, {"nginx.conf": ROUTE})
    expected = ["docker-compose.yml:6:9: SA601"]
    for args in (["--diff-base", "HEAD"], ["--", "nginx.conf"]):
        result = run_cli(["check", "-q", "--no-cache", *args], tmp_path)
        assert result.returncode == 1, result.stderr
        assert [line[: len(expected[0])] for line in result.stdout.splitlines()] == expected
    # A file the finding does not involve still reports nothing.
    write_files(tmp_path, {"other.sh": "#!/bin/sh\necho hi\n"})
    unrelated = run_cli(["check", "-q", "--no-cache", "--", "other.sh"], tmp_path)
    assert unrelated.returncode == 0 and unrelated.stdout == ""


def test_sarif_keeps_suppressed_findings_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finding suppressed in the source or absorbed by the baseline stays in the SARIF
    with a `suppressions` entry, and its fingerprint is the one it had when reported."""
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, {".stackaudit.toml": PINNED, "a.sh": WILDCARD, "b.sh": WILDCARD})
    assert main(["check", "--no-cache", "--format", "sarif"]) == 1
    before = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r
        for r in json.loads(capsys.readouterr().out)["runs"][0]["results"]
    }
    assert main(["check", "-q", "--no-cache", "--write-baseline", "base.json"]) == 0
    capsys.readouterr()
    write_files(
        tmp_path,
        {
            "a.sh": "#!/bin/sh\n"
            "exec panel serve app.py --allow-websocket-origin='*'"
            "  # stackaudit: ignore[SA101] -- kiosk on a closed network\n",
            "c.sh": WILDCARD,
        },
    )
    assert main(["check", "--no-cache", "--format", "sarif", "--baseline", "base.json"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    results = sarif["runs"][0]["results"]
    shown = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: (
            r.get("suppressions"),
            r["partialFingerprints"]["stackaudit/v1"],
        )
        for r in results
    }
    assert shown == {
        "a.sh": (
            [
                {
                    "kind": "inSource",
                    "status": "accepted",
                    "justification": "kiosk on a closed network",
                }
            ],
            shown["a.sh"][1],
        ),
        "b.sh": (
            [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": "recorded in the baseline base.json",
                }
            ],
            before["b.sh"]["partialFingerprints"]["stackaudit/v1"],
        ),
        "c.sh": (None, shown["c.sh"][1]),
    }
    if SARIF_SCHEMA.exists():
        jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    # Text output reports only what is not suppressed.
    assert main(["check", "-q", "--no-cache", "--baseline", "base.json"]) == 1
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["c.sh"]


def run_stdin(args: list[str], cwd: Path, text: str | bytes) -> subprocess.CompletedProcess[bytes]:
    data = text.encode() if isinstance(text, str) else text
    return subprocess.run(
        [sys.executable, "-m", "stackaudit", *args], cwd=cwd, input=data, capture_output=True
    )


def test_stdin_is_checked_as_the_named_file_in_its_stack(tmp_path: Path) -> None:
    """An editor sends its unsaved buffer: the text on stdin replaces the file on disk,
    the tree around it gives the context, and only findings touching it are reported."""
    write_files(tmp_path, {**CROSS_FILE, "nginx.conf": "events {}\n", "a.sh": WILDCARD})
    (tmp_path / ".stackaudit.toml").write_text('select = ["SA601", "SA101"]\n')
    routed = run_stdin(["check", "-q", "-", "--stdin-filename", "nginx.conf"], tmp_path, ROUTE)
    assert routed.returncode == 1, routed.stderr
    assert [line.split(" ")[0] for line in routed.stdout.decode().splitlines()] == [
        "docker-compose.yml:6:9:"
    ]
    assert (tmp_path / "nginx.conf").read_text() == "events {}\n"  # never written
    # A file that does not exist yet is checked as what its name says it is.
    new = run_stdin(["check", "-q", "-", "--stdin-filename", "deploy/new.sh"], tmp_path, WILDCARD)
    assert new.returncode == 1
    assert new.stdout.decode().startswith("deploy/new.sh:2:51: SA101 ")
    # An absolute name outside the working directory: its directory is the root, but
    # the text is checked alone (the file beside it, and `/`, are never walked).
    elsewhere = tmp_path / "other"
    write_files(elsewhere, {"c.sh": WILDCARD})
    outside = run_stdin(
        ["check", "-q", "-", "--stdin-filename", str(elsewhere / "b.sh")], REPO / "docs", WILDCARD
    )
    assert [line.split(" ")[0] for line in outside.stdout.decode().splitlines()] == [
        "b.sh:2:51:"
    ], outside.stderr
    # The summary tells the files with findings from the tree read for context.
    full = run_stdin(["check", "-", "--stdin-filename", "deploy/new.sh"], tmp_path, WILDCARD)
    assert "Found 1 finding (1 error) in 1 of 5 files.\n" in full.stdout.decode()
    # --stdin-filename with no PATH at all reads standard input too.
    alone = run_stdin(["check", "-q", "--stdin-filename", "deploy/new.sh"], tmp_path, WILDCARD)
    assert alone.returncode == 1, alone.stderr
    assert alone.stdout == new.stdout


@pytest.mark.parametrize(
    ("args", "data", "message"),
    [
        (["-"], WILDCARD, "needs --stdin-filename"),
        (["-", "a.sh", "--stdin-filename", "a.sh"], WILDCARD, "give `-` as the only PATH"),
        # A PATH without `-`: the message says how to send standard input instead.
        (["a.sh", "--stdin-filename", "a.sh"], WILDCARD, "give `-` as the only PATH"),
        (["-", "--stdin-filename", "a.sh", "--fix"], WILDCARD, "not stdin"),
        (["-", "--stdin-filename", "a.sh"], b"\0\1binary", "binary"),
        (["-", "--stdin-filename", "a.sh"], "x" * 3000, "larger than max-file-size"),
    ],
)
def test_bad_stdin_use_is_a_usage_error(
    tmp_path: Path, args: list[str], data: str | bytes, message: str
) -> None:
    write_files(tmp_path, {".stackaudit.toml": "max-file-size = 2048\n", "a.sh": WILDCARD})
    result = run_stdin(["check", *args], tmp_path, data)
    assert result.returncode == 2 and message in result.stderr.decode()
    assert b"Traceback" not in result.stderr

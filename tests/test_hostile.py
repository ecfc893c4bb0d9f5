"""Hostile repositories: each test builds a tree an attacker could commit, runs the
command line on it as CI or pre-commit would, and asserts the safe outcome — nothing
outside the scanned root changed, the exit code tells the truth, and the findings of the
vulnerable stack are still reported.

The sections follow the items of the security model in the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import stackaudit as _package

# A stack with one certain finding: Panel accepting WebSocket connections from any site.
VULNERABLE = {
    "start.sh": "#!/bin/sh\npanel serve app.py --allow-websocket-origin='*'\n",
}
VULNERABLE_FINDING = ("start.sh", 2, "SA101")


class Run:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __repr__(self) -> str:
        return (
            f"Run(code={self.code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"
        )


def stackaudit(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Run:
    """The installed command line in a child process, as CI runs it, with its own home
    so nothing of the developer's is read or written."""
    home = cwd.parent / f".home-{cwd.name}"
    home.mkdir(exist_ok=True)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STACKAUDIT", "XDG_", "GITHUB_", "GIT_"))
    }
    environment.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), NO_COLOR="1")
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "stackaudit", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def build(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def state(top: Path, skip: Path | None = None) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``top`` (links not followed) with its size, mtime and link
    target: what must not change outside the scanned root."""
    seen: dict[str, tuple[int, int, str]] = {}
    for directory, subdirs, files in os.walk(top, followlinks=False):
        if skip is not None and Path(directory) == skip:
            subdirs[:] = []
            continue
        for name in subdirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            target = os.readlink(path) if os.path.islink(path) else ""
            seen[os.path.relpath(path, top)] = (info.st_size, info.st_mtime_ns, target)
    return seen


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """(outside, root): a folder of the user's beside the scanned repository, holding
    files that must survive the scan."""
    outside = tmp_path / "outside"
    build(outside, {"precious.txt": "keep me\n", "nested/also.txt": "keep me too\n"})
    root = tmp_path / "repo"
    build(root, dict(VULNERABLE))
    return outside, root


# -- 10, 11: output and git --

# The child process must run this checkout's code, whatever the venv has installed.
_SOURCE = str(Path(_package.__file__).resolve().parents[1])
_CHILD = {"PYTHONPATH": _SOURCE, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}

# A value that, printed raw, would clear the screen, write the clipboard (OSC 52), link
# (OSC 8), overwrite the line, reverse the text, forge annotations and stop the runner's
# command processing.
HOSTILE_VALUE = (
    "\x1b[2J\x1b]52;c;cHduZWQ=\x07\x1b]8;;https://evil.example/\x07x\x1b]8;;\x07\r\u202e"
    "<img src=x onerror=alert(1)>](javascript:alert(1))|`x`%0A::stop-commands::tok"
    "##[error]forged\x08\x85\x9b"
)
HOSTILE_NAMES = [
    "a\x1b[31m\n::error file=x::pwned.sh",
    "::warning::b.sh",
    "c \u202e#?%&[]\r.sh",
    os.fsdecode(b"d\xff\xfe.sh"),
]
WS_ORIGIN = "#!/bin/sh\npanel serve app.py --allow-websocket-origin='*'\n"
# Control characters that must never reach a report: all C0 but tab and newline, DEL,
# C1, bidi and other format characters, line and paragraph separators, surrogates.
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)


def _hostile_tree(root: Path) -> None:
    files: dict[str, str | bytes] = dict(VULNERABLE)
    for name in HOSTILE_NAMES:
        files[name] = WS_ORIGIN
    # A value from a scanned file that reaches the finding's message.
    files["value.sh"] = (
        "#!/bin/sh\npanel serve app.py --allow-websocket-origin='" + HOSTILE_VALUE + "'\n"
    ).encode("utf-8", "surrogateescape")
    files["tabs.sh"] = "#!/bin/sh\n\tpanel serve app.py --allow-websocket-origin='*'\n"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode()
        with open(os.fsencode(path), "wb") as handle:  # noqa: PTH123
            handle.write(data)


def _check(root: Path, *arguments: str, env: dict[str, str] | None = None) -> Run:
    return stackaudit("check", "--no-cache", *arguments, cwd=root, env={**_CHILD, **(env or {})})


def _no_raw_control(text: str, where: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, f"{where}: raw {found.group()!r} at {found.start()}: " + repr(
        text[max(found.start() - 60, 0) : found.start() + 20]
    )


def _no_runner_commands(text: str, ours: tuple[str, ...] = ()) -> None:
    """No line the GitHub runner would read as a command, but ours."""
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("::"):
            assert stripped.startswith(ours), line
        assert "##[" not in line, line


@pytest.fixture
def hostile_output(hostile: tuple[Path, Path]) -> Path:
    _, root = hostile
    _hostile_tree(root)
    return root


def _assert_vulnerable_reported(paths: set[str]) -> None:
    assert VULNERABLE_FINDING[0] in paths


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "gitlab", "junit"])
def test_no_format_carries_control_characters_or_commands(
    hostile_output: Path, fmt: str, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    run = _check(hostile_output, "--format", fmt, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 1, run
    assert "Traceback" not in run.stderr, run
    _no_raw_control(run.stdout, fmt)
    _no_raw_control(run.stderr, f"{fmt} stderr")
    _no_runner_commands(
        run.stdout, ("::error ", "::warning ", "::notice ") if fmt == "github" else ()
    )
    _no_runner_commands(run.stderr)
    assert "SA101" in run.stdout and "start.sh" in run.stdout


def test_text_report_shows_hostile_names_escaped(hostile_output: Path) -> None:
    run = _check(hostile_output, "--format", "text")
    assert "a\\x1b[31m\\x0a::error file=x::pwned.sh:2:" in run.stdout
    assert "\\x3a:warning::b.sh:2:" in run.stdout  # a leading :: is no command
    assert "c \\u202e#?%&[]\\x0d.sh:2:" in run.stdout
    assert "d\\udcff\\udcfe.sh:2:" in run.stdout
    assert "##\\x5berror]forged" in run.stdout
    assert "start.sh:2:" in run.stdout


def test_json_reports_keep_the_exact_names(hostile_output: Path) -> None:
    import json

    for fmt, paths_of in (
        ("json", lambda doc: {d["location"]["path"] for d in doc["diagnostics"]}),
        ("gitlab", lambda doc: {d["location"]["path"] for d in doc}),
    ):
        run = _check(hostile_output, "--format", fmt)
        assert run.stdout.isascii() or not RAW_CONTROL.search(run.stdout)
        paths = paths_of(json.loads(run.stdout))
        assert set(HOSTILE_NAMES) <= paths, fmt
        _assert_vulnerable_reported(paths)
        if fmt == "json":
            # The data is kept exactly: only its writing is escaped.
            messages = [d["message"] for d in json.loads(run.stdout)["diagnostics"]]
            assert any(HOSTILE_VALUE[:12] in message for message in messages)


def test_github_commands_escape_every_property(hostile_output: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    run = _check(hostile_output, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 1, run
    lines = run.stdout.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    files = set()
    for line in lines:
        command, _, data = line[2:].partition("::")
        _, _, properties = command.partition(" ")
        # Properties hold no raw separator: every ':' and ',' inside a value is escaped.
        pairs = [p.split("=", 1) for p in properties.split(",")]
        assert [k for k, _ in pairs] == ["file", "line", "col", "endLine", "endColumn", "title"]
        assert all(":" not in v and "\r" not in v and "\n" not in v for _, v in pairs)
        files.add(pairs[0][1])
        assert "\r" not in data and "\n" not in data
    assert "a\\x1b[31m%0A%3A%3Aerror file=x%3A%3Apwned.sh" in files
    assert "%3A%3Awarning%3A%3Ab.sh" in files
    assert "start.sh" in files
    table = summary.read_text(encoding="utf-8")
    _no_raw_control(table, "job summary")
    for row in table.splitlines()[6:]:
        assert row.startswith("| ") and row.endswith(" |")
        assert "<" not in row and ">" not in row, row
        unescaped = row.replace("\\\\", "").replace("\\]", "").replace("\\`", "")
        assert "](" not in unescaped and "`" not in unescaped, row
        # Four cells: every '|' from the scanned text is escaped.
        assert row.replace("\\|", "").count("|") == 5, row
    assert "&lt;img src=x onerror=alert(1)&gt;" in table


def test_junit_is_well_formed_xml(hostile_output: Path) -> None:
    import xml.etree.ElementTree as ET

    run = _check(hostile_output, "--format", "junit")
    assert run.code == 1, run
    illegal = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
    assert not illegal.search(run.stdout)
    suites = ET.fromstring(run.stdout.encode("utf-8"))
    files = {case.get("file") for case in suites.iter("testcase")}
    assert "start.sh" in files
    assert "a\\x1b[31m\\x0a::error file=x::pwned.sh" in files
    for element in suites.iter():
        for value in [element.text or "", *element.attrib.values()]:
            _no_raw_control(value.replace("\n", ""), "junit")


SARIF_SCHEMA = Path("/work/shared/sarif/sarif-schema-2.1.0.json")


def test_sarif_uris_are_percent_encoded_and_round_trip(hostile_output: Path) -> None:
    import json
    from urllib.parse import unquote, unquote_to_bytes, urlsplit

    run = _check(hostile_output, "--format", "sarif")
    assert run.code == 1, run
    document = json.loads(run.stdout)
    if SARIF_SCHEMA.exists():
        import jsonschema

        jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
    [sarif_run] = document["runs"]
    uris = {
        location["physicalLocation"]["artifactLocation"]["uri"]
        for result in sarif_run["results"]
        for location in result["locations"]
    }
    allowed = re.compile(r"[A-Za-z0-9\-._~/%]+")
    for uri in uris:
        assert allowed.fullmatch(uri), uri  # nothing left for a URI parser to misread
        parts = urlsplit(uri)
        assert not parts.scheme and not parts.netloc and not parts.query and not parts.fragment
    decoded = {os.fsdecode(unquote_to_bytes(uri)) for uri in uris}
    assert set(HOSTILE_NAMES) | {"start.sh", "value.sh"} <= decoded
    assert unquote("c%20%E2%80%AE%23%3F%25%26%5B%5D%0D.sh") in decoded
    for result in sarif_run["results"]:
        text = result["message"]["text"]
        # No embedded link can be formed: every bracket is escaped.
        assert "[" not in text.replace("\\[", "") and "]" not in text.replace("\\]", "")


def test_diff_and_fix_summary_carry_no_control_characters(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    # SA101's fix is unsafe (it infers the host); --unsafe-fixes lets --diff show it.
    nginx = "server {\n    listen 80;\n    server_name app.example.com;\n    location / {\n        proxy_pass http://127.0.0.1:5006;\n    }\n}\n"
    build(root, {"nginx.conf": nginx})
    _hostile_tree(root)
    run = _check(root, "--diff", "--unsafe-fixes")
    assert "Traceback" not in run.stderr, run
    _no_raw_control(run.stdout.replace("\t", ""), "diff")
    _no_raw_control(run.stderr, "diff stderr")
    _no_runner_commands(run.stdout)
    _no_runner_commands(run.stderr)
    for line in run.stdout.splitlines():
        assert line[:1] in ("-", "+", " ", "@", "\\"), line
    # Quoted as git quotes names, the diff still applies.
    patch = root.parent / "fixes.diff"
    patch.write_text(run.stdout, encoding="utf-8", errors="surrogateescape")
    applied = subprocess.run(
        ["git", "apply", "--check", "--unsafe-paths", str(patch)],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr

    fixed = _check(root, "--fix", "--unsafe-fixes")
    assert "Traceback" not in fixed.stderr, fixed
    _no_raw_control(fixed.stdout, "fix report")
    _no_raw_control(fixed.stderr, "fix stderr")
    _no_runner_commands(fixed.stderr)


def test_escaping_functions_exact_output() -> None:
    from stackaudit.formatters.escape import (
        diff_line,
        diff_path,
        json_text,
        markdown_text,
        printable,
        printable_line,
        uri_path,
        workflow_data,
        workflow_property,
        xml_text,
    )

    assert (
        printable("a\x1b[2Jb\r\u202e\t##[error]\x9b")
        == "a\\x1b[2Jb\\x0d\\u202e    ##\\x5berror]\\x9b"
    )
    assert printable_line(" ::error::x") == " \\x3a:error::x"
    assert printable_line("a ::b") == "a ::b"
    assert workflow_data("50%\nok\r::x") == "50%25%0Aok\\x0d::x"
    assert workflow_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert markdown_text("<b>|`x`[l](u) www.x.io") == ("&lt;b&gt;\\|\\`x\\`\\[l\\](u) www\\.x\\.io")
    assert xml_text("a\x00b\ufffe\udcff") == "a\\x00b\\ufffe\\udcff"
    assert json_text({"p": "\x1b\u202e\x85\udcff##[x"}) == (
        '{\n  "p": "\\u001b\\u202e\\u0085\\udcff##\\u005bx"\n}\n'
    )
    assert uri_path("a b/#?%é" + os.fsdecode(b"\xff")) == "a%20b/%23%3F%25%C3%A9%FF"
    assert diff_path("a/x y.sh") == "a/x y.sh"
    assert diff_path('a/"\n\x1b\\é') == '"a/\\"\\n\\033\\\\\\303\\251"'
    assert diff_line("+\tx\x0c\r\n") == "+\tx\x0c\r\n"
    assert diff_line("+a\x1b[2J\rb\n") == "+a\\x1b[2J\\x0db\n"


def _git(cwd: Path, *arguments: str) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    environment.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    subprocess.run(["git", *arguments], cwd=cwd, env=environment, check=True, capture_output=True)


def test_diff_base_never_runs_the_repositorys_git_configuration(
    hostile: tuple[Path, Path],
) -> None:
    outside, root = hostile
    marker = outside / "MARKER"
    script = outside / "evil.sh"
    # Writes the marker, then behaves as cat so git sees a working program.
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\ncat\n')
    script.chmod(0o755)
    build(root, {"notes.txt": "one\n", ".gitattributes": "* diff=evil filter=evil\n"})
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    build(root, {"notes.txt": "two\n"})
    _git(root, "commit", "-qam", "change")
    build(root, {"notes.txt": "three\n", "new.sh": WS_ORIGIN})
    for key in (
        "core.fsmonitor",
        "diff.external",
        "diff.evil.textconv",
        "diff.evil.command",
        "filter.evil.clean",
        "filter.evil.smudge",
        "filter.evil.process",
        "core.pager",
        "core.sshCommand",
    ):
        _git(root, "config", key, str(script))
    _git(root, "config", "filter.evil.required", "true")
    _git(root, "config", "core.hooksPath", str(outside))
    for hook in ("post-index-change", "pre-commit"):
        (outside / hook).write_text(script.read_text())
        (outside / hook).chmod(0o755)
    # The setup itself must have left no marker (or the test proves nothing).
    marker.unlink(missing_ok=True)
    # Stat-dirty files make git hash the work tree, through the clean filter.
    os.utime(root / "notes.txt", (1_000_000_000, 1_000_000_000))
    os.utime(root / "start.sh", (1_000_000_000, 1_000_000_000))
    before = state(outside)
    run = _check(root, "--diff-base", "HEAD~1", "--format", "json")
    assert not marker.exists(), marker.read_text()
    assert state(outside) == before
    assert run.code == 1, run
    import json

    reported = {d["location"]["path"] for d in json.loads(run.stdout)["diagnostics"]}
    assert reported == {"new.sh"}
    # And plain git, for comparison, does run it.
    subprocess.run(["git", "diff", "HEAD~1"], cwd=root, capture_output=True, check=False)
    assert marker.exists()


@pytest.mark.parametrize("revision", ["--output=/tmp/pwned", "-p", "--no-index"])
def test_diff_base_option_like_revision_is_refused(
    hostile: tuple[Path, Path], revision: str
) -> None:
    outside, root = hostile
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    before = state(outside)
    run = _check(root, f"--diff-base={revision}")
    assert run.code == 2, run
    assert "not a revision" in run.stderr or "git failed" in run.stderr, run
    assert not Path("/tmp/pwned").exists() or revision != "--output=/tmp/pwned"
    assert state(outside) == before


def test_diff_base_ignores_git_environment_variables(hostile: tuple[Path, Path]) -> None:
    outside, root = hostile
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    build(root, {"new.sh": WS_ORIGIN})
    script = outside / "evil.sh"
    script.write_text(f'#!/bin/sh\ntouch "{outside / "MARKER"}"\n')
    script.chmod(0o755)
    run = _check(
        root,
        "--diff-base",
        "HEAD",
        "-q",
        env={
            "GIT_EXTERNAL_DIFF": str(script),
            "GIT_DIR": str(outside),
            "GIT_CONFIG_PARAMETERS": f"'core.fsmonitor={script}'",
            "GIT_PAGER": str(script),
        },
    )
    assert run.code == 1, run
    assert {line.split(":")[0] for line in run.stdout.splitlines()} == {"new.sh"}
    assert not (outside / "MARKER").exists()

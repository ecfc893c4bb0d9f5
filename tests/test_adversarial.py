"""Hostile and broken inputs: each yields a diagnostic, a skip note or nothing, within
bounded time and memory, and the rest of the run is unaffected. Nothing scanned is
executed or imported, and no network is touched."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stackaudit.cli import main

from .support import FIXTURES, write_files

WILDCARD = "#!/bin/sh\nexec panel serve app.py --allow-websocket-origin='*'\n"
# Generous: these guard against hangs, they do not measure speed.
HANG_GUARD = 120


def check_json(root: Path, *extra: str, cwd: Path | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stackaudit",
            "check",
            "--format",
            "json",
            "--no-cache",
            *extra,
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
        cwd=cwd,
    )
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def codes_by_file(report: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for d in report["diagnostics"]:
        found.setdefault(d["location"]["path"], set()).add(d["code"])
    return found


def test_committed_adversarial_fixtures_run_clean() -> None:
    report = check_json(Path(), cwd=FIXTURES / "adversarial")
    assert report["summary"]["internal_errors"] == 0
    skipped = {s["path"]: s["reason"] for s in report["summary"]["skipped"]}
    assert skipped["binary.py"] == "binary file (holds a NUL byte)"
    found = codes_by_file(report)
    # Odd encodings are read: the findings in them are still found.
    assert "SA101" in found["utf16-bom.sh"]
    assert "SA101" in found["invalid-utf8.sh"]
    assert "SA101" in found["latin1.py"]


def test_generated_giants(tmp_path: Path) -> None:
    (tmp_path / "huge.py").write_bytes(b"x = 1\n" * (50 * 1024 * 1024 // 6))
    write_files(
        tmp_path,
        {
            "start.sh": WILDCARD,
            # One 10 MB line: over the default max-file-size, so skipped with a note.
            "ten-mb-line.sh": "exec panel serve app.py "
            + "--port 1 " * (10 * 1024 * 1024 // 9)
            + "\n",
            "deep/app.py": "import panel as pn\nx = "
            + "(" * 5000
            + "1"
            + ")" * 5000
            + "\npn.serve(x)\n",
            "deep/docker-compose.yml": "services:\n  a:\n    command: "
            + "[" * 5000
            + "]" * 5000
            + "\n",
            "deep/nginx.conf": "http {\n" + "location / {\n" * 3000 + "}\n" * 3000 + "}\n",
            "deep/k8s.yaml": "apiVersion: v1\nkind: Pod\nspec: "
            + "{a: " * 3000
            + "1"
            + "}" * 3000
            + "\n",
            ".stackaudit.toml": 'select = ["SA0", "SA101"]\n',
        },
    )
    report = check_json(Path(), cwd=tmp_path)
    skipped = {s["path"]: s["reason"] for s in report["summary"]["skipped"]}
    assert skipped["huge.py"].startswith("larger than max-file-size")
    assert skipped["ten-mb-line.sh"].startswith("larger than max-file-size")
    assert report["summary"]["internal_errors"] == 0
    assert "SA101" in codes_by_file(report)["start.sh"]


def test_one_long_line_is_read_in_linear_time(tmp_path: Path) -> None:
    line = (
        "exec panel serve app.py "
        + "--port 1 " * (1024 * 1024 // 9)
        + "--allow-websocket-origin='*'\n"
    )
    write_files(tmp_path, {"long.sh": line, ".stackaudit.toml": 'select = ["SA0", "SA101"]\n'})
    report = check_json(Path(), cwd=tmp_path)
    assert report["summary"]["internal_errors"] == 0
    [finding] = report["diagnostics"]
    assert finding["location"]["line"] == 1 and finding["location"]["column"] == len(line) - 2


def test_include_storm_and_many_files(tmp_path: Path) -> None:
    files = {
        f"conf.d/site{i:04}.conf": f"location /s{i} {{ proxy_pass http://app:{5000 + i % 100}; }}\n"
        for i in range(3000)
    }
    files["nginx.conf"] = (
        "http {\n  server {\n    include conf.d/*.conf;\n    include conf.d/*.conf;\n  }\n}\n"
    )
    files["start.sh"] = WILDCARD
    write_files(tmp_path, files)
    report = check_json(tmp_path, "--select", "SA0,SA101")
    assert report["summary"]["internal_errors"] == 0
    assert "SA101" in codes_by_file(report)["start.sh"]


def test_scanned_code_is_never_executed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "executed"
    payload = f"open({str(marker)!r}, 'w').write('x')\nimport panel as pn\npn.serve(app, websocket_origin=['*'])\n"
    notebook = {
        "cells": [{"cell_type": "code", "source": [payload], "metadata": {}, "outputs": []}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write_files(
        tmp_path,
        {
            "conftest.py": payload,
            "setup.py": payload,
            "app/__init__.py": payload,
            "sitecustomize.py": payload,
            "explore.ipynb": json.dumps(notebook),
            ".stackaudit.toml": 'select = ["SA0", "SA101"]\n',
        },
    )
    monkeypatch.chdir(tmp_path)
    main(["check", "--no-cache", "--jobs", "2"])
    capsys.readouterr()
    assert not marker.exists()


def test_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("stackaudit opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    write_files(
        tmp_path, {"start.sh": WILDCARD, "Dockerfile": "FROM nginx\nCMD panel serve a.py\n"}
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "--jobs", "1", "-q"]) == 1


def test_same_output_whatever_the_order_or_the_jobs(tmp_path: Path) -> None:
    for index in range(80):
        write_files(
            tmp_path, {f"d{index % 7}/f{index}.sh": WILDCARD if index % 5 == 0 else "echo\n"}
        )
    first = check_json(tmp_path, "--jobs", "1")
    second = check_json(tmp_path, "--jobs", "2")
    third = check_json(tmp_path, "--jobs", "2")
    assert first == second == third


def test_unreadable_files_and_directories_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Permission errors, simulated (the suite may run as root, which reads everything):
    what could not be read is an SA003 finding, never a silent gap."""
    import os

    write_files(
        tmp_path,
        {
            "ok.sh": WILDCARD,
            "locked/run.sh": WILDCARD,
            "secret.sh": WILDCARD,
            ".stackaudit.toml": 'select = ["SA0", "SA101"]\n',
        },
    )
    real_scandir, real_open = os.scandir, os.open

    def scandir(path: object) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(str(path))

    def guarded_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith("secret.sh"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "json", "--no-cache", "--jobs", "1"]) == 1
    report = json.loads(capsys.readouterr().out)
    skipped = {s["path"]: s["reason"] for s in report["summary"]["skipped"]}
    assert skipped["locked"].startswith("cannot read directory")
    assert skipped["secret.sh"].startswith("cannot read")
    assert [(d["location"]["path"], d["code"]) for d in report["diagnostics"]] == [
        ("locked", "SA003"),
        ("ok.sh", "SA101"),
        ("secret.sh", "SA003"),
    ]


def test_output_does_not_depend_on_directory_listing_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    for index in range(30):
        write_files(tmp_path, {f"d{index % 4}/f{index}.sh": WILDCARD if index % 3 else "echo\n"})
    monkeypatch.chdir(tmp_path)
    main(["check", "--format", "json", "--no-cache", "--jobs", "1"])
    forward = capsys.readouterr().out
    real_scandir = os.scandir

    class Reversed:
        def __init__(self, path: object) -> None:
            self.inner = real_scandir(str(path))

        def __enter__(self) -> list[os.DirEntry[str]]:
            return list(reversed(list(self.inner.__enter__())))

        def __exit__(self, *exc: object) -> None:
            self.inner.__exit__(*exc)

    monkeypatch.setattr(os, "scandir", Reversed)
    main(["check", "--format", "json", "--no-cache", "--jobs", "1"])
    assert capsys.readouterr().out == forward


def test_deeply_nested_notebook_json(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "deep.ipynb": "[" * 100_000 + "]" * 100_000,
            "start.sh": WILDCARD,
            ".stackaudit.toml": 'select = ["SA0", "SA101"]\n',
        },
    )
    report = check_json(Path(), cwd=tmp_path)
    assert report["summary"]["internal_errors"] == 0
    assert {d["location"]["path"] for d in report["diagnostics"]} >= {"start.sh"}


@pytest.mark.parametrize("warnings_option", [[], ["-W", "error"]])
def test_compiler_warnings_about_scanned_code_stay_quiet(
    tmp_path: Path, warnings_option: list[str]
) -> None:
    # `1if x` and `is` with a literal make the compiler warn; that is the scanned code's
    # business, and under -W error it must not turn into a parse error either.
    write_files(
        tmp_path,
        {
            "app.py": 'import panel as pn\nport = 1if True else 2\nok = port is "x"\n'
            'pn.serve({}, port=port, allow_websocket_origin=["*"])\n',
            ".stackaudit.toml": 'select = ["SA0", "SA101"]\n',
        },
    )
    result = subprocess.run(
        [sys.executable, *warnings_option, "-m", "stackaudit", "check", "--no-cache", "-q", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stderr == ""
    assert [line.split(" ")[1] for line in result.stdout.splitlines()] == ["SA101"]

"""The progress bar: drawn only for a person at a terminal, counting files done of the
files found."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from stackaudit.config import Config
from stackaudit.config_tree import Selection
from stackaudit.engine import run
from stackaudit.progress import progress_bar

from .support import write_files

SCRIPT = "#!/bin/sh\nexec panel serve app.py --port 5006\n"


def test_no_bar_unless_a_terminal_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    with progress_bar(quiet=False) as bar:
        assert bar is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress_bar(quiet=True) as bar:
        assert bar is None
    monkeypatch.setenv("CI", "true")
    with progress_bar(quiet=False) as bar:
        assert bar is None


@pytest.mark.parametrize("streaming", [True, False])
def test_progress_counts_files_done_of_files_found(tmp_path: Path, streaming: bool) -> None:
    write_files(tmp_path, {f"d{i // 50}/s{i}.sh": SCRIPT for i in range(300)})
    calls: list[tuple[int, int]] = []
    from stackaudit.cache import Cache

    cache = None if streaming else Cache(str(tmp_path.parent / "cache"), "", root=tmp_path)
    result = run(
        [tmp_path],
        Config(),
        Selection(["SA"], []),
        jobs=1,
        root=tmp_path,
        cache=cache,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.files_scanned == 300
    assert [done for done, _ in calls] == [64, 128, 192, 256]
    assert all(done <= total <= 300 for done, total in calls)
    if not streaming:
        assert {total for _, total in calls} == {300}


def test_the_bar_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    write_files(tmp_path, {f"s{i}.sh": SCRIPT for i in range(200)})
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    primary, secondary = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "stackaudit", "check", "-j1", "--no-cache", "."],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=env,
            check=False,
        )
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert b"scanning" in drawn and b"files" in drawn
    assert b"scanning" not in process.stdout
    piped = subprocess.run(
        [sys.executable, "-m", "stackaudit", "check", "-j1", "--no-cache", "."],
        cwd=tmp_path,
        capture_output=True,
        env=env,
        check=False,
    )
    assert b"scanning" not in piped.stderr

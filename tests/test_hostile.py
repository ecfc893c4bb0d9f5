"""Hostile repositories: each test builds a tree an attacker could commit, runs the
command line on it as CI or pre-commit would, and asserts the safe outcome — nothing
outside the scanned root changed, the exit code tells the truth, and the findings of the
vulnerable stack are still reported.

The sections follow the items of the security model in the README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# A stack with one certain finding: Panel accepting WebSocket connections from any site.
VULNERABLE = {
    "start.sh": "#!/bin/sh\npanel serve app.py --allow-websocket-origin='*'\n",
}
VULNERABLE_FINDING = ("start.sh", 2, "SA101")


class Run:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __repr__(self) -> str:
        return f"Run(code={self.code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"


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
            path = Path(directory, name)
            info = path.lstat()
            target = str(path.readlink()) if path.is_symlink() else ""
            seen[path.relative_to(top).as_posix()] = (info.st_size, info.st_mtime_ns, target)
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

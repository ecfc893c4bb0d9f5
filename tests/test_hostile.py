"""Hostile repositories: each test builds a tree an attacker could commit, runs the
command line on it as CI or pre-commit would, and asserts the safe outcome — nothing
outside the scanned root changed, the exit code tells the truth, and the findings of the
vulnerable stack are still reported.

The sections follow the items of the security model in the README."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def assert_reported(run: Run, *findings: tuple[str, int, str]) -> None:
    """Each finding appears in the text report as `path:line:col: CODE`."""
    for path, line, code in findings or (VULNERABLE_FINDING,):
        assert any(
            entry.startswith(f"{path}:{line}:") and f" {code} " in entry
            for entry in run.stdout.splitlines()
        ), run


# -- 3: file names are never options --


def test_hook_entries_end_with_the_option_separator() -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"]: hook["entry"].split()[-1] for hook in hooks} == {
        "stackaudit": "--",
        "stackaudit-fix": "--",
    }


def test_a_committed_file_named_like_an_option_is_a_path(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    build(root, {"--exit-zero": "", "--cache-dir=..": "", "--no-cache": ""})
    # As pre-commit runs the hook: the entry, then the staged file names.
    run = stackaudit(
        "check", "--", "--exit-zero", "--cache-dir=..", "--no-cache", "start.sh", cwd=root
    )
    assert run.code == 1
    assert_reported(run)
    # And again, replayed from the stored report: the same verdict.
    again = stackaudit(
        "check", "--", "--exit-zero", "--cache-dir=..", "--no-cache", "start.sh", cwd=root
    )
    assert (again.code, again.stdout) == (run.code, run.stdout)
    assert not (root.parent / "entries").exists()


# -- 4: reports are never written through a committed link --


@pytest.mark.parametrize("option", ["--output", "--write-baseline"])
def test_a_destination_that_is_a_committed_link_is_refused(
    hostile: tuple[Path, Path], option: str
) -> None:
    outside, root = hostile
    (root / "report.json").symlink_to(outside / "precious.txt")
    (root / "reports").symlink_to(outside / "nested")
    before = state(outside)
    for destination in ("report.json", "reports/also.txt", "../outside/new.txt"):
        run = stackaudit("check", "--format", "json", option, destination, cwd=root)
        assert run.code == 2, run
        assert "refus" in run.stderr or "outside the working directory" in run.stderr
    assert state(outside) == before
    assert (outside / "precious.txt").read_text() == "keep me\n"


def test_an_absolute_destination_typed_by_the_user_is_written_atomically(
    hostile: tuple[Path, Path],
) -> None:
    outside, root = hostile
    target = outside / "report.json"
    run = stackaudit("check", "--format", "json", "--output", str(target), cwd=root)
    assert run.code == 1 and run.stdout == ""
    assert '"SA101"' in target.read_text()
    baseline = outside / "baseline.json"
    run = stackaudit("check", "--write-baseline", str(baseline), cwd=root)
    assert '"SA101"' in baseline.read_text()
    # No temporary file is left beside them.
    assert sorted(p.name for p in outside.iterdir()) == [
        "baseline.json",
        "nested",
        "precious.txt",
        "report.json",
    ]


# -- 6: special files are never read without bound --


@pytest.mark.parametrize(
    "name", [".gitignore", "pyproject.toml", "stackaudit.toml", "run.sh", "sub/.gitignore"]
)
def test_a_fifo_is_never_opened(hostile: tuple[Path, Path], name: str) -> None:
    _, root = hostile
    (root / name).parent.mkdir(exist_ok=True)
    os.mkfifo(root / name)
    run = stackaudit("check", "--no-cache", cwd=root, timeout=60)
    assert run.code == 1, run
    assert_reported(run)
    assert "FIFO" in run.stdout + run.stderr


def test_links_out_of_the_root_are_not_read(hostile: tuple[Path, Path]) -> None:
    outside, root = hostile
    build(outside, {"ignore-all": "*\n", "config.toml": 'ignore = ["SA1"]\n'})
    (root / ".gitignore").symlink_to(outside / "ignore-all")
    (root / "stackaudit.toml").symlink_to(outside / "config.toml")
    (root / "zero.sh").symlink_to("/dev/zero")
    run = stackaudit("check", "--no-cache", cwd=root, timeout=60)
    assert run.code == 1, run
    assert_reported(run)
    assert "symbolic link out of the scanned root" in run.stdout + run.stderr


def test_a_giant_gitignore_is_not_read_whole(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    build(root, {".gitignore": "# padding\n" * 200_000 + "*\n"})
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1
    assert_reported(run)
    assert "larger than" in run.stdout


# -- 7: a tool failure is exit 3, never 1 or 0 --


@pytest.mark.parametrize("pattern", ["!", "\\", "[z-a]", "a[", "!!x"])
def test_malformed_gitignore_patterns_are_dropped_with_a_note(
    hostile: tuple[Path, Path], pattern: str
) -> None:
    _, root = hostile
    build(root, {".gitignore": f"{pattern}\n*.md\n"})
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1, run
    assert "Traceback" not in run.stderr
    assert_reported(run)


def test_link_loops_are_reported_not_raised(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    (root / "loop").symlink_to("loop")
    (root / "a.sh").symlink_to("b.sh")
    (root / "b.sh").symlink_to("a.sh")
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1, run
    assert_reported(run, VULNERABLE_FINDING, ("a.sh", 1, "SA003"), ("b.sh", 1, "SA003"))
    named = stackaudit("check", "--no-cache", "loop", cwd=root)
    assert named.code == 3 and "cannot read loop" in named.stderr
    assert "Traceback" not in named.stderr


def test_non_utf8_directory_names(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    strange = root / os.fsdecode(b"\xff\xfe")  # bytes no UTF-8 name holds
    strange.mkdir()
    (strange / "start.sh").write_text(VULNERABLE["start.sh"])
    for form in ("text", "json", "sarif", "github", "gitlab", "junit"):
        run = stackaudit("check", "--no-cache", "--format", form, cwd=root)
        assert run.code == 1, (form, run)
        assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[tool.stackaudit]\nselect = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ('[tool.stackaudit]\nexclude = ["!"]\n', "invalid pattern"),
        ('[tool.stackaudit]\nextend-exclude = ["[z-a]"]\n', "invalid pattern"),
        ('[tool.stackaudit]\nper-file-ignores = { "\\\\" = ["SA101"] }\n', "invalid pattern"),
        ('[tool.stackaudit]\nmax-file-size = "0"\n', "positive size"),
        ("[tool.stackaudit]\nmax-file-size = 0\n", "positive size"),
        ("[tool]\nstackaudit = 3\n", "must be a table"),
    ],
)
def test_configurations_that_cannot_work_are_usage_errors(
    hostile: tuple[Path, Path], config: str, message: str
) -> None:
    _, root = hostile
    build(root, {"pyproject.toml": config})
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 2, run
    assert message in run.stderr and "Traceback" not in run.stderr


def test_a_broken_pyproject_fails_closed(hostile: tuple[Path, Path]) -> None:
    """Whatever it holds: the part that did not parse may be our table, so neither a
    parent's configuration nor the defaults may take its place."""
    _, root = hostile
    build(root, {"pyproject.toml": "[project\nname = 'x'\n"})
    (root.parent / "stackaudit.toml").write_text('ignore = ["SA"]\n')
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 2, run
    assert "pyproject.toml: invalid TOML" in run.stderr and "Traceback" not in run.stderr


def test_unreadable_root_and_arguments_are_exit_3(
    hostile: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Permissions simulated: the suite may run as root, which reads everything."""
    from stackaudit.cli import main

    _, root = hostile
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)).resolve() == root.resolve():
            raise PermissionError(13, "Permission denied")
        return real_scandir(str(path))

    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(root.parent / "cache"))
    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["check", "--no-cache"]) == 3
    assert "cannot read .: Permission denied" in capsys.readouterr().err
    assert main(["check", "--no-cache", str(root)]) == 3


def test_an_unexpected_exception_is_exit_3(
    hostile: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import stackaudit.commands
    from stackaudit.cli import main

    def broken(arguments: object) -> int:
        raise ValueError("\x1b[31mboom")

    monkeypatch.setattr(stackaudit.commands, "main", broken)
    assert main(["check", "--no-cache"]) == 3
    err = capsys.readouterr().err
    assert err == "stackaudit: internal error: ValueError: \\x1b[31mboom\n"


# -- 8: what was not analysed does not pass silently --


def test_a_padded_or_binary_file_is_a_finding(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    padded = VULNERABLE["start.sh"] + "#" * (3 * 1024 * 1024) + "\n"
    build(root, {"deploy/start.sh": padded, "Dockerfile": b"FROM python\n\0CMD panel serve\n"})
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1
    assert_reported(
        run, VULNERABLE_FINDING, ("deploy/start.sh", 1, "SA003"), ("Dockerfile", 1, "SA003")
    )
    # Accepted in the configuration, the gap no longer fails the run on its own.
    build(
        root,
        {
            "start.sh": "#!/bin/sh\nexec panel serve app.py --address 127.0.0.1 --allow-websocket-origin=localhost:5006\n",
            "stackaudit.toml": 'ignore = ["SA003"]\n',
        },
    )
    assert stackaudit("check", "--no-cache", cwd=root).code == 0


# -- 9: Python source is read as Python reads it --

CORS_WILDCARD = (
    "from fastapi import FastAPI\n"
    "from fastapi.middleware.cors import CORSMiddleware\n"
    "app = FastAPI()\n"
    'app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)\n'
)


def test_a_coding_cookie_python_ignores_is_ignored(tmp_path: Path) -> None:
    """Line 1 is code, so Python reads the file as UTF-8 and never sees the cookie on
    line 2; read as UTF-16, the whole file would pass for noise."""
    body = "import os\n# -*- coding: utf-16 -*-\n" + CORS_WILDCARD
    build(tmp_path, {"app.py": body})
    run = stackaudit("check", "--no-cache", "--select", "SA3", cwd=tmp_path)
    assert run.code == 1, run
    assert_reported(run, ("app.py", 6, "SA301"))


def test_a_coding_cookie_python_honours_is_honoured(tmp_path: Path) -> None:
    """UTF-7 turns `+AAo-` into a line break: the call Python runs is hidden in what
    reads as a comment in UTF-8."""
    hidden = "# +AAo-app.add_middleware(CORSMiddleware, allow_origins=+AFsAIg-*+ACIAXQ-, allow_credentials=True)\n"
    body = (
        "#!/usr/bin/env python\n# -*- coding: utf-7 -*-\n"
        + CORS_WILDCARD.rsplit("app.add", 1)[0]
        + hidden
    )
    build(tmp_path, {"app.py": body})
    exec_text = body.encode().decode("utf-7")
    assert 'allow_origins=["*"]' in exec_text.splitlines()[6]  # what Python runs
    run = stackaudit("check", "--no-cache", "--select", "SA3", cwd=tmp_path)
    assert run.code == 1, run
    assert_reported(run, ("app.py", 7, "SA301"))


def test_a_suppression_inside_a_string_is_not_a_comment(tmp_path: Path) -> None:
    """A form feed or U+2028 is not a line break to Python: the text after it is still
    inside the string, whatever str.splitlines says."""
    body = (
        CORS_WILDCARD
        + 's = "x\\u2028# stackaudit: ignore-file[SA301]"  # stackaudit: ignore[SA999]\n'
    )
    build(tmp_path, {"app.py": body})
    run = stackaudit("check", "--no-cache", "--select", "SA301", cwd=tmp_path)
    assert run.code == 1, run
    assert_reported(run, ("app.py", 4, "SA301"))


def test_a_file_with_cr_line_ends_is_not_one_long_comment(tmp_path: Path) -> None:
    body = ("# stackaudit: ignore[SA101] -- leading comment\n" + CORS_WILDCARD).replace("\n", "\r")
    build(tmp_path, {"app.py": body.encode()})
    run = stackaudit("check", "--no-cache", "--select", "SA301", cwd=tmp_path)
    assert run.code == 1, run
    assert_reported(run, ("app.py", 5, "SA301"))


# -- 13: workers and line endings --


def test_fix_keeps_cr_only_line_endings(tmp_path: Path) -> None:
    conf = (
        "server {\r    listen 80;\r    location /app/ {\r"
        "        proxy_pass http://127.0.0.1:5006;\r"
        "        proxy_set_header Upgrade $http_upgrade;\r"
        '        proxy_set_header Connection "upgrade";\r    }\r}\r'
    )
    build(tmp_path, {"nginx.conf": conf.encode()})
    run = stackaudit("check", "--no-cache", "--fix", "--select", "SA502", cwd=tmp_path)
    fixed = (tmp_path / "nginx.conf").read_bytes()
    assert b"proxy_http_version 1.1;" in fixed, run
    assert b"\n" not in fixed and fixed.count(b"\r") == conf.count("\r") + 1


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found |= {int(child) for child in children}
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    import signal
    import time

    build(tmp_path, {f"pkg{i}/app{j}.py": CORS_WILDCARD * 40 for i in range(40) for j in range(60)})
    home = tmp_path.parent / f".home-{tmp_path.name}"
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "stackaudit", "check", "--no-cache", "--jobs", "2", "-q"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        workers = _children(process.pid)
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.skip("the scan ended before its workers could be seen")
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = []
    for worker in workers:
        try:
            status = Path(f"/proc/{worker}/stat").read_text().split()[2]
        except OSError:
            continue
        if status != "Z":  # a zombie has exited; only its entry is left for init
            alive.append(worker)
    for worker in alive:
        os.kill(worker, signal.SIGKILL)
    assert alive == [], "workers outlived their parent"


# -- 1, 2, 12: the cache --


def findings(run: Run) -> set[tuple[str, int, str]]:
    """(path, line, code) of a ``--format json`` report."""
    report = json.loads(run.stdout)
    return {
        (d["location"]["path"], d["location"]["line"], d["code"]) for d in report["diagnostics"]
    }


def user_cache(root: Path) -> Path:
    """The XDG cache directory of ``stackaudit(...)`` run in ``root``."""
    return root.parent / f".home-{root.name}" / ".cache" / "stackaudit"


def reported(run: Run) -> bool:
    return run.code == 1 and VULNERABLE_FINDING in findings(run)


@pytest.mark.parametrize("target", [".", "..", "outside"])
def test_committed_cache_link_is_not_the_cache(hostile: tuple[Path, Path], target: str) -> None:
    # `ln -s . .stackaudit_cache` once made the root's .gitignore get `*`: 0 files, exit 0.
    outside, root = hostile
    (root / ".stackaudit_cache").symlink_to(outside if target == "outside" else target)
    before, tree = state(outside), state(root)
    for _ in range(2):  # cold, then warm (replayed)
        run = stackaudit("check", "--format", "json", cwd=root)
        assert reported(run), run
    assert state(outside) == before
    assert state(root) == tree  # no .gitignore, no cache: the cache is in the user's
    assert any(user_cache(root).glob("*/entries"))


@pytest.mark.parametrize("target", [".", ".."])
def test_cache_dir_that_is_or_contains_the_root_is_a_usage_error(
    hostile: tuple[Path, Path], target: str
) -> None:
    outside, root = hostile
    (root / ".stackaudit_cache").symlink_to(target)
    before, tree = state(outside), state(root)
    for directory in (target, ".stackaudit_cache", str(root.resolve())):
        if directory == str(root.resolve()) and target == "..":
            directory = str(root.parent)
        run = stackaudit("check", "--format", "json", "--cache-dir", directory, cwd=root)
        assert run.code == 2, run
        assert "--cache-dir" in run.stderr
    assert state(outside) == before
    assert state(root) == tree


def test_cache_dir_holding_scanned_files_is_a_usage_error(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    build(root, {"deploy/start.sh": VULNERABLE["start.sh"]})
    tree = state(root)
    run = stackaudit("check", "--cache-dir", "deploy", cwd=root)
    assert run.code == 2, run
    assert "holds files of the scanned tree" in run.stderr
    assert state(root) == tree


def test_cache_dir_that_is_a_link_is_refused(hostile: tuple[Path, Path]) -> None:
    outside, root = hostile
    (root / ".stackaudit_cache").symlink_to(outside)
    (root.parent / "elsewhere").symlink_to(outside, target_is_directory=True)
    before, tree = state(outside), state(root)
    for directory in (".stackaudit_cache", str(root.parent / "elsewhere")):
        run = stackaudit("check", "--format", "json", "--cache-dir", directory, cwd=root)
        assert reported(run), run
        assert "stackaudit: warning: cache disabled:" in run.stderr
        assert "symbolic link" in run.stderr
    assert state(outside) == before
    assert state(root) == tree


def test_way_to_cache_dir_through_a_tree_link_is_refused(hostile: tuple[Path, Path]) -> None:
    outside, root = hostile
    (root / "sub").symlink_to(outside)
    before = state(outside)
    run = stackaudit("check", "--format", "json", "--cache-dir", "sub/cache", cwd=root)
    assert reported(run), run
    assert "cache disabled" in run.stderr
    assert state(outside) == before


def test_links_inside_an_in_tree_cache_are_never_followed(hostile: tuple[Path, Path]) -> None:
    # `ln -s ../../home .stackaudit_cache/entries` once made pruning delete files there.
    outside, root = hostile
    cache = root / ".stackaudit_cache"
    cache.mkdir()
    (cache / "entries").symlink_to(outside)
    before = state(outside)
    run = stackaudit("check", "--format", "json", "--cache-dir", ".stackaudit_cache", cwd=root)
    assert reported(run), run
    assert "cache disabled" in run.stderr
    assert state(outside) == before


def test_dangling_gitignore_link_in_an_in_tree_cache(hostile: tuple[Path, Path]) -> None:
    outside, root = hostile
    cache = root / ".stackaudit_cache"
    cache.mkdir()
    (cache / ".gitignore").symlink_to(outside / "planted")
    before = state(outside)
    for _ in range(2):
        run = stackaudit("check", "--format", "json", "--cache-dir", ".stackaudit_cache", cwd=root)
        assert reported(run), run
    assert state(outside) == before
    assert not (outside / "planted").exists()
    assert (cache / "entries").is_dir() and not (cache / "entries").is_symlink()


def test_new_in_tree_cache_dir_gets_its_gitignore(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    for _ in range(2):
        run = stackaudit("check", "--format", "json", "--cache-dir", "build/sa-cache", cwd=root)
        assert reported(run), run
        assert "warning" not in run.stderr
    gitignore = root / "build" / "sa-cache" / ".gitignore"
    assert not gitignore.is_symlink() and gitignore.read_text() == "*\n"


def test_pruning_never_leaves_verified_directories(
    hostile: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from stackaudit.cache import Cache

    outside, root = hostile
    monkeypatch.setenv("XDG_CACHE_HOME", str(root.parent / "xdg"))
    (outside / "aa").mkdir()
    build(outside, {"aa/" + "a" * 64: "keep\n", "b" * 64: "keep\n"})
    directory = root / ".stackaudit_cache"
    cache = Cache(directory, "salt", root=root)
    assert cache.enabled, cache.problem
    own = cache.key("own")
    cache.put(own, ["an entry"])
    entries = directory / "entries"
    (entries / "aa").symlink_to(outside / "aa")  # a bucket that is a link
    (entries / "bb").mkdir()
    (entries / "bb" / ("b" * 64)).symlink_to(outside / ("b" * 64))  # an entry that is one
    before = state(outside)
    Cache(directory, "salt", root=root).prune(limit=0)
    assert state(outside) == before
    assert not (entries / own[:2] / own).exists()  # its own entries are pruned
    assert (entries / "bb" / ("b" * 64)).is_symlink()


def test_cache_directory_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tests run as root here, where no directory can belong to someone else: the cache
    # compares owners with os.getuid(), which is made to name another user.
    from stackaudit.cache import Cache
    from stackaudit.cli import main

    root = build(tmp_path / "repo", dict(VULNERABLE))
    directory = tmp_path / "cache"
    assert Cache(directory, "salt", root=root).enabled
    monkeypatch.setattr(os, "getuid", lambda: directory.stat().st_uid + 1)
    refused = Cache(directory, "salt", root=root)
    assert not refused.enabled
    assert "belongs to another user" in refused.problem
    monkeypatch.chdir(root)
    code = main(["check", "--format", "json", "--cache-dir", str(directory)])
    captured = capsys.readouterr()
    assert code == 1
    assert VULNERABLE_FINDING in {
        (d["location"]["path"], d["location"]["line"], d["code"])
        for d in json.loads(captured.out)["diagnostics"]
    }
    assert "stackaudit: warning: cache disabled:" in captured.err


def test_key_of_another_user_or_a_link_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stackaudit.cache import Cache, cache_home

    directory = tmp_path / "cache"
    assert Cache(directory, "salt").enabled
    key = Path(cache_home(), "key")
    uid = key.stat().st_uid
    if os.geteuid() == 0:  # only root can give a file away
        os.chown(key, uid + 4242, -1)
        refused = Cache(directory, "salt")
        assert not refused.enabled
        assert refused.problem == "the cache key belongs to another user"
        os.chown(key, uid, -1)
    with monkeypatch.context() as patch:
        patch.setattr(os, "getuid", lambda: uid + 1)
        assert "another user" in Cache(directory, "salt").problem
    assert os.getuid() == uid
    planted = tmp_path / "planted-key"
    planted.write_bytes(b"k" * 32)
    key.unlink()
    key.symlink_to(planted)
    refused = Cache(directory, "salt")
    assert not refused.enabled
    assert refused.problem == "the cache key is a symbolic link"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a directory away"
)
def test_cache_dir_given_away_is_refused(hostile: tuple[Path, Path]) -> None:
    outside, root = hostile
    (outside / "cache").mkdir()
    os.chown(outside / "cache", 4242, 4242)
    before = state(outside)
    run = stackaudit("check", "--format", "json", "--cache-dir", str(outside / "cache"), cwd=root)
    assert reported(run), run
    assert "belongs to another user" in run.stderr
    assert state(outside) == before


def test_key_inside_the_scanned_tree_is_refused(
    hostile: tuple[Path, Path],
) -> None:
    # CI caching $PWD/.cache: a repository could commit the key itself.
    _, root = hostile
    build(root, {".cache/stackaudit/key": "k" * 32})
    run = stackaudit(
        "check", "--format", "json", cwd=root, env={"XDG_CACHE_HOME": str(root / ".cache")}
    )
    assert reported(run), run
    assert "cache disabled" in run.stderr and "inside the scanned tree" in run.stderr


@pytest.mark.parametrize("length", [0, 5])
def test_short_key_is_replaced(hostile: tuple[Path, Path], length: int) -> None:
    _, root = hostile
    key = user_cache(root) / "key"
    key.parent.mkdir(parents=True)
    key.write_bytes(b"x" * length)
    first = stackaudit("check", "--format", "json", cwd=root)
    assert reported(first), first
    assert len(key.read_bytes()) == 32
    value = key.read_bytes()
    second = stackaudit("check", "--format", "json", cwd=root)
    assert second.stdout == first.stdout
    assert key.read_bytes() == value


_FIRST_RUN = """
import os, sys, time
from stackaudit.cache import Cache
go, directory, number = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(go):
    time.sleep(0.001)
cache = Cache(directory, "salt")
cache.put(cache.key("entry", number), {"written by": number})
print(cache._key.hex())
"""

_CHECK = """
import sys
from stackaudit.cache import Cache
directory, count = sys.argv[1], int(sys.argv[2])
cache = Cache(directory, "salt", create=False)
print(sorted(cache.get(cache.key("entry", str(n)))["written by"] for n in range(count)))
"""


@pytest.mark.parametrize("initial", ["missing", "empty"])
def test_concurrent_first_runs_agree_on_one_key(tmp_path: Path, initial: str) -> None:
    from stackaudit.cache import cache_home

    if initial == "empty":
        Path(cache_home()).mkdir(parents=True)
        Path(cache_home(), "key").write_bytes(b"")
    go = tmp_path / "go"
    count = 8
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _FIRST_RUN, str(go), str(tmp_path / "cache"), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]
    go.touch()
    keys = {child.communicate(timeout=60)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert keys == {Path(cache_home(), "key").read_bytes().hex()}
    # Each reads every other's entry: they were all signed with the one key.
    check = subprocess.run(
        [sys.executable, "-c", _CHECK, str(tmp_path / "cache"), str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == repr(sorted(str(n) for n in range(count)))


CORS_APP = """from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

app = FastAPI()
app.add_middleware(
    CORSMiddleware, allow_origins=["https://x.example"], allow_credentials=True
)
"""


@pytest.mark.parametrize("replayable", [True, False])
def test_edit_that_restores_size_and_mtime_is_seen(tmp_path: Path, replayable: bool) -> None:
    # sed -i of allow_origins to ["*"], then `touch -d` of the old mtime: the warm run
    # missed SA301.
    root = build(tmp_path / "repo", {"app.py": CORS_APP})
    arguments = ["check", "--format", "json"] if replayable else ["check", "--format", "github"]
    first = stackaudit(*arguments, cwd=root)
    assert first.code == 0 and "SA301" not in first.stdout, first
    app = root / "app.py"
    info = app.stat()
    edited = CORS_APP.replace('"https://x.example"', '"*"' + " " * 16)
    assert len(edited) == len(CORS_APP)
    with app.open("r+", encoding="utf-8") as handle:  # in place: the same inode
        handle.write(edited)
    os.utime(app, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (app.stat().st_size, app.stat().st_mtime_ns) == (info.st_size, info.st_mtime_ns)
    second = stackaudit(*arguments, cwd=root)
    assert second.code == 1 and "SA301" in second.stdout, second


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

    def json_paths(doc: Any) -> set[str]:
        return {d["location"]["path"] for d in doc["diagnostics"]}

    def gitlab_paths(doc: Any) -> set[str]:
        return {d["location"]["path"] for d in doc}

    for fmt, paths_of in (("json", json_paths), ("gitlab", gitlab_paths)):
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
    findings, _, picture = table.partition("#### The stack")
    rows = findings.strip().splitlines()[6:]
    assert rows
    for row in rows:
        assert row.startswith("| ") and row.endswith(" |")
        assert "<" not in row and ">" not in row, row
        # The one link of a row outside GitHub Actions' context: the rule's page.
        row = re.sub(r"\[SA\d{3}\]\(https://github\.com/[\w/.-]+\.md\)", "", row)
        unescaped = row.replace("\\\\", "").replace("\\]", "").replace("\\`", "")
        assert "](" not in unescaped and "`" not in unescaped, row
        # Four cells: every '|' from the scanned text is escaped.
        assert row.replace("\\|", "").count("|") == 5, row
    assert "&lt;img src=x onerror=alert(1)&gt;" in table
    # The picture: generated ids, labels of plain characters and entity codes.
    for line in picture.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines():
        assert re.fullmatch(
            r'flowchart LR|  (n\d+|more)\["([A-Za-z0-9 .,/_\-:=+@]|#\d+;|<br/>)*"\]'
            r"|  n\d+ --> n\d+|  classDef (finding|related) [a-z0-9:#,-]+"
            r"|  class (n\d+,?)+ (finding|related)",
            line,
        ), line


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


# -- found by review: what hid the stack or hung the run --


@pytest.mark.parametrize("name", ["stackaudit.toml", ".stackaudit.toml", "pyproject.toml"])
def test_a_fifo_config_does_not_hang_the_replay_check(
    hostile: tuple[Path, Path], name: str
) -> None:
    """The replay looks at the configuration before anything else: the same bounded,
    non-blocking read as everywhere."""
    _, root = hostile
    os.mkfifo(root / name)
    run = stackaudit("check", cwd=root, timeout=60)
    assert run.code == 1, run
    assert_reported(run)


@pytest.mark.parametrize(
    "content",
    [
        b"# notes\xe2\x80\xa8*\n",  # U+2028: not a line break to git
        b"# notes\x0c*\n",
        b"# notes\x85*\n",
        b"# notes\r*\n",
        b"start.sh\t\n",  # git keeps a trailing tab: the pattern names another file
    ],
)
def test_gitignore_lines_are_cut_as_git_cuts_them(
    hostile: tuple[Path, Path], content: bytes
) -> None:
    _, root = hostile
    build(root, {".gitignore": content})
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1, run
    assert_reported(run)


def test_a_gitignore_link_is_not_followed(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    build(root, {"docs/globs.txt": "*\n"})
    (root / ".gitignore").symlink_to("docs/globs.txt")
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1, run
    assert_reported(run)


@pytest.mark.parametrize("named", ["start.sh", "venv/start.sh"])
def test_a_named_file_is_scanned_even_where_the_walk_skips_it(tmp_path: Path, named: str) -> None:
    build(tmp_path, {named: VULNERABLE["start.sh"], ".gitignore": "start.sh\n"})
    run = stackaudit("check", "--no-cache", "--", named, cwd=tmp_path)
    assert run.code == 1, run
    assert_reported(run, (named, 2, "SA101"))


def test_an_absolute_destination_through_a_committed_link_is_refused(
    hostile: tuple[Path, Path],
) -> None:
    outside, root = hostile
    (root / "reports").symlink_to(outside)
    before = state(outside)
    run = stackaudit("check", "--output", str(root / "reports" / "r.sarif"), cwd=root)
    assert run.code == 2 and "refusing to write through it" in run.stderr, run
    assert state(outside) == before


@pytest.mark.parametrize("tool", ['"stackaudit"', "1", '["stackaudit"]'])
def test_a_tool_key_that_is_not_a_table_configures_nothing(
    hostile: tuple[Path, Path], tool: str
) -> None:
    _, root = hostile
    build(root, {"pyproject.toml": f"tool = {tool}\n"})
    run = stackaudit("check", "--no-cache", cwd=root)
    assert run.code == 1, run
    assert_reported(run)


@pytest.mark.parametrize("name", ["dockerfile", "deploy/start.SH"])
def test_names_the_tools_accept_are_read(tmp_path: Path, name: str) -> None:
    command = "CMD panel serve app.py --allow-websocket-origin=*\n"
    body = (
        ("FROM python:3.12\n" + command) if name == "dockerfile" else ("#!/bin/sh\n" + command[4:])
    )
    build(tmp_path, {name: body})
    run = stackaudit("check", "--no-cache", "--select", "SA101", cwd=tmp_path)
    assert run.code == 1, run
    assert_reported(run, (name, 2, "SA101"))


# -- 5: bounded work --


def test_include_bomb_is_cut_off_with_sa001(hostile: tuple[Path, Path]) -> None:
    # Each level includes the next twice, and the last one holds a server: followed as
    # written, 2**20 copies. Once per level, it is twenty files.
    _, root = hostile
    files: dict[str, str | bytes] = {
        "nginx/nginx.conf": "events {}\nhttp {\n include l0.conf;\n}\n"
    }
    for level in range(20):
        files[f"nginx/l{level}.conf"] = f"include l{level + 1}.conf;\ninclude l{level + 1}.conf;\n"
    files["nginx/l20.conf"] = "server { listen 80; location / { proxy_pass http://app:5006; } }\n"
    # Files that each include the whole directory again: a tree as wide as the directory
    # and as deep as the include limit, cut off by the budget.
    files["wide/nginx.conf"] = "events {}\nhttp {\n include conf.d/*.conf;\n}\n"
    for index in range(60):
        files[f"wide/conf.d/f{index:02}.conf"] = (
            f"server {{ listen {8000 + index}; location / {{ include conf.d/*.conf; }} }}\n"
        )
    build(root, files)
    run = stackaudit("check", ".", "--no-cache", "--format", "json", cwd=root)
    assert run.code == 1, run
    found = {(d["location"]["path"], d["code"]) for d in _json(run)["diagnostics"]}
    assert VULNERABLE_FINDING[::2] in found
    assert any(path.startswith("wide/") and code == "SA001" for path, code in found), run


def test_catastrophic_origin_regexes_are_not_run(hostile: tuple[Path, Path]) -> None:
    from stackaudit.facts.origin_regex import analyse_origin_regex, may_match_null

    # Python's re takes over a minute to search "null" with the third one.
    patterns = [r"^(a+)+$", r"(x+x+)+y", r"^(.?){200}x$", r"^(?:(?:(?:.?){12}){12}){12}x$"]
    for pattern in patterns:
        assert may_match_null(pattern, "search") is False
        assert may_match_null(pattern, "fullmatch", case_insensitive=True) is False
        analyse_origin_regex(pattern, "search")
    assert may_match_null(r"^(?:(?:.?){12}){12}null$", "fullmatch") is True
    assert may_match_null(r"^(?i:N)(?:u|l){3}$", "fullmatch") is True
    assert may_match_null(r"^(?:nu|l){2}$", "fullmatch") is False

    _, root = hostile
    catastrophic = r"^(.?){200}x$"
    build(
        root,
        {
            "app.py": "from fastapi import FastAPI\n"
            "from fastapi.middleware.cors import CORSMiddleware\n"
            "app = FastAPI()\n"
            f"app.add_middleware(CORSMiddleware, allow_origin_regex={catastrophic!r},"
            " allow_credentials=True)\n"
            # Admits `null`, behind a pattern that would backtrack for minutes first.
            "app.add_middleware(CORSMiddleware, allow_origin_regex=r'^(?:(?:.?){12}){12}$',"
            " allow_credentials=True)\n",
            "nginx/nginx.conf": "events {}\nhttp {\n server {\n  listen 80;\n  location / {\n"
            f'   if ($http_origin ~* "{catastrophic}") {{\n'
            "    add_header Access-Control-Allow-Origin $http_origin;\n   }\n"
            "   proxy_pass http://app:8000;\n  }\n }\n}\n",
        },
    )
    run = stackaudit("check", ".", "--no-cache", "--format", "json", cwd=root)
    assert run.code == 1, run
    found = {
        (d["location"]["path"], d["location"]["line"], d["code"]) for d in _json(run)["diagnostics"]
    }
    assert VULNERABLE_FINDING in found
    assert ("app.py", 5, "SA305") in found or ("app.py", 5, "SA302") in found, found
    assert not any(line == 4 and code == "SA305" for _, line, code in found), found


def test_two_megabyte_single_lines_finish(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    size = 2 * 1024 * 1024
    build(
        root,
        {
            "stackaudit.toml": 'max-file-size = "4MiB"\n',
            "big.py": "x = '" + "a" * (size - 8) + "'\n",
            "nginx/sites-enabled/site.conf": "{{" * (size // 2),
            "nginx/site.conf.template": "<%=" * (size // 3),
            "run.sh": "echo " + "$(" * (size // 2 - 4) + "\n",
            "entrypoint": " " * size,
        },
    )
    run = stackaudit("check", ".", "--no-cache", "--format", "json", cwd=root)
    assert run.code == 1, run
    report = _json(run)
    assert report["summary"]["internal_errors"] == 0
    assert VULNERABLE_FINDING in {
        (d["location"]["path"], d["location"]["line"], d["code"]) for d in report["diagnostics"]
    }


def test_eight_thousand_serve_commands_in_one_file(hostile: tuple[Path, Path]) -> None:
    _, root = hostile
    line = "panel serve app.py --allow-websocket-origin='*'\n"
    build(
        root,
        {
            "start.sh": "#!/bin/sh\n" + line * 8000,
            "Dockerfile": "FROM python\n" + ("RUN " + line) * 8000,
        },
    )
    run = stackaudit("check", ".", "--no-cache", "--format", "json", "--select", "SA101", cwd=root)
    assert run.code == 1, run
    found = [(d["location"]["path"], d["code"]) for d in _json(run)["diagnostics"]]
    assert found.count(("start.sh", "SA101")) == 8000
    assert found.count(("Dockerfile", "SA101")) == 8000


@pytest.mark.parametrize("form", ["text", "json", "sarif"])
def test_report_from_long_lines_is_bounded(hostile: tuple[Path, Path], form: str) -> None:
    # Findings on 50,000-character lines: the code frame shows the part around the
    # span, so the report is about as long as for short lines.
    _, root = hostile
    sizes = []
    for width in (10, 50_000):
        line = f"panel serve app.py --allow-websocket-origin='*' {'a' * width}\n"
        build(root, {"long.sh": "#!/bin/sh\n" + line * 5})
        run = stackaudit("check", ".", "--no-cache", "--format", form, cwd=root)
        assert run.code == 1, run
        assert run.stdout.count("SA101") >= 5
        sizes.append(len(run.stdout))
    assert sizes[1] - sizes[0] < 20_000, sizes


def test_related_places_per_finding_are_bounded(hostile: tuple[Path, Path]) -> None:
    # 600 instances of one app, each generating its own secret: each finding would list
    # the 599 others (SA404), 360,000 related places in all.
    _, root = hostile
    serve = 'panel serve app.py --port {} --cookie-secret "$(openssl rand -hex 32)"\n'
    build(root, {"many.sh": "#!/bin/sh\n" + "".join(serve.format(5000 + i) for i in range(600))})
    run = stackaudit(
        "check", ".", "--no-cache", "--format", "json", "--select", "SA404,SA101", cwd=root
    )
    assert run.code == 1, run
    findings = [d for d in _json(run)["diagnostics"] if d["code"] == "SA404"]
    assert len(findings) == 600
    assert max(len(d["related"]) for d in findings) == 20
    assert "and 579 more" in findings[0]["related"][-1]["message"] + findings[0]["message"]
    assert len(run.stdout) < 600 * 10_000


def _json(run: Run) -> Any:
    import json

    loaded = json.loads(run.stdout)
    return loaded


def test_the_fixtures_copied_four_times(tmp_path: Path) -> None:
    """Every copy is reported alike, and the run finishes (it took 34 s when each rule
    scanned every proxy route for each server; indexes made it linear)."""
    import shutil

    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    for copy in range(4):
        shutil.copytree(fixtures, tmp_path / f"copy{copy}", symlinks=True)
    run = stackaudit(
        "check", "--no-cache", "--format", "json", "--exit-zero", cwd=tmp_path, timeout=240
    )
    assert run.code == 0, run
    by_copy: dict[str, set[tuple[str, int, str]]] = {}
    for path, line, code in findings(run):
        copy_name, _, rest = path.partition("/")
        by_copy.setdefault(copy_name, set()).add((rest, line, code))
    assert len(by_copy) == 4 and len(by_copy["copy0"]) > 500
    assert all(found == by_copy["copy0"] for found in by_copy.values())


def test_thousands_of_routes_through_one_upstream(tmp_path: Path) -> None:
    """600 routes to an upstream of 120 Panel servers whose --prefix none of the routes
    match: every route is reported once, each server at most 20 times."""
    compose = "services:\n" + "".join(
        f"  app{i}:\n    image: panel\n    command: panel serve app.py --port 5006 --prefix /p{i}\n"
        for i in range(120)
    )
    upstream = "".join(f"server app{i}:5006; " for i in range(120))
    locations = "".join(f"  location /r{i}/ {{ proxy_pass http://app; }}\n" for i in range(600))
    build(
        tmp_path,
        {
            "compose.yaml": compose,
            "nginx/nginx.conf": f"events {{}}\nhttp {{\n upstream app {{ {upstream}}}\n server {{ listen 80;\n{locations} }}\n}}\n",
        },
    )
    run = stackaudit(
        "check", "--no-cache", "--format", "json", "--select", "SA506", cwd=tmp_path, timeout=240
    )
    assert run.code == 1, run
    per_line: dict[int, int] = {}
    for d in json.loads(run.stdout)["diagnostics"]:
        path, line, code = d["location"]["path"], d["location"]["line"], d["code"]
        assert (path, code) == ("compose.yaml", "SA506")
        per_line[line] = per_line.get(line, 0) + 1
    assert len(per_line) == 120 and set(per_line.values()) == {20}

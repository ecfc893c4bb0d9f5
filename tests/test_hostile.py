"""Hostile repositories: each test builds a tree an attacker could commit, runs the
command line on it as CI or pre-commit would, and asserts the safe outcome — nothing
outside the scanned root changed, the exit code tells the truth, and the findings of the
vulnerable stack are still reported.

The sections follow the items of the security model in the README."""

from __future__ import annotations

import json
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

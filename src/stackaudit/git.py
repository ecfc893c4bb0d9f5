"""Asking git which files changed (``check --diff-base``), on a repository that may not
be trusted.

A repository's own configuration can run commands: ``core.fsmonitor`` on every index
refresh (``git diff``, ``git status``), ``diff.external`` and ``diff.<driver>.command``,
``diff.<driver>.textconv``, ``filter.<driver>.clean``/``process`` when git hashes a
work-tree file, hooks. Such a configuration cannot arrive by ``git clone``, but it can
in an unpacked archive, a repository committed inside another one, or a checkout
another job prepared. So every git command here runs with:

- the environment's ``GIT_*`` variables removed (``GIT_DIR``, ``GIT_WORK_TREE``,
  ``GIT_EXTERNAL_DIFF``, ``GIT_CONFIG_PARAMETERS``... could point git elsewhere or run a
  program), then ``GIT_CONFIG_NOSYSTEM=1`` (the machine's configuration is not read),
  ``GIT_TERMINAL_PROMPT=0``, ``GIT_OPTIONAL_LOCKS=0`` (no index write, so no
  index hook), ``GIT_NO_LAZY_FETCH=1`` and a ``cat`` pager. The user's global
  configuration is still read: it is the user's own, and CI sets ``safe.directory``
  there (``actions/checkout`` does), whose ownership check must keep working;
- ``-c`` overrides that win over the repository's configuration: no fsmonitor, hooks
  from ``/dev/null``, no external diff, ``cat`` as pager, no transport at all
  (``protocol.allow=never``: a diff against a local revision needs none, and
  stackaudit makes no network calls), embedded bare repositories refused
  (``safe.bareRepository=explicit``);
- ``--no-ext-diff --no-textconv`` on every diff, and every filter driver the
  configuration defines emptied (``filter.<name>.clean`` / ``smudge`` / ``process``
  set to nothing, ``required`` off): an index refresh hashes work-tree files through
  their clean filter;
- the revision checked before use: one starting with ``-`` is refused (it would be
  read as an option), the rest is resolved to a commit with ``rev-parse --verify
  --end-of-options`` and only the resulting hash reaches ``git diff``;
- names read NUL-separated (``-z``) and decoded as the file system's names are, so a
  name holding a newline or invalid UTF-8 is exactly the file on disk."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

TIMEOUT = 120  # seconds for one git command

_CONFIG = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("diff.external", ""),
    ("core.pager", "cat"),
    ("protocol.allow", "never"),
    ("safe.bareRepository", "explicit"),
)
_DIFF = ("--no-ext-diff", "--no-textconv", "--no-color")
_HASH = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


class GitError(Exception):
    """git could not answer; the message says why (git's own words included)."""


def environment() -> dict[str, str]:
    """The environment git runs in: the caller's, without any ``GIT_*`` variable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_LAZY_FETCH="1",
        GIT_PAGER="cat",
        PAGER="cat",
        LC_ALL="C",
    )
    return env


def command(*arguments: str) -> list[str]:
    """``git`` with the overrides in front of ``arguments``."""
    overrides = [part for key, value in _CONFIG for part in ("-c", f"{key}={value}")]
    return ["git", "--no-pager", *overrides, *arguments]


def run_git(cwd: Path, *arguments: str, env: dict[str, str] | None = None) -> bytes:
    """Run git safely in ``cwd`` and return its standard output (bytes)."""
    try:
        completed = subprocess.run(
            command(*arguments),
            cwd=cwd,
            env=env if env is not None else environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {arguments[0]} did not finish in {TIMEOUT} s") from exc
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from exc
    if completed.returncode != 0:
        detail = os.fsdecode(completed.stderr).strip() or f"exit code {completed.returncode}"
        raise GitError(detail)
    return completed.stdout


def _names(output: bytes) -> list[str]:
    return [os.fsdecode(name) for name in output.split(b"\0") if name]


def _without_filters(cwd: Path) -> dict[str, str]:
    """The environment with every configured filter driver emptied, through
    ``GIT_CONFIG_COUNT`` (a driver's name may hold ``=``, which ``-c`` cannot carry)."""
    env = environment()
    try:
        listed = run_git(cwd, "config", "-z", "--name-only", "--get-regexp", r"^filter\.")
    except GitError:  # exit code 1: no filter configured
        return env
    drivers = set()
    for key in _names(listed):
        name = key[len("filter.") :].rpartition(".")[0]
        if name:
            drivers.add(name)
    pairs = []
    for name in sorted(drivers):
        for setting, value in (("clean", ""), ("smudge", ""), ("process", "")):
            pairs.append((f"filter.{name}.{setting}", value))
        pairs.append((f"filter.{name}.required", "false"))
    for number, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    if pairs:
        env["GIT_CONFIG_COUNT"] = str(len(pairs))
    return env


def check_revision(revision: str) -> None:
    """Refuse a revision git would read as an option (or nothing at all)."""
    if not revision or revision.startswith("-"):
        raise ValueError(f"not a revision: {revision!r}")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in revision):
        raise ValueError(f"not a revision: {revision!r}")


def changed_files(root: Path, revision: str) -> set[str]:
    """Files under ``root`` (paths relative to it) that differ between the merge base
    of ``revision`` and HEAD, plus the work tree's modified and untracked files.

    Raises ``ValueError`` for a revision that is no revision, ``GitError`` when git
    fails."""
    check_revision(revision)
    top = Path(os.fsdecode(run_git(root, "rev-parse", "--show-toplevel").rstrip(b"\n")))
    top = top.resolve()
    try:
        resolved = run_git(
            top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
        )
    except GitError as exc:
        raise GitError(f"unknown revision or not a commit: {revision!r}") from exc
    commit = resolved.decode("ascii", "replace").strip()
    if not _HASH.fullmatch(commit):
        raise GitError(f"unknown revision or not a commit: {revision!r}")
    env = _without_filters(top)
    names = _names(
        run_git(
            top,
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            *_DIFF,
            f"{commit}...HEAD",
            "--",
            env=env,
        )
    )
    names += _names(run_git(top, "ls-files", "-z", "--others", "--exclude-standard", env=env))
    names += _names(run_git(top, "diff", "--name-only", "-z", *_DIFF, "HEAD", "--", env=env))
    changed = set()
    for name in names:
        path = (top / name).resolve()
        if path.is_relative_to(root):
            changed.add(path.relative_to(root).as_posix())
    return changed

"""Where a scan is rooted: kept apart from discovery so the fastest paths of the
command line (replaying a report) do not import it."""

from __future__ import annotations

import os
from pathlib import Path


def scan_root(paths: list[Path]) -> Path:
    """Paths in output are relative to this: the working directory when every path lies
    inside it, else the deepest directory holding them all."""
    cwd = Path(os.path.realpath(Path.cwd()))
    # realpath, not Path.resolve: on Python 3.11 a loop of links raises there.
    resolved = [Path(os.path.realpath(p)) for p in paths]
    if all(p == cwd or cwd in p.parents for p in resolved):
        return cwd
    dirs = [p if p.is_dir() else p.parent for p in resolved]
    return Path(os.path.commonpath([str(d) for d in dirs]))


def walk_starts(paths: list[Path]) -> list[Path]:
    """The named paths as the walk starts from them: absolute, resolved, except a
    symbolic link, which stays a link so the walk can refuse one that leads out of the
    scanned root (resolved, it would be read wherever it leads)."""
    return [p.absolute() if p.is_symlink() else p.resolve() for p in paths]

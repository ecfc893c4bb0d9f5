"""Instant re-runs: the last report, replayed when nothing it depends on has changed.

After a run, the cache keeps the rendered report and the state of everything that
decided it: every directory walked (adding, removing or renaming an entry changes a
directory's mtime), every ``.gitignore``, every file read or classified by its content,
each with its modification time and size. The next run with the same arguments, the
same configuration files (byte for byte) and the same code stats those paths, and only
those; when every one is unchanged, it prints the stored report without parsing the
configuration, walking the tree or importing a rule. A snapshot is written only after
a run that succeeded, so the arguments and configuration it was made with were valid.
Any difference falls through to a normal run, which reuses the per-file cache.

This module is on the fastest path of the command line: it imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from pathlib import Path

from stackaudit.cache import DEFAULT_DIRECTORY, Cache

CONFIG_FILES = (".stackaudit.toml", "stackaudit.toml", "pyproject.toml")
Watched = list[tuple[str, int, int]]


def _config_bytes(root: Path, explicit: Path | None) -> str:
    """A digest of every file the configuration can come from."""
    digest = hashlib.sha256()
    candidates = (
        [explicit]
        if explicit
        else [directory / name for directory in (root, *root.parents) for name in CONFIG_FILES]
    )
    for path in candidates:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        digest.update(str(path).encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


class Replay:
    def __init__(self, cache: Cache, key: str) -> None:
        self.cache = cache
        self.key = key

    @classmethod
    def for_run(
        cls,
        root: Path,
        paths: list[Path],
        cache_dir: Path | None,
        config: Path | None,
        options: list[str],
    ) -> Replay:
        cache = Cache(cache_dir or root / DEFAULT_DIRECTORY, "replay")
        parts = [
            *options,
            str(root),
            *(str(p.resolve()) for p in paths),
            _config_bytes(root, config),
        ]
        return cls(cache, cache.key("snapshot", *parts))

    def load(self) -> tuple[str, int] | None:
        """The stored report and exit code, when everything it depends on is unchanged."""
        found = self.cache.get(self.key)
        if not isinstance(found, tuple) or len(found) != 4:
            return None
        paths, stats, output, exit_code = found
        if not isinstance(output, str) or not isinstance(exit_code, int):
            return None
        # The loop that decides how fast a re-run is: thousands of stats, kept tight.
        stat = os.stat
        pairs = iter(stats)
        for path, mtime, size in zip(paths.split("\0") if paths else (), pairs, pairs):
            try:
                info = stat(path)
            except OSError:
                return None
            if info.st_mtime_ns != mtime or (size >= 0 and info.st_size != size):
                return None
        return output, exit_code

    def save(self, watched: Watched, output: str, exit_code: int) -> None:
        # One string and one integer array unpickle far faster than thousands of tuples.
        paths = "\0".join(path for path, _, _ in watched)
        stats = array("q", [value for _, mtime, size in watched for value in (mtime, size)])
        self.cache.put(self.key, (paths, stats, output, exit_code))

"""Instant re-runs: the last report, replayed when nothing it depends on has changed.

After a run, the cache keeps the rendered report and the state of everything that
decided it: every directory walked (adding, removing or renaming an entry changes a
directory's mtime), every ``.gitignore``, every file read or classified by its content,
each with its modification time, size, inode change time and inode number (an edit
that puts size and modification time back still changes the inode change time). The
entry is keyed by the command line exactly as typed, the working directory, what the
terminal makes of the output (colour, width), the configuration files (byte for byte)
and the code. The next run with the same key
stats those paths, and only those; when every one is unchanged, it writes the stored
report without parsing the command line, the configuration or any file.

This is the first thing ``stackaudit`` does, so this module imports only ``os``,
``hashlib`` and ``marshal`` (through the cache): on a large tree the stats are the work
of a re-run, and start-up would otherwise be most of it. Because the command line is not
parsed here, a snapshot is only written when this module's reading of it agrees with the
real one (the same cache directory and configuration file, and a scan rooted at the
working directory); otherwise the run simply is not replayed. A snapshot is written only
after a run that succeeded, so the arguments and configuration it was made with were
valid. Any difference falls through to a normal run, which reuses the per-file cache.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from array import array

from stackaudit.cache import Cache, default_directory
from stackaudit.reading import NotRead, read_regular

CONFIG_FILES = (".stackaudit.toml", "stackaudit.toml", "pyproject.toml")
CONFIG_LIMIT = 1024 * 1024  # as stackaudit.config reads them
# (path, mtime_ns, size or -1 for a directory, ctime_ns, inode), as discovery records them.
Watched = list[tuple[str, int, int, int, int]]
# What decides how a report looks besides the command line (see ``commands._color`` and
# rich's console).
# Inode numbers are unsigned 64-bit; the stats are stored as signed ones.
_INODE_MASK = (1 << 63) - 1
_OUTPUT_ENVIRONMENT = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "COLUMNS")


def option_value(arguments: list[str], name: str) -> str | None:
    """The value given to ``name`` as ``--name value`` or ``--name=value``. After
    ``--`` every argument is a path (a file named ``--cache-dir=x`` is not an option)."""
    if "--" in arguments:
        arguments = arguments[: arguments.index("--")]
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(name + "="):
            return argument[len(name) + 1 :]
    return None


def _config_digest(explicit: str | None) -> str:
    """A digest of every file the configuration can come from, for a scan rooted at the
    working directory."""
    digest = hashlib.sha256()
    if explicit is not None:
        candidates = [os.path.abspath(explicit)]
    else:
        candidates = []
        directory = os.getcwd()
        while True:
            candidates += [os.path.join(directory, name) for name in CONFIG_FILES]
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    for path in candidates:
        if not os.path.lexists(path):
            continue
        try:
            # Bounded and non-blocking: a committed FIFO or a link to /dev/zero named
            # stackaudit.toml must not hang or exhaust the run before it starts.
            data = read_regular(path, CONFIG_LIMIT)
        except NotRead as exc:
            data = f"\0unreadable: {exc.reason}".encode()
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def _terminal() -> str:
    parts = [f"{name}={os.environ.get(name, '')}" for name in _OUTPUT_ENVIRONMENT]
    if sys.stdout.isatty():
        try:
            parts.append(f"tty:{os.get_terminal_size().columns}")
        except OSError:
            parts.append("tty")
    return "\0".join(parts)


class Snapshot:
    """The stored report of one command line, run from the working directory."""

    def __init__(self, arguments: list[str], create: bool) -> None:
        written = option_value(arguments, "--cache-dir")
        root = os.getcwd()
        directory = os.path.abspath(written) if written else default_directory(root)
        self.cache = Cache(directory, "replay", create=create, root=root)
        config = option_value(arguments, "--config")
        self.key = self.cache.key(
            "snapshot", os.getcwd(), *arguments, _terminal(), _config_digest(config)
        )

    def load(self) -> tuple[str, str, int] | None:
        """The stored report, where it goes ("" for standard output) and the exit code,
        when everything it depends on is unchanged."""
        payload = self.cache.get_bytes(self.key)
        if payload is None:
            return None
        try:
            # Signed by this user's stackaudit (verified by the cache): strings, bytes and
            # an integer, as ``save`` wrote them.
            paths, packed, output, destination, exit_code = marshal.loads(payload)
            stats = array("q")
            stats.frombytes(packed)
        except (ValueError, EOFError, TypeError):
            return None
        if not all(isinstance(text, str) for text in (paths, output, destination)):
            return None
        if not isinstance(exit_code, int):
            return None
        # The loop that decides how fast a re-run is: thousands of stats, kept tight.
        stat = os.stat
        values = iter(stats)
        for path, mtime, size, ctime, inode in zip(
            paths.split("\0") if paths else (), values, values, values, values, strict=False
        ):
            try:
                info = stat(path)
            except OSError:
                return None
            # The inode change time catches an edit whose size and mtime were put back
            # (``touch -d``); the inode number, a file replaced by another.
            if (
                info.st_mtime_ns != mtime
                or info.st_ctime_ns != ctime
                or info.st_ino & _INODE_MASK != inode
                or (size >= 0 and info.st_size != size)
            ):
                return None
        return output, destination, exit_code

    def save(self, watched: Watched, output: str, destination: str, exit_code: int) -> None:
        paths = "\0".join(entry[0] for entry in watched)
        stats = array(
            "q",
            [v for _, m, s, c, i in watched for v in (m, s, c, i & _INODE_MASK)],
        )
        payload = marshal.dumps((paths, stats.tobytes(), output, destination, exit_code))
        self.cache.put_bytes(self.key, payload)


def replay(arguments: list[str]) -> int | None:
    """Write the stored report of this exact command line and return its exit code, or
    None when there is none or anything it depends on changed."""
    options = arguments[: arguments.index("--")] if "--" in arguments else arguments
    if not arguments or arguments[0] != "check" or "--no-cache" in options:
        return None
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        return None  # the run has a job summary to write besides the report
    try:
        stored = Snapshot(arguments, create=False).load()
    except OSError:
        return None  # no working directory, an unreadable home...: the normal run says
    if stored is None:
        return None
    output, destination, exit_code = stored
    try:
        if destination:
            from stackaudit.writing import write_atomically

            # Stored fully resolved after the normal run checked it: a link that has
            # appeared on the way since changes the resolution, and the normal run
            # then refuses the destination.
            if os.path.realpath(destination) != destination:
                return None
            write_atomically(destination, output)
        else:
            sys.stdout.write(output)
    except OSError:
        return None  # the normal run reports the problem
    return exit_code

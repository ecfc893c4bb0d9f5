"""Writing reports where the user asked, and nowhere else.

The working tree in CI is the repository under review, so a destination such as
``report.sarif`` may already exist there as a committed link to ``~/.bashrc``, or sit in
a committed directory link. A destination is refused when it is a link, or when a
relative path leads out of the working directory (an absolute path typed by the user is
taken as meant). Files are written to a temporary file beside the destination and
renamed over it, so a reader never sees half a report and a rename replaces a link
rather than writing through it.

Only ``os`` is imported: the replay of a stored report (``stackaudit.snapshot``) writes
through here before anything else is loaded."""

from __future__ import annotations

import contextlib
import os


class UnsafeDestination(Exception):
    """Why a destination was refused, in words for the user."""


def check_destination(typed: str, cwd: str | None = None) -> str:
    """The absolute path to write ``typed`` to, or ``UnsafeDestination``."""
    cwd = cwd or os.getcwd()
    absolute = typed if os.path.isabs(typed) else os.path.join(cwd, typed)
    if os.path.islink(absolute):
        raise UnsafeDestination(f"{typed} is a symbolic link; refusing to write through it")
    if os.path.isdir(absolute):
        raise UnsafeDestination(f"{typed} is a directory")
    if not os.path.isabs(typed):
        real_cwd = os.path.realpath(cwd)
        real = os.path.realpath(absolute)
        if real != real_cwd and not real.startswith(real_cwd.rstrip(os.sep) + os.sep):
            raise UnsafeDestination(
                f"{typed} resolves outside the working directory (to {real}); "
                "give an absolute path to write there"
            )
    return os.path.abspath(absolute)


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` by renaming a complete temporary file over it.
    Raises ``OSError``."""
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    for attempt in range(100):
        temporary = os.path.join(directory, f".{base}.{os.getpid()}.{attempt}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(temporary, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"cannot create a temporary file beside {path}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise

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
    """The absolute path to write ``typed`` to, or ``UnsafeDestination``.

    Refused: a link; a path into the working directory (relative, or absolute but lying
    under it) that resolves out of it. An absolute path elsewhere is the user's own."""
    cwd = cwd or os.getcwd()
    absolute = typed if os.path.isabs(typed) else os.path.join(cwd, typed)
    if os.path.islink(absolute):
        raise UnsafeDestination(f"{typed} is a symbolic link; refusing to write through it")
    if os.path.isdir(absolute):
        raise UnsafeDestination(f"{typed} is a directory")
    # An absolute path into the working tree (`$GITHUB_WORKSPACE/report.sarif`, the
    # usual form in CI) crosses the repository's own directories, links included: it
    # is held to the same rule as a relative one.
    if not os.path.isabs(typed) or _lexically_inside(os.path.normpath(typed), cwd):
        real_cwd = os.path.realpath(cwd)
        real = os.path.realpath(absolute)
        if real != real_cwd and not real.startswith(real_cwd.rstrip(os.sep) + os.sep):
            advice = (
                "a link of the working tree leads there; refusing to write through it"
                if os.path.isabs(typed)
                else "give an absolute path to write there"
            )
            raise UnsafeDestination(
                f"{typed} resolves outside the working directory (to {real}); {advice}"
            )
    return os.path.abspath(absolute)


def _lexically_inside(path: str, directory: str) -> bool:
    for base in {os.path.normpath(directory), os.path.realpath(directory)}:
        if path == base or path.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def write_atomically(path: str, content: str | bytes, mode: int | None = None) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` by renaming a complete, synced
    temporary file over it, with ``mode`` when given (else a new file's default).
    Raises ``OSError``."""
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
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
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def append_to_regular_file(path: str, content: str) -> None:
    """Append ``content`` (UTF-8) to ``path``, created when missing, never truncated.
    Refused (``UnsafeDestination``): a link, or anything but a regular file (a FIFO
    would block the run, a device would take the text). Raises ``OSError``."""
    import stat

    if os.path.islink(path):
        raise UnsafeDestination(f"{path} is a symbolic link; refusing to write through it")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
    # O_NOFOLLOW: a link put in its place since the check above is refused too (ELOOP).
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeDestination(f"{path} is not a regular file")
        data = memoryview(content.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)

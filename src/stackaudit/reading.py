"""Reading files of a tree that may be hostile.

A committed file can be a FIFO (an ``open`` then waits forever for a writer), a device
node (``/dev/zero`` never ends), or a link to anywhere on the machine. Every file
stackaudit reads for itself — scanned files, ``.gitignore``, configuration — comes
through ``read_regular``: opened without blocking, checked to be a regular file on the
descriptor actually opened (no race between a check and the open), and read up to a
bound, never more."""

from __future__ import annotations

import os
import stat

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0)


class NotRead(Exception):
    """Why a file was not read, in words fit for a note ("a FIFO, not a regular file")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], limit: int, *, head: bool = False) -> bytes:
    """The bytes of the regular file at ``path`` (links followed), at most ``limit``.

    Raises ``NotRead`` when the path cannot be opened, is not a regular file, or holds
    more than ``limit`` bytes (the file is then not read past the bound). With
    ``head``, a longer file is not an error: its first ``limit`` bytes are returned."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise NotRead(f"cannot read: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRead(f"{_kind_of(info.st_mode)}, not a regular file")
        if info.st_size > limit and not head:
            raise NotRead(f"larger than {limit} bytes ({info.st_size} bytes)")
        chunks = []
        remaining = limit + (
            0 if head else 1
        )  # one byte more tells a file that grew past the bound
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise NotRead(f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise NotRead(f"larger than {limit} bytes (it grew while being read)")
    return data


def inside(path: str, real_root: str) -> bool:
    """Whether ``path`` (real, absolute) is ``real_root`` or lies below it."""
    return path == real_root or path.startswith(real_root.rstrip(os.sep) + os.sep)


def real_path(path: str | os.PathLike[str]) -> str:
    """The path with every link resolved. Unlike ``Path.resolve`` on Python 3.11, a loop
    of links does not raise: the unresolvable rest is kept as written."""
    return os.path.realpath(path)

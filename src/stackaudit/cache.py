"""A result cache that makes re-runs on an unchanged tree nearly free.

Two levels:

- per file: the extraction of a file (its facts, parse problems and suppressions),
  keyed by the file's content hash, its kind and the tool version. A file whose size,
  modification time, inode change time and inode number match the index is not even
  read (an edit that restores size and modification time still changes the inode
  change time, which no user can set).
- per run: the final findings, keyed by the tool version, the configuration and rule
  selection, and the content hashes of every file. Cross-file rules depend on facts of
  several files, so any change to any scanned file misses this level and the rules run
  again over cached facts: editing an nginx file re-extracts that file and re-checks the
  stack, and nothing else.

Where it lives. By default outside the scanned tree, in the user's cache directory keyed
by the root's real path (``$XDG_CACHE_HOME/stackaudit/<digest of the root>/``, see
``default_directory``); ``--cache-dir`` chooses another place. Wherever it is, the
scanned repository may be hostile (a committed ``.stackaudit_cache`` that is a link to
``.`` or to the user's home, links inside it), so:

- the cache directory, ``entries`` and every bucket are opened with ``O_NOFOLLOW`` and
  must be real directories owned by the user; everything below is reached through those
  directory descriptors (``dir_fd``), never through a path a link could redirect. A
  cache directory that is a link, is not a directory or belongs to someone else
  disables the cache for the run (``problem`` says why) and the scan goes on without it;
- a cache directory inside the scanned tree must be reached without passing through a
  link, and gets a ``.gitignore`` only when this run created it
  (``O_CREAT | O_EXCL | O_NOFOLLOW``: never through a link, never over a file);
- pruning lists with ``follow_symlinks=False`` and unlinks only regular files named like
  our keys, inside those verified directories.

Entries are signed with HMAC-SHA256 under a per-user key of 32 random bytes
(``$XDG_CACHE_HOME/stackaudit/key``, or ``STACKAUDIT_CACHE_KEY``); an entry whose
signature does not verify is ignored, never decoded. A key file that is short (left
empty by a full disk or an interrupted first run) is replaced, under a lock, by a full
one; a missing one is created complete and linked into place, so concurrent first runs
agree on one key. A key that is a link, belongs to someone else or lies inside the
scanned tree is refused, and the run goes on without a cache.

Entries are pickles, the replay snapshot is marshalled. Facts are msgspec Structs of
some seventy types, held in untyped lists and in fields where a subclass stands for its
base (a ``PythonWord`` where a ``Word`` is declared), so a typed msgspec decoder would
need every fact type tagged; pickle keeps them exact. It is held to two guards: nothing
is unpickled before its signature verifies under a full-length key, and the unpickler
resolves only the record types of stackaudit's own data modules (Structs and enums), so
even a forged entry could not name a callable to run. Writes go to a temporary file and
are renamed into place, so concurrent runs and interrupted writes leave either the old
entry or the new one. The directory is kept under a size bound by removing the oldest
entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat

from stackaudit import __version__

# typing.TYPE_CHECKING without importing typing, and os.path rather than pathlib: this
# module is on the re-run path, where start-up is most of the time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 256 * 1024 * 1024
KEY_SIZE = 32
_MAC_SIZE = 32
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_OPEN_DIR = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_HEX = frozenset("0123456789abcdef")


class UnsafeCache(Exception):
    """The cache (or its key) is somewhere a link or another user could redirect."""


def cache_home() -> str:
    """``$XDG_CACHE_HOME`` when it is an absolute path (as the XDG specification asks),
    ``~/.cache`` otherwise."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "stackaudit")


def default_directory(root: str) -> str:
    """The cache of the tree rooted at ``root``: in the user's cache directory, keyed by
    the root's real path. The one place this is computed: the replay (for which the root
    is the working directory) and the command line must agree."""
    real = os.path.realpath(root)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return os.path.join(cache_home(), digest)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def misplaced(directory: str, root: str) -> str | None:
    """Why ``directory`` cannot hold the cache of the tree at ``root``: it is the root or
    contains it (its ``.gitignore`` would hide the scanned files, and pruning would
    delete them), or it is a directory of the tree holding files of its own."""
    root = os.path.realpath(root)
    for path in {os.path.normpath(os.path.abspath(directory)), os.path.realpath(directory)}:
        if _inside(root, path):
            return "the cache directory is the scanned root or contains it"
    real = os.path.realpath(directory)
    if _inside(real, root) and os.path.isdir(real):
        with contextlib.suppress(OSError), os.scandir(real) as listing:
            others = sorted(e.name for e in listing if e.name not in ("entries", ".gitignore"))
            if others:
                return f"the cache directory holds files of the scanned tree ({others[0]})"
    return None


def code_fingerprint() -> str:
    """The version plus the size and modification time of every file of the package, so
    a changed rule or extractor never reads results cached by the code before it."""
    package = os.path.dirname(__file__)
    digest = hashlib.sha256(__version__.encode())
    for directory, subdirs, files in sorted(os.walk(package)):
        subdirs[:] = [d for d in subdirs if d != "__pycache__"]
        for name in sorted(files):
            if name.endswith((".py", ".json")):
                info = os.stat(os.path.join(directory, name))
                digest.update(f"{directory}/{name}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def _check_owned(info: os.stat_result, what: str, kind: int = stat.S_IFDIR) -> None:
    if stat.S_IFMT(info.st_mode) != kind:
        raise UnsafeCache(f"{what} is not a {'directory' if kind == stat.S_IFDIR else 'file'}")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise UnsafeCache(f"{what} belongs to another user")


def _open_dir(name: str, what: str, dir_fd: int | None = None) -> int:
    """A descriptor of the real directory ``name`` (never a link) owned by the user."""
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
    except OSError as exc:
        if os.path.islink(name) if dir_fd is None else _is_link(name, dir_fd):
            raise UnsafeCache(f"{what} is a symbolic link") from exc
        if isinstance(exc, NotADirectoryError):
            raise UnsafeCache(f"{what} is not a directory") from exc
        raise
    try:
        _check_owned(os.fstat(fd), what)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _tree_link(directory: str, root: str) -> str | None:
    """A symbolic link of the scanned tree on the way to ``directory``: links there are
    the repository's, and could lead anywhere. (Links elsewhere are the user's own.)"""
    path = os.path.dirname(directory)
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return None
        if os.path.islink(path) and _inside(os.path.realpath(parent), root):
            return path
        path = parent


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def _read_key(name: str, dir_fd: int) -> bytes | None:
    """The key file's bytes (at most 64), or None when there is none."""
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if _is_link(name, dir_fd):
            raise UnsafeCache("the cache key is a symbolic link") from exc
        raise
    try:
        _check_owned(os.fstat(fd), "the cache key", stat.S_IFREG)
        return os.read(fd, 64)
    finally:
        os.close(fd)


def _write_temporary(dir_fd: int, data: bytes) -> str:
    """A new file holding ``data`` in the directory, under a name no one else uses."""
    name = f".tmp-{os.getpid()}-{os.urandom(8).hex()}"
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dir_fd
    )
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    os.close(fd)
    return name


def _user_key(create: bool, root: str | None) -> bytes | None:
    """The user's signing key: 32 bytes, created when missing (with ``create``), never a
    short one. None without one (and ``create`` false). Raises UnsafeCache or OSError."""
    explicit = os.environ.get("STACKAUDIT_CACHE_KEY")
    if explicit:
        return hashlib.sha256(explicit.encode()).digest()
    directory = cache_home()
    if root is not None and _inside(os.path.realpath(directory), os.path.realpath(root)):
        # The scanned repository could have committed it.
        raise UnsafeCache("the cache key would be inside the scanned tree")
    if create:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        dir_fd = _open_dir(directory, "the cache key's directory")
    except FileNotFoundError:
        return None
    try:
        data = _read_key("key", dir_fd)
        if data is not None and len(data) >= KEY_SIZE:
            return data[:KEY_SIZE]
        if not create:
            return None
        if data is None:
            # A first run: the key appears complete or not at all, and of concurrent
            # first runs, the first link wins and the others read its key.
            import secrets

            temporary = _write_temporary(dir_fd, secrets.token_bytes(KEY_SIZE))
            try:
                os.link(temporary, "key", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary, dir_fd=dir_fd)
        else:
            _replace_short_key(dir_fd)
        data = _read_key("key", dir_fd)
        if data is None or len(data) < KEY_SIZE:
            raise UnsafeCache("no complete cache key could be written")
        return data[:KEY_SIZE]
    finally:
        os.close(dir_fd)


def _replace_short_key(dir_fd: int) -> None:
    """Replace a short key file by a full one. Under an exclusive lock, and only while it
    is still short, so runs that find it short together end with the same key."""
    import secrets

    try:
        import fcntl
    except ImportError:  # no flock: the last replacement wins, the others miss once
        fcntl = None  # type: ignore[assignment]
    if fcntl is not None:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
    try:
        current = _read_key("key", dir_fd)
        if current is not None and len(current) >= KEY_SIZE:
            return
        temporary = _write_temporary(dir_fd, secrets.token_bytes(KEY_SIZE))
        try:
            os.replace(temporary, "key", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=dir_fd)
            raise
    finally:
        if fcntl is not None:
            fcntl.flock(dir_fd, fcntl.LOCK_UN)


# The modules whose records a cache entry may hold: data definitions only.
_RECORD_MODULES = frozenset(
    ("stackaudit.diagnostics", "stackaudit.discovery", "stackaudit.engine", "stackaudit.suppress")
)


_unpickler: Any = None


def _loads(payload: bytes) -> Any:
    global _unpickler
    import io

    if _unpickler is None:
        _unpickler = _record_unpickler()
    return _unpickler(io.BytesIO(payload)).load()


def _record_unpickler() -> Any:
    import enum
    import pickle

    from msgspec import Struct

    # The classes already admitted: a warm run loads thousands of entries, each naming
    # the same few record classes.
    admitted: dict[tuple[str, str], type] = {}

    class RecordUnpickler(pickle.Unpickler):
        """Resolves the Structs and enums of stackaudit's data modules, nothing else:
        not a function, not a module of the standard library."""

        def find_class(self, module: str, name: str) -> Any:
            known = admitted.get((module, name))
            if known is not None:
                return known
            allowed = module in _RECORD_MODULES or (
                module.startswith("stackaudit.facts.")
                and module[len("stackaudit.facts.") :].isidentifier()
            )
            if allowed and not name.startswith("_") and name.isidentifier():
                found = super().find_class(module, name)
                if isinstance(found, type) and issubclass(found, (Struct, enum.Enum)):
                    admitted[module, name] = found
                    return found
            raise pickle.UnpicklingError(f"not a stackaudit record: {module}.{name}")

    return RecordUnpickler


class Cache:
    def __init__(
        self,
        directory: str | os.PathLike[str],
        salt: str,
        create: bool = True,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        """``create=False`` only reads: a directory without a cache stays without one.
        ``root``, the scanned tree, decides whether the directory is inside it. When the
        cache cannot be used safely, ``enabled`` is false and ``problem`` says why."""
        self.directory = os.path.normpath(os.path.abspath(os.fspath(directory)))
        self.enabled = False
        self.problem = ""
        self.salt, self._key = "", b""
        self._fd = self._entries = -1
        self._buckets: dict[str, int] = {}
        real_root = os.path.realpath(os.fspath(root)) if root is not None else None
        if not _NOFOLLOW or os.open not in os.supports_dir_fd:
            self.problem = "this system cannot open files without following links"
            return
        try:
            self._open(create, real_root)
            key = _user_key(create, real_root)
        except UnsafeCache as exc:
            self.problem = str(exc)
            self.close()
            return
        except OSError:
            self.close()  # unwritable, missing (when only reading): no cache, no fuss
            return
        if key is None or len(key) != KEY_SIZE:
            self.close()
            return
        self._key = key
        self.salt = f"{code_fingerprint()}\0{salt}"
        self.enabled = True

    def _open(self, create: bool, root: str | None) -> None:
        directory = self.directory
        what = f"the cache directory {directory}"
        in_tree = False
        if root is not None:
            if _inside(root, directory):
                raise UnsafeCache(f"{what} is the scanned root or contains it")
            if create:
                link = _tree_link(directory, root)
                if link is not None:
                    raise UnsafeCache(f"the way to {what} passes through a link ({link})")
                in_tree = _inside(os.path.realpath(os.path.dirname(directory)), root)
        created = False
        if create:
            os.makedirs(os.path.dirname(directory), mode=0o700, exist_ok=True)
            try:
                os.mkdir(directory, 0o700)
                created = True
            except FileExistsError:
                pass
        self._fd = _open_dir(directory, what)
        if created and in_tree:
            # Keeps the cache out of version control (and of discovery). Only in the
            # directory made just now, and never through a link or over a file.
            with contextlib.suppress(OSError):
                fd = os.open(
                    ".gitignore",
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC,
                    0o600,
                    dir_fd=self._fd,
                )
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write("*\n")
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir("entries", 0o700, dir_fd=self._fd)
        self._entries = _open_dir("entries", f"{what}/entries", self._fd)

    def close(self) -> None:
        for fd in (*self._buckets.values(), self._entries, self._fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._buckets.clear()
        self._fd = self._entries = -1
        self.enabled = False

    def __del__(self) -> None:
        self.close()

    def key(self, *parts: str) -> str:
        text = "\0".join((self.salt, *parts))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _bucket(self, name: str, create: bool) -> int:
        """The descriptor of the bucket directory ``name`` (a real directory of ours), or
        -1."""
        fd = self._buckets.get(name, -1)
        if fd >= 0:
            return fd
        if create:
            with contextlib.suppress(OSError):
                os.mkdir(name, 0o700, dir_fd=self._entries)
        try:
            fd = _open_dir(name, "a cache bucket", self._entries)
        except (OSError, UnsafeCache):
            return -1
        self._buckets[name] = fd
        return fd

    def get_bytes(self, key: str) -> bytes | None:
        """The payload stored under ``key``, if its signature verifies."""
        if not self.enabled:
            return None
        bucket = self._bucket(key[:2], create=False)
        if bucket < 0:
            return None
        try:
            fd = os.open(key, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=bucket)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read()
        except OSError:
            return None
        finally:
            os.close(fd)
        mac, payload = data[:_MAC_SIZE], data[_MAC_SIZE:]
        expected = hmac.new(self._key, key.encode() + payload, hashlib.sha256).digest()
        return payload if hmac.compare_digest(mac, expected) else None

    def put_bytes(self, key: str, payload: bytes) -> None:
        if not self.enabled:
            return
        mac = hmac.new(self._key, key.encode() + payload, hashlib.sha256).digest()
        bucket = self._bucket(key[:2], create=True)
        if bucket < 0:
            return
        temporary = ""
        try:
            temporary = _write_temporary(bucket, mac + payload)
            # A rename replaces a link in the way; it never writes through one.
            os.replace(temporary, key, src_dir_fd=bucket, dst_dir_fd=bucket)
        except OSError:
            if temporary:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=bucket)

    def get(self, key: str) -> Any:
        payload = self.get_bytes(key)
        if payload is None:
            return None
        try:
            # Verified above: this entry was written by this user's stackaudit.
            return _loads(payload)
        except Exception:
            return None

    def put(self, key: str, value: Any) -> None:
        if not self.enabled:
            return
        import pickle

        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return
        self.put_bytes(key, payload)

    def prune(self, limit: int = MAX_BYTES) -> None:
        """Remove the oldest entries until the cache is under ``limit`` bytes. Only
        regular files named like keys, in buckets that are real directories of ours."""
        if not self.enabled:
            return
        entries = []
        total = 0
        names: list[str] = []
        with contextlib.suppress(OSError), os.scandir(self._entries) as buckets:
            names = [b.name for b in buckets if b.is_dir(follow_symlinks=False)]
        for name in names:
            if len(name) != 2 or not _HEX.issuperset(name):
                continue
            bucket = self._bucket(name, create=False)
            if bucket < 0:
                continue
            with contextlib.suppress(OSError), os.scandir(bucket) as listing:
                for entry in listing:
                    if len(entry.name) != 64 or not _HEX.issuperset(entry.name):
                        continue
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISREG(info.st_mode):
                        entries.append((info.st_mtime_ns, info.st_size, bucket, entry.name))
                        total += info.st_size
        if total <= limit:
            return
        for _, size, bucket, name in sorted(entries):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=bucket)
            total -= size
            if total <= limit * 0.8:
                break

"""A result cache that makes re-runs on an unchanged tree nearly free.

Two levels:

- per file: the extraction of a file (its facts, parse problems and suppressions),
  keyed by the file's content hash, its kind and the tool version. A file whose size and
  modification time match the index is not even read.
- per run: the final findings, keyed by the tool version, the configuration and rule
  selection, and the content hashes of every file. Cross-file rules depend on facts of
  several files, so any change to any scanned file misses this level and the rules run
  again over cached facts: editing an nginx file re-extracts that file and re-checks the
  stack, and nothing else.

The cache lives inside the scanned tree (``.stackaudit_cache/`` by default), which an
untrusted repository could fill with anything. Entries are pickles (the replay snapshot
is marshalled), so each one is signed with HMAC-SHA256 under a per-user key kept outside
the tree (``$XDG_CACHE_HOME/stackaudit/key``, or ``STACKAUDIT_CACHE_KEY``); an entry
whose signature does not verify is ignored, never decoded. Writes go to a temporary file and
are renamed into place, so concurrent runs and interrupted writes leave either the old
entry or the new one. The directory is kept under a size bound by removing the oldest
entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os

from stackaudit import __version__

# typing.TYPE_CHECKING without importing typing, and os.path rather than pathlib: this
# module is on the re-run path, where start-up is most of the time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_DIRECTORY = ".stackaudit_cache"
MAX_BYTES = 256 * 1024 * 1024
_MAC_SIZE = 32


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


def _key() -> bytes:
    explicit = os.environ.get("STACKAUDIT_CACHE_KEY")
    if explicit:
        return hashlib.sha256(explicit.encode()).digest()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "stackaudit", "key")
    try:
        with open(path, "rb") as handle:
            return handle.read(32) or _new_key(path)
    except OSError:
        return _new_key(path)


def _new_key(path: str) -> bytes:
    import secrets

    key = secrets.token_bytes(32)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
    except FileExistsError:
        with open(path, "rb") as handle:
            return handle.read(32)
    except OSError:
        pass  # no writable home: the cache still works for this process
    return key


class Cache:
    def __init__(self, directory: str | os.PathLike[str], salt: str, create: bool = True) -> None:
        """``create=False`` only reads: a directory without a cache stays without one."""
        self.directory = os.fspath(directory)
        self.enabled = create or os.path.isdir(os.path.join(self.directory, "entries"))
        self.salt, self._key = "", b""
        if not self.enabled:
            return
        self.salt = f"{code_fingerprint()}\0{salt}"
        self._key = _key()
        try:
            os.makedirs(os.path.join(self.directory, "entries"), exist_ok=True)
            gitignore = os.path.join(self.directory, ".gitignore")
            if not os.path.exists(gitignore):
                with open(gitignore, "w", encoding="utf-8") as handle:
                    handle.write("*\n")
        except OSError:
            self.enabled = False

    def key(self, *parts: str) -> str:
        text = "\0".join((self.salt, *parts))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, "entries", key[:2], key)

    def get_bytes(self, key: str) -> bytes | None:
        """The payload stored under ``key``, if its signature verifies."""
        if not self.enabled:
            return None
        try:
            with open(self._path(key), "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        mac, payload = data[:_MAC_SIZE], data[_MAC_SIZE:]
        expected = hmac.new(self._key, key.encode() + payload, hashlib.sha256).digest()
        return payload if hmac.compare_digest(mac, expected) else None

    def put_bytes(self, key: str, payload: bytes) -> None:
        if not self.enabled:
            return
        import tempfile

        mac = hmac.new(self._key, key.encode() + payload, hashlib.sha256).digest()
        path = self._path(key)
        temporary = ""
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(mac + payload)
            os.replace(temporary, path)
        except OSError:
            if temporary:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def get(self, key: str) -> Any:
        payload = self.get_bytes(key)
        if payload is None:
            return None
        import pickle  # here: runs without a cache do not need it

        try:
            # Verified above: this entry was written by this user's stackaudit.
            return pickle.loads(payload)
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
        """Remove the oldest entries until the cache is under ``limit`` bytes."""
        if not self.enabled:
            return
        entries = []
        total = 0
        root = os.path.join(self.directory, "entries")
        with contextlib.suppress(OSError):
            for bucket in os.scandir(root):
                if not bucket.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError):
                    for entry in os.scandir(bucket.path):
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        entries.append((info.st_mtime, info.st_size, entry.path))
                        total += info.st_size
        if total <= limit:
            return
        for _, size, path in sorted(entries):
            with contextlib.suppress(OSError):
                os.unlink(path)
            total -= size
            if total <= limit * 0.8:
                break

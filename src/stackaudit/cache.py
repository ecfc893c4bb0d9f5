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
untrusted repository could fill with anything. Entries are pickles, so each one is
signed with HMAC-SHA256 under a per-user key kept outside the tree
(``$XDG_CACHE_HOME/stackaudit/key``, or ``STACKAUDIT_CACHE_KEY``); an entry whose
signature does not verify is ignored, never unpickled. Writes go to a temporary file and
are renamed into place, so concurrent runs and interrupted writes leave either the old
entry or the new one. The directory is kept under a size bound by removing the oldest
entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from pathlib import Path

from stackaudit import __version__

# typing.TYPE_CHECKING without importing typing: this module is on the replay path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_DIRECTORY = ".stackaudit_cache"
MAX_BYTES = 256 * 1024 * 1024
_MAC_SIZE = 32


def code_fingerprint() -> str:
    """The version plus the size and modification time of every file of the package, so
    a changed rule or extractor never reads results cached by the code before it."""
    package = os.path.dirname(__file__)  # noqa: PTH120
    digest = hashlib.sha256(__version__.encode())
    for directory, subdirs, files in sorted(os.walk(package)):
        subdirs[:] = [d for d in subdirs if d != "__pycache__"]
        for name in sorted(files):
            if name.endswith((".py", ".json")):
                info = os.stat(os.path.join(directory, name))  # noqa: PTH116, PTH118
                digest.update(f"{directory}/{name}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def _key() -> bytes:
    explicit = os.environ.get("STACKAUDIT_CACHE_KEY")
    if explicit:
        return hashlib.sha256(explicit.encode()).digest()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stackaudit"
    path = base / "key"
    try:
        return path.read_bytes()[:32] or _new_key(path)
    except OSError:
        return _new_key(path)


def _new_key(path: Path) -> bytes:
    import secrets

    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
    except FileExistsError:
        return path.read_bytes()[:32]
    except OSError:
        pass  # no writable home: the cache still works for this process
    return key


class Cache:
    def __init__(self, directory: Path, salt: str) -> None:
        self.directory = directory
        self.salt = f"{code_fingerprint()}\0{salt}"
        self._key = _key()
        self.enabled = True
        try:
            (directory / "entries").mkdir(parents=True, exist_ok=True)
            gitignore = directory / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n", encoding="utf-8")
        except OSError:
            self.enabled = False

    def key(self, *parts: str) -> str:
        text = "\0".join((self.salt, *parts))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / "entries" / key[:2] / key

    def get(self, key: str) -> Any:
        if not self.enabled:
            return None
        try:
            data = self._path(key).read_bytes()
        except OSError:
            return None
        mac, payload = data[:_MAC_SIZE], data[_MAC_SIZE:]
        expected = hmac.new(self._key, key.encode() + payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            import pickle  # here: runs without a cache do not need it

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
        import tempfile

        mac = hmac.new(self._key, key.encode() + payload, hashlib.sha256).digest()
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(mac + payload)
            Path(temporary).replace(path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)  # noqa: PTH108

    def prune(self, limit: int = MAX_BYTES) -> None:
        """Remove the oldest entries until the cache is under ``limit`` bytes."""
        if not self.enabled:
            return
        entries = []
        total = 0
        for path in (self.directory / "entries").glob("*/*"):
            try:
                info = path.stat()
            except OSError:
                continue
            entries.append((info.st_mtime, info.st_size, path))
            total += info.st_size
        if total <= limit:
            return
        for _, size, path in sorted(entries):
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size
            if total <= limit * 0.8:
                break

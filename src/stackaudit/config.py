"""Configuration: ``[tool.stackaudit]`` in pyproject.toml, or stackaudit.toml /
.stackaudit.toml; the file nearest to the scanned root governs the run (nested ones
their subtree: see config_tree). Every key and value is validated here, once, with a
clear message: a typo is an error, not a silent default."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from msgspec import Struct, field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

from stackaudit.diagnostics import Confidence, Diagnostic, Persona, Severity
from stackaudit.reading import NotRead, inside, read_regular

CONFIG_FILES = (".stackaudit.toml", "stackaudit.toml", "pyproject.toml")
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "KIB": 1024,
    "M": 1000**2,
    "MB": 1000**2,
    "MIB": 1024**2,
    "G": 1000**3,
    "GB": 1000**3,
    "GIB": 1024**3,
}


class ConfigError(Exception):
    """A usage or configuration error: reported in one line, exit code 2."""


class Config(Struct):
    select: list[str] = field(default_factory=lambda: ["SA"])
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    extend_exclude: list[str] = field(default_factory=list)
    fail_on: Severity = Severity.WARNING
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    public_hosts: list[str] = field(default_factory=list)
    public_apps: list[str] = field(default_factory=list)
    auth_by_proxy: bool = False
    nginx_version: str | None = None
    min_confidence: Confidence = Confidence.LOW
    persona: Persona = Persona.REGULAR
    path: Path | None = None

    @classmethod
    def keys(cls) -> list[str]:
        return [name.replace("_", "-") for name in cls.__struct_fields__ if name != "path"]

    def shows(self, diagnostic: Diagnostic) -> bool:
        """Whether this configuration's persona and minimum confidence show the finding:
        every output (report, editor, picture) leaves out the same ones."""
        return self.persona.shows(diagnostic, self.min_confidence)


def suggest(value: str, choices: list[str]) -> str:
    """ " (did you mean `x`?)" when a close match exists."""
    import difflib  # only on the way to an error message

    close = difflib.get_close_matches(value, choices, n=5, cutoff=0.6)
    if not close:
        return ""
    # Equally close by edit similarity (`SA1O1`: `SA101` and `SA211`), the one that keeps
    # more characters in place is the typo's source.
    best = max(
        close,
        key=lambda choice: (
            difflib.SequenceMatcher(None, value, choice).ratio(),
            sum(a == b for a, b in zip(value, choice, strict=False)),
        ),
    )
    return f" (did you mean `{best}`?)"


CONFIG_LIMIT = 1024 * 1024


def find_config(start: Path, notes: list[str] | None = None) -> Path | None:
    """The config file nearest to ``start``, looking upward. A candidate in the scanned
    root that is a link out of it, a FIFO or a device is passed over with a note. A
    ``pyproject.toml`` that is not TOML is an error, never passed over: the project's
    configuration may be the part that did not parse, and a parent's configuration or
    the defaults must not silently take its place."""
    notes = [] if notes is None else notes
    real_start = os.path.realpath(start)
    for directory in (start, *start.parents):
        for name in CONFIG_FILES:
            candidate = directory / name
            if not candidate.exists():
                continue
            if directory == start and not inside(os.path.realpath(candidate), real_start):
                notes.append(f"{candidate}: symbolic link out of the scanned root, not read")
                continue
            try:
                table = read_toml(candidate)
            except NotRead as exc:
                notes.append(f"{candidate}: {exc.reason}, not read")
                continue
            if config_table(table, candidate, required=name != "pyproject.toml") is not None:
                return candidate
    return None


def read_toml(path: Path) -> dict[str, Any]:
    """A configuration file's TOML, read safely (a regular file, at most 1 MiB);
    NotRead when it is not a file to read, ConfigError when it is not TOML."""
    return _parse_toml(read_regular(path, CONFIG_LIMIT), path)


def config_table(table: dict[str, Any], path: Path, required: bool) -> dict[str, Any] | None:
    """stackaudit's table in a parsed file: `[tool.stackaudit]`, or the whole of a
    `stackaudit.toml` written without it. None for a pyproject.toml (``required`` False)
    that has no such table."""
    tool = table.get("tool")
    if isinstance(tool, dict) and "stackaudit" in tool:
        found = tool["stackaudit"]
    elif not required:
        return None
    else:
        found = table
    if not isinstance(found, dict):
        raise ConfigError(f"{path}: `tool.stackaudit` must be a table")
    return found


def _parse_toml(data: bytes, path: Path) -> dict[str, Any]:
    try:
        table: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return table
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from exc


def load_config(path: Path | None, within: tuple[str, ...] = ()) -> Config:
    """The configuration in ``path`` (the defaults for None), with the files it
    `extend`s; those must lie under one of ``within`` (real paths) or beside it."""
    if path is None:
        return Config()
    try:
        data = read_toml(path)
    except NotRead as exc:
        raise ConfigError(f"cannot read {path}: {exc.reason}") from exc
    table = config_table(data, path, required=path.name != "pyproject.toml") or {}
    return config_from(table, path, (*within, os.path.realpath(path.parent)))


# An `extend` chain longer than this is a mistake (or a trap), not a configuration.
MAX_EXTEND_DEPTH = 8


def config_from(table: dict[str, Any], path: Path, within: tuple[str, ...]) -> Config:
    """``table`` (read from ``path``) as a Config, over the keys of the files it
    extends: its own keys win, key by key."""
    config = parse_table(_extended(table, path, within, [path]), str(path))
    config.path = path
    return config


def _extended(
    table: dict[str, Any], path: Path, within: tuple[str, ...], chain: list[Path]
) -> dict[str, Any]:
    """``table`` over the keys of the file it extends; ``chain``: the files read so
    far, ``path`` last."""
    if "extend" not in table:
        return table
    table = dict(table)
    extend = table.pop("extend")
    if not isinstance(extend, str) or not extend:
        raise ConfigError(f"{path}: `extend` must be the path of another configuration")
    target = Path(os.path.normpath(path.parent / extend))
    real = os.path.realpath(target)
    # A scanned repository's configuration must not reach files of the machine.
    if not any(inside(real, base) for base in within):
        raise ConfigError(f"{path}: `extend = {extend!r}` leads out of the project")
    if real == os.path.realpath(path):
        raise ConfigError(f"{path}: `extend` names the file itself")
    if real in {os.path.realpath(link) for link in chain}:
        cycle = " -> ".join(str(link) for link in [*chain, target])
        raise ConfigError(f"{path}: `extend` goes round in a circle: {cycle}")
    if len(chain) > MAX_EXTEND_DEPTH:
        raise ConfigError(f"{path}: `extend` chain longer than {MAX_EXTEND_DEPTH} files")
    try:
        data = read_toml(target)
    except NotRead as exc:
        raise ConfigError(f"{path}: `extend`: cannot read {target}: {exc.reason}") from exc
    base = config_table(data, target, required=target.name != "pyproject.toml")
    if base is None:
        raise ConfigError(f"{path}: `extend`: {target} has no [tool.stackaudit] table")
    return {**_extended(base, target, within, [*chain, target]), **table}


def parse_table(table: dict[str, Any], where: str) -> Config:
    config = Config()
    known = Config.keys()
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key `{key}`{suggest(key, known)}")
        attr = key.replace("-", "_")
        setattr(config, attr, _validate(key, value, where))
    return config


def _string_list(key: str, value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings")
    return list(value)


def _validate(key: str, value: Any, where: str) -> Any:
    if key in ("exclude", "extend-exclude"):
        return [_pattern(key, p, where) for p in _string_list(key, value, where)]
    if key in ("select", "ignore", "extend-select", "public-hosts", "public-apps"):
        return _string_list(key, value, where)
    if key == "per-file-ignores":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: `per-file-ignores` must be a table of glob = [codes]")
        return {
            _pattern(key, glob, where): _string_list(f"per-file-ignores.{glob}", codes, where)
            for glob, codes in value.items()
        }
    if key == "fail-on":
        return parse_severity(value, where)
    if key == "max-file-size":
        return parse_size(value, where)
    if key == "auth-by-proxy":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: `auth-by-proxy` must be true or false")
        return value
    if key == "nginx-version":
        if not isinstance(value, str) or not re.fullmatch(r"\d+\.\d+(\.\d+)?", value):
            raise ConfigError(f'{where}: `nginx-version` must look like "1.27.3"')
        return value
    if key == "min-confidence":
        return Confidence(_choice(key, value, [c.value for c in Confidence], where))
    if key == "persona":
        return Persona(_choice(key, value, [p.value for p in Persona], where))
    raise AssertionError(key)  # pragma: no cover


def _choice(key: str, value: Any, choices: list[str], where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{where}: `{key}` must be one of {', '.join(choices)}{suggest(str(value), choices)}"
        )
    return value


def _pattern(key: str, pattern: str, where: str) -> str:
    """A gitignore-style pattern that compiles: a lone `!`, a trailing backslash or a
    reversed range is an error here, not a traceback in the middle of the walk."""
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except Exception as exc:
        raise ConfigError(f"{where}: `{key}`: invalid pattern `{pattern}` ({exc})") from exc
    return pattern


def parse_severity(value: Any, where: str) -> Severity:
    choices = [s.value for s in Severity]
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{where}: `fail-on` must be one of {', '.join(choices)}{suggest(str(value), choices)}"
        )
    return Severity(value)


def parse_size(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    size = int(match.group(1)) * _UNITS[(match.group(2) or "").upper()] if match else 0
    if size <= 0:
        # Zero would skip every file: a configuration that leaves nothing to scan.
        raise ConfigError(
            f'{where}: `max-file-size` must be a positive size such as 2097152 or "2MiB"'
        )
    return size

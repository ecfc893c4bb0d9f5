"""Configuration: ``[tool.stackaudit]`` in pyproject.toml, or stackaudit.toml /
.stackaudit.toml; the file nearest to the scanned root wins. Every key and value is
validated here, once, with a clear message: a typo is an error, not a silent default."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from msgspec import Struct, field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

from stackaudit.diagnostics import Severity

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
    path: Path | None = None

    @classmethod
    def keys(cls) -> list[str]:
        return [name.replace("_", "-") for name in cls.__struct_fields__ if name != "path"]


def suggest(value: str, choices: list[str]) -> str:
    """ " (did you mean `x`?)" when a close match exists."""
    import difflib  # only on the way to an error message

    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def find_config(start: Path) -> Path | None:
    """The config file nearest to ``start``, looking upward."""
    for directory in (start, *start.parents):
        for name in CONFIG_FILES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            if name != "pyproject.toml":
                return candidate
            try:
                data = tomllib.loads(candidate.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if "stackaudit" in data.get("tool", {}):
                return candidate
    return None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    table = data.get("tool", {}).get("stackaudit", {}) if path.name == "pyproject.toml" else data
    if path.name != "pyproject.toml" and "tool" in table and "stackaudit" in table["tool"]:
        table = table["tool"]["stackaudit"]
    config = parse_table(table, str(path))
    config.path = path
    return config


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
    if key in (
        "select",
        "ignore",
        "extend-select",
        "exclude",
        "extend-exclude",
        "public-hosts",
        "public-apps",
    ):
        return _string_list(key, value, where)
    if key == "per-file-ignores":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: `per-file-ignores` must be a table of glob = [codes]")
        return {
            glob: _string_list(f"per-file-ignores.{glob}", codes, where)
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
    raise AssertionError(key)  # pragma: no cover


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
    if not match:
        raise ConfigError(f'{where}: `max-file-size` must be a size such as 2097152 or "2MiB"')
    return int(match.group(1)) * _UNITS[(match.group(2) or "").upper()]

"""The configuration of a workspace, found and validated exactly as ``check`` does."""

from __future__ import annotations

from pathlib import Path

from msgspec import Struct

from stackaudit.config import Config, find_config, load_config
from stackaudit.engine import Selection
from stackaudit.rules import validate_codes


class Settings(Struct):
    config: Config
    selection: Selection


def load_settings(root: Path) -> Settings:
    """The configuration that applies to ``root``: the nearest configuration file at or
    above it. Raises ``ConfigError`` for a file that does not parse or holds an unknown
    key or rule code: the editor then shows the error, and no findings (a report made
    under the wrong settings would be a wrong report)."""
    path = find_config(root)
    config = load_config(path)
    where = str(path) if path else "configuration"
    select = validate_codes(config.select, where) + validate_codes(config.extend_select, where)
    ignore = validate_codes(config.ignore, where)
    for codes in config.per_file_ignores.values():
        validate_codes(codes, f"{where}: per-file-ignores")
    return Settings(config, Selection(select, ignore))

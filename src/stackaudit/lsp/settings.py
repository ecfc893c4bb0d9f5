"""The configuration of a workspace, found and validated exactly as ``check`` does."""

from __future__ import annotations

from pathlib import Path

from msgspec import Struct

from stackaudit.config import Config, find_config, load_config
from stackaudit.config_tree import CommandLineCodes, Selection, selection_of


class Settings(Struct):
    config: Config
    selection: Selection


def load_settings(root: Path) -> Settings:
    """The configuration that applies to ``root``: the nearest configuration file at or
    above it. Raises ``ConfigError`` for a file that does not parse or holds an unknown
    key or rule code: the editor then shows the error, and no findings (a report made
    under the wrong settings would be a wrong report). Configurations nested in the
    workspace are read by each analysis (engine.run), as the walk finds them."""
    import os

    path = find_config(root)
    config = load_config(path, within=(os.path.realpath(root),))
    where = str(path) if path else "configuration"
    return Settings(config, selection_of(config, where, CommandLineCodes()))

"""Which configuration applies where, in Ruff's hierarchical model: the file found from
the scanned root upward governs the run, and a configuration nested deeper in the tree
governs its own subtree (the rules selected there, its `per-file-ignores`, its
excludes) in place of the one above it — unless it says `extend = "../pyproject.toml"`,
which takes the other file's keys as the defaults of its own.

Keys that describe the whole deployment (`public-hosts`, `auth-by-proxy`,
`nginx-version`…) and the run (`fail-on`, `max-file-size`) are read from the root's
configuration only: a nested file that sets them gets a note saying so.

Command-line `--select`, `--ignore` and `--extend-select` apply over every
configuration, as in Ruff; and, as in Ruff, a file named with `--config` governs every
file: configurations nested in the tree are not read then."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from stackaudit.config import (
    CONFIG_FILES,
    Config,
    ConfigError,
    config_from,
    config_table,
    read_toml,
)
from stackaudit.reading import NotRead, inside

if TYPE_CHECKING:
    from stackaudit.diagnostics import Diagnostic

PER_SUBTREE = ("select", "ignore", "extend-select", "per-file-ignores", "exclude", "extend-exclude")


class Selection(Struct):
    """The rule codes one configuration turns on."""

    select: list[str]
    ignore: list[str]

    def enabled(self, code: str) -> bool:
        from stackaudit.rules import is_enabled

        return is_enabled(code, self.select, self.ignore)


class CommandLineCodes(Struct):
    """`--select` (None when not given), `--ignore`, `--extend-select`."""

    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)


def selection_of(config: Config, where: str, cli: CommandLineCodes) -> Selection:
    """The codes ``config`` selects once the command line has had its say; an unknown
    code anywhere is a usage error naming the file that wrote it."""
    from stackaudit.rules import validate_codes

    if cli.select is not None:
        select = validate_codes(cli.select, "--select")
    else:
        select = validate_codes(config.select, where)
    select += validate_codes(config.extend_select, where)
    select += validate_codes(cli.extend_select, "--extend-select")
    ignore = validate_codes(config.ignore, where) + validate_codes(cli.ignore, "--ignore")
    for codes in config.per_file_ignores.values():
        validate_codes(codes, f"{where}: per-file-ignores")
    return Selection(select, ignore)


class Scope:
    """One configuration and the subtree it governs (``base``, relative to the root;
    ``""`` for the root)."""

    def __init__(self, base: str, config: Config, selection: Selection) -> None:
        self.base = base
        self.config = config
        self.selection = selection
        self.excludes = [*config.exclude, *config.extend_exclude]
        self._per_file: list[tuple[Any, list[str]]] | None = None

    def ignores(self, diagnostic: Diagnostic) -> bool:
        """Whether this configuration turns the finding off (its code is not selected
        here, or a `per-file-ignores` pattern, relative to ``base``, names it)."""
        if not self.selection.enabled(diagnostic.code):
            return True
        if not self.config.per_file_ignores:
            return False
        if self._per_file is None:
            import pathspec

            self._per_file = [
                (pathspec.GitIgnoreSpec.from_lines([glob]), [c.upper() for c in codes])
                for glob, codes in self.config.per_file_ignores.items()
            ]
        path = diagnostic.span.path
        relative = path[len(self.base) + 1 :] if self.base else path
        return any(
            spec.match_file(relative) and any(diagnostic.code.startswith(c) for c in codes)
            for spec, codes in self._per_file
        )

    def key(self) -> str:
        fields = self.config.__struct_fields__
        values = {k: getattr(self.config, k) for k in fields if k != "path"}
        return repr((self.base, values, self.selection))


class ConfigTree:
    """The configurations of one run, by directory. ``enter`` is called by the walk for
    every directory it lists; ``scope_for`` answers for a path."""

    def __init__(
        self,
        root: Path,
        config: Config,
        cli: CommandLineCodes | None = None,
        selection: Selection | None = None,
        *,
        nested: bool = True,
    ) -> None:
        self.root = root
        self.reads_nested = nested
        self.real_root = os.path.realpath(root)
        self.cli = cli or CommandLineCodes()
        where = str(config.path) if config.path else "configuration"
        self.top = Scope("", config, selection or selection_of(config, where, self.cli))
        self.notes: list[str] = []
        self._scopes: dict[str, Scope] = {}
        self._looked: set[str] = set()
        # Where an `extend` may reach: the scanned root, and where the root's
        # configuration lives (a parent of the root, when found upward).
        self._within: tuple[str, ...] = (self.real_root,)
        if config.path:
            self._within += (os.path.realpath(config.path.parent),)

    @property
    def nested(self) -> list[Scope]:
        return [self._scopes[base] for base in sorted(self._scopes)]

    def prepare(self, paths: list[Path]) -> None:
        """Configurations between the root and each scanned path: found from the path
        upward, they govern it though the walk starts below them."""
        for path in paths:
            directory = path if path.is_dir() else path.parent
            try:
                rel = directory.resolve().relative_to(Path(self.real_root)).as_posix()
            except ValueError:
                continue
            parts = [] if rel == "." else rel.split("/")
            for depth in range(1, len(parts) + 1):
                rel_dir = "/".join(parts[:depth])
                names = {n for n in CONFIG_FILES if (self.root / rel_dir / n).exists()}
                self.enter(str(self.root / rel_dir), rel_dir, names)

    def enter(self, directory: str, rel_dir: str, names: Collection[str]) -> list[str] | None:
        """Called for each directory the walk lists, with the names in it: the exclude
        patterns of a configuration found there (relative to it), or None when none is.
        A configuration that is not TOML or is invalid raises ConfigError."""
        if not rel_dir or not self.reads_nested:
            return None
        if rel_dir in self._looked:
            scope = self._scopes.get(rel_dir)
            return scope.excludes if scope else None
        self._looked.add(rel_dir)
        for name in CONFIG_FILES:
            if name not in names:
                continue
            path = Path(directory) / name
            if not inside(os.path.realpath(path), self.real_root):
                self.notes.append(
                    f"{rel_dir}/{name}: symbolic link out of the scanned root, not read"
                )
                continue
            table = self._table(path, name, rel_dir)
            if table is None:
                continue  # a pyproject.toml without [tool.stackaudit]
            config = config_from(table, path, self._within)
            self._warn_stack_wide(table, path)
            scope = Scope(rel_dir, config, selection_of(config, str(path), self.cli))
            self._scopes[rel_dir] = scope
            return scope.excludes
        return None

    def _table(self, path: Path, name: str, rel_dir: str) -> dict[str, Any] | None:
        try:
            data = read_toml(path)
        except NotRead as exc:
            self.notes.append(f"{path}: {exc.reason}, not read")
            return None
        except ConfigError as exc:
            # Fail closed, but say how to go on when the file is test data, not a project.
            raise ConfigError(
                f"{exc} (if it is not a configuration, exclude its directory: "
                f'`extend-exclude = ["{rel_dir}/"]`)'
            ) from exc
        return config_table(data, path, required=name != "pyproject.toml")

    def _warn_stack_wide(self, table: dict[str, Any], path: Path) -> None:
        ignored = sorted(k for k in table if k not in PER_SUBTREE and k != "extend")
        if ignored:
            keys = ", ".join(f"`{k}`" for k in ignored)
            self.notes.append(
                f"{path}: {keys} describe the whole run and are read from the root's "
                "configuration only; here they are ignored"
            )

    def scope_for(self, path: str) -> Scope:
        """The configuration governing ``path`` (relative to the root): the deepest
        nested one above it, else the root's."""
        if not self._scopes:
            return self.top
        directory = path.rpartition("/")[0]
        while directory:
            scope = self._scopes.get(directory)
            if scope is not None:
                return scope
            directory = directory.rpartition("/")[0]
        return self.top

    def any_enabled(self, code: str) -> bool:
        return self.top.selection.enabled(code) or any(
            s.selection.enabled(code) for s in self._scopes.values()
        )

    def keep(self, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        """The findings that the configuration governing their location leaves on."""
        return [d for d in diagnostics if not self.scope_for(d.span.path).ignores(d)]

    def key(self) -> str:
        """What the configurations of this run are, for the cache's keys."""
        return "\0".join(s.key() for s in (self.top, *self.nested))


def describe(tree: ConfigTree, path: str) -> str:
    """``--show-settings``: which files govern ``path`` (relative to the root; a
    directory ends in ``/``) and every setting in force there, as TOML (the codes as
    the command line leaves them)."""
    from stackaudit.formatters.escape import printable

    scope = tree.scope_for(path)
    lines = [
        f"# settings for {printable(path or '.')}",
        f"# root configuration: {printable(str(tree.top.config.path or '(defaults)'))}",
    ]
    if scope is not tree.top:
        lines.append(
            f"# governed below {printable(scope.base)}/ by {printable(str(scope.config.path))}"
        )
    lines.append("")
    for key in Config.keys():  # noqa: SIM118 (a classmethod, not a dict)
        source = scope if key in PER_SUBTREE else tree.top
        value: object = getattr(source.config, key.replace("-", "_"))
        if key == "select":
            value = scope.selection.select
        elif key == "ignore":
            value = scope.selection.ignore
        elif key == "extend-select":
            continue  # folded into `select` above
        if key == "exclude" and (scope.excludes):
            lines += [
                "# excludes are relative to the directory of the configuration that sets them",
                "# (the scan root for the root's); paths named on the command line are"
                " checked anyway",
            ]
        if value is None:
            lines.append(f"# {key} is not set")
        else:
            lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    """A value as TOML; strings as JSON writes them, which TOML reads the same and
    which escapes every control character (nothing printed can drive a terminal)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # Severity is a str too
        return json.dumps(str(value.value if hasattr(value, "value") else value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return json.dumps(str(value))

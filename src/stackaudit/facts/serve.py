"""A server process as it is started: the tool, its options with their real argument
semantics, and the environment it runs in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stackaudit.diagnostics import Span
from stackaudit.facts.common import EnvVar, Word

BOKEH_FAMILY = frozenset({"bokeh-serve", "panel-serve"})
ASGI_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "fastapi-run", "fastapi-dev"})

TOOL_LABELS = {
    "bokeh-serve": "bokeh serve",
    "panel-serve": "panel serve",
    "uvicorn": "uvicorn",
    "gunicorn": "gunicorn",
    "hypercorn": "hypercorn",
    "fastapi-run": "fastapi run",
    "fastapi-dev": "fastapi dev",
}


@dataclass(frozen=True)
class OptionUse:
    """One option as written: ``flag`` is the word that named it (possibly an
    abbreviation or ``--flag=value``), ``values`` the words it consumed."""

    dest: str
    flag: Word
    values: tuple[Word, ...]

    @property
    def span(self) -> Span:
        last = self.values[-1].span if self.values else self.flag.span
        if last.path != self.flag.span.path or last.line < self.flag.span.line:
            return self.flag.span
        return Span(
            self.flag.span.path,
            self.flag.span.line,
            self.flag.span.column,
            last.end_line,
            last.end_column,
        )


@dataclass(frozen=True)
class OriginEntry:
    """One entry of the effective WebSocket origin allowlist and where it comes from."""

    text: str
    span: Span
    from_env: bool


@dataclass(frozen=True)
class ServeCommand:
    """A ``panel serve`` / ``bokeh serve`` / ``uvicorn`` / ``gunicorn`` / ``fastapi`` /
    ``hypercorn`` invocation found in any carrier (Dockerfile, shell, compose, ...).

    ``deployment`` tells whether the carrier deploys the app (Dockerfile, compose, unit
    files, Procfile, entrypoint scripts) rather than a developer's own script."""

    tool: str
    program: Word
    span: Span
    options: tuple[OptionUse, ...]
    positionals: tuple[Word, ...]
    app_args: tuple[Word, ...]
    unknown: tuple[Word, ...]
    env: tuple[EnvVar, ...]
    carrier: str
    context: str
    deployment: bool

    # -- options ------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return TOOL_LABELS.get(self.tool, self.tool)

    @property
    def is_bokeh_family(self) -> bool:
        return self.tool in BOKEH_FAMILY

    def uses(self, dest: str) -> list[OptionUse]:
        return [use for use in self.options if use.dest == dest]

    def last(self, dest: str) -> OptionUse | None:
        """The use that wins for a ``store`` option (argparse and click: the last)."""
        found = self.uses(dest)
        return found[-1] if found else None

    def values(self, dest: str) -> list[Word]:
        """Every value of an ``append``/greedy option, in order."""
        return [word for use in self.uses(dest) for word in use.values]

    def value(self, dest: str) -> Word | None:
        use = self.last(dest)
        return use.values[-1] if use and use.values else None

    def has(self, dest: str) -> bool:
        return any(use.dest == dest for use in self.options)

    # -- environment --------------------------------------------------------------------

    def env_var(self, name: str) -> EnvVar | None:
        """The definition that wins (the last one written for this process)."""
        found = [var for var in self.env if var.name == name]
        return found[-1] if found else None

    def setting(self, dest: str, env_name: str | None = None) -> Word | EnvVar | None:
        """A setting given by option or, failing that, by its environment variable."""
        word = self.value(dest)
        if word is not None:
            return word
        return self.env_var(env_name) if env_name else None

    # -- WebSocket origins (Bokeh family) -----------------------------------------------

    def origin_source(self) -> Literal["env", "cli", "default"]:
        """Where Bokeh takes the allowlist from: ``BOKEH_ALLOW_WS_ORIGIN`` replaces the
        CLI list at every handshake (bokeh/server/views/ws.py)."""
        var = self.env_var("BOKEH_ALLOW_WS_ORIGIN")
        if var is not None and (var.value is None or var.value.text != ""):
            return "env"
        if self.values("allow_websocket_origin"):
            return "cli"
        return "default"

    def cli_origins(self) -> list[OriginEntry]:
        return [
            OriginEntry(word.text, word.span, from_env=False)
            for word in self.values("allow_websocket_origin")
        ]

    def env_origins(self) -> list[OriginEntry]:
        from stackaudit.facts.origins import split_env_origins

        var = self.env_var("BOKEH_ALLOW_WS_ORIGIN")
        if var is None or var.value is None or var.value.symbolic:
            return []
        return [
            OriginEntry(part, var.value.span, from_env=True)
            for part in split_env_origins(var.value.text)
        ]

    def effective_origins(self) -> list[OriginEntry]:
        """The entries that decide, or [] when Bokeh falls back to ``localhost:<port>``
        or the value is symbolic."""
        source = self.origin_source()
        if source == "env":
            return self.env_origins()
        if source == "cli":
            return self.cli_origins()
        return []

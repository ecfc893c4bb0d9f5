"""Fly.io's ``fly.toml``: the app, what its proxy does in front of it, the image it runs
and the environment it sets.

- ``app`` names the app; its default host is ``<app>.fly.dev``.
- ``[http_service]`` is the HTTP service: the proxy accepts HTTP on 80 and HTTPS on 443
  (``handlers = ["http"]`` and ``["tls", "http"]``) and forwards to ``internal_port``.
  ``[[services]]`` lists ports with their ``handlers``: ``tls`` terminates TLS,
  ``http`` speaks HTTP to the app and adds ``X-Forwarded-For``/``-Proto``; a port with
  no handler passes the TCP connection as is.
- The image is built from ``[build] dockerfile`` or, with no ``[build]`` image or
  builder, the ``Dockerfile`` beside ``fly.toml``; its command runs.
- ``[env]`` sets variables in every Machine.

References: https://fly.io/docs/reference/configuration/,
https://fly.io/docs/networking/services/, https://fly.io/docs/networking/request-headers/."""

from __future__ import annotations

import posixpath
import re
import sys
from typing import Any

from stackaudit.diagnostics import Span
from stackaudit.extractors.base import Extraction
from stackaudit.facts.common import EnvVar, ParseProblem, Word
from stackaudit.facts.platform import FLY, PlatformService
from stackaudit.source import SourceFile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+?)\s*\]\]?\s*(?:#.*)?$")


class _Lines:
    """Where keys are written: tomllib keeps no positions, so the lines are read again
    for the spans (a key's first line in its table)."""

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.keys: dict[tuple[str, str], tuple[int, int, int]] = {}
        self.tables: dict[str, int] = {}
        table = ""
        offset = 0
        for line in source.text.splitlines(keepends=True):
            header = _HEADER.match(line)
            if header:
                table = header.group(1).replace('"', "")
                self.tables.setdefault(table, offset)
            else:
                key, equals, _ = line.partition("=")
                name = key.strip().strip("\"'")
                if equals and name and not name.startswith("#"):
                    value_start = offset + len(key) + 1
                    self.keys.setdefault(
                        (table, name),
                        (offset + line.find(name), value_start, offset + len(line.rstrip())),
                    )
            offset += len(line)

    def key(self, table: str, name: str) -> Span | None:
        found = self.keys.get((table, name))
        return self.source.span(found[0], found[0] + len(name)) if found else None

    def value(self, table: str, name: str, text: str) -> Span | None:
        found = self.keys.get((table, name))
        if found is None:
            return None
        raw = self.source.text[found[1] : found[2]]
        at = raw.find(text) if text else -1
        if at < 0:
            stripped = raw.lstrip()
            return self.source.span(found[2] - len(stripped), found[2])
        return self.source.span(found[1] + at, found[1] + at + len(text))

    def table(self, name: str) -> Span | None:
        start = self.tables.get(name)
        if start is None:
            return None
        end = self.source.text.find("\n", start)
        return self.source.span(start, len(self.source.text) if end < 0 else end)


def extract_fly_toml(source: SourceFile) -> Extraction:
    result = Extraction()
    try:
        config: dict[str, Any] = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as exc:
        result.problems.append(ParseProblem(Span(source.path, 1, 1), f"invalid TOML: {exc}"))
        return result
    lines = _Lines(source)
    app = config.get("app")
    name = None
    if isinstance(app, str) and app:
        name = Word(app, lines.value("", "app", app) or Span(source.path, 1, 1))
    http, tls = _handlers(config)
    span = lines.table("http_service") or lines.table("services") or lines.key("", "app")
    result.facts.append(
        PlatformService(
            FLY,
            span or Span(source.path, 1, 1),
            name=name,
            runs_files=_dockerfile(source.path, config),
            env=tuple(_env(lines, config.get("env"))),
            http=http,
            tls=tls,
        )
    )
    return result


def _handlers(config: dict[str, Any]) -> tuple[bool, bool]:
    """Whether the proxy speaks HTTP to the app and terminates TLS for it."""
    if isinstance(config.get("http_service"), dict):
        return True, True
    http = tls = False
    services = config.get("services")
    for service in services if isinstance(services, list) else []:
        ports = service.get("ports") if isinstance(service, dict) else None
        for port in ports if isinstance(ports, list) else []:
            handlers = port.get("handlers") if isinstance(port, dict) else None
            names = [str(h).lower() for h in handlers] if isinstance(handlers, list) else []
            http = http or "http" in names
            tls = tls or "tls" in names
    return http, tls


def _dockerfile(path: str, config: dict[str, Any]) -> tuple[str, ...]:
    build = config.get("build")
    build = build if isinstance(build, dict) else {}
    if build.get("image") or build.get("builder") or build.get("builtin"):
        return ()  # a prebuilt image or a buildpack: no Dockerfile of this tree
    dockerfile = build.get("dockerfile")
    name = dockerfile if isinstance(dockerfile, str) and dockerfile else "Dockerfile"
    return (posixpath.normpath(posixpath.join(posixpath.dirname(path), name)),)


def _env(lines: _Lines, table: object) -> list[EnvVar]:
    found: list[EnvVar] = []
    if not isinstance(table, dict):
        return found
    for key, value in table.items():
        if isinstance(value, (dict, list)):
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        span = lines.key("env", key) or Span(lines.source.path, 1, 1)
        value_span = lines.value("env", key, text) or span
        found.append(EnvVar(key, Word(text, value_span), span, "fly.toml [env]"))
    return found
